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
