#!/bin/bash
# Builds the Debian packages earshot and earshot-dev from this tree and checks them with
# lintian. The top level of the tree is fixed, so packaging/debian is copied to debian/ in a
# temporary copy of the tree; nothing is written into the tree itself.
#
#   bash packaging/dev/build-deb.sh [OUTDIR]
#
# Leaves the .deb files (and the .changes / .buildinfo) in OUTDIR (default: a new temporary
# directory) and prints that directory on the last line of stdout. Fails when the build fails
# or lintian reports an error; lintian's warnings are printed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

for tool in dpkg-buildpackage dh lintian; do
    if ! command -v "$tool" >/dev/null; then
        echo "build-deb: $tool is missing (bash packaging/dev/install-deps.sh installs it)" >&2
        exit 1
    fi
done

outdir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/earshot-deb.XXXXXX")}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/earshot-debbuild.XXXXXX")
trap 'rm -rf "$work"' EXIT

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
tree="$work/earshot-$version"
mkdir -p "$tree"

# The sources only: what git tracks plus new files it does not ignore (no build dirs), or,
# outside a git checkout, everything but build directories.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
        | tar --null -T - -cf -) | tar -C "$tree" -xf -
else
    tar -C "$src" --exclude='./build*' --exclude=./debian -cf - . | tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -a "$src/packaging/debian" "$tree/debian"

echo "build-deb: dpkg-buildpackage -us -uc -b in $tree" >&2
(cd "$tree" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed (log above)" >&2
    exit 1
}

changes=$(ls "$work"/earshot_"$version"_*.changes)
echo "build-deb: lintian $(basename "$changes")" >&2
# --fail-on error: warnings are printed, only errors fail the build.
if ! lintian --fail-on error --tag-display-limit 0 --allow-root "$changes" >&2; then
    echo "build-deb: lintian reports errors" >&2
    exit 1
fi

for f in "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo; do
    [ -e "$f" ] && mv "$f" "$outdir/"
done
ls -l "$outdir"/*.deb >&2
echo "$outdir"
