import IoTSDK
@testable import SensorDrivers
import SensorDriversTesting
import Testing

private func celsius(_ value: Double) -> Temperature { Temperature(baseValue: value + 273.15) }

// MARK: - Conversions against the datasheet

@Suite("MCP9808 conversions (datasheet register examples)")
struct MCP9808ConversionTests {
    /// "Ambient Temperature Register (T_A)" bit weights (bit 4 = 2⁰ °C, bit 0 = 2⁻⁴ °C, bit 12 sign,
    /// 13-bit two's complement) decoded as in "T_A Bits to Temperature Conversion": UpperByte & 1Fh,
    /// sign test, UpperByte × 16 + LowerByte / 16 (− 256 below 0 °C).
    static let ambientExamples: [(UInt16, Double)] = [
        (0x0190, 25), (0x01A4, 26.25), (0x0001, 0.0625), (0x07D0, 125), (0x0000, 0),
        (0x1FFF, -0.0625), (0x1FF0, -1), (0x1E70, -25), (0x1D80, -40),
    ]

    @Test(arguments: ambientExamples)
    func ambientRegister(raw: UInt16, degrees: Double) {
        #expect(MCP9808.celsius(ambientRegister: raw) == degrees)
        #expect(MCP9808.celsius(ambientRegister: raw | 0xE000) == degrees)   // flag bits are masked
    }

    /// The sample code's flag tests: bit 15 T_A ≥ T_CRIT, bit 14 T_A > T_UPPER, bit 13 T_A < T_LOWER.
    @Test func flagBits() {
        #expect(MCP9808.limitFlags(ambientRegister: 0xC190) == [.critical, .aboveUpper])
        #expect(MCP9808.limitFlags(ambientRegister: 0x3E70) == [.belowLower])
        #expect(MCP9808.limitFlags(ambientRegister: 0x0190) == [])
    }

    /// "Upper/Lower/Critical Temperature Limit Registers": 0.25 °C in bits 12-2, two's complement.
    @Test func limitRegisters() throws {
        #expect(try MCP9808.limitRegister(celsius(25)) == 0x0190)
        #expect(try MCP9808.limitRegister(celsius(-25)) == 0x1E70)
        #expect(try MCP9808.limitRegister(celsius(25.1)) == 0x0190)          // nearest 0.25 °C
        #expect(try MCP9808.limitRegister(celsius(25.13)) == 0x0194)
        #expect(try MCP9808.limitRegister(celsius(255.75)) == 0x0FFC)
        #expect(try MCP9808.limitRegister(celsius(-256)) == 0x1000)
        #expect(MCP9808.celsius(limitRegister: 0x1E70) == -25)
        let error = #expect(throws: SensorError.self) { try MCP9808.limitRegister(celsius(256)) }
        #expect(error?.code == .invalidSetting)
    }

    /// "Temperature Conversion Time" table: resolution and typical t_CONV.
    @Test func resolutionTable() {
        let rows = MCP9808.Resolution.allCases.map { ($0.rawValue, $0.stepCelsius, $0.typicalConversionTime) }
        #expect(rows.map(\.0) == [0, 1, 2, 3])
        #expect(rows.map(\.1) == [0.5, 0.25, 0.125, 0.0625])
        #expect(rows.map(\.2) == [.milliseconds(30), .milliseconds(65), .milliseconds(130), .milliseconds(250)])
    }

    @Test func configWordFields() {
        #expect(MCP9808.configWord(.init(), shutdown: false) == 0x0000)
        #expect(MCP9808.configWord(.init(), shutdown: true) == 0x0100)
        let alert = MCP9808.Alert(lower: celsius(0), upper: celsius(30), critical: celsius(40), mode: .interrupt,
                                  polarity: .activeHigh, criticalOnly: true, hysteresis: .celsius6)
        #expect(MCP9808.configWord(.init(alert: alert), shutdown: false) == 0x0600 | 0x000F)
    }
}

// MARK: - Driver against the simulated chip

@Suite("MCP9808 driver on the simulated chip")
struct MCP9808DriverTests {
    @Test(arguments: [I2CFunctionality.fullI2C, .smbusOnly])
    func readsTheAmbientTemperature(functionality: I2CFunctionality) async throws {
        let chip = SimulatedMCP9808(temperature: celsius(23.4375))
        let bus = SimulatedI2CBus(functionality: functionality, devices: [0x18: chip])
        let sensor = try await MCP9808(device: bus.device(0x18))
        #expect(sensor.revision == 0x00)
        let reading = try await sensor.read().value
        #expect(reading.temperature.celsius == 23.4375)
        #expect(reading.flags.isEmpty == false)          // power-up limits are 0 °C: T_A > T_UPPER, ≥ T_CRIT
        try await sensor.configure(.init(resolution: .quarter))
        #expect(chip.resolutionRegister == 0b01)
        chip.setTemperature(celsius(-7.4))
        #expect(try await sensor.read().value.temperature.celsius == -7.5)   // floor to 0.25 °C
        if functionality == .smbusOnly {
            #expect(bus.trace.allSatisfy { if case .smbus = $0 { true } else { false } })
        }
    }

    @Test func initSequence() async throws {
        let bus = SimulatedI2CBus(devices: [0x18: SimulatedMCP9808()])
        _ = try await MCP9808(device: bus.device(0x18), configuration: .init(resolution: .half))
        #expect(bus.trace == [
            .transfer(address: 0x18, messages: [.write([0x06]), .read(count: 2)]),
            .transfer(address: 0x18, messages: [.write([0x07]), .read(count: 2)]),
            .smbus(address: 0x18, operation: "read-byte-data", command: 0x08, bytes: []),
            .transfer(address: 0x18, messages: [.write([0x01]), .read(count: 2)]),
            .transfer(address: 0x18, messages: [.write([0x05]), .read(count: 2)]),
            .smbus(address: 0x18, operation: "write-byte-data", command: 0x08, bytes: [0x00]),
            .transfer(address: 0x18, messages: [.write([0x01, 0x00, 0x00])]),
            .transfer(address: 0x18, messages: [.write([0x01]), .read(count: 2)]),
        ])
    }

    @Test func wrongManufacturerIDIsRejectedBeforeAnyWrite() async {
        let bus = SimulatedI2CBus(devices: [0x18: SimulatedMCP9808(manufacturerID: 0x1234)])
        let error = await #expect(throws: SensorError.self) { _ = try await MCP9808(device: bus.device(0x18)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("1234h") == true)
        #expect(error?.message.contains("0054h") == true)
        #expect(bus.trace.count == 1)
    }

    @Test func wrongDeviceIDIsRejected() async {
        let bus = SimulatedI2CBus(devices: [0x18: SimulatedMCP9808(deviceID: 0x0201)])
        let error = await #expect(throws: SensorError.self) { _ = try await MCP9808(device: bus.device(0x18)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("is 02h, expected 04h") == true)
        #expect(bus.trace.count == 2)
    }

    @Test func shutdownBetweenReadings() async throws {
        let chip = SimulatedMCP9808(temperature: celsius(20))
        let bus = SimulatedI2CBus(devices: [0x18: chip])
        let sensor = try await MCP9808(device: bus.device(0x18),
                                       configuration: .init(resolution: .half, powerMode: .shutdownBetweenReadings))
        #expect(chip.configRegister & 0x0100 != 0)
        chip.setTemperature(celsius(30.7))               // shut down: no conversion
        #expect(MCP9808.celsius(ambientRegister: chip.ambientRegister) == 20)
        bus.clearTrace()
        #expect(try await sensor.read().value.temperature.celsius == 30.5)
        #expect(chip.configRegister & 0x0100 != 0)      // back in shutdown
        #expect(bus.trace == [
            .transfer(address: 0x18, messages: [.write([0x01, 0x00, 0x00])]),
            .transfer(address: 0x18, messages: [.write([0x05]), .read(count: 2)]),
            .transfer(address: 0x18, messages: [.write([0x01, 0x01, 0x00])]),
        ])
    }

    @Test func comparatorAlertWithHysteresis() async throws {
        let chip = SimulatedMCP9808(temperature: celsius(20))
        let bus = SimulatedI2CBus(devices: [0x18: chip])
        let alert = MCP9808.Alert(lower: celsius(10), upper: celsius(30), critical: celsius(40), hysteresis: .celsius1_5)
        let sensor = try await MCP9808(device: bus.device(0x18), configuration: .init(alert: alert))
        #expect(chip.limitRegisters.upper == 0x01E0)
        #expect(chip.limitRegisters.lower == 0x00A0)
        #expect(chip.limitRegisters.critical == 0x0280)
        #expect(chip.configRegister == 0x0208)
        let limits = try await sensor.readLimits()
        #expect(limits.upper.celsius == 30 && limits.lower.celsius == 10 && limits.critical.celsius == 40)

        chip.setTemperature(celsius(31))
        #expect(try await sensor.isAlertAsserted())
        #expect(chip.alertPinIsLow)
        #expect(try await sensor.read().value.flags == [.aboveUpper])
        chip.setTemperature(celsius(29))
        #expect(try await sensor.isAlertAsserted())      // released only at T_UPPER − 1.5 °C
        chip.setTemperature(celsius(28.5))
        #expect(try await !sensor.isAlertAsserted())
        chip.setTemperature(celsius(41))
        #expect(try await sensor.read().value.flags == [.critical, .aboveUpper])
        chip.setTemperature(celsius(5))
        #expect(try await sensor.read().value.flags == [.belowLower])
    }

    @Test func interruptAlertIsClearedByTheDriver() async throws {
        let chip = SimulatedMCP9808(temperature: celsius(20))
        let bus = SimulatedI2CBus(devices: [0x18: chip])
        let alert = MCP9808.Alert(lower: celsius(10), upper: celsius(30), critical: celsius(40), mode: .interrupt)
        let sensor = try await MCP9808(device: bus.device(0x18), configuration: .init(alert: alert))
        chip.setTemperature(celsius(31))
        #expect(try await sensor.isAlertAsserted())
        try await sensor.clearInterrupt()
        #expect(try await !sensor.isAlertAsserted())
        #expect(chip.configRegister & 0x0020 == 0)       // Int. Clear reads 0
    }

    @Test func lockedLimitsRefuseChanges() async throws {
        let chip = SimulatedMCP9808(temperature: celsius(20))
        let bus = SimulatedI2CBus(devices: [0x18: chip])
        let alert = MCP9808.Alert(lower: celsius(10), upper: celsius(30), critical: celsius(40))
        let sensor = try await MCP9808(device: bus.device(0x18), configuration: .init(alert: alert))
        try await sensor.lockLimits()
        #expect(chip.configRegister & 0x00C0 == 0x00C0)

        var changed = alert
        changed.upper = celsius(35)
        let error = await #expect(throws: SensorError.self) { try await sensor.configure(.init(alert: changed)) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("locked") == true)
        #expect(chip.limitRegisters.upper == 0x01E0)

        let shutdown = await #expect(throws: SensorError.self) {
            try await sensor.configure(.init(powerMode: .shutdownBetweenReadings, alert: alert))
        }
        #expect(shutdown?.code == .invalidSetting)
        // The settings the chip holds are accepted again, also by a restarted program.
        try await sensor.configure(.init(alert: alert))
        _ = try await MCP9808(device: bus.device(0x18), configuration: .init(alert: alert))

        chip.powerCycle()
        #expect(chip.configRegister == 0x0000)
    }

    @Test func invalidSettingsThrowBeforeAnyBusTraffic() async {
        let bus = SimulatedI2CBus(devices: [0x18: SimulatedMCP9808()])
        let order = await #expect(throws: SensorError.self) {
            let alert = MCP9808.Alert(lower: celsius(30), upper: celsius(30), critical: celsius(40))
            _ = try await MCP9808(device: bus.device(0x18), configuration: .init(alert: alert))
        }
        #expect(order?.code == .invalidSetting)
        let range = await #expect(throws: SensorError.self) {
            let alert = MCP9808.Alert(lower: celsius(0), upper: celsius(30), critical: celsius(300))
            _ = try await MCP9808(device: bus.device(0x18), configuration: .init(alert: alert))
        }
        #expect(range?.code == .invalidSetting)
        #expect(range?.message.contains("−256 … +255.75 °C") == true)
        #expect(bus.trace.isEmpty)
    }

    @Test func noDeviceIsNoAcknowledge() async {
        let bus = SimulatedI2CBus()
        let error = await #expect(throws: HardwareError.self) { _ = try await MCP9808(device: bus.device(0x1F)) }
        #expect(error?.code == .noAcknowledge)
    }
}
