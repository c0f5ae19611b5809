// swift-tools-version:6.0
import PackageDescription

/// Chip folders under Sources/SensorDrivers; each has a README.md naming its datasheet.
let driverFolders = ["ADS1x15", "BH1750", "BME280", "DS18B20", "GPIOParts", "IIO", "MCP9808", "MPU6050", "PCA9685", "SHT3x", "SHT4x", "SSD1306", "TMP102"]

let package = Package(
    name: "iot-sdk",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "IoTSDK", targets: ["IoTSDK"]),
        .library(name: "IoTSDKFoundation", targets: ["IoTSDKFoundation"]),
        .library(name: "SensorDrivers", targets: ["SensorDrivers"]),
        .library(name: "SensorDriversTesting", targets: ["SensorDriversTesting"]),
        .executable(name: "sdk-demo", targets: ["sdk-demo"]),
        .library(name: "PluginHost", targets: ["PluginHost"]),
        .executable(name: "plugin-host", targets: ["plugin-host"]),
        .executable(name: "plugin-host-runner", targets: ["plugin-host-runner"]),
        // Example modules (Examples/), built as the shared libraries a module image carries.
        .library(name: "ExampleModuleC", type: .dynamic, targets: ["ExampleModuleC"]),
        .library(name: "ExampleModuleSwift", type: .dynamic, targets: ["ExampleModuleSwift"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Descriptors, errno and stat for the Linux support layer.
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        // `swift package generate-documentation`: the DocC catalogs of the public targets (Scripts/docs.sh).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        // The WebAssembly runtime of wasm modules (Documentation/WasmModules.md): an interpreter
        // without Foundation, with fuel metering. Exact: the runner uses its memory limiter SPI.
        .package(url: "https://github.com/swiftwasm/WasmKit.git", exact: "0.4.2"),
    ],
    targets: [
        // The package's version, read by the SDK (which re-exports it) and by the host, which
        // does not link the SDK for it.
        .target(name: "SDKVersion"),
        // The only place that includes the kernel's uAPI headers (<linux/gpio.h>, <linux/i2c-dev.h>, <linux/i2c.h>).
        .target(name: "CIoTLinux"),
        // The one home of descriptors, errno and EINTR (swift-system), kernel and state files,
        // durable writes, inotify, subprocesses, AF_UNIX addresses and sd_notify, for the SDK,
        // the host and the runner. The file parts build on macOS too (module images are packed
        // there); CIoTLinux only on Linux.
        .target(
            name: "LinuxSupport",
            dependencies: [
                .target(name: "CIoTLinux", condition: .when(platforms: [.linux])),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The system libsqlite3, for local storage.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // Plain C loops that the benchmark measures the SDK against.
        .target(name: "CIoTBench", dependencies: ["CIoTLinux", "CIoTMosquitto", "CSQLite"]),
        .target(
            name: "IoTSDK",
            dependencies: [
                "CIoTLinux",
                "CIoTModule",
                "CSQLite",
                "LinuxSupport",
                "MQTTClient",
                "SDKVersion",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Bridges to Foundation (Measurement, Date); kept apart so that IoTSDK itself stays small.
        .target(name: "IoTSDKFoundation", dependencies: ["IoTSDK"]),
        // Drivers for common chips; they use IoTSDK's bus protocols only.
        .target(name: "SensorDrivers", dependencies: ["IoTSDK", "LinuxSupport"], exclude: driverFolders.map { $0 + "/README.md" }),
        // Simulated chips written from the datasheets' register maps, for tests and the demo.
        .target(name: "SensorDriversTesting", dependencies: ["IoTSDK"]),
        // The checks of `sdk-demo doctor` and `plugin-host doctor`: the report, and the hardware
        // checks against the running system or a simulated root (Documentation/Troubleshooting.md).
        .target(name: "Doctor", dependencies: ["IoTSDK"]),
        // The command-line options both doctor commands share.
        .target(name: "DoctorCLI", dependencies: ["Doctor", "IoTSDK", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Doctor's testing kit: a simulated root (FakeRoot) for its tests and the host's checks'.
        .target(name: "DoctorTesting", dependencies: ["Doctor"]),
        .testTarget(name: "DoctorTests", dependencies: ["Doctor", "DoctorTesting", "IoTSDK"]),
        // The checks `plugin-host doctor` adds (runner, root, sandbox features, state directory,
        // trusted keys): Doctor's report over PluginHost's detection, so that PluginHost itself
        // links neither Doctor nor the SDK.
        .target(name: "HostDoctor", dependencies: ["Doctor", "LinuxSupport", "PluginHost"]),
        .testTarget(name: "HostDoctorTests", dependencies: ["HostDoctor", "Doctor", "DoctorTesting", "PluginHost"]),
        // The host's broker connection (Documentation/Runtime.md, "MQTT through the host"): the
        // runtime's ModuleMessaging over the SDK's Uplink and a host outbox with one named outbox
        // per module, so that PluginHostRuntime itself links neither the SDK nor libmosquitto's client.
        .target(
            name: "HostUplink",
            dependencies: ["IoTSDK", "LinuxSupport", "MQTTClient", "PluginHostRuntime",
                           .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .executableTarget(
            name: "sdk-demo",
            dependencies: [
                "IoTSDK",
                "DoctorCLI",
                "Doctor",
                "SensorDrivers",
                "SensorDriversTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // TestSupport: `delivery` starts docker-registry and puts the fault proxy in front of it as the delivery tests do.
        .executableTarget(name: "sdk-bench", dependencies: ["IoTSDK", "CIoTBench", "PluginHost", "ModuleFFI", "ModuleProtocol", "TestSupport"], exclude: ["wasm"]),
        // The tests that run inside the QEMU lab against a real kernel (gpio-sim, i2c-stub).
        .executableTarget(name: "iotsdk-lab", dependencies: ["IoTSDK", "SensorDrivers", "SensorDriversTesting", "PluginHost", "Doctor", "CIoTLinux", "TestSupport"]),
        // The child process of the storage crash test (Tests/IoTSDKTests/StorageCrashTests.swift).
        .executableTarget(name: "iotsdk-storage-writer", dependencies: ["IoTSDK"]),
        // The device process of the uplink's crash test (Tests/IoTSDKTests/UplinkTests.swift): drains an outbox until killed.
        .executableTarget(name: "iotsdk-uplink-device", dependencies: ["IoTSDK", .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "IoTSDKTests", dependencies: ["IoTSDK", "IoTSDKFoundation", "CSQLite", "CIoTLinux", "CIoTModule", "LinuxSupport", "iotsdk-storage-writer"]),
        // The uplink against real mosquitto brokers (TestSupport starts them on 127.0.0.1), with
        // the device process it kills; run beside PluginHostTests, apart from the timing-sensitive async tests.
        .testTarget(name: "UplinkTests", dependencies: ["IoTSDK", "MQTTClient", "TestSupport", "iotsdk-uplink-device"]),
        .testTarget(name: "LinuxSupportTests", dependencies: ["LinuxSupport"]),
        // The system zlib, for gzip-compressed module layers.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The system libzstd, for zstd-compressed module layers. Not part of macOS: there, pkg-config
        // finds Homebrew's (`brew install zstd`), so that `pack` still builds for module authors.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        // The C ABI between the host and a module's shared library (include/iotsdk_module.h).
        .target(name: "CIoTModule"),
        // The system libffi, for calling a module's typed commands.
        .systemLibrary(name: "CFFI", providers: [.apt(["libffi-dev"])]),
        // What host and runner share: command values, the framed IPC protocol and its channel.
        // Only the channel (AF_UNIX SOCK_SEQPACKET, SCM_RIGHTS) needs CIoTLinux, and only on
        // Linux: the values and the codec build anywhere, so module images do too.
        .target(name: "ModuleProtocol", dependencies: ["LinuxSupport", .target(name: "CIoTLinux", condition: .when(platforms: [.linux]))]),
        // Calls a module's typed commands through libffi (in the runner).
        .target(name: "ModuleFFI", dependencies: ["CFFI", "ModuleProtocol"]),
        // The ABI of WebAssembly modules (Documentation/WasmModules.md): the host calls as imports,
        // the exports a manifest names and their types, and the check of a .wasm file against
        // both, which pack, install and the runner share. Parser only: builds anywhere.
        .target(name: "ModuleWasm", dependencies: ["ModuleProtocol", .product(name: "WasmParser", package: "WasmKit")]),
        // Module images (Documentation/ModuleImage.md): manifest, OCI layout, tar, gzip, zstd, signing,
        // trust, and ModuleError. No Linux-only code, so that `pack`, `keygen` and `inspect`
        // build on macOS for module authors.
        .target(
            name: "PluginHostImages",
            dependencies: [
                "CZlib",
                "CZstd",
                "LinuxSupport",
                "ModuleProtocol",
                "ModuleWasm",
                "MQTTTopics",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The state directory and the update engine (Documentation/Updates.md): module paths,
        // journal, durable files, install/commit/rollback. Module code runs behind ModuleRunner,
        // which the runtime supplies.
        .target(name: "PluginHostStore", dependencies: ["PluginHostImages", "LinuxSupport", "ModuleProtocol"]),
        // Running modules (Documentation/Runtime.md): runner processes, sandbox, cgroups, the
        // hardware broker, the control socket, supervision, following channels (PluginHostRegistry), the daemon's event loop.
        .target(
            name: "PluginHostRuntime",
            dependencies: ["PluginHostImages", "PluginHostStore", "PluginHostRegistry", "CIoTLinux", "LinuxSupport", "ModuleProtocol", "MQTTTopics"]
        ),
        // libcurl, loaded at run time by the process that pulls (not linked: every runner process
        // is this executable too). Its headers at build time only.
        .target(name: "CIoTCurl"),
        // Delivery (Documentation/Delivery.md): the OCI Distribution client (manifests, blobs,
        // auth, platforms) that pulls module images from registries into the content store.
        .target(
            name: "PluginHostRegistry",
            dependencies: ["CIoTCurl", "LinuxSupport", "PluginHostImages", "PluginHostStore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // libmosquitto, loaded at run time by the process that connects to a broker (not linked:
        // an app that never uses the uplink, and every runner, should not map it). Headers at build time only.
        .target(name: "CIoTMosquitto"),
        // One connection to an MQTT broker (libmosquitto): reconnects with backoff, keepalive, TLS,
        // will and birth, subscriptions. The SDK's uplink and the host's both use it. Foundation-free.
        .target(name: "MQTTClient", dependencies: ["CIoTMosquitto", "LinuxSupport", "MQTTTopics", .product(name: "Logging", package: "swift-log")]),
        // MQTT's rules for topic names and filters (validity, matching, one filter covering
        // another): for the client, the manifest and the host's per-topic rights. Portable.
        .target(name: "MQTTTopics"),
        // The layers as one import, for the command, HostDoctor and the tests.
        .target(name: "PluginHost", dependencies: ["PluginHostImages", "PluginHostStore", "PluginHostRegistry", "PluginHostRuntime"]),
        // The module runner: loads a module's library in a child process (in its sandbox) and
        // calls its entry points and hooks. Both executables below run it.
        .target(
            name: "PluginHostRunner",
            dependencies: ["CIoTModule", "CIoTLinux", "IoTSDK", "LinuxSupport", "ModuleProtocol", "ModuleFFI", "ModuleWasm",
                           .product(name: "WasmKit", package: "WasmKit")]
        ),
        .executableTarget(name: "plugin-host-runner", dependencies: ["PluginHostRunner"]),
        .executableTarget(
            name: "plugin-host",
            dependencies: [
                "PluginHost",
                // pack, keygen and inspect import only this: what module authors run needs no runtime.
                "PluginHostImages",
                "Doctor",
                "DoctorCLI",
                "HostDoctor",
                "HostUplink",
                "LinuxSupport",
                "ModuleProtocol",
                "MQTTClient",
                "PluginHostRunner",
                "SDKVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What the test targets that run the built executables share: running a tool and reading
        // its output, waiting on a condition, the repository root, temporary directories, whether
        // the example modules are built, docker-registry on 127.0.0.1 and the fault proxy in front
        // of it (which `sdk-bench delivery` uses too). Foundation only, so that it links no target it tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // sdk-demo: DoctorCommandTests runs `sdk-demo doctor` and `--version`.
        .testTarget(name: "PluginHostTests", dependencies: ["PluginHost", "HostUplink", "IoTSDK", "MQTTTopics", "PluginHostImages", "PluginHostStore", "PluginHostRegistry", "PluginHostRuntime", "plugin-host", "plugin-host-runner", "sdk-demo", "TestSupport", "CIoTModule", "CSQLite", "CIoTLinux", "CZlib", "LinuxSupport", "ModuleProtocol", "ModuleFFI",
                                                            // The token service of the registry tests signs its JWTs (ES256).
                                                            .product(name: "Crypto", package: "swift-crypto"),
                                                            // The hostile wasm modules of WasmModuleTests, written as WebAssembly text.
                                                            "ModuleWasm", .product(name: "WAT", package: "WasmKit")]),
        // The built sdk-demo on the simulated board; its module test installs the demo module and
        // runs it under a real `plugin-host run` (with plugin-host-runner), whose snapshot it reads.
        .testTarget(name: "SdkDemoTests", dependencies: ["sdk-demo", "plugin-host", "plugin-host-runner", "PluginHostRuntime", "TestSupport"]),
        .target(name: "ExampleModuleC", dependencies: ["CIoTModule"], path: "Examples/ExampleModuleC", exclude: ["module.json", "module-wasm.json"]),
        .target(name: "ExampleModuleSwift", dependencies: ["IoTSDK", "CIoTModule", .product(name: "Logging", package: "swift-log")], path: "Examples/ExampleModuleSwift", exclude: ["module.json"]),
        .testTarget(name: "SensorDriversTests", dependencies: ["SensorDrivers", "SensorDriversTesting", "IoTSDK"]),
    ],
    swiftLanguageModes: [.v6]
)
