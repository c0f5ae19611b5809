import IoTSDK
@testable import SensorDrivers
import SensorDriversTesting
import Testing

private func celsius(_ value: Double) -> Temperature { Temperature(baseValue: value + 273.15) }

// MARK: - Conversions against the datasheet

@Suite("TMP102 conversions (datasheet tables)")
struct TMP102ConversionTests {
    /// SBOS397, "12-Bit Temperature Data Format" table (Table 5 in revision C): the 12-bit value sits
    /// in bits 15-4, D0 = 0. The 128 °C row reads 7FFh, i.e. 127.9375 °C, the format's maximum.
    static let twelveBit: [(UInt16, Double)] = [
        (0x7FF, 127.9375), (0x640, 100), (0x500, 80), (0x4B0, 75), (0x320, 50), (0x190, 25),
        (0x004, 0.25), (0x000, 0), (0xFFC, -0.25), (0xE70, -25), (0xC90, -55),
    ]

    /// SBOS397, "13-Bit Temperature Data Format" table (Table 6 in revision C): extended mode, the
    /// 13-bit value in bits 15-3, D0 = 1.
    static let thirteenBit: [(UInt16, Double)] = [
        (0x0960, 150), (0x0800, 128), (0x07FF, 127.9375), (0x0640, 100), (0x0500, 80), (0x04B0, 75),
        (0x0320, 50), (0x0190, 25), (0x0004, 0.25), (0x0000, 0), (0x1FFC, -0.25), (0x1E70, -25), (0x1C90, -55),
    ]

    @Test(arguments: twelveBit)
    func twelveBitTable(code: UInt16, degrees: Double) {
        #expect(TMP102.celsius(temperatureRegister: code << 4) == degrees)
        #expect(SimulatedTMP102(temperature: celsius(degrees)).temperatureRegister == code << 4)
    }

    @Test(arguments: thirteenBit)
    func thirteenBitTable(code: UInt16, degrees: Double) {
        #expect(TMP102.celsius(temperatureRegister: code << 3 | 1) == degrees)
    }

    @Test func the128DegreeRowClipsToTheTwelveBitMaximum() {
        #expect(SimulatedTMP102(temperature: celsius(128)).temperatureRegister == 0x7FF0)
    }

    /// "High- and Low-Limit Registers": same format as the temperature register; power-up
    /// T_HIGH = 80 °C, T_LOW = 75 °C.
    @Test func limitRegistersUseTheTemperatureFormat() throws {
        #expect(try TMP102.limitRegister(celsius(80), extended: false) == 0x5000)
        #expect(try TMP102.limitRegister(celsius(75), extended: false) == 0x4B00)
        #expect(try TMP102.limitRegister(celsius(-25), extended: false) == 0xE700)
        #expect(try TMP102.limitRegister(celsius(150), extended: true) == 0x0960 << 3)
        #expect(try TMP102.limitRegister(celsius(25.03), extended: false) == 0x1900)   // nearest 0.0625 °C
        #expect(TMP102.celsius(limitRegister: 0x4B00, extended: true) == 150)
        let error = #expect(throws: SensorError.self) { try TMP102.limitRegister(celsius(130), extended: false) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("extended mode") == true)
    }

    @Test func configWordFields() {
        // Continuous at 4 Hz with the power-up thermostat: CR = 10b only (R1/R0 written as 00b).
        #expect(TMP102.configWord(.init()) == 0x0080)
        let oneShot = TMP102.Configuration(mode: .oneShot, extendedMode: true,
                                           alert: .init(thermostat: .interrupt, polarity: .activeHigh, faults: .six))
        // OS SD | F1 F0 POL TM | CR = 10b | EM
        #expect(TMP102.configWord(oneShot, startOneShot: true) == 0x8000 | 0x1F00 | 0x0080 | 0x0010)
        #expect(TMP102.configWord(.init(mode: .continuous(.hz8))) == 0x00C0)
        #expect(TMP102.configWord(.init(mode: .continuous(.hz0_25))) == 0x0000)
        #expect(TMP102.hasFixedConfigBits(0x60A0))
        #expect(!TMP102.hasFixedConfigBits(0x8583))      // an ADS1x15 after power-up
    }
}

// MARK: - Driver against the simulated chip

@Suite("TMP102 driver on the simulated chip")
struct TMP102DriverTests {
    @Test(arguments: [I2CFunctionality.fullI2C, .smbusOnly])
    func continuousRead(functionality: I2CFunctionality) async throws {
        let chip = SimulatedTMP102(temperature: celsius(23.5))
        let bus = SimulatedI2CBus(functionality: functionality, devices: [0x48: chip])
        let sensor = try await TMP102(device: bus.device(0x48))
        #expect(try await sensor.read().value.temperature.celsius == 23.5)
        chip.setTemperature(celsius(-10.25))
        #expect(try await sensor.read().value.temperature.celsius == -10.25)
        if functionality == .smbusOnly {
            #expect(bus.trace.allSatisfy { if case .smbus = $0 { true } else { false } })
        }
    }

    @Test func initSequence() async throws {
        let bus = SimulatedI2CBus(devices: [0x48: SimulatedTMP102()])
        _ = try await TMP102(device: bus.device(0x48))
        #expect(bus.trace == [
            .transfer(address: 0x48, messages: [.write([0x01]), .read(count: 2)]),
            .transfer(address: 0x48, messages: [.write([0x01, 0x00, 0x80])]),
            .transfer(address: 0x48, messages: [.write([0x01]), .read(count: 2)]),
            .transfer(address: 0x48, messages: [.write([0x02, 0x4B, 0x00])]),
            .transfer(address: 0x48, messages: [.write([0x03, 0x50, 0x00])]),
        ])
    }

    @Test func extendedModeReadsAbove128Degrees() async throws {
        let chip = SimulatedTMP102(temperature: celsius(140))
        let bus = SimulatedI2CBus(devices: [0x48: chip])
        let sensor = try await TMP102(device: bus.device(0x48))
        #expect(try await sensor.read().value.temperature.celsius == 127.9375)   // 12-bit maximum
        try await sensor.configure(.init(extendedMode: true))
        // The format changes with the next conversion; D0 tells which one the register holds.
        #expect(try await sensor.read().value.temperature.celsius == 127.9375)
        chip.setTemperature(celsius(140))
        #expect(chip.temperatureRegister & 1 == 1)
        #expect(try await sensor.read().value.temperature.celsius == 140)
    }

    @Test(arguments: [I2CFunctionality.fullI2C, .smbusOnly])
    func oneShotPollsOS(functionality: I2CFunctionality) async throws {
        let chip = SimulatedTMP102(temperature: celsius(20), timing: .afterStatusReads(2))
        let bus = SimulatedI2CBus(functionality: functionality, devices: [0x48: chip])
        let sensor = try await TMP102(device: bus.device(0x48), configuration: .init(mode: .oneShot))
        chip.setTemperature(celsius(30.125))              // shut down: waits for a one-shot
        #expect(chip.temperatureRegister == 0x1400)
        let before = chip.conversions
        bus.clearTrace()
        #expect(try await sensor.read().value.temperature.celsius == 30.125)
        #expect(chip.conversions == before + 1)
        #expect(chip.configurationRegister & 0x8100 == 0x8100)   // still shut down, OS reads 1
        if functionality == .fullI2C {
            #expect(bus.trace.first == .transfer(address: 0x48, messages: [.write([0x01, 0x81, 0x80])]))
            let statusReads = bus.trace.filter { $0 == .transfer(address: 0x48, messages: [.write([0x01]), .read(count: 2)]) }
            #expect(statusReads.count == 3)
        }
    }

    @Test func oneShotThatNeverFinishesTimesOut() async throws {
        let chip = SimulatedTMP102(timing: .never)
        let bus = SimulatedI2CBus(devices: [0x48: chip])
        let sensor = try await TMP102(device: bus.device(0x48), configuration: .init(mode: .oneShot))
        let error = await #expect(throws: SensorError.self) { _ = try await sensor.read() }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("35 ms") == true)
    }

    @Test func comparatorThermostatWithFaultQueue() async throws {
        let chip = SimulatedTMP102(temperature: celsius(20))
        let bus = SimulatedI2CBus(devices: [0x48: chip])
        let alert = TMP102.Alert(faults: .two, low: celsius(25.03), high: celsius(30))
        let sensor = try await TMP102(device: bus.device(0x48), configuration: .init(alert: alert))
        let limits = try await sensor.readLimits()
        #expect(limits.low.celsius == 25)
        #expect(limits.high.celsius == 30)
        chip.setTemperature(celsius(31))
        #expect(try await !sensor.isAlertActive())          // one fault of two
        chip.setTemperature(celsius(31))
        #expect(try await sensor.isAlertActive())
        #expect(chip.alertPinIsLow)
        chip.setTemperature(celsius(26))
        #expect(try await sensor.isAlertActive())           // between the limits: stays
        chip.setTemperature(celsius(24))
        chip.setTemperature(celsius(24))
        #expect(try await !sensor.isAlertActive())
        #expect(!chip.alertPinIsLow)

        try await sensor.configure(.init(alert: .init(polarity: .activeHigh, low: celsius(25), high: celsius(30))))
        chip.setTemperature(celsius(35))
        #expect(try await sensor.isAlertActive())           // AL bit inverted by POL, corrected
        #expect(chip.configurationRegister & 0x0020 != 0)
        #expect(!chip.alertPinIsLow)                        // active high: the pin is released high
    }

    @Test func interruptModeClearsOnARegisterRead() async throws {
        let chip = SimulatedTMP102(temperature: celsius(20))
        let bus = SimulatedI2CBus(devices: [0x48: chip])
        let alert = TMP102.Alert(thermostat: .interrupt, low: celsius(25), high: celsius(30))
        let sensor = try await TMP102(device: bus.device(0x48), configuration: .init(alert: alert))
        chip.setTemperature(celsius(32))
        #expect(chip.alertPinIsLow)
        _ = try await sensor.read()
        #expect(!chip.alertPinIsLow)
    }

    @Test func invalidLimitsThrowBeforeAnyBusTraffic() async {
        let bus = SimulatedI2CBus(devices: [0x48: SimulatedTMP102()])
        let order = await #expect(throws: SensorError.self) {
            _ = try await TMP102(device: bus.device(0x48), configuration: .init(alert: .init(low: celsius(40), high: celsius(30))))
        }
        #expect(order?.code == .invalidSetting)
        let range = await #expect(throws: SensorError.self) {
            _ = try await TMP102(device: bus.device(0x48), configuration: .init(alert: .init(high: celsius(140))))
        }
        #expect(range?.code == .invalidSetting)
        #expect(bus.trace.isEmpty)
    }

    @Test func anADS1x15AtTheAddressIsRejectedBeforeAnyWrite() async {
        let bus = SimulatedI2CBus(devices: [0x48: SimulatedADS1x15()])
        let error = await #expect(throws: SensorError.self) { _ = try await TMP102(device: bus.device(0x48)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("8583h") == true)
        #expect(bus.trace.count == 1)
    }

    @Test func aChipThatStoresTheReadOnlyBitsIsRejected() async {
        // A plain register file holding 60A0h passes the first look but keeps R1/R0 = 00b when written.
        let bus = SimulatedI2CBus(devices: [0x48: RegisterFileDevice(registers: [0x01: 0x60, 0x02: 0xA0])])
        let error = await #expect(throws: SensorError.self) { _ = try await TMP102(device: bus.device(0x48)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("read back 0080h") == true)
    }

    @Test func noDeviceIsNoAcknowledge() async {
        let bus = SimulatedI2CBus(functionality: .smbusOnly)
        let error = await #expect(throws: HardwareError.self) { _ = try await TMP102(device: bus.device(0x4A)) }
        #expect(error?.code == .noAcknowledge)
    }
}
