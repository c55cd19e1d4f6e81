#!/bin/bash
# Installs what building, running and testing earshot needs on Debian 12 (as root).
# Installs nothing when everything is already there, so it also works offline then.
set -euo pipefail

packages=(
    build-essential meson ninja-build pkg-config
    libcurl4-openssl-dev libcjson-dev libyaml-dev libsystemd-dev libsqlite3-dev
    libutf8proc-dev libxml2-dev libcmocka-dev libssl-dev
    python3 python3-aiosmtpd ca-certificates
    debhelper dpkg-dev fakeroot lintian
    scdoc groff-base man-db
    systemd systemd-container procps util-linux sqlite3
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "earshot: installing ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "earshot: run as root (or install these packages first)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
