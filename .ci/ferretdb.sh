#!/usr/bin/env bash
# Build FerretDB v1.24.2 (a MongoDB wire-protocol server; SQLite handler built
# in) into the directory given as $1 (default: $HOME/go/bin), unless a binary of
# that version is already there. Used by .ci/run; tests find it on PATH or via
# OMNIHUB_FERRETDB.
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` fails on these
# machines (the module proxy refuses the @v/list lookup `go install` makes to
# check deprecation), so this downloads the module with `go mod download` and
# builds it from a writable copy. The build needs build/version/version.txt,
# which the module zip lacks: without it the binary panics at start.
set -euo pipefail

version=v1.24.2
module=github.com/FerretDB/FerretDB
dest=${1:-$HOME/go/bin}

say() { printf 'ferretdb.sh: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [ -x "$dest/ferretdb" ] && [ "$("$dest/ferretdb" --version 2>/dev/null | sed -n 1p)" = "version: $version" ]; then
  say "$dest/ferretdb is already $version; nothing to do"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "the Go toolchain (go) is not on PATH"
say "using $(go version)"

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

say "downloading $module@$version from the module proxy"
# Run outside any module (the empty work dir); -json prints where it unpacked.
if ! json=$(cd "$work" && go mod download -json "$module@$version"); then
  die "go mod download $module@$version failed:
$json"
fi
src=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p' | head -n1)
[ -n "$src" ] && [ -d "$src" ] || die "go mod download printed no module directory:
$json"
say "module source: $src"

say "copying the source to a writable build tree"
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$work/src/build/version"
echo "$version" >"$work/src/build/version/version.txt"

mkdir -p "$dest"
say "building ./cmd/ferretdb into $dest/ferretdb (about 80 s on a cold cache)"
(cd "$work/src" && go build -o "$dest/ferretdb.tmp" ./cmd/ferretdb) || die "go build failed"
mv -f "$dest/ferretdb.tmp" "$dest/ferretdb"

# Read the whole output (a `| head` would SIGPIPE the binary and, under
# pipefail, fail a build that worked), then compare its first line.
out=$("$dest/ferretdb" --version 2>&1) || true
got=${out%%$'\n'*}
[ "$got" = "version: $version" ] || die "the built binary reports '$got', expected 'version: $version':
$out"
say "built $dest/ferretdb ($got)"
