import IoTSDK
import SensorDrivers
import SensorDriversTesting
import Testing

// Datasheets: Bosch BST-BME280-DS002 (BME280, rev. 1.6) and BST-BMP280-DS001 (BMP280, rev. 1.23).

/// The BMP280 datasheet's worked example (section 3.12): dig_T1…dig_P9 with adc_T = 519888 and
/// adc_P = 415148 give T = 25.08 °C and p = 100653.27 Pa. Humidity parameters are this SDK's own
/// choice (see `SimulatedBME280.datasheetExampleRegisters`).
private let example = BME280Calibration(
    digT1: 27504, digT2: 26435, digT3: -1000,
    digP1: 36477, digP2: -10685, digP3: 3024, digP4: 2855, digP5: 140,
    digP6: -7, digP7: 15500, digP8: -14600, digP9: 6000,
    digH1: 75, digH2: 370, digH3: 0, digH4: 313, digH5: 50, digH6: 30
)

private let address: I2CAddress = 0x76

// MARK: - Reference: the datasheet's floating-point humidity formula (BME280 section 8.1)

/// BME280_compensate_H_double, in %RH, for checking the integer formula against: the datasheet
/// publishes no worked humidity example, integer or floating point.
private func humidityFloatingPoint(adcH: Int32, fine: Int32, _ c: BME280Calibration) -> Double {
    let h1 = Double(c.digH1), h2 = Double(c.digH2), h3 = Double(c.digH3)
    let h4 = Double(c.digH4), h5 = Double(c.digH5), h6 = Double(c.digH6)
    var h = Double(fine) - 76800
    h = (Double(adcH) - (h4 * 64 + h5 / 16384 * h)) * (h2 / 65536 * (1 + h6 / 67_108_864 * h * (1 + h3 / 67_108_864 * h)))
    h *= 1 - h1 * h / 524_288
    return min(max(h, 0), 100)
}

// MARK: - Compensation against the datasheets

@Suite("BME280/BMP280 compensation")
struct BME280CompensationTests {
    @Test("temperature: BMP280 datasheet 3.12 example, adc_T 519888 → 25.08 °C, t_fine 128422")
    func temperatureExample() {
        let t = BME280Compensation.temperature(adcT: 519_888, calibration: example)
        #expect(t.hundredthsOfDegreeCelsius == 2508)
        #expect(t.fine == 128_422)
    }

    @Test("pressure, 64-bit integer: BMP280 datasheet 3.12 example, adc_P 415148 → 100653.27 Pa")
    func pressureExample() throws {
        let q24_8 = try #require(BME280Compensation.pressure(adcP: 415_148, fine: 128_422, calibration: example))
        let pascals = Double(q24_8) / 256
        // The datasheet's example is computed in floating point (100653.27 Pa); the integer
        // formula lands 0.02 Pa below it, at 25767233 / 256.
        #expect(abs(pascals - 100_653.27) < 0.1)
        #expect(pascals.rounded() == 100_653)
        #expect(q24_8 == 25_767_233)
    }

    @Test("pressure: a dig_P1 of zero is the datasheet's division-by-zero case and gives no value")
    func pressureDivisionByZero() {
        var blank = example
        blank.digP1 = 0
        #expect(BME280Compensation.pressure(adcP: 415_148, fine: 128_422, calibration: blank) == nil)
    }

    @Test(
        "humidity, 32-bit integer, against the datasheet's floating-point formula (section 8.1)",
        arguments: [Int32(0x5000), 0x6000, 0x6FF0, 28_909, 0x7800, 0x8000, 0x9000],
        [Int32(90_000), 128_422, 160_000]
    )
    func humidityAgainstFloatingPoint(adcH: Int32, fine: Int32) {
        // No integer humidity example is published in either datasheet, so the integer formula is
        // checked against the floating-point one; Q22.10 steps are 0.001 %RH and the two formulas
        // differ by a few thousandths.
        let integer = Double(BME280Compensation.humidity(adcH: adcH, fine: fine, calibration: example)) / 1024
        let reference = humidityFloatingPoint(adcH: adcH, fine: fine, example)
        #expect(abs(integer - reference) < 0.02, "adc_H \(adcH), t_fine \(fine): \(integer) vs \(reference)")
    }

    @Test("humidity of the lab example: adc_H 28909 at 25.08 °C → 50.004 %RH (float: 50.001)")
    func humidityExample() {
        let q22_10 = BME280Compensation.humidity(adcH: 28_909, fine: 128_422, calibration: example)
        #expect(q22_10 == 51_204)
        #expect(abs(humidityFloatingPoint(adcH: 28_909, fine: 128_422, example) - 50.0011) < 0.001)
    }

    @Test("humidity is limited to 0…100 %RH by the formula")
    func humidityLimits() {
        #expect(BME280Compensation.humidity(adcH: 0, fine: 128_422, calibration: example) == 0)
        #expect(BME280Compensation.humidity(adcH: 0xFFFF, fine: 128_422, calibration: example) == 100 * 1024)
    }

    @Test("garbage calibration and raw values never trap")
    func noTrapOnGarbage() {
        let garbage = BME280Calibration(
            digT1: 0xFFFF, digT2: .max, digT3: .min, digP1: 1, digP2: .min, digP3: .max, digP4: .min,
            digP5: .max, digP6: .min, digP7: .max, digP8: .min, digP9: .max,
            digH1: 0xFF, digH2: .max, digH3: 0xFF, digH4: 2047, digH5: -2048, digH6: .min
        )
        let t = BME280Compensation.temperature(adcT: 0xFFFFF, calibration: garbage)
        _ = BME280Compensation.pressure(adcP: 0, fine: t.fine, calibration: garbage)
        let h = BME280Compensation.humidity(adcH: 0xFFFF, fine: t.fine, calibration: garbage)
        #expect(h <= 100 * 1024)
    }
}

// MARK: - Calibration and raw data decoding

@Suite("BME280/BMP280 register decoding")
struct BME280DecodingTests {
    private func block(_ range: ClosedRange<UInt8>) -> [UInt8] {
        range.map { SimulatedBME280.datasheetExampleRegisters[$0] ?? 0 }
    }

    @Test("calibration blocks decode per BME280 Table 16 (LSB first, signedness, split H4/H5 nibbles)")
    func calibrationFromRegisters() throws {
        let calibration = try BME280Calibration(block00: block(0x88...0xA1), block26: block(0xE1...0xE7))
        #expect(calibration == example)
    }

    @Test("dig_H4 and dig_H5 are 12-bit signed: the sign comes from 0xE4 and 0xE6")
    func negativeHumidityParameters() throws {
        // 0xE4 = 0xEA, 0xE5 = 0xC3, 0xE6 = 0xFE: dig_H4 = 0xEA3 = -349, dig_H5 = 0xFEC = -20.
        let block26: [UInt8] = [0x6A, 0x01, 0x00, 0xEA, 0xC3, 0xFE, 0xE2]
        let calibration = try BME280Calibration(block00: block(0x88...0xA1), block26: block26)
        #expect(calibration.digH2 == 362)
        #expect(calibration.digH4 == -349)
        #expect(calibration.digH5 == -20)
        #expect(calibration.digH6 == -30)
    }

    @Test("a BMP280 has no humidity parameters, whatever 0xA1 holds")
    func bmp280Calibration() throws {
        let calibration = try BME280Calibration(block00: block(0x88...0xA1), block26: nil)
        #expect(calibration.digP9 == 6000)
        #expect(calibration.digH1 == 0)
        #expect(calibration.digH2 == 0)
    }

    @Test("blank or short calibration is invalid data")
    func blankCalibration() {
        let blank = #expect(throws: SensorError.self) {
            try BME280Calibration(block00: [UInt8](repeating: 0, count: 26), block26: nil)
        }
        #expect(blank?.code == .invalidData)
        let short = #expect(throws: SensorError.self) {
            try BME280Calibration(block00: [UInt8](repeating: 1, count: 24), block26: nil)
        }
        #expect(short?.code == .invalidData)
    }

    @Test("the data burst decodes to adc_P, adc_T (20 bits) and adc_H (16 bits)")
    func rawSample() throws {
        let bytes = block(0xF7...0xFE)
        let sample = try BME280RawSample(dataRegisters: bytes)
        #expect(sample.pressure == 415_148)
        #expect(sample.temperature == 519_888)
        #expect(sample.humidity == 28_909)
        let bmp = try BME280RawSample(dataRegisters: Array(bytes.prefix(6)))
        #expect(bmp.humidity == nil)
        #expect(throws: SensorError.self) { try BME280RawSample(dataRegisters: [0x80]) }
    }
}

// MARK: - Settings

@Suite("BME280/BMP280 settings")
struct BME280SettingsTests {
    @Test("oversampling codes and factors (BME280 Tables 20, 23, 24)")
    func oversampling() throws {
        #expect(try BME280Oversampling(factor: 0) == .skipped)
        #expect(try BME280Oversampling(factor: 16).rawValue == 0b101)
        #expect(BME280Oversampling.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
        let error = #expect(throws: SensorError.self) { try BME280Oversampling(factor: 3) }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("0 (skip), 1, 2, 4, 8 or 16") == true)
    }

    @Test("filter codes (BME280 Table 28)")
    func filter() throws {
        #expect(try BME280Filter(coefficient: 0) == .off)
        #expect(try BME280Filter(coefficient: 16).rawValue == 0b100)
        let error = #expect(throws: SensorError.self) { try BME280Filter(coefficient: 3) }
        #expect(error?.code == .invalidSetting)
    }

    @Test("standby codes 110/111: 10/20 ms on the BME280, 2000/4000 ms on the BMP280 (BME280 Table 17)")
    func standbyCodesDiffer() throws {
        #expect(try BME280StandbyTime(milliseconds: 10).rawValue == 0b110)
        #expect(try BME280StandbyTime(milliseconds: 20).rawValue == 0b111)
        #expect(try BMP280StandbyTime(milliseconds: 2000).rawValue == 0b110)
        #expect(try BMP280StandbyTime(milliseconds: 4000).rawValue == 0b111)
        #expect(try BME280StandbyTime(milliseconds: 0.5).rawValue == 0b000)
        #expect(try BMP280StandbyTime(milliseconds: 62.5).rawValue == 0b001)
        #expect(BME280StandbyTime.ms62_5.duration == .microseconds(62_500))
        let bme = #expect(throws: SensorError.self) { try BME280StandbyTime(milliseconds: 2000) }
        #expect(bme?.code == .invalidSetting)
        let bmp = #expect(throws: SensorError.self) { try BMP280StandbyTime(milliseconds: 10) }
        #expect(bmp?.code == .invalidSetting)
    }

    @Test("measurement time: BME280 appendix 9.1 example (T ×1, P ×4, no H: 11.5 ms typical)")
    func measurementTimeExample() {
        #expect(BME280MeasurementTime.typicalMicroseconds(temperature: .x1, pressure: .x4) == 11_500)
        #expect(BME280MeasurementTime.maximumMicroseconds(temperature: .x1, pressure: .x4) == 13_325)
        #expect(BME280MeasurementTime.maximumMicroseconds(temperature: .x1, pressure: .x1, humidity: .x1) == 9_300)
        #expect(BME280MeasurementTime.maximumMicroseconds(temperature: .x1, pressure: .skipped, humidity: .skipped) == 3_550)
    }

    @Test(
        "measurement time: BMP280 datasheet Table 13 maxima",
        arguments: [
            (BME280Oversampling.x1, BME280Oversampling.x1, 6.4),   // ultra low power
            (.x2, .x1, 8.7),                                        // low power
            (.x4, .x1, 13.3),                                       // standard resolution
            (.x8, .x1, 22.5),                                       // high resolution
            (.x16, .x2, 43.2),                                      // ultra high resolution
        ]
    )
    func measurementTimeBMP280(pressure: BME280Oversampling, temperature: BME280Oversampling, milliseconds: Double) {
        let micro = BME280MeasurementTime.maximumMicroseconds(temperature: temperature, pressure: pressure)
        #expect((Double(micro) / 100).rounded() / 10 == milliseconds)
    }
}

// MARK: - Trace helpers

private func readByte(_ register: UInt8) -> I2CTraceEntry {
    .smbus(address: 0x76, operation: "read-byte-data", command: register, bytes: [])
}

private func writeByte(_ register: UInt8, _ value: UInt8) -> I2CTraceEntry {
    .smbus(address: 0x76, operation: "write-byte-data", command: register, bytes: [value])
}

private func burst(_ register: UInt8, _ count: Int, on functionality: I2CFunctionality) -> I2CTraceEntry {
    functionality.contains(.i2c)
        ? .transfer(address: 0x76, messages: [.write([register]), .read(count: count)])
        : .smbus(address: 0x76, operation: "read-i2c-block", command: register, bytes: [UInt8(count)])
}

/// The registers written, in order.
private func writes(_ trace: [I2CTraceEntry]) -> [UInt8] {
    trace.compactMap {
        if case .smbus(_, "write-byte-data", let command?, _) = $0 { return command }
        return nil
    }
}

private func makeBus(_ chip: SimulatedBME280, _ functionality: I2CFunctionality = .fullI2C) -> SimulatedI2CBus {
    SimulatedI2CBus(functionality: functionality, devices: [address: chip])
}

private let bothAdapters: [I2CFunctionality] = [.fullI2C, .smbusOnly]

// MARK: - BME280 driver over the simulated chip

@Suite("BME280 driver")
struct BME280DriverTests {
    @Test("reads the datasheet example registers: 25.08 °C, 100653.25 Pa, 50.004 %RH", arguments: bothAdapters)
    func readsExample(functionality: I2CFunctionality) async throws {
        let chip = SimulatedBME280()
        let bme = try await BME280(device: makeBus(chip, functionality).device(address))
        let value = try await bme.read().value
        let expected = SimulatedBME280.datasheetExampleReading
        #expect(abs(value.temperature.celsius - expected.temperatureCelsius) < 1e-9)
        #expect(value.pressure?.pascals == expected.pressurePascals)
        #expect(value.humidity?.percent == expected.humidityPercent)
        #expect(bme.calibration == example)
        #expect(chip.forcedConversionCount == 1)
        #expect(chip.resetCount == 1)
    }

    @Test("start-up and forced read make exactly the datasheet's transactions", arguments: bothAdapters)
    func initSequence(functionality: I2CFunctionality) async throws {
        let chip = SimulatedBME280()
        let bus = makeBus(chip, functionality)
        let bme = try await BME280(device: bus.device(address))
        #expect(bus.trace == [
            readByte(0xD0),                                  // id
            writeByte(0xE0, 0xB6),                           // soft reset
            readByte(0xF3), readByte(0xF3),                  // im_update 1, then 0
            burst(0x88, 26, on: functionality),              // calib00…calib25
            burst(0xE1, 7, on: functionality),               // calib26…calib32
            writeByte(0xF5, 0x00),                           // config: t_sb 0, filter off
            writeByte(0xF2, 0x01),                           // ctrl_hum: osrs_h ×1
            writeByte(0xF4, 0b001_001_00),                   // ctrl_meas: ×1, ×1, sleep
        ])
        bus.clearTrace()
        _ = try await bme.read()
        #expect(bus.trace == [
            writeByte(0xF4, 0b001_001_01),                   // forced
            readByte(0xF3),                                  // measuring 0
            burst(0xF7, 8, on: functionality),               // press, temp, hum in one read
        ])
    }

    @Test("ctrl_hum is written before ctrl_meas, so that osrs_h takes effect (BME280 5.4.3)")
    func humidityBeforeMeasurementControl() async throws {
        let chip = SimulatedBME280()
        let bus = makeBus(chip)
        let bme = try await BME280(device: bus.device(address), configuration: BME280Configuration(humidityOversampling: .x4))
        let order = writes(bus.trace)
        let hum = try #require(order.firstIndex(of: 0xF2))
        let meas = try #require(order.lastIndex(of: 0xF4))
        #expect(hum < meas)
        #expect(chip.effectiveHumidityOversampling == 0b011)
        #expect(try await bme.read().value.humidity != nil)
    }

    @Test("the simulated chip applies ctrl_hum only at the next ctrl_meas write")
    func simulatedHumidityLatch() throws {
        let chip = SimulatedBME280()
        let device = makeBus(chip).device(address)
        try device.writeRegister(0xF4, 0b001_001_00)
        try device.writeRegister(0xF2, 0b101)
        #expect(chip.effectiveHumidityOversampling == 0)
        try device.writeRegister(0xF4, 0b001_001_01)
        #expect(chip.effectiveHumidityOversampling == 0b101)
        #expect(chip[0xF4] & 0b11 == 0)                      // back to sleep after the conversion
    }

    @Test("a BMP280 where a BME280 was asked for is a wrongChip error naming 0x58 and the BMP280 driver")
    func bmp280IsWrongChip() async throws {
        let bus = makeBus(SimulatedBME280(variant: .bmp280))
        let error = await #expect(throws: SensorError.self) { try await BME280(device: bus.device(address)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("0x58") == true)
        #expect(error?.message.contains("expected 0x60") == true)
        #expect(error?.message.contains("BMP280 driver") == true)
        #expect(bus.trace == [readByte(0xD0)])                // nothing written to an unknown part
    }

    @Test("another id names the addresses and wiring to check")
    func unknownChip() async throws {
        let chip = SimulatedBME280()
        chip.chipID = 0x00
        let error = await #expect(throws: SensorError.self) { try await BME280(device: makeBus(chip).device(address)) }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("0x00") == true)
        #expect(error?.message.contains("0x77") == true)
    }

    @Test("no device at the address is HardwareError.noAcknowledge")
    func noAcknowledge() async throws {
        let bus = SimulatedI2CBus(functionality: .fullI2C)
        let error = await #expect(throws: HardwareError.self) { try await BME280(device: bus.device(address)) }
        #expect(error?.code == .noAcknowledge)
    }

    @Test("a conversion that never ends is a timeout, not a stale value")
    func conversionTimeout() async throws {
        let chip = SimulatedBME280()
        let bme = try await BME280(device: makeBus(chip).device(address))
        chip.conversionHangs = true
        let error = await #expect(throws: SensorError.self) { try await bme.read() }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("measuring") == true)
    }

    @Test("an NVM copy that never ends is a timeout at start-up")
    func nvmCopyTimeout() async throws {
        let chip = SimulatedBME280()
        chip.nvmCopyHangs = true
        let error = await #expect(throws: SensorError.self) { try await BME280(device: makeBus(chip).device(address)) }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("im_update") == true)
    }

    @Test("measuring is polled until it clears")
    func pollsMeasuring() async throws {
        let chip = SimulatedBME280()
        chip.statusReadsWhileMeasuring = 3
        let bus = makeBus(chip)
        let bme = try await BME280(device: bus.device(address))
        bus.clearTrace()
        let value = try await bme.read().value
        #expect(bus.trace.filter { $0 == readByte(0xF3) }.count == 4)
        #expect(value.pressure?.pascals == SimulatedBME280.datasheetExampleReading.pressurePascals)
    }

    @Test("a skipped temperature is an invalid setting, rejected before any bus traffic")
    func skippedTemperature() async throws {
        let bus = makeBus(SimulatedBME280())
        let error = await #expect(throws: SensorError.self) {
            try await BME280(device: bus.device(address), configuration: BME280Configuration(temperatureOversampling: .skipped))
        }
        #expect(error?.code == .invalidSetting)
        #expect(error?.message.contains("x1, x2, x4, x8 or x16") == true)
        #expect(bus.trace.isEmpty)
    }

    @Test("skipped pressure and humidity are left out of the reading")
    func skippedQuantities() async throws {
        let chip = SimulatedBME280()
        let configuration = BME280Configuration(pressureOversampling: .skipped, humidityOversampling: .skipped)
        let bme = try await BME280(device: makeBus(chip).device(address), configuration: configuration)
        let value = try await bme.read().value
        #expect(value.pressure == nil)
        #expect(value.humidity == nil)
        #expect(abs(value.temperature.celsius - 25.08) < 1e-9)
        #expect(chip[0xF7] == 0x80 && chip[0xFD] == 0x80)    // the chip wrote its placeholders
    }

    @Test("normal mode: config carries t_sb and filter, and reads return the latest conversion")
    func normalMode() async throws {
        let chip = SimulatedBME280()
        let bus = makeBus(chip, .smbusOnly)
        let configuration = BME280Configuration(
            mode: .normal(standby: .ms10), temperatureOversampling: .x2, pressureOversampling: .x16,
            humidityOversampling: .x1, filter: .coefficient16
        )
        let bme = try await BME280(device: bus.device(address), configuration: configuration)
        #expect(chip[0xF5] == 0b110_100_00)                  // 10 ms is 110 on the BME280
        #expect(chip[0xF4] == 0b010_101_11)
        _ = try await bme.read()
        chip.setEnvironment(temperature: try .celsius(18), pressure: .hectopascals(990), humidity: .percent(65))
        bus.clearTrace()
        let value = try await bme.read().value
        #expect(bus.trace == [burst(0xF7, 8, on: .smbusOnly)])
        #expect(abs(value.temperature.celsius - 18) < 0.02)
        #expect(abs((value.pressure?.hectopascals ?? 0) - 990) < 0.01)
        #expect(abs((value.humidity?.percent ?? 0) - 65) < 0.05)
    }

    @Test("configure() puts the chip to sleep before writing config, then ctrl_hum, then ctrl_meas")
    func reconfigure() async throws {
        let chip = SimulatedBME280()
        let bus = makeBus(chip)
        let bme = try await BME280(device: bus.device(address), configuration: BME280Configuration(mode: .normal(standby: .ms1000)))
        bus.clearTrace()
        try await bme.configure(BME280Configuration(mode: .normal(standby: .ms20), filter: .coefficient4))
        #expect(writes(bus.trace) == [0xF4, 0xF5, 0xF2, 0xF4])
        #expect(chip[0xF5] == 0b111_010_00)                  // accepted because the chip slept
        let error = await #expect(throws: SensorError.self) {
            try await bme.configure(BME280Configuration(temperatureOversampling: .skipped))
        }
        #expect(error?.code == .invalidSetting)
        #expect(await bme.configuration.filter == .coefficient4)
    }

    @Test("setEnvironment round-trips through the driver", arguments: [
        (-20.0, 700.0, 10.0), (21.5, 1013.25, 45.0), (60.0, 1100.0, 90.0),
    ])
    func environmentRoundTrip(celsius: Double, hectopascals: Double, percent: Double) async throws {
        let chip = SimulatedBME280()
        let bme = try await BME280(device: makeBus(chip).device(address))
        chip.setEnvironment(temperature: try .celsius(celsius), pressure: .hectopascals(hectopascals), humidity: .percent(percent))
        let value = try await bme.read().value
        #expect(abs(value.temperature.celsius - celsius) < 0.02)
        #expect(abs((value.pressure?.hectopascals ?? 0) - hectopascals) < 0.02)
        #expect(abs((value.humidity?.percent ?? 0) - percent) < 0.05)
    }

    @Test("concurrent reads do not interleave on the bus")
    func concurrentReads() async throws {
        let chip = SimulatedBME280()
        let bus = makeBus(chip)
        let bme = try await BME280(device: bus.device(address))
        bus.clearTrace()
        async let first = bme.read()
        async let second = bme.read()
        let (a, b) = try await (first, second)
        #expect(a.value == b.value)
        let oneRead = [writeByte(0xF4, 0b001_001_01), readByte(0xF3), burst(0xF7, 8, on: .fullI2C)]
        #expect(bus.trace == oneRead + oneRead)
        #expect(chip.forcedConversionCount == 2)
    }

    @Test("over a plain register file (as i2c-stub in the lab), the example dump gives the example reading")
    func registerFileLikeI2CStub() async throws {
        let stub = RegisterFileDevice(registers: SimulatedBME280.datasheetExampleRegisters)
        let bus = SimulatedI2CBus(functionality: .smbusOnly, devices: [address: stub])
        let value = try await BME280(device: bus.device(address)).read().value
        let expected = SimulatedBME280.datasheetExampleReading
        #expect(abs(value.temperature.celsius - expected.temperatureCelsius) < 1e-9)
        #expect(value.pressure?.pascals == expected.pressurePascals)
        #expect(value.humidity?.percent == expected.humidityPercent)
    }

    @Test("data registers still at their reset values are invalid data, not a reading")
    func resetPlaceholder() async throws {
        var registers = SimulatedBME280.datasheetExampleRegisters
        for (register, value) in zip(UInt8(0xF7)...0xFE, [0x80, 0, 0, 0x80, 0, 0, 0x80, 0] as [UInt8]) {
            registers[register] = value
        }
        let bus = SimulatedI2CBus(functionality: .fullI2C, devices: [address: RegisterFileDevice(registers: registers)])
        let bme = try await BME280(device: bus.device(address))
        let error = await #expect(throws: SensorError.self) { try await bme.read() }
        #expect(error?.code == .invalidData)
    }
}

// MARK: - BMP280 driver over the simulated chip

@Suite("BMP280 driver")
struct BMP280DriverTests {
    @Test("reads the datasheet example: 25.08 °C, 100653.25 Pa; no humidity registers touched", arguments: bothAdapters)
    func readsExample(functionality: I2CFunctionality) async throws {
        let chip = SimulatedBME280(variant: .bmp280)
        let bus = makeBus(chip, functionality)
        let bmp = try await BMP280(device: bus.device(address))
        #expect(bus.trace == [
            readByte(0xD0),
            writeByte(0xE0, 0xB6),
            readByte(0xF3), readByte(0xF3),
            burst(0x88, 26, on: functionality),
            writeByte(0xF5, 0x00),
            writeByte(0xF4, 0b001_001_00),
        ])
        bus.clearTrace()
        let value = try await bmp.read().value
        #expect(bus.trace == [writeByte(0xF4, 0b001_001_01), readByte(0xF3), burst(0xF7, 6, on: functionality)])
        #expect(abs(value.temperature.celsius - 25.08) < 1e-9)
        #expect(value.pressure?.pascals == SimulatedBME280.datasheetExampleReading.pressurePascals)
        #expect(bmp.calibration.digH1 == 0)
    }

    @Test("BMP280 samples (0x56, 0x57) are accepted", arguments: [UInt8(0x56), 0x57])
    func samples(id: UInt8) async throws {
        let chip = SimulatedBME280(variant: .bmp280)
        chip.chipID = id
        let bmp = try await BMP280(device: makeBus(chip).device(address))
        #expect(try await bmp.read().value.pressure != nil)
    }

    @Test("a BME280 where a BMP280 was asked for is a wrongChip error naming 0x60 and the BME280 driver")
    func bme280IsWrongChip() async throws {
        let error = await #expect(throws: SensorError.self) {
            try await BMP280(device: makeBus(SimulatedBME280(variant: .bme280)).device(address))
        }
        #expect(error?.code == .wrongChip)
        #expect(error?.message.contains("0x60") == true)
        #expect(error?.message.contains("BME280 driver") == true)
    }

    @Test("normal mode: 2000 ms standby is code 110 on the BMP280")
    func normalModeStandby() async throws {
        let chip = SimulatedBME280(variant: .bmp280)
        let configuration = BMP280Configuration(mode: .normal(standby: .ms2000), pressureOversampling: .x4, filter: .coefficient2)
        let bmp = try await BMP280(device: makeBus(chip).device(address), configuration: configuration)
        #expect(chip[0xF5] == 0b110_001_00)
        #expect(chip[0xF4] == 0b001_011_11)
        chip.setEnvironment(temperature: try .celsius(-5), pressure: .pascals(85_000))
        let value = try await bmp.read().value
        #expect(abs(value.temperature.celsius + 5) < 0.02)
        #expect(abs((value.pressure?.pascals ?? 0) - 85_000) < 2)
    }
}
