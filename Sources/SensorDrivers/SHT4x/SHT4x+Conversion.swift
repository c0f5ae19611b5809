import IoTSDK

extension SHT4x {
    /// The temperature for a raw signal, T = −45 °C + 175 °C · S / (2¹⁶ − 1) (datasheet section
    /// "Conversion of Signal Output").
    /// - Throws: `QuantityError` only if the result were impossible, which no raw value produces.
    public static func temperature(raw: UInt16) throws(QuantityError) -> Temperature {
        try SensirionMeasurement.temperature(raw: raw)
    }

    /// The relative humidity for a raw signal, RH = −6 %RH + 125 %RH · S / (2¹⁶ − 1), cropped to
    /// 0…100 %RH as the datasheet prescribes (section "Conversion of Signal Output": the formula
    /// can give values outside that range within the sensor's tolerance).
    public static func humidity(raw: UInt16) -> RelativeHumidity {
        uncroppedHumidity(raw: raw).clamped()
    }

    /// The relative humidity before cropping, −6…119 %RH.
    public static func uncroppedHumidity(raw: UInt16) -> RelativeHumidity {
        .percent(-6 + 125 * Double(raw) / 65535)
    }

    /// A measurement from its two raw words, humidity cropped to 0…100 %RH.
    /// - Throws: `QuantityError` as ``temperature(raw:)`` does.
    public static func measurement(temperatureRaw: UInt16, humidityRaw: UInt16) throws(QuantityError) -> SensirionMeasurement {
        SensirionMeasurement(temperature: try temperature(raw: temperatureRaw), humidity: humidity(raw: humidityRaw))
    }

    /// The longest a measurement takes (datasheet section "Timings", maxima: 8.3 / 4.5 / 1.6 ms).
    public static func maximumMeasurementDuration(_ precision: Precision) -> Duration {
        switch precision {
        case .high: .microseconds(8_300)
        case .medium: .microseconds(4_500)
        case .low: .microseconds(1_600)
        }
    }

    /// The longest a heater command takes until its result can be read: the heater's maximum on
    /// time (1.1 s or 0.11 s, section "Timings") plus a high-precision measurement, a margin over
    /// the datasheet, which places that measurement inside the heating time.
    public static func maximumHeaterDuration(_ duration: HeaterDuration) -> Duration {
        let heating: Duration = duration == .oneSecond ? .milliseconds(1_100) : .milliseconds(110)
        return heating + maximumMeasurementDuration(.high)
    }

    /// The longest the chip takes after a soft reset (section "Timings": 1 ms).
    public static let maximumSoftResetDuration: Duration = .milliseconds(1)

    /// The wait before reading the serial number. The datasheet gives no time for this command;
    /// 1 ms is a margin.
    public static let serialNumberDelay: Duration = .milliseconds(1)
}
