#!/usr/bin/env bash
# Builds every action plugin and test fixture for wasm32-wasip2 and collects them:
#   plugins/<dir>/          -> <target>/plugins/<dir>.wasm
#   tests/fixtures/<dir>/   -> <target>/test-plugins/<dir>.wasm
# <target> is cargo's target directory (CARGO_TARGET_DIR, build.target-dir, or <repo>/target).
# The crates are found from the directories (every plugins/*/Cargo.toml except templates/
# and examples/, every tests/fixtures/*/Cargo.toml), so a new plugin needs no change here.
# Works from any current directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
triple=wasm32-wasip2

# A relative CARGO_TARGET_DIR means relative to where the caller stands.
if [[ -n "${CARGO_TARGET_DIR:-}" && "${CARGO_TARGET_DIR}" != /* ]]; then
    CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR"
    export CARGO_TARGET_DIR
fi
cd "$repo"

if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$triple"; then
        rustup target add "$triple"
    fi
fi

# The package name of the crate in directory $1.
package_name() {
    sed -n 's/^[[:space:]]*name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$1/Cargo.toml" | head -n 1
}

# Each entry: "<kind> <dir name> <package name>", kind = plugins | test-plugins.
crates=()
for manifest in plugins/*/Cargo.toml; do
    [[ -e "$manifest" ]] || continue
    dir="$(dirname "$manifest")"
    case "$(basename "$dir")" in templates | examples) continue ;; esac
    crates+=("plugins $(basename "$dir") $(package_name "$dir")")
done
for manifest in tests/fixtures/*/Cargo.toml; do
    [[ -e "$manifest" ]] || continue
    dir="$(dirname "$manifest")"
    crates+=("test-plugins $(basename "$dir") $(package_name "$dir")")
done
if [[ ${#crates[@]} -eq 0 ]]; then
    echo "build.sh: no plugin crates found under $repo" >&2
    exit 1
fi

args=()
for entry in "${crates[@]}"; do
    read -r _ _ package <<<"$entry"
    if [[ -z "$package" ]]; then
        echo "build.sh: no package name in a manifest: $entry" >&2
        exit 1
    fi
    args+=(-p "$package")
done

cargo build --locked --profile plugin --target "$triple" "${args[@]}"

target_dir="$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
if [[ -z "$target_dir" ]]; then
    echo "build.sh: cannot tell cargo's target directory" >&2
    exit 1
fi
built="$target_dir/$triple/plugin"

for kind in plugins test-plugins; do
    mkdir -p "$target_dir/$kind"
    rm -f "$target_dir/$kind"/*.wasm
done
for entry in "${crates[@]}"; do
    read -r kind dir package <<<"$entry"
    cp "$built/${package//-/_}.wasm" "$target_dir/$kind/$dir.wasm"
    echo "$target_dir/$kind/$dir.wasm"
done
