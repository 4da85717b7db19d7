# The shell tests' anvil launcher (the C tests use anvil.c beside this file):
#     . "$(dirname "$0")/../support/anvil.sh"
#     anvil_start DIR || exit 1     # sets anvil_pid, anvil_port, anvil_rpc
#     ...
#     anvil_stop                    # also safe from an EXIT trap
# The node takes a port the kernel picks (--port 0), so there is nothing to race
# for; its output goes to DIR/anvil.log, read only to learn that port.

anvil_pid=""
anvil_port=""
anvil_rpc=""

anvil_start() { # anvil_start DIR [ANVIL ARGS...]
    _dir=$1
    shift
    _nm=${PHX_NODE_MODULES:-${PHX_SOURCE_DIR:-.}/node_modules}
    # The platform binary itself when present: the .bin/anvil wrapper is a node
    # script whose child would outlive it.
    _bin=$_nm/@foundry-rs/anvil-linux-amd64/bin/anvil
    [ -x "$_bin" ] || _bin=$_nm/.bin/anvil
    if [ ! -x "$_bin" ]; then
        echo "FAIL anvil not found under $_nm (run scripts/setup.sh)"
        return 1
    fi
    "$_bin" --host 127.0.0.1 --port 0 "$@" >"$_dir/anvil.log" 2>&1 &
    anvil_pid=$!
    _n=1200 # up to 120 s for the node to say where it listens
    while [ $_n -gt 0 ]; do
        anvil_port=$(sed -n 's/.*Listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$_dir/anvil.log" | head -n 1)
        if [ -n "$anvil_port" ]; then
            anvil_rpc=http://127.0.0.1:$anvil_port
            return 0
        fi
        kill -0 "$anvil_pid" 2>/dev/null || break
        sleep 0.1
        _n=$((_n - 1))
    done
    echo "FAIL anvil did not start"
    cat "$_dir/anvil.log"
    anvil_stop
    return 1
}

anvil_stop() {
    if [ -n "$anvil_pid" ]; then
        kill "$anvil_pid" 2>/dev/null
        wait "$anvil_pid" 2>/dev/null
        anvil_pid=""
    fi
}
