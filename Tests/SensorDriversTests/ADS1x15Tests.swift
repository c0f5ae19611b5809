import IoTSDK
@testable import SensorDrivers
import SensorDriversTesting
import Testing

// MARK: - Conversions against the datasheets

@Suite("ADS1x15 conversions (datasheet tables)")
struct ADS1x15ConversionTests {
    /// ADS1115 datasheet (SBAS444), "Data Format": "Input Signal Versus Ideal Output Code" at ±2.048 V.
    static let ads1115Table: [(UInt16, Double, Bool)] = [
        (0x7FFF, 2.048 * 32767 / 32768, true),          // ≥ +FS (2¹⁵ − 1)/2¹⁵
        (0x0001, 2.048 / 32768, false),                 // +FS/2¹⁵
        (0x0000, 0.0, false),                           // 0
        (0xFFFF, -2.048 / 32768, false),                // −FS/2¹⁵
        (0x8000, -2.048, true),                         // ≤ −FS
    ]
    @Test(arguments: ads1115Table)
    func ads1115OutputCodeTable(code: UInt16, volts: Double, clipped: Bool) {
        let voltage = ADS1x15.voltage(code: code, range: .plusMinus2_048V, part: .ads1115)
        #expect(abs(voltage.volts - volts) < 1e-12)
        #expect(ADS1x15.isClipped(code: code, part: .ads1115) == clipped)
    }

    /// ADS1015 datasheet (SBAS473), "Data Format": "Input Signal Versus Ideal Output Code"
    /// (12 bits left-justified: 7FF0h, 0010h, 0000h, FFF0h, 8000h) at ±2.048 V.
    static let ads1015Table: [(UInt16, Double, Bool)] = [
        (0x7FF0, 2.048 * 2047 / 2048, true),
        (0x0010, 0.001, false),
        (0x0000, 0.0, false),
        (0xFFF0, -0.001, false),
        (0x8000, -2.048, true),
    ]
    @Test(arguments: ads1015Table)
    func ads1015OutputCodeTable(code: UInt16, volts: Double, clipped: Bool) {
        let voltage = ADS1x15.voltage(code: code, range: .plusMinus2_048V, part: .ads1015)
        #expect(abs(voltage.volts - volts) < 1e-12)
        #expect(ADS1x15.isClipped(code: code, part: .ads1015) == clipped)
    }

    /// "Full-Scale Range and Corresponding LSB Size" tables of both datasheets.
    static let lsbTable: [(ADS1x15.FullScaleRange, Double, Double)] = [
        (.plusMinus6_144V, 187.5e-6, 3e-3),
        (.plusMinus4_096V, 125e-6, 2e-3),
        (.plusMinus2_048V, 62.5e-6, 1e-3),
        (.plusMinus1_024V, 31.25e-6, 0.5e-3),
        (.plusMinus0_512V, 15.625e-6, 0.25e-3),
        (.plusMinus0_256V, 7.8125e-6, 0.125e-3),
    ]
    @Test(arguments: lsbTable)
    func lsbSizeTable(range: ADS1x15.FullScaleRange, ads1115: Double, ads1015: Double) {
        #expect(abs(range.lsb(for: .ads1115).volts - ads1115) < 1e-15)
        #expect(abs(range.lsb(for: .ads1015).volts - ads1015) < 1e-15)
    }

    /// The config word for AIN0-AIN1, ±2.048 V, single-shot, DR = 100b, comparator off, with OS set,
    /// is the datasheet's reset value 8583h (Config Register field descriptions).
    @Test func configWordOfPowerUpSettingsIsTheResetValue() {
        let rate = ADS1x15.Part.ads1115.dataRates.firstIndex(of: .sps128) ?? -1
        #expect(rate == 0b100)
        let config = ADS1x15.Configuration(part: .ads1115, input: .ain0MinusAin1)
        #expect(config.dataRate == .sps128)
        let word = ADS1x15.configWord(start: true, input: config.input, range: config.range, rateCode: UInt16(rate),
                                      alertPin: config.alertPin)
        #expect(word == 0x8583)
        #expect(ADS1x15.Configuration(part: .ads1015).dataRate == .sps1600)
    }

    @Test func thresholdCodesRoundToTheNearestStepAndLeftJustifyOnTheADS1015() throws {
        #expect(try ADS1x15.thresholdCode(.volts(1.0), range: .plusMinus4_096V, part: .ads1115) == 8000)
        #expect(try ADS1x15.thresholdCode(.volts(-1.0), range: .plusMinus4_096V, part: .ads1115) == -8000)
        #expect(try ADS1x15.thresholdCode(.volts(4.096), range: .plusMinus4_096V, part: .ads1115) == 32767)
        #expect(try ADS1x15.thresholdCode(.volts(1.0), range: .plusMinus4_096V, part: .ads1015) == 500 << 4)
        let error = #expect(throws: SensorError.self) {
            try ADS1x15.thresholdCode(.volts(2.1), range: .plusMinus2_048V, part: .ads1115)
        }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("±2.048 V") == true)
    }
}

// MARK: - Settings validation

@Suite("ADS1x15 settings validation")
struct ADS1x15ValidationTests {
    @Test func dataRatesBelongToTheirPart() throws {
        #expect(try ADS1x15.DataRate(samplesPerSecond: 860, part: .ads1115) == .sps860)
        #expect(try ADS1x15.DataRate(samplesPerSecond: 3300, part: .ads1015) == .sps3300)
        let error = #expect(throws: SensorError.self) { try ADS1x15.DataRate(samplesPerSecond: 860, part: .ads1015) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("128, 250, 490, 920, 1600, 2400, 3300") == true)
        #expect(throws: SensorError.self) { try ADS1x15.DataRate(samplesPerSecond: 100, part: .ads1115) }
    }

    @Test func inputsAreThePairsTheMultiplexerOffers() throws {
        #expect(try ADS1x15.Input.differential(positive: 0, negative: 1) == .ain0MinusAin1)
        #expect(try ADS1x15.Input.differential(positive: 2, negative: 3) == .ain2MinusAin3)
        #expect(try ADS1x15.Input.singleEnded(3) == .ain3)
        let pair = #expect(throws: SensorError.self) { try ADS1x15.Input.differential(positive: 1, negative: 2) }
        #expect(pair?.code == .invalidSetting)
        #expect(pair?.message.contains("AIN0-AIN1, AIN0-AIN3, AIN1-AIN3 and AIN2-AIN3") == true)
        #expect(throws: SensorError.self) { try ADS1x15.Input.singleEnded(4) }
    }

    @Test func fullScaleRangesAreThePGASettings() throws {
        #expect(try ADS1x15.FullScaleRange(validating: .volts(0.256)) == .plusMinus0_256V)
        #expect(try ADS1x15.FullScaleRange(validating: .millivolts(6144)) == .plusMinus6_144V)
        let error = #expect(throws: SensorError.self) { try ADS1x15.FullScaleRange(validating: .volts(3.3)) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("±6.144 V, ±4.096 V, ±2.048 V, ±1.024 V, ±0.512 V, ±0.256 V") == true)
    }

    @Test func invalidConfigurationThrowsBeforeAnyBusTraffic() async {
        let bus = SimulatedI2CBus(devices: [0x48: SimulatedADS1x15()])
        let rate = await #expect(throws: SensorError.self) {
            _ = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps3300))
        }
        #expect(rate?.code == .invalidSetting)
        let thresholds = await #expect(throws: SensorError.self) {
            let pin = ADS1x15.AlertPin.comparator(.traditional, low: .volts(1.5), high: .volts(1.0))
            _ = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, alertPin: pin))
        }
        #expect(thresholds?.code == .invalidSetting)
        #expect(bus.trace.isEmpty)
    }
}

// MARK: - Driver against the simulated chip

@Suite("ADS1x15 driver on the simulated chip")
struct ADS1x15DriverTests {
    private static func setUp(_ part: SimulatedADS1x15.Part = .ads1115, timing: SimulatedADS1x15.ConversionTiming = .realTime,
                              functionality: I2CFunctionality = .fullI2C) -> (SimulatedI2CBus, SimulatedADS1x15) {
        let chip = SimulatedADS1x15(part: part, timing: timing)
        chip.setInputs(ain0: .volts(1.25), ain1: .volts(0.5), ain2: .volts(3.0), ain3: .volts(1.0))
        return (SimulatedI2CBus(functionality: functionality, devices: [0x48: chip]), chip)
    }

    @Test func concurrentReadsOfDifferentInputsDoNotInterleave() async throws {
        let (bus, chip) = Self.setUp()
        let adc = try await ADS1x15(device: bus.device(0x48),
                                    configuration: .init(part: .ads1115, range: .plusMinus4_096V, dataRate: .sps860))
        // Each read waits for its conversion; a second caller must not switch the mux meanwhile.
        async let a = adc.read(.ain0)
        async let b = adc.read(.ain2)
        async let c = adc.read(.ain1)
        let (ra, rb, rc) = try await (a, b, c)
        #expect(abs(ra.value.voltage.volts - 1.25) < 1e-9 && ra.value.input == .ain0)
        #expect(abs(rb.value.voltage.volts - 3.0) < 1e-9 && rb.value.input == .ain2)
        #expect(abs(rc.value.voltage.volts - 0.5) < 1e-9 && rc.value.input == .ain1)
        #expect(chip.conversionsStarted == 3)
    }

    @Test(arguments: [I2CFunctionality.fullI2C, .smbusOnly])
    func readsSingleEndedAndDifferentialInputs(functionality: I2CFunctionality) async throws {
        let (bus, _) = Self.setUp(functionality: functionality)
        let adc = try await ADS1x15(device: bus.device(0x48),
                                    configuration: .init(part: .ads1115, range: .plusMinus4_096V, dataRate: .sps860))
        let ain0 = try await adc.read().value
        #expect(ain0.input == .ain0)
        #expect(ain0.code == 10000)                      // 1.25 V / 125 µV
        #expect(abs(ain0.voltage.volts - 1.25) < 1e-9)
        #expect(!ain0.isClipped)
        let pair = try await adc.read(.ain0MinusAin1).value
        #expect(abs(pair.voltage.volts - 0.75) < 1e-9)
        let negative = try await adc.read(.ain1MinusAin3, range: .plusMinus1_024V).value
        #expect(negative.code == -16000)                 // −0.5 V / 31.25 µV
        #expect(abs(negative.voltage.volts + 0.5) < 1e-9)
        #expect(negative.range == .plusMinus1_024V)
    }

    @Test func inputsBeyondFullScaleClip() async throws {
        let (bus, _) = Self.setUp()
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps860))
        let sample = try await adc.read(.ain2).value       // 3.0 V at ±2.048 V
        #expect(sample.code == Int16.max)
        #expect(sample.isClipped)
    }

    @Test func ads1015ReturnsTwelveBitCodes() async throws {
        let (bus, chip) = Self.setUp(.ads1015)
        chip.setInput(0, to: .volts(1.2345))
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1015, dataRate: .sps3300))
        #expect(adc.probedPart == .ads1015)
        let sample = try await adc.read().value
        #expect(sample.code == 1234 << 4)                   // 1 mV steps at ±2.048 V, left-justified
        #expect(abs(sample.voltage.volts - 1.234) < 1e-9)
    }

    @Test func pollsTheOSBitUntilTheConversionIsReady() async throws {
        let (bus, chip) = Self.setUp(timing: .afterStatusReads(3))
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps860))
        bus.clearTrace()
        let sample = try await adc.read().value
        #expect(abs(sample.voltage.volts - 1.25) < 1e-4)
        #expect(chip.conversionsStarted == 1)
        let configReads = bus.trace.filter { $0 == .transfer(address: 0x48, messages: [.write([0x01]), .read(count: 2)]) }
        #expect(configReads.count == 4)                     // three busy, one idle
        #expect(bus.trace.first == .transfer(address: 0x48, messages: [.write([0x01, 0xC5, 0xE3])]))
        #expect(bus.trace.last == .transfer(address: 0x48, messages: [.write([0x00]), .read(count: 2)]))
    }

    @Test func aConversionThatNeverEndsTimesOutAndTheNextReadRecovers() async throws {
        let (bus, chip) = Self.setUp(timing: .never)
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps860))
        let error = await #expect(throws: SensorError.self) { _ = try await adc.read() }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("OS bit") == true)
        chip.setTiming(.immediate)
        let sample = try await adc.read().value
        #expect(abs(sample.voltage.volts - 1.25) < 1e-4)
    }

    @Test func aConversionLeftRunningByAnotherProgramIsNotMistakenForOurs() async throws {
        let (bus, _) = Self.setUp(timing: .afterStatusReads(5))
        try bus.device(0x48).writeRegister16(0x01, 0x8583)   // AIN0-AIN1 started, still converting
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps860))
        #expect(adc.configAtStart == 0x0583)                 // OS = 0: busy
        let sample = try await adc.read().value              // AIN0-GND, not the 0.75 V of AIN0-AIN1
        #expect(abs(sample.voltage.volts - 1.25) < 1e-4)
    }

    @Test func initSequenceChecksConfigAndProbesTheThresholdRegister() async throws {
        let (bus, chip) = Self.setUp()
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps860))
        #expect(adc.configAtStart == 0x8583)
        #expect(adc.foundPowerOnState)
        #expect(adc.probedPart == .ads1115)
        // AIN0-GND (100b), ±2.048 V (010b), single-shot, 860 SPS (111b), comparator off: 45E3h.
        #expect(bus.trace == [
            .transfer(address: 0x48, messages: [.write([0x01]), .read(count: 2)]),
            .transfer(address: 0x48, messages: [.write([0x01, 0x45, 0xE3])]),
            .transfer(address: 0x48, messages: [.write([0x01]), .read(count: 2)]),
            .transfer(address: 0x48, messages: [.write([0x02, 0x00, 0x05])]),
            .transfer(address: 0x48, messages: [.write([0x02]), .read(count: 2)]),
            .transfer(address: 0x48, messages: [.write([0x02, 0x80, 0x00])]),
            .transfer(address: 0x48, messages: [.write([0x03, 0x7F, 0xFF])]),
        ])
        #expect(chip.configRegister == 0x45E3)
        #expect(chip.conversionsStarted == 0)

        // A second driver (a restarted program) finds the settings, not the reset value, and accepts them.
        let again = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115))
        #expect(again.configAtStart == 0xC5E3)
        #expect(!again.foundPowerOnState)
    }

    @Test func smbusOnlyInitUsesOnlySMBusRegisterCalls() async throws {
        let (bus, chip) = Self.setUp(functionality: .smbusOnly)
        _ = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115))
        #expect(chip.configRegister == 0x4583)
        var commands: [UInt8?] = []
        for entry in bus.trace {
            guard case .smbus(0x48, _, let command, _) = entry else {
                Issue.record("not an SMBus call: \(entry)")
                continue
            }
            commands.append(command)
        }
        #expect(commands == [0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x03])
        // The config write carries MSB first on the wire, whichever SMBus call IoTSDK picks.
        guard case .smbus(_, _, _, let bytes) = bus.trace[1] else { return }
        #expect(bytes == [0x45, 0x83])
    }

    @Test func anADS1015OnABoardSoldAsADS1115IsReportedNotRejected() async throws {
        let (bus, _) = Self.setUp(.ads1015)
        let adc = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, dataRate: .sps860))
        #expect(adc.probedPart == .ads1015)
        let sample = try await adc.read().value
        #expect(abs(sample.voltage.volts - 1.25) < 0.001)  // same scale, 1 mV steps
    }

    @Test func comparatorAndConversionReadyThresholds() async throws {
        let (bus, chip) = Self.setUp()
        let pin = ADS1x15.AlertPin.comparator(.window, low: .volts(1.0), high: .volts(2.0), polarity: .activeHigh,
                                              latching: true, assertAfter: .four)
        _ = try await ADS1x15(device: bus.device(0x48),
                              configuration: .init(part: .ads1115, range: .plusMinus4_096V, alertPin: pin))
        #expect(chip.lowThreshold == 8000)
        #expect(chip.highThreshold == 16000)
        #expect(chip.configRegister & 0x001F == 0b11110)     // window, active high, latching, four
        _ = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115, alertPin: .conversionReady()))
        #expect(chip.lowThreshold == 0x0000)
        #expect(chip.highThreshold == 0x8000)
        #expect(chip.configRegister & 0x001F == 0b00000)

        let (bus1015, chip1015) = Self.setUp(.ads1015)
        _ = try await ADS1x15(device: bus1015.device(0x48), configuration: .init(part: .ads1015))
        #expect(chip1015.highThreshold == 0x7FFF)             // low nibble read-only 1s
        #expect(chip1015.lowThreshold == 0x8000)
    }

    @Test func anotherChipAtTheAddressIsRejected() async throws {
        let bus = SimulatedI2CBus(devices: [0x48: SimulatedTMP102()])
        let error = await #expect(throws: SensorError.self) {
            _ = try await ADS1x15(device: bus.device(0x48), configuration: .init(part: .ads1115))
        }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("read back") == true)
        #expect(error?.message.contains("TMP102") == true)
    }

    @Test func noDeviceIsNoAcknowledge() async throws {
        let bus = SimulatedI2CBus()
        let error = await #expect(throws: HardwareError.self) {
            _ = try await ADS1x15(device: bus.device(0x49), configuration: .init(part: .ads1115))
        }
        #expect(error?.code == .noAcknowledge)
    }
}
