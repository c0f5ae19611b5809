import Foundation
import CIoTLinux
#if canImport(Glibc)
import Glibc
#endif
import IoTSDK
import PluginHost

/// The plugin host's hardware broker against the real kernel: a granted GPIO line descriptor
/// drives the gpio-sim line and nothing else; I2C transfers go to i2c-stub for declared
/// addresses only; undeclared requests are denied.
let brokerLabTests: [LabTest] = [
    LabTest(name: "broker.gpio-grant-drives-line-and-only-that-line") {
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        let capabilities = ModuleManifest.Capabilities(gpio: [.init(chip: chips.a.name, line: 3, direction: .output),
                                                              .init(chip: chips.a.name, line: 7, direction: .output)])
        let broker = HardwareBroker(moduleID: "com.example.lab", capabilities: capabilities, audit: AuditLog(stateDirectory: "/tmp"))
        guard case let .success(fd) = broker.requestGPIO(chip: chips.a.name, line: 3, direction: .output, initialValue: false) else {
            throw LabFailure(description: "declared line 3 was not granted")
        }
        defer { close(fd) }
        try expectEqual(try sim.driven(chips.a, 3), false, "initial value")
        try expect(ciot_gpio_v2_line_set_values(fd, 1, 1) == 0, "set through the granted descriptor: errno \(errno)")
        try expectEqual(try sim.driven(chips.a, 3), true, "gpio-sim sees the module's write")
        // The descriptor is one line's request: the kernel refuses any other line through it.
        try expect(ciot_gpio_v2_line_set_values(fd, 0b10, 0b10) != 0, "a second line through the same descriptor")
        guard case .failure(.denied) = broker.requestGPIO(chip: chips.a.name, line: 4, direction: .output, initialValue: false) else {
            throw LabFailure(description: "undeclared line 4 was not denied")
        }
        // Line 7 is declared but held by the fixture's hog: the kernel's refusal, not a denial.
        guard case let .failure(.failed(reason, code)) = broker.requestGPIO(chip: chips.a.name, line: 7, direction: .output, initialValue: false) else {
            throw LabFailure(description: "the hogged line was granted")
        }
        try expect(code == EBUSY && reason.contains("another consumer"), "\(reason) (errno \(code))")
        // Stopping the module drives its outputs to the safe state.
        try expectEqual(broker.driveOutputsToSafeState(), ["\(chips.a.name):3"])
        try expectEqual(try sim.driven(chips.a, 3), false, "safe state")
    },
    LabTest(name: "broker.sysfs-chip-value-file-drives-and-polls") {
        // No /dev/gpiochip* for the broker: it exports the line through legacy sysfs instead.
        let gpio = try GPIO.linux(.characterDevice)
        let chips = try LabChips(gpio)
        let sim = try GPIOSim()
        guard let base = chips.a.sysfsBase else { throw LabFailure(description: "iotlab-a has no sysfs base") }
        let chip = "gpiochip\(base)"
        try FileManager.default.createDirectory(atPath: "/tmp/broker-sysfs-dev", withIntermediateDirectories: true)
        let capabilities = ModuleManifest.Capabilities(gpio: [.init(chip: chip, line: 2, direction: .output), .init(chip: chip, line: 3, direction: .input)])
        let broker = HardwareBroker(moduleID: "com.example.lab", capabilities: capabilities, audit: AuditLog(stateDirectory: "/tmp"), devRoot: "/tmp/broker-sysfs-dev")
        var config = ciot_gpio_v2_line_config()
        ciot_gpio_v2_config_init(&config)
        config.flags = CIOT_GPIO_V2_LINE_FLAG_OUTPUT
        guard case let .success(out) = broker.requestGPIOLines(chip: chip, offsets: [2], config: withUnsafeBytes(of: &config) { Array($0) }) else {
            throw LabFailure(description: "output line 2 was not granted through sysfs")
        }
        defer { close(out) }
        try expectEqual(try sim.driven(chips.a, 2), false, "initial value")
        try expect(pwrite(out, "1", 1, 0) == 1, "write 1: errno \(errno)")
        try expectEqual(try sim.driven(chips.a, 2), true, "gpio-sim sees the write through the value file")

        try sim.pull(chips.a, 3, up: false)
        config.flags = CIOT_GPIO_V2_LINE_FLAG_INPUT | CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING | CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING
        guard case let .success(input) = broker.requestGPIOLines(chip: chip, offsets: [3], config: withUnsafeBytes(of: &config) { Array($0) }) else {
            throw LabFailure(description: "input line 3 was not granted through sysfs")
        }
        defer { close(input) }
        var byte: UInt8 = 0
        _ = pread(input, &byte, 1, 0)
        try sim.pull(chips.a, 3, up: true)
        var descriptor = pollfd(fd: input, events: Int16(POLLPRI | POLLERR), revents: 0)
        try expect(poll(&descriptor, 1, 2000) == 1 && descriptor.revents & Int16(POLLPRI) != 0, "no POLLPRI after the edge (revents \(descriptor.revents))")
        _ = pread(input, &byte, 1, 0)
        try expectEqual(byte, UInt8(ascii: "1"), "the value after the rising edge")

        try expectEqual(broker.driveOutputsToSafeState(), ["gpio\(base + 2)"])
        try expectEqual(try sim.driven(chips.a, 2), false, "safe state")
        try expect(!FileManager.default.fileExists(atPath: "/sys/class/gpio/gpio\(base + 2)"), "line 2 unexported")
    },
    LabTest(name: "broker.i2c-declared-address-only") {
        let bus = UInt32(try environment("IOTLAB_I2C_BUS"))!
        let capabilities = ModuleManifest.Capabilities(i2c: [.init(bus: bus, addresses: [0x76])])
        let broker = HardwareBroker(moduleID: "com.example.lab", capabilities: capabilities, audit: AuditLog(stateDirectory: "/tmp"))
        try expectEqual(try broker.i2cTransfer(bus: bus, address: 0x76, segments: [.write([0xD0]), .read(count: 1)]).get(), [[0x60]], "chip id")
        try expectEqual(try broker.i2cTransfer(bus: bus, address: 0x76, segments: [.write([0x88]), .read(count: 6)]).get(),
                        [[0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC]], "calibration block")
        guard case .failure(.denied) = broker.i2cTransfer(bus: bus, address: 0x50, segments: [.write([0x00]), .read(count: 1)]) else {
            throw LabFailure(description: "undeclared address 0x50 was not denied")
        }
    },
]
