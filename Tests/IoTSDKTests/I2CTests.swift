import Testing
@testable import IoTSDK

@Suite("I2C addresses")
struct I2CAddressTests {
    @Test(arguments: [0x00, 0x03, 0x07, 0x78, 0x7F, 0x80, -1, 0x3FF])
    func reservedAndOutOfRangeAreRejected(_ value: Int) {
        let error = #expect(throws: HardwareError.self) { try I2CAddress(validating: value) }
        #expect(error?.code == .invalidArgument)
        #expect(I2CAddress(rawValue: UInt16(truncatingIfNeeded: value)) == nil)
    }

    @Test func shiftedDatasheetAddressGetsAHint() {
        let error = #expect(throws: HardwareError.self) { try I2CAddress(validating: 0xEC) }
        #expect(error?.message.contains("0x76") == true)
    }

    @Test func validAddresses() throws {
        #expect(try I2CAddress(validating: 0x08).rawValue == 0x08)
        #expect(try I2CAddress(validating: 0x77).description == "0x77")
        let literal: I2CAddress = 0x76
        #expect(literal.rawValue == 0x76)
    }
}

@Suite("I2CDevice over full I2C and SMBus-only adapters")
struct I2CDeviceTests {
    let sensor = RegisterFileDevice(registers: [0xD0: 0x60])

    init() {
        sensor.load([0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC], at: 0x88)
    }

    @Test func registerReadUsesSMBusByteData() throws {
        let bus = SimulatedI2CBus(devices: [0x76: sensor])
        #expect(try bus.device(0x76).readRegister(0xD0) == 0x60)
        #expect(bus.trace == [.smbus(address: 0x76, operation: "read-byte-data", command: 0xD0, bytes: [])])
    }

    @Test func blockReadIsOneRepeatedStartTransferOnI2C() throws {
        let bus = SimulatedI2CBus(devices: [0x76: sensor])
        #expect(try bus.device(0x76).readRegisters(0x88, count: 6) == [0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC])
        #expect(bus.trace == [.transfer(address: 0x76, messages: [.write([0x88]), .read(count: 6)])])
    }

    @Test func blockReadFallsBackToSMBusI2CBlockOnSMBusOnlyAdapters() throws {
        let bus = SimulatedI2CBus(functionality: .smbusOnly, devices: [0x76: sensor])
        #expect(try bus.device(0x76).readRegisters(0x88, count: 6) == [0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC])
        #expect(bus.trace == [.smbus(address: 0x76, operation: "read-i2c-block", command: 0x88, bytes: [6])])
    }

    @Test func longBlocksAreChunkedIn32ByteSMBusCalls() throws {
        let bus = SimulatedI2CBus(functionality: .smbusOnly, devices: [0x50: RegisterFileDevice()])
        let data = (0..<70).map { UInt8($0) }
        try bus.device(0x50).writeRegisters(0x10, data)
        #expect(try bus.device(0x50).readRegisters(0x10, count: 70) == data)
        let commands = bus.trace.compactMap { entry -> UInt8? in
            if case .smbus(_, _, let command, _) = entry { return command }
            return nil
        }
        #expect(commands == [0x10, 0x30, 0x50, 0x10, 0x30, 0x50])
    }

    @Test func sixteenBitRegistersInBothByteOrders() throws {
        let bus = SimulatedI2CBus(devices: [0x76: sensor])
        let device = bus.device(0x76)
        #expect(try device.readRegister16(0x88, byteOrder: .littleEndian) == 0x6B70)
        #expect(try device.readRegister16(0x88) == 0x706B)
        try device.writeRegister16(0x20, 0xBEEF)
        #expect(sensor[0x20] == 0xBE && sensor[0x21] == 0xEF)
        try device.writeRegister16(0x22, 0xBEEF, byteOrder: .littleEndian)
        #expect(sensor[0x22] == 0xEF && sensor[0x23] == 0xBE)
    }

    @Test func sixteenBitRegistersUseSMBusWordsOnSMBusOnlyAdapters() throws {
        let bus = SimulatedI2CBus(functionality: .smbusOnly, devices: [0x76: sensor])
        let device = bus.device(0x76)
        #expect(try device.readRegister16(0x88) == 0x706B)
        #expect(try device.readRegister16(0x88, byteOrder: .littleEndian) == 0x6B70)
        try device.writeRegister16(0x20, 0xBEEF)
        #expect(sensor[0x20] == 0xBE && sensor[0x21] == 0xEF)
        #expect(bus.trace == [
            .smbus(address: 0x76, operation: "read-word-data", command: 0x88, bytes: []),
            .smbus(address: 0x76, operation: "read-word-data", command: 0x88, bytes: []),
            .smbus(address: 0x76, operation: "write-word-data", command: 0x20, bytes: [0xBE, 0xEF]),
        ])
    }

    @Test func whatSMBusCannotExpressIsAClearError() {
        let bus = SimulatedI2CBus(functionality: .smbusOnly, devices: [0x50: RegisterFileDevice()])
        let raw = #expect(throws: HardwareError.self) { try bus.transfer(0x50, [.read(count: 2)]) }
        #expect(raw?.code == .unsupported)
        #expect(raw?.message.contains("I2C_RDWR") == true)
        let twoByteAddress = #expect(throws: HardwareError.self) { try bus.device(0x50).writeRead([0x00, 0x10], count: 4) }
        #expect(twoByteAddress?.code == .unsupported)
        #expect(twoByteAddress?.message.contains("SMBus-only") == true)
    }

    @Test func twoByteAddressesWorkOverI2C() throws {
        let bus = SimulatedI2CBus(devices: [0x50: RegisterFileDevice()])
        _ = try bus.device(0x50).writeRead([0x00, 0x10], count: 2)
        #expect(bus.trace == [.transfer(address: 0x50, messages: [.write([0x00, 0x10]), .read(count: 2)])])
    }

    @Test func absentDeviceIsNoAcknowledge() {
        let bus = SimulatedI2CBus()
        let error = #expect(throws: HardwareError.self) { try bus.device(0x40).readRegister(0) }
        #expect(error?.code == .noAcknowledge)
    }

    @Test func scanFindsAttachedDevicesAndUsesI2CdetectProbes() throws {
        let bus = SimulatedI2CBus(devices: [0x76: sensor, 0x50: RegisterFileDevice()])
        #expect(try bus.scan().map(\.address.rawValue) == [0x50, 0x76])
        #expect(I2CProbe.default(for: 0x50, functionality: .fullI2C) == .readByte)
        #expect(I2CProbe.default(for: 0x36, functionality: .fullI2C) == .readByte)
        #expect(I2CProbe.default(for: 0x76, functionality: .fullI2C) == .quickWrite)
        #expect(I2CProbe.default(for: 0x76, functionality: [.smbusReadByte]) == .readByte)
    }
}
