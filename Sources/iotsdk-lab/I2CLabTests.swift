import IoTSDK

/// I2C against the real kernel: i2c-stub through /dev/i2c-N (SMBus only).
let i2cLabTests: [LabTest] = [
    LabTest(name: "i2c.adapter-discovery-by-name") {
        let number = Int(try environment("IOTLAB_I2C_BUS"))
        let adapters = I2CAdapters.list()
        let stub = try I2CAdapters.find(named: "SMBus stub driver")
        try expectEqual(stub.number, number, "stub adapter number")
        try expectEqual(stub.devicePath, "/dev/i2c-\(stub.number)")
        try expect(adapters.contains(stub), "listed")
        let missing = try expectError(.notFound) { try I2CAdapters.find(named: "no such adapter") }
        try expect(missing.message.contains("SMBus stub driver"), missing.message)
    },
    LabTest(name: "i2c.functionality-probe") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        try expect(!bus.functionality.contains(.i2c), "i2c-stub has no I2C_RDWR: \(bus.functionality)")
        try expect(bus.functionality.isSuperset(of: [.smbusQuick, .smbusReadByteData, .smbusWriteByteData, .smbusReadWordData, .smbusReadI2CBlock]),
                   "SMBus calls: \(bus.functionality)")
    },
    LabTest(name: "i2c.smbus-reads-preloaded-registers") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        let bme = bus.device(0x76)
        try expectEqual(try bme.readRegister(0xD0), 0x60, "chip id")
        try expectEqual(try bme.readRegisters(0x88, count: 6), [0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC], "calibration block")
        try expectEqual(try bus.device(0x50).readRegisters(0x00, count: 4), [0xDE, 0xAD, 0xBE, 0xEF])
    },
    LabTest(name: "i2c.smbus-writes-read-back") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        let device = bus.device(0x50)
        try device.writeRegister(0x10, 0xA5)
        try expectEqual(try device.readRegister(0x10), 0xA5)
        // i2c-stub keeps a 16-bit word per register: a word written is the word read, and a byte
        // read of that register is its low byte, the one SMBus sends first.
        try bus.smbusWriteWordData(0x50, command: 0x30, 0xA1B2)
        try expectEqual(try bus.smbusReadWordData(0x50, command: 0x30), 0xA1B2, "word round trip")
        try expectEqual(try device.readRegister(0x30), 0xB2, "low byte first")
        // 16-bit registers go as SMBus words (first byte on the wire = low byte of the word).
        try device.writeRegister16(0x20, 0xBEEF, byteOrder: .bigEndian)
        try expectEqual(try bus.smbusReadWordData(0x50, command: 0x20), 0xEFBE, "MSB first on the wire")
        try expectEqual(try device.readRegister16(0x20, byteOrder: .bigEndian), 0xBEEF)
        try expectEqual(try device.readRegister16(0x20, byteOrder: .littleEndian), 0xEFBE)
        try expectEqual(try device.readRegisters(0x20, count: 2), [0xBE, 0xEF])
        // Longer than one SMBus block: written and read 32 bytes at a time.
        let block = (0..<40).map { UInt8($0 * 3) }
        try device.writeRegisters(0x40, block)
        try expectEqual(try device.readRegisters(0x40, count: 40), block)
    },
    LabTest(name: "i2c.rdwr-unsupported-is-a-clear-error") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        let error = try expectError(.unsupported) { try bus.transfer(0x76, [.write([0xD0]), .read(count: 1)]) }
        try expect(error.message.contains("SMBus-only") && error.message.contains("I2C_RDWR"), error.message)
        try expectError(.unsupported) { try bus.device(0x76).read(count: 4) }
        try expectError(.unsupported) { try bus.device(0x76).writeRead([0x00, 0x10], count: 2) }
    },
    LabTest(name: "i2c.no-device-answers") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        let error = try expectError(.noAcknowledge) { try bus.device(0x40).readRegister(0x00) }
        try expect(error.message.contains("0x40"), error.message)
    },
    LabTest(name: "i2c.scan-follows-i2cdetect") {
        let bus = try LinuxI2CBus(adapterNamed: "SMBus stub driver")
        let found = try bus.scan()
        try expectEqual(found.map(\.address.rawValue), [0x18, 0x48, 0x50, 0x76])
        try expect(found.allSatisfy { $0.status == .present }, "\(found)")
        try expectEqual(I2CProbe.default(for: 0x50, functionality: bus.functionality), .readByte)
        try expectEqual(I2CProbe.default(for: 0x76, functionality: bus.functionality), .quickWrite)
    },
    LabTest(name: "i2c.address-claimed-by-a-driver") {
        let number = try environment("IOTLAB_I2C_BUS")
        let adapter = "/sys/bus/i2c/devices/i2c-\(number)"
        // The i2c core's "dummy" driver binds to a client made through new_device.
        try writeFile(adapter + "/new_device", "dummy 0x50")
        defer { try? writeFile(adapter + "/delete_device", "0x50") }
        let info = try I2CAdapters.find(named: "SMBus stub driver")
        try expectEqual(info.claimed.map(\.address), [0x50])
        try expectEqual(info.claimed.first?.driver, "dummy")
        let bus = try LinuxI2CBus(bus: info.number)
        let error = try expectError(.busy) { try bus.device(0x50).readRegister(0x00) }
        try expect(error.message.contains("'dummy'"), error.message)
        let found = try bus.scan()
        try expectEqual(found, [I2CScanResult(address: 0x18, status: .present), I2CScanResult(address: 0x48, status: .present),
                                I2CScanResult(address: 0x50, status: .claimed), I2CScanResult(address: 0x76, status: .present)])
    },
    LabTest(name: "i2c.missing-bus") {
        let error = try expectError(.notFound) { try LinuxI2CBus(bus: 99) }
        try expect(error.message.contains("i2c-dev") && error.message.contains("SMBus stub driver"), error.message)
    },
]
