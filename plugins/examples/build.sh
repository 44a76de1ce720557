#!/usr/bin/env bash
# Builds the plugin author's crates, which stand outside the workspace (each has its own
# [workspace] table, Cargo.lock and target/), exactly as an author would:
#   cargo build --target wasm32-wasip2 --release --locked     (in the crate's directory)
# and collects them for the tests:
#   plugins/templates/action-rust/  -> <target>/example-plugins/action-rust.wasm
#   plugins/examples/queue-summary/ -> <target>/example-plugins/queue-summary.wasm
# <target> is the ami-host workspace's target directory (CARGO_TARGET_DIR,
# build.target-dir, or <repo>/target), as for plugins/build.sh. Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
triple=wasm32-wasip2

# A relative CARGO_TARGET_DIR means relative to where the caller stands.
if [[ -n "${CARGO_TARGET_DIR:-}" && "${CARGO_TARGET_DIR}" != /* ]]; then
    CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR"
    export CARGO_TARGET_DIR
fi

if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$triple"; then
        rustup target add "$triple"
    fi
fi

# cargo's target directory for the crate (or workspace) in directory $1.
target_dir() {
    (cd "$1" && cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
}

dest="$(target_dir "$repo")"
if [[ -z "$dest" ]]; then
    echo "examples/build.sh: cannot tell the workspace's target directory" >&2
    exit 1
fi
# Both crates build in one shared target directory (their locked dependencies agree),
# so the SDK and its dependencies are compiled once.
export CARGO_TARGET_DIR="$dest/examples-build"
dest="$dest/example-plugins"
mkdir -p "$dest"

# Each entry: "<crate directory, relative to the repo> <installed name>".
for entry in "plugins/templates/action-rust action-rust" \
    "plugins/examples/queue-summary queue-summary"; do
    read -r dir name <<<"$entry"
    (cd "$repo/$dir" && cargo build --locked --release --target "$triple")
    package="$(sed -n 's/^[[:space:]]*name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
        "$repo/$dir/Cargo.toml" | head -n 1)"
    built="$(target_dir "$repo/$dir")/$triple/release/${package//-/_}.wasm"
    # Write beside, then rename: a reader (or a host watching the directory) never sees
    # half a file.
    cp "$built" "$dest/.$name.wasm.tmp"
    mv -f "$dest/.$name.wasm.tmp" "$dest/$name.wasm"
    echo "$dest/$name.wasm"
done
