import IoTSDK

extension SHT3x {
    /// The relative humidity for a raw signal, RH = 100 %RH · S / (2¹⁶ − 1) (datasheet section 4.13).
    public static func humidity(raw: UInt16) -> RelativeHumidity {
        .percent(100 * Double(raw) / 65535)
    }

    /// The temperature for a raw signal, T = −45 °C + 175 °C · S / (2¹⁶ − 1) (datasheet section 4.13).
    /// - Throws: `QuantityError` only if the result were impossible, which no raw value produces.
    public static func temperature(raw: UInt16) throws(QuantityError) -> Temperature {
        try SensirionMeasurement.temperature(raw: raw)
    }

    /// A measurement from its two raw words.
    /// - Throws: `QuantityError` as ``temperature(raw:)`` does.
    public static func measurement(temperatureRaw: UInt16, humidityRaw: UInt16) throws(QuantityError) -> SensirionMeasurement {
        SensirionMeasurement(temperature: try temperature(raw: temperatureRaw), humidity: humidity(raw: humidityRaw))
    }

    /// The longest a measurement takes (datasheet section 2, table "System timing specifications":
    /// t_MEAS,h 15.5 ms, t_MEAS,m 6.5 ms, t_MEAS,l 4.5 ms, maxima).
    public static func maximumMeasurementDuration(_ repeatability: Repeatability) -> Duration {
        switch repeatability {
        case .high: .microseconds(15_500)
        case .medium: .microseconds(6_500)
        case .low: .microseconds(4_500)
        }
    }

    /// The longest the chip takes to be ready after a soft reset (same table, t_SR maximum 1.5 ms).
    public static let maximumSoftResetDuration: Duration = .microseconds(1_500)

    /// The time the chip needs after a Break command before it takes the next one (section 4.8: 1 ms).
    public static let breakDuration: Duration = .milliseconds(1)
}
