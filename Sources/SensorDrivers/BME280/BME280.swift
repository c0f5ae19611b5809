import IoTSDK

/// One BME280 reading: temperature always, pressure and humidity unless their oversampling is
/// `.skipped`.
public struct BME280Measurement: Sendable, Hashable, Codable, CustomStringConvertible {
    public var temperature: Temperature
    public var pressure: Pressure?
    public var humidity: RelativeHumidity?

    public init(temperature: Temperature, pressure: Pressure?, humidity: RelativeHumidity?) {
        self.temperature = temperature
        self.pressure = pressure
        self.humidity = humidity
    }

    /// "25.08 °C, 1006.53 hPa, 50.0 %RH".
    public var description: String {
        ([temperature.description] + [pressure?.description, humidity?.description].compactMap { $0 })
            .joined(separator: ", ")
    }
}

/// Driver for the Bosch BME280 combined humidity, pressure and temperature sensor over I2C.
///
/// ```swift
/// let bme = try await BME280(device: bus.device(0x76))
/// let reading = try await bme.read()      // Reading<BME280Measurement>
/// print(reading.value.temperature, reading.value.pressure, reading.value.humidity)
/// ```
///
/// Start-up checks the chip id (0xD0 = 0x60), soft-resets the chip (0xE0 ← 0xB6) and waits for the
/// NVM copy (status.im_update), reads the calibration once (0x88…0xA1, 0xE1…0xE7), then writes
/// config (0xF5), ctrl_hum (0xF2) and ctrl_meas (0xF4) in that order. Each reading burst-reads
/// 0xF7…0xFE and applies the datasheet's integer compensation (``BME280Compensation``).
///
/// Works on plain-I2C and SMBus-only adapters: it uses byte reads and writes and block reads of
/// at most 26 bytes. Datasheet: Bosch BST-BME280-DS002 (see the README in this folder).
/// For the BMP280, which has no humidity sensor, use ``BMP280``.
public actor BME280: Sensor {
    public typealias Value = BME280Measurement

    private let session: BMx280Session<BME280Configuration>

    /// The trimming parameters read at start-up.
    public nonisolated var calibration: BME280Calibration { session.calibration }

    /// The current configuration.
    public var configuration: BME280Configuration {
        get async { await session.configuration }
    }

    /// Checks the chip, resets it, reads its calibration and applies `configuration`.
    ///
    /// - Parameters:
    ///   - device: the chip's address on a bus (0x76 with SDO to GND, 0x77 with SDO to VDDIO).
    ///   - configuration: mode, oversampling and filter; the default is forced mode, ×1, no filter.
    /// - Throws: `SensorError(.invalidSetting)` for a skipped temperature;
    ///   `SensorError(.wrongChip)` when 0xD0 is not 0x60 (a BMP280 reads 0x58);
    ///   `SensorError(.timeout)` when the NVM copy does not finish; `SensorError(.invalidData)` for
    ///   blank calibration; `HardwareError` from the bus (`.noAcknowledge` when nothing answers).
    public init(device: I2CDevice, configuration: BME280Configuration = BME280Configuration()) async throws {
        session = try await BMx280Session(device: device, kind: .bme280, configuration: configuration)
    }

    /// Changes mode, oversampling or filter: puts the chip to sleep, then writes config, ctrl_hum
    /// and ctrl_meas (0xF4, 0xF5, 0xF2, 0xF4).
    /// - Throws: `SensorError(.invalidSetting)` for a skipped temperature (nothing is written
    ///   then); `HardwareError` from the bus.
    public func configure(_ configuration: BME280Configuration) async throws {
        try await session.configure(configuration)
    }

    /// Measures once.
    ///
    /// In forced mode it writes ctrl_meas (0xF4) to start a conversion, waits the datasheet's
    /// maximum conversion time, polls status (0xF3) until `measuring` clears, then burst-reads
    /// 0xF7…0xFE. In normal mode it burst-reads the latest conversion (after waiting, once, for the
    /// first conversion to finish).
    ///
    /// - Throws: `SensorError(.timeout)` if the conversion does not finish in time;
    ///   `SensorError(.invalidData)` if the data registers still hold their reset values or the
    ///   pressure cannot be compensated; `QuantityError`, `TimestampError`, `HardwareError`,
    ///   `CancellationError`.
    public func read() async throws -> Reading<BME280Measurement> {
        let values = try await session.measure()
        return try Reading(value: BME280Measurement(temperature: values.temperature, pressure: values.pressure, humidity: values.humidity))
    }
}
