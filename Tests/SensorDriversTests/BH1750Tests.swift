import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

/// The BH1750 driver against the "BH1750FVI Technical Note" (ROHM, 2009.04 Rev.B) and the
/// simulated chip.
@Suite struct BH1750Tests {
    let address: I2CAddress = 0x23

    func makeBus(_ chip: SimulatedBH1750, functionality: I2CFunctionality = .fullI2C) -> SimulatedI2CBus {
        SimulatedI2CBus(functionality: functionality, devices: [address: chip])
    }

    func op(_ byte: UInt8) -> I2CTraceEntry { .transfer(address: 0x23, messages: [.write([byte])]) }
    let read2 = I2CTraceEntry.transfer(address: 0x23, messages: [.read(count: 2)])

    func mt(_ value: Int) throws -> BH1750.MeasurementTime { try BH1750.MeasurementTime(validating: value) }

    // MARK: - Datasheet checks

    @Test func theDatasheetReadExample() {
        // "I2C Bus Access", read format example: High byte 1000_0011, Low byte 1001_0000 →
        // (2^15 + 2^9 + 2^8 + 2^7 + 2^4) / 1.2 ≈ 28067 lx (H-resolution mode, MTreg 69).
        let lux = BH1750.illuminance(count: 0b1000_0011_1001_0000, resolution: .high).lux
        #expect(abs(lux - 28_066.67) < 0.01)
        #expect(lux.rounded() == 28_067)
        // At the default MTreg one count is 1/1.2 lx (electrical characteristics: S/A = 1.2).
        #expect(abs(BH1750.illuminance(count: 1, resolution: .high).lux - 1 / 1.2) < 1e-12)
        #expect(abs(BH1750.illuminance(count: 1, resolution: .low).lux - 1 / 1.2) < 1e-12)
    }

    @Test func measurementTimeScalesTheResult() throws {
        // "Adjust measurement result for influence of optical window": lx = count / 1.2 × (69 / MTreg).
        let expected: [(Int, Double)] = [(31, 1_854.839), (69, 833.333), (138, 416.667), (254, 226.378)]
        for (register, lux) in expected {
            let value = BH1750.illuminance(count: 1000, resolution: .high, measurementTime: try mt(register)).lux
            #expect(abs(value - lux) < 0.001)
            // H-resolution mode 2 halves it (its least significant bit is 0.5 lx).
            let half = BH1750.illuminance(count: 1000, resolution: .high2, measurementTime: try mt(register)).lux
            #expect(abs(half - lux / 2) < 0.001)
        }
    }

    @Test func theDatasheetRangeLimits() throws {
        // Features: "possible to detect min. 0.11 lx, max. 100000 lx" with MTreg.
        let finest = BH1750.illuminance(count: 1, resolution: .high2, measurementTime: try mt(254)).lux
        #expect(abs(finest - 0.11) < 0.005)
        let widest = BH1750.illuminance(count: 0xFFFF, resolution: .high, measurementTime: try mt(31)).lux
        #expect(widest > 100_000)
        #expect(abs(widest - 121_556.85) < 0.01)
    }

    @Test func opcodesMatchTheInstructionSet() throws {
        #expect(BH1750.Opcode.powerDown == 0x00)
        #expect(BH1750.Opcode.powerOn == 0x01)
        #expect(BH1750.Opcode.reset == 0x07)
        #expect(BH1750.Opcode.measure(.high, .continuous) == 0x10)
        #expect(BH1750.Opcode.measure(.high2, .continuous) == 0x11)
        #expect(BH1750.Opcode.measure(.low, .continuous) == 0x13)
        #expect(BH1750.Opcode.measure(.high, .oneTime) == 0x20)
        #expect(BH1750.Opcode.measure(.high2, .oneTime) == 0x21)
        #expect(BH1750.Opcode.measure(.low, .oneTime) == 0x23)
        // "Change Measurement time": 01000_MT[7,6,5] and 011_MT[4,3,2,1,0].
        #expect(BH1750.MeasurementTime.default.opcodes == [0x42, 0x65])     // 69 = 010_00101
        #expect(try mt(31).opcodes == [0x40, 0x7F])
        #expect(try mt(138).opcodes == [0x44, 0x6A])
        #expect(try mt(254).opcodes == [0x47, 0x7E])
    }

    @Test func measurementWaitsAreTheDatasheetMaximaScaledByMTreg() throws {
        // Electrical characteristics: tHR max 180 ms, tLR max 24 ms at MTreg 69.
        #expect(BH1750.maximumMeasurementDuration(.high) == .milliseconds(180))
        #expect(BH1750.maximumMeasurementDuration(.high2) == .milliseconds(180))
        #expect(BH1750.maximumMeasurementDuration(.low) == .milliseconds(24))
        #expect(BH1750.maximumMeasurementDuration(.high, measurementTime: try mt(138)) == .milliseconds(360))
        #expect(BH1750.maximumMeasurementDuration(.high, measurementTime: try mt(31)) == .microseconds(80_870))
        #expect(BH1750.maximumMeasurementDuration(.high, measurementTime: try mt(254)) == .microseconds(662_609))
        #expect(BH1750.maximumMeasurementDuration(.low, measurementTime: try mt(254)) == .microseconds(88_348))
    }

    @Test func measurementTimeOutsideItsRangeIsRejected() {
        for value in [0, 30, 255, 1000, -1] {
            #expect { _ = try BH1750.MeasurementTime(validating: value) } throws: { error in
                guard let error = error as? SensorError else { return false }
                return error.code == .invalidSetting && error.message.contains("31…254") && error.message.contains("\(value)")
            }
        }
        #expect(BH1750.MeasurementTime(rawValue: 30) == nil)
        #expect(BH1750.MeasurementTime(rawValue: 31)?.rawValue == 31)
        #expect(BH1750.MeasurementTime(rawValue: 254)?.rawValue == 254)
        #expect(BH1750.MeasurementTime(rawValue: 255) == nil)
    }

    // MARK: - Driver on the simulated bus

    @Test func initialisationSequence() async throws {
        let chip = SimulatedBH1750()
        let bus = makeBus(chip)
        _ = try await BH1750(device: bus.device(address))
        #expect(bus.trace == [op(0x01), op(0x07), op(0x42), op(0x65), op(0x10)])
        #expect(chip.measurementTime == 69)
        #expect(chip.isPoweredOn)
    }

    @Test func continuousLowResolution() async throws {
        let chip = SimulatedBH1750()
        chip.setIlluminance(.lux(500))
        let bus = makeBus(chip)
        let light = try await BH1750(device: bus.device(address), configuration: .init(resolution: .low))
        let first = try await light.read()
        #expect(abs(first.value.lux - 500) < 1)
        chip.setIlluminance(.lux(1_250))
        let second = try await light.read()
        #expect(abs(second.value.lux - 1_250) < 1)
        #expect(bus.trace == [op(0x01), op(0x07), op(0x42), op(0x65), op(0x13), read2, read2])
    }

    @Test func oneTimeModeWithDoubledMeasurementTime() async throws {
        let chip = SimulatedBH1750()
        chip.setIlluminance(.lux(300))
        let bus = makeBus(chip)
        let light = try await BH1750(device: bus.device(address),
                                     configuration: .init(resolution: .low, mode: .oneTime, measurementTime: try mt(138)))
        #expect(bus.trace == [op(0x01), op(0x07), op(0x44), op(0x6A), op(0x00)])
        #expect(!chip.isPoweredOn)
        bus.clearTrace()
        let reading = try await light.read()
        #expect(bus.trace == [op(0x01), op(0x23), read2])
        // count = 300 × 1.2 × 138/69 = 720; 720 / 1.2 × 69/138 = 300 lx.
        #expect(abs(reading.value.lux - 300) < 1e-9)
        #expect(!chip.isPoweredOn)                              // one-time mode ends in power-down
    }

    @Test func oneTimeHighResolution2AtShortMeasurementTime() async throws {
        let chip = SimulatedBH1750()
        chip.setIlluminance(.lux(1_234.5))
        let light = try await BH1750(device: makeBus(chip).device(address),
                                     configuration: .init(resolution: .high2, mode: .oneTime, measurementTime: try mt(31)))
        let reading = try await light.read()
        // One count is 1/1.2 × 69/31 / 2 ≈ 0.93 lx here.
        #expect(abs(reading.value.lux - 1_234.5) < 0.93)
        #expect(chip.receivedOpcodes.suffix(2) == [0x01, 0x21])
    }

    @Test func changingTheMeasurementTimeRestartsContinuousMode() async throws {
        let chip = SimulatedBH1750()
        chip.setIlluminance(.lux(80))
        let bus = makeBus(chip)
        let light = try await BH1750(device: bus.device(address), configuration: .init(resolution: .low))
        bus.clearTrace()
        try await light.setMeasurementTime(try mt(254))
        #expect(bus.trace == [op(0x01), op(0x47), op(0x7E), op(0x13)])
        #expect(chip.measurementTime == 254)
        let reading = try await light.read()
        // count = 80 × 1.2 × 254/69 = 353.39 → 353; 353 / 1.2 × 69/254 = 79.91 lx.
        #expect(abs(reading.value.lux - 79.91) < 0.01)
    }

    @Test func powerDownThenReadRestartsMeasuring() async throws {
        let chip = SimulatedBH1750()
        chip.setIlluminance(.lux(42))
        let bus = makeBus(chip)
        let light = try await BH1750(device: bus.device(address), configuration: .init(resolution: .low))
        bus.clearTrace()
        try await light.powerDown()
        #expect(!chip.isPoweredOn)
        let reading = try await light.read()
        #expect(bus.trace == [op(0x00), op(0x01), op(0x42), op(0x65), op(0x13), read2])
        #expect(abs(reading.value.lux - 42) < 1)
    }

    @Test func resetSequence() async throws {
        let chip = SimulatedBH1750()
        let bus = makeBus(chip)
        let light = try await BH1750(device: bus.device(address), configuration: .init(resolution: .high, mode: .oneTime))
        bus.clearTrace()
        try await light.reset()
        #expect(bus.trace == [op(0x01), op(0x07), op(0x42), op(0x65), op(0x00)])
    }

    @Test func noDeviceIsANoAcknowledge() async throws {
        await #expect { _ = try await BH1750(device: SimulatedI2CBus().device(0x5C)) } throws: { error in
            (error as? HardwareError)?.code == .noAcknowledge
        }
    }

    @Test func smbusOnlyAdaptersAreRejectedClearly() async throws {
        let bus = makeBus(SimulatedBH1750(), functionality: .smbusOnly)
        await #expect { _ = try await BH1750(device: bus.device(address)) } throws: { error in
            guard let error = error as? SensorError else { return false }
            return error.code == .unsupported && error.message.contains("I2C-capable") && error.message.contains("2-byte read")
        }
        #expect(bus.trace.isEmpty)
        #expect { _ = try bus.device(address).read(count: 2) } throws: { ($0 as? HardwareError)?.code == .unsupported }
    }

    // MARK: - The simulated chip itself

    @Test func simulatedChipResetClearsDataOnlyWhenPoweredOn() async throws {
        let chip = SimulatedBH1750()
        chip.setIlluminance(.lux(100))
        #expect(try chip.read(count: 2) == [0, 0])               // power-up value
        try chip.write([0x13])                                   // continuous L: 16 ms typical
        try await Task.sleep(for: .milliseconds(20))
        #expect(try chip.read(count: 2) == [0, 120])             // 100 lx × 1.2
        try chip.write([0x00])
        try chip.write([0x07])                                   // ignored in power-down
        #expect(try chip.read(count: 2) == [0, 120])
        try chip.write([0x01])
        try chip.write([0x07])
        #expect(try chip.read(count: 2) == [0, 0])
    }
}
