import IoTSDK

/// One temperature and relative-humidity measurement of a Sensirion SHT3x or SHT4x.
public struct SensirionMeasurement: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The temperature of the sensor.
    public var temperature: Temperature
    /// The relative humidity at the sensor.
    public var humidity: RelativeHumidity

    /// Creates a measurement.
    public init(temperature: Temperature, humidity: RelativeHumidity) {
        self.temperature = temperature
        self.humidity = humidity
    }

    /// `"21.50 °C, 45.0 %RH"`.
    public var description: String { "\(temperature), \(humidity)" }
}

extension SensirionMeasurement {
    /// The temperature for a raw 16-bit signal, T = −45 °C + 175 °C · S / (2¹⁶ − 1), the same on the
    /// SHT3x (datasheet section 4.13, "Conversion of Signal Output") and the SHT4x (datasheet
    /// section "Conversion of Signal Output"). It spans −45 °C…130 °C.
    ///
    /// - Throws: `QuantityError` only if the result were not a valid temperature, which no raw
    ///   value produces.
    public static func temperature(raw: UInt16) throws(QuantityError) -> Temperature {
        try Temperature.celsius(-45 + 175 * Double(raw) / 65535)
    }
}
