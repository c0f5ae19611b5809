// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "iot-sdk",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "IoTSDK", targets: ["IoTSDK"]),
        .library(name: "IoTSDKFoundation", targets: ["IoTSDKFoundation"]),
        .executable(name: "sdk-demo", targets: ["sdk-demo"]),
        .executable(name: "sdk-bench", targets: ["sdk-bench"]),
        .executable(name: "iotsdk-lab", targets: ["iotsdk-lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The only place that includes the kernel's uAPI headers (<linux/gpio.h>, <linux/i2c-dev.h>, <linux/i2c.h>).
        .target(name: "CIoTLinux"),
        // Plain C loops that the benchmark measures the SDK against.
        .target(name: "CIoTBench", dependencies: ["CIoTLinux"]),
        .target(
            name: "IoTSDK",
            dependencies: [
                "CIoTLinux",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Bridges to Foundation (Measurement, Date); kept apart so that IoTSDK itself stays small.
        .target(name: "IoTSDKFoundation", dependencies: ["IoTSDK"]),
        .executableTarget(
            name: "sdk-demo",
            dependencies: [
                "IoTSDK",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "sdk-bench", dependencies: ["IoTSDK", "CIoTBench"]),
        // The tests that run inside the QEMU lab against a real kernel (gpio-sim, i2c-stub).
        .executableTarget(name: "iotsdk-lab", dependencies: ["IoTSDK"]),
        .testTarget(name: "IoTSDKTests", dependencies: ["IoTSDK", "IoTSDKFoundation"]),
    ],
    swiftLanguageModes: [.v6]
)
