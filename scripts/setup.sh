#!/bin/sh
# Install every Debian and npm package Phalanx needs. Idempotent: quiet when all
# is there; loud and non-zero when something cannot be installed.
set -eu

cd "$(dirname "$0")/.."

# chromium: the console's browser tests drive Debian's build (playwright-core
# never downloads a browser here).
DEBIAN_PACKAGES="build-essential cmake pkg-config git clang libclang-rt-14-dev llvm
  libssl-dev libsodium-dev libsecp256k1-dev libcurl4-openssl-dev libmicrohttpd-dev
  libjansson-dev libsqlite3-dev libseccomp-dev libmozjs-102-dev nodejs npm openssl
  sqlite3 curl ca-certificates python3 chromium clang-format-14 binutils stress-ng"

missing=""
for p in $DEBIAN_PACKAGES; do
    # nodejs/npm may come from outside Debian (nodesource, nvm): accept the commands.
    case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "setup: need root (or sudo) to install:$missing" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! $SUDO apt-get install -y -q $missing >/tmp/phx-setup-apt.log 2>&1; then
        $SUDO apt-get update -q >/dev/null 2>&1 || true
        # shellcheck disable=SC2086
        if ! $SUDO apt-get install -y -q $missing; then
            echo "setup: FAILED to install Debian packages:$missing" >&2
            exit 1
        fi
    fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: node and npm are required and could not be found" >&2
    exit 1
fi

# npm packages: anvil, cast, solc and the independent peers used by tests and
# benchmarks. Reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.phx-installed
# A node_modules that is a symlink is another checkout's tree, shared: `npm ci`
# would empty it under everyone using it, so only its tools are checked here.
if [ -L node_modules ]; then
    :
elif [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
    echo "setup: installing npm packages"
    # node-llama-cpp ships llama.cpp prebuilt (@node-llama-cpp/linux-x64, which
    # phx infer links); its postinstall must never try to download or compile.
    if ! NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --no-audit --no-fund --loglevel=error \
        >/tmp/phx-setup-npm.log 2>&1; then
        cat /tmp/phx-setup-npm.log >&2
        echo "setup: FAILED to install npm packages (see above)" >&2
        exit 1
    fi
    touch "$stamp"
fi

for tool in anvil cast forge solcjs; do
    if ! node_modules/.bin/$tool --version >/dev/null 2>&1; then
        echo "setup: FAILED: node_modules/.bin/$tool does not run" >&2
        exit 1
    fi
done
