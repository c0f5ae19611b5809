#!/usr/bin/env bash
# Builds the C example (Examples/ExampleModuleC/example.c) for wasm32 with Debian's clang 14, lld
# and wasi-libc, installing them when they are missing (as root, or with passwordless sudo):
#   .build/wasm/ExampleModuleC.wasm
# It is the module of Examples/ExampleModuleC/module-wasm.json (Documentation/WasmModules.md), which
# the wasm tests pack and run; WasmModules.md shows the same compiler command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
missing=()
command -v clang-14 >/dev/null 2>&1 || missing+=(clang-14)
command -v wasm-ld-14 >/dev/null 2>&1 || missing+=(lld-14)
[ -f /usr/include/wasm32-wasi/stdio.h ] || missing+=(wasi-libc)
compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a" >/dev/null || missing+=(libclang-rt-14-dev-wasm32)
if [ ${#missing[@]} -gt 0 ]; then
    . Scripts/lib/apt-install.sh
    apt_install "${missing[@]}" || exit 1
fi
mkdir -p .build/wasm
# -mexec-model=reactor: a library of exports with constructors in _initialize, no main;
# -fvisibility=hidden with --export-dynamic: exactly the functions marked visibility("default") are exported.
clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror -mexec-model=reactor -fvisibility=hidden \
    -Wl,--export-dynamic -Wl,--strip-debug -I Sources/CIoTModule/include \
    -o .build/wasm/ExampleModuleC.wasm.partial Examples/ExampleModuleC/example.c
mv .build/wasm/ExampleModuleC.wasm.partial .build/wasm/ExampleModuleC.wasm
echo "wasm example: .build/wasm/ExampleModuleC.wasm ($(stat -c %s .build/wasm/ExampleModuleC.wasm) bytes, $(clang-14 --version | head -1))"
