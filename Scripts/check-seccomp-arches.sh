#!/usr/bin/env bash
# The sandbox's syscall filter on each architecture a device runs: builds
# Tests/Fixtures/seccomp/filter_check.c with Sources/CIoTLinux/ciot_seccomp.c for x86_64 (this
# machine), aarch64 and 32-bit ARM (Debian's cross compilers), runs each (the foreign ones under
# qemu-user, statically linked) and fails if any check fails. The cross compilers and qemu-user
# come from Scripts/ensure-build-deps.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sources=(Tests/Fixtures/seccomp/filter_check.c Sources/CIoTLinux/ciot_seccomp.c)
status=0
run() {  # run NAME COMPILER [RUNNER]
    local name=$1 compiler=$2 runner=${3:-}
    if ! command -v "$compiler" >/dev/null; then
        echo "check-seccomp-arches: $compiler is missing (Scripts/ensure-build-deps.sh installs it)"; status=1; return
    fi
    "$compiler" -static -O1 -Wall -Werror -I Sources/CIoTLinux/include -o "$out/$name" "${sources[@]}"
    echo "== $name"
    if ! ${runner:+"$runner"} "$out/$name"; then status=1; fi
}
run x86_64 cc
run aarch64 aarch64-linux-gnu-gcc qemu-aarch64-static
run armv7 arm-linux-gnueabihf-gcc qemu-arm-static
exit $status
