#!/usr/bin/env bash
# Builds the wasm examples with Debian's clang 14, lld and wasi-libc, installing them when they are
# missing (as root, or with passwordless sudo):
#   .build/wasm/ExampleModuleC.wasm          Examples/ExampleModuleC/example.c, the module of
#                                            Examples/ExampleModuleC/module-wasm.json
#   .build/wasm/ExampleModuleSwiftWasm.wasm  Examples/ExampleModuleSwiftWasm (Embedded Swift of this
#                                            toolchain for wasm32, linked by clang-14 with wasi-libc)
# The wasm tests pack and run both; Documentation/WasmModules.md shows the same commands.
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
# Embedded Swift compiles for wasm32-unknown-none-wasm without a Swift SDK; wasi-libc's headers
# stand in for the libc it would lack, and clang-14 links the object with shim.c (the module ABI's
# exports) into a WASI reactor. -disable-stack-protector: wasi-libc has no __stack_chk_guard.
swiftc -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded -wmo -Osize -parse-as-library \
    -Xfrontend -disable-stack-protector -I Examples/ExampleModuleSwiftWasm/include \
    -Xcc --sysroot=/usr -Xcc -isystem/usr/include/wasm32-wasi -Xcc -D__wasi__ \
    -c Examples/ExampleModuleSwiftWasm/Thermostat.swift -o .build/wasm/Thermostat.o
clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -mexec-model=reactor -fvisibility=hidden \
    -Wl,--export-dynamic -Wl,--strip-debug -I Sources/CIoTModule/include -I Examples/ExampleModuleSwiftWasm/include \
    -o .build/wasm/ExampleModuleSwiftWasm.wasm.partial Examples/ExampleModuleSwiftWasm/shim.c .build/wasm/Thermostat.o
mv .build/wasm/ExampleModuleSwiftWasm.wasm.partial .build/wasm/ExampleModuleSwiftWasm.wasm
echo "wasm example in Embedded Swift: .build/wasm/ExampleModuleSwiftWasm.wasm ($(stat -c %s .build/wasm/ExampleModuleSwiftWasm.wasm) bytes)"
