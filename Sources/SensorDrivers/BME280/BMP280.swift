import IoTSDK

/// One BMP280 reading: temperature always, pressure unless its oversampling is `.skipped`.
public struct BMP280Measurement: Sendable, Hashable, Codable, CustomStringConvertible {
    public var temperature: Temperature
    public var pressure: Pressure?

    public init(temperature: Temperature, pressure: Pressure?) {
        self.temperature = temperature
        self.pressure = pressure
    }

    /// "25.08 °C, 1006.53 hPa".
    public var description: String {
        ([temperature.description] + [pressure?.description].compactMap { $0 }).joined(separator: ", ")
    }
}

/// Driver for the Bosch BMP280 pressure and temperature sensor over I2C.
///
/// ```swift
/// let bmp = try await BMP280(device: bus.device(0x76))
/// let reading = try await bmp.read()      // Reading<BMP280Measurement>
/// ```
///
/// Start-up checks the chip id (0xD0 = 0x58, or 0x56/0x57 on samples), soft-resets the chip
/// (0xE0 ← 0xB6) and waits for the NVM copy (status.im_update), reads the calibration once
/// (0x88…0x9F), then writes config (0xF5) and ctrl_meas (0xF4). Each reading burst-reads
/// 0xF7…0xFC and applies the datasheet's integer compensation (``BME280Compensation``, the same
/// formulas as the BMP280 datasheet's section 3.11.3).
///
/// Works on plain-I2C and SMBus-only adapters. Datasheet: Bosch BST-BMP280-DS001 (see the README
/// in this folder). A BME280 (0x60) is refused: use ``BME280``.
public actor BMP280: Sensor {
    public typealias Value = BMP280Measurement

    private let session: BMx280Session<BMP280Configuration>

    /// The trimming parameters read at start-up (humidity parameters are zero).
    public nonisolated var calibration: BME280Calibration { session.calibration }

    /// The current configuration.
    public var configuration: BMP280Configuration {
        get async { await session.configuration }
    }

    /// Checks the chip, resets it, reads its calibration and applies `configuration`.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a skipped temperature;
    ///   `SensorError(.wrongChip)` when 0xD0 is not 0x56/0x57/0x58 (a BME280 reads 0x60);
    ///   `SensorError(.timeout)` when the NVM copy does not finish; `SensorError(.invalidData)` for
    ///   blank calibration; `HardwareError` from the bus (`.noAcknowledge` when nothing answers).
    public init(device: I2CDevice, configuration: BMP280Configuration = BMP280Configuration()) async throws {
        session = try await BMx280Session(device: device, kind: .bmp280, configuration: configuration)
    }

    /// Changes mode, oversampling or filter: puts the chip to sleep, then writes config and
    /// ctrl_meas (0xF4, 0xF5, 0xF4).
    /// - Throws: `SensorError(.invalidSetting)` for a skipped temperature; `HardwareError`.
    public func configure(_ configuration: BMP280Configuration) async throws {
        try await session.configure(configuration)
    }

    /// Measures once: in forced mode, starts a conversion (0xF4), waits the maximum conversion
    /// time, polls status (0xF3), then burst-reads 0xF7…0xFC; in normal mode, burst-reads the
    /// latest conversion.
    ///
    /// - Throws: `SensorError(.timeout)`, `SensorError(.invalidData)`, `QuantityError`,
    ///   `TimestampError`, `HardwareError`, `CancellationError`.
    public func read() async throws -> Reading<BMP280Measurement> {
        let values = try await session.measure()
        return try Reading(value: BMP280Measurement(temperature: values.temperature, pressure: values.pressure))
    }
}
