/// One conversion's raw ADC values as the burst read of the data registers returns them
/// (BME280 datasheet sections 4 and 5.4.7–5.4.9; BMP280 datasheet sections 3.9 and 4.3.6–4.3.7).
public struct BME280RawSample: Sendable, Hashable {
    /// adc_P: press_msb, press_lsb, press_xlsb[7:4] (20 bits).
    public var pressure: Int32
    /// adc_T: temp_msb, temp_lsb, temp_xlsb[7:4] (20 bits).
    public var temperature: Int32
    /// adc_H: hum_msb, hum_lsb (16 bits); `nil` for a BMP280.
    public var humidity: Int32?

    public init(pressure: Int32, temperature: Int32, humidity: Int32?) {
        self.pressure = pressure
        self.temperature = temperature
        self.humidity = humidity
    }

    /// Decodes the bytes from 0xF7 on: 8 bytes (to 0xFE) from a BME280, 6 (to 0xFC) from a BMP280.
    ///
    /// - Throws: `SensorError(.invalidData)` for any other length.
    public init(dataRegisters b: [UInt8], chip: String = "BME280") throws(SensorError) {
        guard b.count == 6 || b.count == 8 else {
            throw SensorError(.invalidData, chip: chip, "the data registers 0xF7… returned \(b.count) bytes, expected 6 (BMP280) or 8 (BME280)")
        }
        pressure = Int32(b[0]) << 12 | Int32(b[1]) << 4 | Int32(b[2]) >> 4
        temperature = Int32(b[3]) << 12 | Int32(b[4]) << 4 | Int32(b[5]) >> 4
        humidity = b.count == 8 ? Int32(b[6]) << 8 | Int32(b[7]) : nil
    }

    /// Whether every measured quantity still holds its reset/skipped placeholder (0x80000, and
    /// 0x8000 for humidity): no conversion has completed since reset. Quantities that were
    /// skipped are not consulted, and neither is a single quantity that happens to read
    /// 0x80000 next to a real one.
    func isPlaceholder(pressureMeasured: Bool, humidityMeasured: Bool) -> Bool {
        guard temperature == BMx280Register.skippedTemperatureOrPressure else { return false }
        if pressureMeasured && pressure != BMx280Register.skippedTemperatureOrPressure { return false }
        if humidityMeasured && humidity != BMx280Register.skippedHumidity { return false }
        return true
    }
}
