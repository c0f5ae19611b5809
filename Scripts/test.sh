#!/usr/bin/env bash
# The whole test suite: the host tests (swift test), then the IoTSDK tests that need a real Linux
# kernel, inside the QEMU lab (Scripts/lab/run.sh builds and boots it; first run downloads the
# kernel and builds gpio-sim, later runs use .lab-cache/). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "documentation: every sh block is exercised by a script or test, or says why not"
python3 Scripts/check-doc-commands.py

step "C libraries and compilers (SQLite, zlib, zstd, libffi, libcurl and libmosquitto headers, cc; aarch64 and armhf cross compilers, qemu-user)"
bash Scripts/ensure-build-deps.sh

step "the sandbox's syscall filter, run on calls made up for x86_64, aarch64 and 32-bit ARM (qemu-user)"
bash Scripts/check-seccomp-arches.sh

step "skopeo for the module-image conformance test"
if bash Scripts/ensure-skopeo.sh; then export PLUGIN_HOST_REQUIRE_SKOPEO=1; fi

step "docker-registry for the delivery tests (they start and stop their own on 127.0.0.1)"
if bash Scripts/ensure-registry.sh; then export PLUGIN_HOST_REQUIRE_REGISTRY=1; fi

# Two runs of the one test binary: the PluginHost, sdk-demo and uplink tests wait on real child processes
# for seconds at a time, synchronously, and on a 2-core machine that would hold both threads of
# Swift's cooperative pool and starve the timing-sensitive async tests of IoTSDK and
# SensorDrivers. SdkDemoTests runs with PluginHostTests for that reason, and because its module
# test runs a real `plugin-host run`: it needs the examples built, and root for the sandbox.
step "mosquitto for the uplink tests (they start and stop their own brokers on 127.0.0.1)"
if bash Scripts/ensure-mosquitto.sh; then export IOTSDK_REQUIRE_MOSQUITTO=1; fi

step "host tests: swift test (IoTSDK, SensorDrivers, Doctor, HostDoctor)"
swift test --skip PluginHostTests --skip SdkDemoTests --skip UplinkTests

step "host tests: swift test (PluginHost: images, updates, runner, sandbox, wasm modules; sdk-demo as built; the uplink against mosquitto)"
export PLUGIN_HOST_REQUIRE_SANDBOX=$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)
swift build --product ExampleModuleC
swift build --product ExampleModuleSwift
export PLUGIN_HOST_REQUIRE_EXAMPLES=1
# The C example for wasm32 (clang 14, lld, wasi-libc from Debian, installed when missing), for WasmModuleTests.
bash Scripts/build-wasm-example.sh
export PLUGIN_HOST_REQUIRE_WASM=1
swift test --skip-build --filter 'PluginHostTests|SdkDemoTests|UplinkTests'

step "walkthroughs: every command of Documentation/WritingAModule.md and Delivery.md, in order"
if [ "$(id -u)" -eq 0 ]; then
    bash Scripts/doc-run.sh Documentation/WritingAModule.md Documentation/Delivery.md
else
    echo "skipped: the walkthroughs install modules in their sandbox, which needs root"
fi

step "API reference: DocC catalogs of the public targets, warnings as errors"
bash Scripts/docs.sh

step "sdk-demo on the simulated board (the README's first command, with a fixed duration and a database of its own)"
demo_db=$(mktemp -d)
demo=$(swift run sdk-demo --backend simulated --duration 2.6 --read-interval 0.5 --database "$demo_db/demo.sqlite" 2>&1) || { echo "$demo"; echo "sdk-demo failed"; exit 1; }
echo "$demo" | tail -n 16
for expected in "using the simulated board" "LED: on while temperature > 25.00 °C" "LED on (pin high): temperature " "button pressed (press #1)" "BME280 (simulated) at 0x76 on i2c-1: " "history, last hour: bme280@1:0x76/temperature: min " "plugin host: " "LED off; done."; do
    grep -qF "$expected" <<<"$demo" || { echo "sdk-demo output lacks: $expected"; exit 1; }
done
grep -qE "BME280 \(simulated\) at 0x76 on i2c-1: [0-9]+\.[0-9]+ °C, [0-9]+\.[0-9]+ hPa, [0-9]+\.[0-9] %RH" <<<"$demo" || { echo "sdk-demo printed no BME280 reading with units"; exit 1; }
history=$(swift run sdk-demo history --database "$demo_db/demo.sqlite" 2>&1) || { echo "$history"; echo "sdk-demo history failed"; exit 1; }
echo "$history"
grep -qF "bme280@1:0x76/temperature: min " <<<"$history" || { echo "sdk-demo history shows no temperature"; exit 1; }
rm -rf "$demo_db"
echo "sdk-demo: ok"

# The host's Debian package (Documentation/Packaging.md): plugin-host and plugin-host-runner built
# with --static-swift-stdlib in the release folder the lab step uses too (iotsdk-lab shares most
# of their modules), packed with dpkg-deb, unpacked and installed into scratch roots, and run with
# the Swift toolchain hidden.
step "Debian package: Scripts/test-package.sh (release build, dpkg-deb, dpkg -x, dpkg --root into a copy-on-write root)"
bash Scripts/test-package.sh

# iotsdk-lab carries its Swift runtime; the runner and the example module share the toolchain's
# runtime libraries, which run.sh copies into the VM (a dynamic library cannot link
# Foundation's static libraries, and one process should hold one Swift runtime).
step "lab binaries: swift build -c release (iotsdk-lab with --static-swift-stdlib, plugin-host-runner, ExampleModuleSwift)"
swift build -c release --static-swift-stdlib --product iotsdk-lab
swift build -c release --product plugin-host-runner
swift build -c release --product ExampleModuleSwift
bindir=$(swift build -c release --show-bin-path)
# The escape probe module (SyscallFilterTests on this machine), for the sandbox on the lab's kernel.
cc -shared -fPIC -O1 -I Sources/CIoTModule/include -o "$bindir/libEscapeProbe.so" Tests/Fixtures/modules/escape_probe.c
# The wasm hardware module, for a wasm module on gpio-sim and i2c-stub (clang-14 from build-wasm-example.sh).
clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -fvisibility=hidden -Wl,--export-dynamic -I Sources/CIoTModule/include \
    -o "$bindir/hardware.wasm" Tests/Fixtures/wasm/hardware.c

step "the lab's own self-test (a C checker of the fixture contract, and exit-code propagation)"
bash Scripts/lab/selftest.sh

step "real-kernel tests in the QEMU lab"
LAB_EXTRA_FILES="$bindir/plugin-host-runner $bindir/libExampleModuleSwift.so $bindir/libEscapeProbe.so $bindir/hardware.wasm" bash Scripts/lab/run.sh "$bindir/iotsdk-lab" "$@"

# plugin-host in $bindir is the --static-swift-stdlib build of Scripts/package-deb.sh (the steps
# since then linked other products only); the runner is the one above, with its libraries.
step "power cuts in the QEMU lab: installs on an ext4 disk, QEMU killed with SIGKILL at random moments (Scripts/lab/powercut.sh)"
bash Scripts/lab/powercut.sh "$bindir/plugin-host" "$bindir/plugin-host-runner"
