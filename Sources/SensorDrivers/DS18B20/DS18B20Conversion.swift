// MARK: - Temperature register conversions (pure functions, checked against the datasheets)

extension DS18B20 {
    /// The temperature in °C that a DS18B20-format temperature register holds (DS18B20, DS1822,
    /// DS1825, DS28EA00).
    ///
    /// The register is a 16-bit sign-extended two's-complement number in units of 2⁻⁴ °C =
    /// 0.0625 °C (datasheet, "Operation—Measuring Temperature" and Table 1); the bits that
    /// `resolution` leaves undefined are cleared first.
    ///
    /// - Parameters:
    ///   - temperatureRegister: scratchpad byte 1 (MSB) and byte 0 (LSB): `UInt16(msb) << 8 | lsb`.
    ///   - resolution: the resolution the conversion ran at (configuration register R1/R0).
    public static func celsius(temperatureRegister: UInt16, resolution: Resolution = .bits12) -> Double {
        Double(Int16(bitPattern: temperatureRegister & resolution.temperatureRegisterMask)) / 16
    }

    /// The temperature in °C from a DS18S20 (family 0x10) scratchpad, with the extended
    /// resolution its datasheet describes ("Operation—Measuring Temperature"):
    /// TEMPERATURE = TEMP_READ − 0.25 + (COUNT_PER_C − COUNT_REMAIN) / COUNT_PER_C, where TEMP_READ
    /// is the 9-bit register (0.5 °C per bit) with its 0.5 °C bit truncated.
    ///
    /// - Parameters:
    ///   - temperatureRegister: bytes 1 (MSB) and 0 (LSB).
    ///   - countRemain: byte 6 (COUNT_REMAIN).
    ///   - countPerDegree: byte 7 (COUNT_PER_C, 0x10 on the DS18S20).
    /// - Returns: nil when `countPerDegree` is 0 (not a DS18S20 scratchpad).
    public static func ds18s20Celsius(temperatureRegister: UInt16, countRemain: UInt8, countPerDegree: UInt8) -> Double? {
        guard countPerDegree != 0 else { return nil }
        // Arithmetic shift of the signed register: the whole degrees, rounded towards −∞.
        let wholeDegrees = Double(Int16(bitPattern: temperatureRegister) >> 1)
        return wholeDegrees - 0.25 + Double(Int(countPerDegree) - Int(countRemain)) / Double(countPerDegree)
    }

    /// The DS18S20's 9-bit reading without the extended resolution: 0.5 °C per bit (its
    /// datasheet's Table 1).
    public static func ds18s20HalfDegreeCelsius(temperatureRegister: UInt16) -> Double {
        Double(Int16(bitPattern: temperatureRegister)) / 2
    }
}
