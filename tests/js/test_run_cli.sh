#!/bin/sh
# `phx run` as a user types it: the --json result shape, exit codes (0 ok, 1 the
# contract failed, 2 bad usage), kv state that persists across runs in --kv DIR,
# secrets, @FILE input and the limit flags.
set -u
. "$(dirname "$0")/../lib.sh"
PHX=${PHX_BIN:?PHX_BIN not set}
T=$(mktemp -d /tmp/phx-run-cli.XXXXXX)
SRV=
trap '[ -n "$SRV" ] && kill "$SRV"; rm -rf "$T"' EXIT
run() { # run WANT_RC DESCRIPTION args...
    want=$1; what=$2; shift 2
    "$PHX" run "$@" >"$T/out" 2>"$T/err"
    got=$?
    checks=$((checks + 1))
    if [ "$got" != "$want" ]; then
        echo "FAIL $what: exit $got, want $want"; cat "$T/out" "$T/err"; fail=1
    else
        echo "ok   $what"
    fi
}
check_js() { # check_js DESCRIPTION JS-EXPRESSION over r, the parsed output (must be true)
    if ! node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);
        process.exit(eval(process.argv[2]) === true ? 0 : 1);' "$T/out" "$2" 2>/dev/null; then
        echo "FAIL $1: $2 on $(cat "$T/out")"; fail=1
    fi
    checks=$((checks + 1))
}

cat >"$T/ok.js" <<'JS'
export default async function (input, ctx) {
  console.log('hi', input.n);
  const n = ((await phx.kv.get('n')) ?? 0) + 1;
  await phx.kv.put('n', n);
  return { twice: input.n * 2, runs: n, secret: ctx.secrets.TOKEN ?? null };
}
JS
run 0 "ok contract --json" "$T/ok.js" --input '{"n":21}' --secret TOKEN=abc --kv "$T/kv" --json
check_js "result shape" 'r.ok === true && eq(r.output, {twice: 42, runs: 1, secret: "abc"}) && eq(r.logs, ["log: hi 21"]) &&
  ["cpu_ms", "wall_ms", "peak_mem_kb"].every((k) => typeof r.usage[k] === "number") && r.usage.requests === 0'
echo '{"n":5}' >"$T/in.json"
run 0 "kv persists across runs, @FILE input" "$T/ok.js" --input "@$T/in.json" --kv "$T/kv" --json
check_js "second run sees the first run's state" 'eq(r.output, {twice: 10, runs: 2, secret: null})'
run 0 "plain output" "$T/ok.js" --input '{"n":1}' --kv "$T/kv"
[ "$(cat "$T/out")" = '{"twice":2,"runs":3,"secret":null}' ] || { echo "FAIL plain output: $(cat "$T/out")"; fail=1; }

printf 'export default async () => { for (;;) {} };\n' >"$T/spin.js"
run 1 "cpu limit" "$T/spin.js" --cpu-ms 300 --kv "$T/kv" --json
check_js "cpu_limit code" 'r.ok === false && r.error.code === "cpu_limit"'
run 1 "wall limit" "$T/spin.js" --cpu-ms 5000 --timeout-ms 400 --kv "$T/kv" --json
check_js "wall_limit code" 'r.error.code === "wall_limit" && r.usage.wall_ms < 3000'
printf 'export default async () => { const a = []; for (;;) a.push([1,2,3,4]); };\n' >"$T/mem.js"
run 1 "memory limit" "$T/mem.js" --mem-mb 32 --kv "$T/kv" --json
check_js "memory_limit code" 'r.error.code === "memory_limit"'
printf 'export default async () => fetch("http://169.254.169.254/");\n' >"$T/meta.js"
run 1 "egress denied" "$T/meta.js" --kv "$T/kv" --json
check_js "egress_denied code" 'r.error.code === "egress_denied"'
printf 'export default async () => { throw new Error("nope"); };\n' >"$T/throw.js"
run 1 "exception" "$T/throw.js" --kv "$T/kv"
grep -q "exception: Error: nope" "$T/err" || { echo "FAIL exception message: $(cat "$T/err")"; fail=1; }
printf 'export default async () => { console.log("a\\x1b]0;pwned\\x07b\\nc"); return 1; };\n' >"$T/esc.js"
run 0 "log with terminal escapes" "$T/esc.js" --kv "$T/kv"
if grep -q "$(printf '\033')" "$T/err" || ! grep -q 'a\\x1b]0;pwned\\x07b\\x0ac' "$T/err"; then
    echo "FAIL control characters in a log line reach the terminal: $(od -c "$T/err" | head -3)"; fail=1
fi
printf 'export default async () => new Uint8Array([0xde, 0xad]);\n' >"$T/bytes.js"
run 0 "bytes output" "$T/bytes.js" --kv "$T/kv" --json
check_js "bytes as hex" 'r.output === "0xdead"'

# --allow-host HOST:PORT: a local server (node, a real socket on a random port)
# is refused by default and reachable once its host and port are allowed;
# usage counts the request. Another port, another name or no port is no allowance.
node -e 'require("http").createServer((q, s) => { s.setHeader("content-type", "application/json");
  s.end("{\"v\":7}"); }).listen(0, "127.0.0.1", function () {
  require("fs").writeFileSync(process.argv[1], String(this.address().port)); });' "$T/port" &
SRV=$!
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
printf '{"url":"http://127.0.0.1:%s/"}' "$(cat "$T/port")" >"$T/url.json"
printf 'export default async (i) => (await fetch(i.url)).json();\n' >"$T/fetch.js"
run 1 "loopback refused without --allow-host" "$T/fetch.js" --input "@$T/url.json" --kv "$T/kv" --json
check_js "egress_denied for 127.0.0.1" 'r.ok === false && r.error.code === "egress_denied"'
run 0 "--allow-host 127.0.0.1:PORT" "$T/fetch.js" --input "@$T/url.json" --allow-host "127.0.0.1:$(cat "$T/port")" --kv "$T/kv" --json
check_js "fetched through the allowed host" 'r.ok === true && eq(r.output, {v: 7}) && r.usage.requests === 1'
run 1 "--allow-host is per host" "$T/fetch.js" --input "@$T/url.json" --allow-host "localhost:$(cat "$T/port")" --kv "$T/kv" --json
check_js "another host allowed does not open 127.0.0.1" 'r.error.code === "egress_denied"'
other=$(( $(cat "$T/port") == 65535 ? 65534 : $(cat "$T/port") + 1 ))
run 1 "--allow-host is per port" "$T/fetch.js" --input "@$T/url.json" --allow-host "127.0.0.1:$other" --kv "$T/kv" --json
check_js "another port allowed does not open this one" 'r.error.code === "egress_denied"'
run 2 "--allow-host without a port" "$T/fetch.js" --input "@$T/url.json" --allow-host 127.0.0.1 --kv "$T/kv"
grep -q "HOST:PORT" "$T/err" || { echo "FAIL --allow-host without a port: no HOST:PORT in: $(cat "$T/err")"; fail=1; }

run 2 "missing file" "$T/nope.js"
run 2 "bad input JSON" "$T/ok.js" --input '{nope'
run 2 "bad --mem-mb" "$T/ok.js" --mem-mb lots
run 2 "bad --secret" "$T/ok.js" --secret novalue
run 2 "no contract" --json
finish
