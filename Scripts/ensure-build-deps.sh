#!/usr/bin/env bash
# Makes sure the C headers and libraries the package links (SQLite, zlib, zstd, libffi; libcurl's and libmosquitto's headers) and the
# C compiler the PluginHost tests build their test module with are installed: Debian's
# libsqlite3-dev, zlib1g-dev, libzstd-dev, libffi-dev, libcurl4-openssl-dev, libmosquitto-dev and gcc; and for the
# syscall filter's check on each architecture (Scripts/check-seccomp-arches.sh) the aarch64 and
# armhf cross compilers and qemu-user-static. Installs what is missing with apt-get when we
# are root (or have passwordless sudo); otherwise names the command to run and exits 1.
set -euo pipefail

missing=()
has_header() { printf '#include <%s>\n' "$1" | cc -E -x c - >/dev/null 2>&1; }
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if command -v cc >/dev/null 2>&1; then
    has_header sqlite3.h || missing+=(libsqlite3-dev)
    has_header zlib.h || missing+=(zlib1g-dev)
    has_header zstd.h || missing+=(libzstd-dev)
    has_header ffi.h || missing+=(libffi-dev)
    has_header curl/curl.h || missing+=(libcurl4-openssl-dev)
    has_header mosquitto.h || missing+=(libmosquitto-dev)
else
    missing+=(libsqlite3-dev zlib1g-dev libzstd-dev libffi-dev libcurl4-openssl-dev libmosquitto-dev)
fi
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 || missing+=(gcc-arm-linux-gnueabihf)
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)

if [ ${#missing[@]} -eq 0 ]; then
    echo "build dependencies: cc, sqlite3.h, zlib.h, zstd.h, ffi.h, curl/curl.h, mosquitto.h, the aarch64 and armhf cross compilers, qemu-user present"
    exit 0
fi
echo "installing: ${missing[*]}"
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
apt_install "${missing[@]}"
