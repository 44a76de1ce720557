#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine:
#   the wasm32-wasip2 target, the plugins, the host, the Python and Node client libraries,
#   then unit tests and the black-box tests against the real binary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

echo "== client libraries (panoramisk, asterisk-manager)"
if [ ! -x "$target/client-venv/bin/python" ]; then
    python3 -m venv "$target/client-venv"
fi
"$target/client-venv/bin/pip" install --quiet --disable-pip-version-check panoramisk==1.4
npm install --silent --no-audit --no-fund --prefix "$root/tests/clients/node" >/dev/null

echo "== plugins (wasm32-wasip2)"
"$root/plugins/build.sh"
"$root/plugins/examples/build.sh"

echo "== host and tests"
cargo build --locked -p ami-host
cargo test --locked --workspace --exclude ami-tests
cargo test --locked -p ami-tests -- --test-threads 2
