import IoTSDK

/// Register ↔ °C as pure functions (datasheet "Ambient Temperature Register (T_A)", its "T_A Bits to
/// Temperature Conversion" equation and sample code, and the limit registers' bit assignment).
extension MCP9808 {
    /// Degrees Celsius of an ambient-temperature register value, following the datasheet's sample
    /// code: mask the flag bits (UpperByte & 1Fh), test the sign (bit 12), then
    /// UpperByte × 16 + LowerByte / 16.
    ///
    /// For T_A < 0 °C the datasheet prints `256 − (UpperByte × 16 + LowerByte / 16)`, which is the
    /// magnitude; the value is that sum minus 256, as the register's 13-bit two's complement (which
    /// the same section states) requires: 1FF0h is −1 °C, not +1 °C.
    public static func celsius(ambientRegister raw: UInt16) -> Double {
        var upper = Double(raw >> 8 & 0x1F)
        let lower = Double(raw & 0xFF)
        if raw & 0x1000 != 0 {
            upper = Double(raw >> 8 & 0x0F)
            return upper * 16 + lower / 16 - 256
        }
        return upper * 16 + lower / 16
    }

    /// The comparison flags in bits 15-13 of an ambient-temperature register value.
    public static func limitFlags(ambientRegister raw: UInt16) -> LimitFlags {
        LimitFlags(rawValue: UInt8(raw >> 13))
    }

    /// Degrees Celsius of a T_UPPER/T_LOWER/T_CRIT value: the same weights as T_A (bit 4 = 1 °C),
    /// with bits 1-0 and 15-13 unimplemented.
    public static func celsius(limitRegister raw: UInt16) -> Double {
        celsius(ambientRegister: raw & 0x1FFC)
    }

    /// The T_UPPER/T_LOWER/T_CRIT value of `temperature`, rounded to the nearest 0.25 °C: 13-bit two's
    /// complement with 2⁻² °C at bit 2.
    /// - Throws: `SensorError(.invalidSetting)` outside −256 … +255.75 °C.
    public static func limitRegister(_ temperature: Temperature) throws(SensorError) -> UInt16 {
        let quarters = (temperature.celsius * 4).rounded()
        guard quarters.isFinite, quarters >= -1024, quarters <= 1023 else {
            throw SensorError(.invalidSetting, chip: "MCP9808", "limit \(temperature) does not fit the limit registers: use −256 … +255.75 °C (the sensor itself measures −40 … +125 °C)")
        }
        return UInt16(bitPattern: Int16(quarters) << 2) & 0x1FFC
    }
}
