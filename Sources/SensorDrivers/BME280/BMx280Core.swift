import IoTSDK

/// Which of the two register-compatible parts a driver talks to.
enum BMx280Kind: Sendable {
    case bme280
    case bmp280

    var name: String { self == .bme280 ? "BME280" : "BMP280" }

    /// Accepted values of register 0xD0 (BME280 datasheet sections 5.2 and 5.4.1).
    var chipIDs: Set<UInt8> { self == .bme280 ? [0x60] : [0x56, 0x57, 0x58] }

    var expectedIDDescription: String { self == .bme280 ? "0x60" : "0x58 (0x56/0x57 on samples)" }

    /// Bytes of the data burst from 0xF7: the BME280 adds hum_msb/hum_lsb.
    var dataCount: Int { self == .bme280 ? 8 : 6 }
}

/// The I/O that the BME280 and BMP280 drivers share. Every access goes through `I2CDevice`'s
/// register calls, which work on plain-I2C and SMBus-only adapters alike (the longest transfer is
/// the 26-byte calibration block).
///
/// Writes are one register each: the chip takes multi-register writes as address/data pairs,
/// not as an auto-incremented block (BME280 datasheet section 6.2.1), so `writeRegisters` would
/// be wrong here.
struct BMx280Core: Sendable {
    let device: I2CDevice
    let kind: BMx280Kind
    /// "BME280 at 0x76 on i2c-1", for error messages.
    let chip: String

    init(device: I2CDevice, kind: BMx280Kind) {
        self.device = device
        self.kind = kind
        chip = "\(kind.name) at \(device.location)"
    }

    /// Time after a soft reset before the chip answers (t_startup, BME280 datasheet Table 1).
    static let startUpTime: Duration = .milliseconds(2)
    /// How long the NVM copy (status im_update) may take after the start-up time before the
    /// driver gives up. The datasheet gives no figure; the copy takes far less on real parts.
    static let imageUpdateDeadline: Duration = .milliseconds(20)
    /// Extra time allowed for `measuring` to clear after the maximum conversion time.
    static let conversionGrace: Duration = .milliseconds(20)
    /// Interval between status polls.
    static let pollInterval: Duration = .milliseconds(1)

    /// Values compensated from one conversion.
    struct Compensated {
        var temperature: Temperature
        var pressure: Pressure?
        var humidity: RelativeHumidity?
    }

    // MARK: - Start-up

    /// The whole start-up: validates `settings`, checks the identity, soft-resets, reads the
    /// calibration once and applies `settings`. Nothing touches the bus when `settings` are invalid.
    func start(_ settings: BMx280RegisterSettings) async throws -> BME280Calibration {
        try settings.validate(chip: chip)
        _ = try checkIdentity()
        try await softReset()
        let calibration = try readCalibration()
        try apply(settings, sleepFirst: false)
        return calibration
    }

    /// When the first conversion after applying `settings` will have finished, in normal mode;
    /// `nil` in forced mode, where each read waits for its own conversion.
    static func firstConversion(after settings: BMx280RegisterSettings) -> ContinuousClock.Instant? {
        settings.normalMode ? ContinuousClock.now + settings.maximumConversionTime : nil
    }

    /// Reads register 0xD0 and checks that it names this part.
    /// - Throws: `SensorError(.wrongChip)` naming what was found, what was expected and the
    ///   likely cause; `HardwareError` from the bus (`.noAcknowledge` when nothing answers).
    func checkIdentity() throws -> UInt8 {
        let id = try device.readRegister(BMx280Register.id)
        guard kind.chipIDs.contains(id) else {
            throw SensorError(.wrongChip, chip: chip, "register 0xD0 (id) reads \(hex(id)), expected \(kind.expectedIDDescription): \(identityHint(id))")
        }
        return id
    }

    private func identityHint(_ id: UInt8) -> String {
        switch id {
        case 0x60:
            return "this is a BME280 (pressure, temperature and humidity): use the BME280 driver"
        case 0x56, 0x57, 0x58:
            return "this is a BMP280 (pressure and temperature, no humidity sensor): use the BMP280 driver"
        case 0x55:
            return "this is a BMP180, which has another register map"
        case 0x61:
            return "this is a BME680, which has another register map"
        default:
            return "another part answers at \(device.address) (BME280/BMP280 are at 0x76 with SDO to GND or 0x77 with SDO to VDDIO), or the bus returns garbage (check wiring and pull-ups)"
        }
    }

    /// Soft reset: writes 0xB6 to 0xE0, waits the start-up time, then polls status.im_update until
    /// the NVM copy has finished (BME280 datasheet sections 5.4.2 and 5.4.4).
    /// - Throws: `SensorError(.timeout)` if im_update stays set; `HardwareError`; `CancellationError`.
    func softReset() async throws {
        try device.writeRegister(BMx280Register.reset, BMx280Register.resetCommand)
        try await Task.sleep(for: Self.startUpTime)
        try await StatusPolling.wait(until: .now + Self.imageUpdateDeadline, interval: Self.pollInterval, timeout: {
            SensorError(.timeout, chip: chip, "status.im_update still set \(Self.imageUpdateDeadline) after the soft reset: the NVM copy did not finish; power-cycle the chip")
        }) {
            try device.readRegister(BMx280Register.status) & BMx280Register.statusImageUpdate == 0
        }
    }

    /// Reads the calibration blocks 0x88…0xA1 and, on the BME280, 0xE1…0xE7, once.
    /// - Throws: `SensorError(.invalidData)` for blank calibration; `HardwareError`.
    func readCalibration() throws -> BME280Calibration {
        let block00 = try device.readRegisters(BMx280Register.calibration00, count: BMx280Register.calibration00Count)
        let block26 = kind == .bme280
            ? try device.readRegisters(BMx280Register.calibration26, count: BMx280Register.calibration26Count)
            : nil
        return try BME280Calibration(block00: block00, block26: block26, chip: chip)
    }

    // MARK: - Configuration

    /// Writes config, then ctrl_hum (BME280), then ctrl_meas with the resting mode.
    ///
    /// config is written first, while the chip sleeps, because writes to it in normal mode may be
    /// ignored (BME280 datasheet section 5.4.6). ctrl_hum is written before ctrl_meas because it
    /// only takes effect with the next write to ctrl_meas (section 5.4.3).
    /// - Parameter sleepFirst: put the chip to sleep first (it may be in normal mode).
    func apply(_ settings: BMx280RegisterSettings, sleepFirst: Bool) throws {
        if sleepFirst {
            try device.writeRegister(BMx280Register.controlMeasurement, settings.controlMeasurement(mode: BMx280Register.modeSleep))
        }
        try device.writeRegister(BMx280Register.config, settings.config)
        if let controlHumidity = settings.controlHumidity {
            try device.writeRegister(BMx280Register.controlHumidity, controlHumidity)
        }
        try device.writeRegister(BMx280Register.controlMeasurement, settings.controlMeasurement(mode: settings.restingMode))
    }

    // MARK: - Measuring

    /// Starts one forced conversion, waits its maximum time, then polls status.measuring until it
    /// clears, with a deadline.
    /// - Throws: `SensorError(.timeout)`; `HardwareError`; `CancellationError`.
    func convertForced(_ settings: BMx280RegisterSettings) async throws {
        try device.writeRegister(BMx280Register.controlMeasurement, settings.controlMeasurement(mode: BMx280Register.modeForced))
        let conversion = settings.maximumConversionTime
        let deadline = ContinuousClock.now + conversion + Self.conversionGrace
        try await Task.sleep(for: conversion)
        try await StatusPolling.wait(until: deadline, interval: Self.pollInterval, timeout: {
            SensorError(.timeout, chip: chip, "status.measuring still set \(conversion + Self.conversionGrace) after starting a forced conversion (the datasheet maximum is \(conversion)): check the supply, or reset the chip")
        }) {
            try device.readRegister(BMx280Register.status) & BMx280Register.statusMeasuring == 0
        }
    }

    /// One reading: in forced mode a conversion (``convertForced(_:)``); in normal mode a wait
    /// until `firstConversion` if given. Then the burst read and the compensation.
    func measure(_ settings: BMx280RegisterSettings, firstConversion: ContinuousClock.Instant?,
                 calibration: BME280Calibration) async throws -> Compensated {
        if !settings.normalMode {
            try await convertForced(settings)
        } else if let firstConversion {
            try await Task.sleep(until: firstConversion, clock: .continuous)
        }
        return try compensate(try readRawSample(), settings: settings, calibration: calibration)
    }

    /// Burst-reads the data registers from 0xF7 in one transfer (so that they come from one
    /// conversion, as the chip's data shadowing guarantees within a burst).
    func readRawSample() throws -> BME280RawSample {
        try BME280RawSample(dataRegisters: try device.readRegisters(BMx280Register.data, count: kind.dataCount), chip: chip)
    }

    /// Compensates a raw sample into quantities.
    /// - Throws: `SensorError(.invalidData)` for a sample that is still the reset placeholder or a
    ///   pressure the formula cannot compute; `QuantityError` for an impossible temperature.
    func compensate(_ raw: BME280RawSample, settings: BMx280RegisterSettings, calibration: BME280Calibration) throws -> Compensated {
        let pressureMeasured = settings.pressure != .skipped
        let humidityMeasured = (settings.humidity ?? .skipped) != .skipped
        if raw.isPlaceholder(pressureMeasured: pressureMeasured, humidityMeasured: humidityMeasured) {
            throw SensorError(.invalidData, chip: chip, "the data registers still hold their reset values (temperature 0x80000): no conversion has completed since reset")
        }
        let t = BME280Compensation.temperature(adcT: raw.temperature, calibration: calibration)
        let temperature = try Temperature.celsius(Double(t.hundredthsOfDegreeCelsius) / 100)
        var pressure: Pressure?
        if pressureMeasured {
            guard let q24_8 = BME280Compensation.pressure(adcP: raw.pressure, fine: t.fine, calibration: calibration) else {
                throw SensorError(.invalidData, chip: chip, "pressure cannot be compensated from adc_P \(raw.pressure) with this calibration (the formula divides by zero): the calibration data are corrupt; reset the chip")
            }
            pressure = try Pressure(validating: Double(q24_8) / 256, in: .pascals)
        }
        var humidity: RelativeHumidity?
        if humidityMeasured, let adcH = raw.humidity {
            let q22_10 = BME280Compensation.humidity(adcH: adcH, fine: t.fine, calibration: calibration)
            humidity = try RelativeHumidity(validating: Double(q22_10) / 1024, in: .percent)
        }
        return Compensated(temperature: temperature, pressure: pressure, humidity: humidity)
    }
}

/// "0x5a".
private func hex(_ value: UInt8) -> String {
    "0x" + hexDigits(value, width: 2)
}
