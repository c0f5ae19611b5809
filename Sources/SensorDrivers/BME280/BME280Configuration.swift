/// How a ``BME280`` measures: mode, oversampling per quantity and IIR filter.
///
/// The default is the datasheet's "weather monitoring" recommendation (BME280 datasheet section
/// 3.5.1): forced mode, ×1 oversampling of all three quantities, filter off.
public struct BME280Configuration: Sendable, Hashable, Codable {
    /// When the chip converts.
    public enum Mode: Sendable, Hashable, Codable {
        /// One conversion per ``BME280/read()``, after which the chip sleeps (mode 01). The driver
        /// waits the datasheet's maximum conversion time, then polls `measuring` with a deadline.
        case forced
        /// The chip converts continuously with `standby` between conversions (mode 11);
        /// ``BME280/read()`` returns the latest conversion.
        case normal(standby: BME280StandbyTime)
    }

    public var mode: Mode
    /// osrs_t. Must not be `.skipped`: pressure and humidity need the temperature's t_fine.
    public var temperatureOversampling: BME280Oversampling
    /// osrs_p; `.skipped` leaves pressure out of the readings.
    public var pressureOversampling: BME280Oversampling
    /// osrs_h; `.skipped` leaves humidity out of the readings.
    public var humidityOversampling: BME280Oversampling
    public var filter: BME280Filter

    public init(
        mode: Mode = .forced,
        temperatureOversampling: BME280Oversampling = .x1,
        pressureOversampling: BME280Oversampling = .x1,
        humidityOversampling: BME280Oversampling = .x1,
        filter: BME280Filter = .off
    ) {
        self.mode = mode
        self.temperatureOversampling = temperatureOversampling
        self.pressureOversampling = pressureOversampling
        self.humidityOversampling = humidityOversampling
        self.filter = filter
    }

    /// The settings as the shared register encoder takes them.
    var registerSettings: BMx280RegisterSettings {
        let standby: UInt8? = if case .normal(let standby) = mode { standby.rawValue } else { nil }
        return BMx280RegisterSettings(normalStandby: standby, temperature: temperatureOversampling,
                                      pressure: pressureOversampling, humidity: humidityOversampling, filter: filter)
    }
}

/// How a ``BMP280`` measures: mode, oversampling per quantity and IIR filter.
///
/// The default is the datasheet's "weather monitoring" recommendation (BMP280 datasheet section
/// 3.4, Table 7): forced mode, ×1 oversampling, filter off.
public struct BMP280Configuration: Sendable, Hashable, Codable {
    /// When the chip converts.
    public enum Mode: Sendable, Hashable, Codable {
        /// One conversion per ``BMP280/read()``, after which the chip sleeps (mode 01).
        case forced
        /// The chip converts continuously with `standby` between conversions (mode 11).
        case normal(standby: BMP280StandbyTime)
    }

    public var mode: Mode
    /// osrs_t. Must not be `.skipped`: pressure needs the temperature's t_fine.
    public var temperatureOversampling: BME280Oversampling
    /// osrs_p; `.skipped` leaves pressure out of the readings.
    public var pressureOversampling: BME280Oversampling
    public var filter: BME280Filter

    public init(
        mode: Mode = .forced,
        temperatureOversampling: BME280Oversampling = .x1,
        pressureOversampling: BME280Oversampling = .x1,
        filter: BME280Filter = .off
    ) {
        self.mode = mode
        self.temperatureOversampling = temperatureOversampling
        self.pressureOversampling = pressureOversampling
        self.filter = filter
    }

    var registerSettings: BMx280RegisterSettings {
        let standby: UInt8? = if case .normal(let standby) = mode { standby.rawValue } else { nil }
        return BMx280RegisterSettings(normalStandby: standby, temperature: temperatureOversampling,
                                      pressure: pressureOversampling, humidity: nil, filter: filter)
    }
}

/// The register values of a configuration, common to both chips (ctrl_hum, ctrl_meas, config).
struct BMx280RegisterSettings: Sendable, Hashable {
    /// The t_sb code in normal mode; `nil` in forced mode.
    var normalStandby: UInt8?
    var temperature: BME280Oversampling
    var pressure: BME280Oversampling
    /// `nil` on the BMP280, which has no ctrl_hum.
    var humidity: BME280Oversampling?
    var filter: BME280Filter

    var normalMode: Bool { normalStandby != nil }

    /// Throws `SensorError(.invalidSetting)` when temperature is skipped.
    func validate(chip: String) throws(SensorError) {
        guard temperature != .skipped else {
            throw SensorError(.invalidSetting, chip: chip, "temperature oversampling cannot be skipped: pressure and humidity are compensated with the temperature of the same conversion; use x1, x2, x4, x8 or x16")
        }
    }

    /// ctrl_hum: osrs_h in bits 2:0 (BME280 datasheet section 5.4.3).
    var controlHumidity: UInt8? { humidity.map(\.rawValue) }

    /// ctrl_meas: osrs_t in bits 7:5, osrs_p in bits 4:2, `mode` in bits 1:0 (section 5.4.5).
    func controlMeasurement(mode: UInt8) -> UInt8 {
        temperature.rawValue << 5 | pressure.rawValue << 2 | mode
    }

    /// config: t_sb in bits 7:5, filter in bits 4:2, spi3w_en (bit 0) off (section 5.4.6).
    var config: UInt8 { (normalStandby ?? 0) << 5 | filter.rawValue << 2 }

    /// The mode bits for the steady state: normal, or sleep between forced conversions.
    var restingMode: UInt8 { normalMode ? BMx280Register.modeNormal : BMx280Register.modeSleep }

    /// The maximum conversion time for these oversampling settings (datasheet appendix 9.1).
    var maximumConversionTime: Duration {
        BME280MeasurementTime.maximum(temperature: temperature, pressure: pressure, humidity: humidity ?? .skipped)
    }
}
