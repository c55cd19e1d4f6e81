#!/bin/bash
# The Debian package, built and installed (meson suite 'packaging'; also runs by hand):
#   1. packaging/dev/build-deb.sh builds earshot and earshot-dev; lintian reports no errors;
#   2. both install into an empty root with dpkg --root (the maintainer scripts run outside
#      it with DPKG_ROOT set, as debhelper's scripts support; the unit is neither enabled nor
#      started, here or anywhere);
#   3. dpkg lists /etc/earshot/earshot.yaml and rules.d/*.yaml as the package's conffiles;
#   4. the man pages and the bash completion are installed; the installed earshotd's default plugin directory is where the plugins were installed,
#      and `earshotd --check-config` passes on the installed example configuration.
# Exits 77 (skip) when dpkg-buildpackage is not installed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v dpkg-buildpackage >/dev/null; then
    echo "SKIP: dpkg-buildpackage is not installed (bash packaging/dev/install-deps.sh)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-test-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

start=$SECONDS
out=$(bash "$src/packaging/dev/build-deb.sh" "$tmp/debs" | tail -n 1)
[ "$out" = "$tmp/debs" ] || fail "build-deb.sh printed '$out', not its output directory"
echo "ok: built and lintian-clean in $((SECONDS - start))s"

deb=$(ls "$tmp"/debs/earshot_*.deb)
devdeb=$(ls "$tmp"/debs/earshot-dev_*.deb)

# The conffiles as the package declares them.
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$tmp/conffiles"
want=$(dpkg-deb --fsys-tarfile "$deb" | tar -tf - \
    | sed -n 's|^\./etc/earshot/\(.*\.yaml\)$|/etc/earshot/\1|p' | sort)
[ -n "$want" ] || fail "the package ships no /etc/earshot/*.yaml"
echo "$want" | grep -qx /etc/earshot/earshot.yaml || fail "no /etc/earshot/earshot.yaml"
echo "$want" | grep -q '^/etc/earshot/rules\.d/.*\.yaml$' || fail "no /etc/earshot/rules.d/*.yaml"
diff <(echo "$want") <(sort "$tmp/conffiles") || fail "conffiles differ from /etc/earshot/*.yaml"
echo "ok: conffiles: $(echo $want)"

# Install into an empty root: a fresh dpkg database and nothing else.
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg --root="$root" --log=/dev/null --force-not-root --force-depends \
    --force-script-chrootless -i "$deb" "$devdeb" >"$tmp/dpkg.log" 2>&1 \
    || { cat "$tmp/dpkg.log"; fail "dpkg -i into $root"; }
for p in earshot earshot-dev; do
    status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$p")
    [ "$status" = "install ok installed" ] || fail "$p in the root: '$status'"
done
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' earshot \
    | awk 'NF {print $1}' | sort >"$tmp/registered"
diff <(echo "$want") "$tmp/registered" || fail "dpkg registered other conffiles"
echo "ok: installed into an empty root; dpkg registered the conffiles"

if [ -d "$root/lib/systemd/system" ] || [ -d "$root/usr/lib/systemd/system" ]; then
    if find "$root/etc/systemd" -name 'earshot*' 2>/dev/null | grep -q .; then
        fail "the unit was enabled on install"
    fi
    echo "ok: the systemd unit is installed and not enabled"
fi

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
plugindir="/usr/lib/$multiarch/earshot/plugins"
ls "$root$plugindir"/*.so >/dev/null 2>&1 || fail "no plugins in $plugindir"
for m in man1/earshotctl.1 man5/earshot-rules.5 man5/earshot.yaml.5 man8/earshotd.8; do
    [ -f "$root/usr/share/man/$m.gz" ] || fail "no man page $m"
done
[ -f "$root/usr/share/bash-completion/completions/earshotctl" ] || fail "no bash completion"
[ -f "$root/usr/include/earshot/earshot-plugin.h" ] || fail "earshot-dev: no earshot-plugin.h"
pc="$root/usr/lib/$multiarch/pkgconfig/earshot-plugin.pc"
[ -f "$pc" ] || fail "earshot-dev: no earshot-plugin.pc"
[ "$(PKG_CONFIG_PATH="${pc%/*}" pkg-config --variable=plugindir earshot-plugin)" = "$plugindir" ] \
    || fail "earshot-plugin.pc: plugindir is not $plugindir"

earshotd=
for f in "$root"/usr/sbin/earshotd "$root"/usr/bin/earshotd; do
    [ -x "$f" ] && earshotd=$f
done
[ -n "$earshotd" ] || fail "no earshotd in the root"
"$earshotd" --help 2>&1 | grep -qF "$plugindir" \
    || fail "earshotd's default plugin directory is not $plugindir"
unset EARSHOT_PLUGIN_DIR
mkdir -p "$tmp/state"
"$earshotd" --check-config --config "$root/etc/earshot/earshot.yaml" \
    --plugin-dir "$root$plugindir" --state-dir "$tmp/state" \
    || fail "earshotd --check-config on the installed example configuration"
echo "ok: installed earshotd --check-config passes on /etc/earshot/earshot.yaml"
echo "ok: all done in $((SECONDS - start))s"
