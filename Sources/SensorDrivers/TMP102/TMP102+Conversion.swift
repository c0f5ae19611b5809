import IoTSDK

/// Register ↔ °C as pure functions (datasheet SBOS397, "Temperature Register", the 12-bit and
/// 13-bit "Temperature Data Format" tables, and "High- and Low-Limit Registers").
extension TMP102 {
    /// One LSB: 0.0625 °C in both formats.
    public static let resolution = 0.0625

    /// Degrees Celsius of a temperature-register value. Bit D0 of the low byte tells the format,
    /// as the datasheet says: 0 = normal (12-bit two's complement in bits 15-4), 1 = extended
    /// (13-bit two's complement in bits 15-3).
    public static func celsius(temperatureRegister raw: UInt16) -> Double {
        celsius(limitRegister: raw, extended: raw & 0x0001 != 0)
    }

    /// Degrees Celsius of a T_LOW/T_HIGH value, which uses the temperature register's format for the
    /// configured mode (its low bits are zero in both modes, so D0 cannot tell it).
    public static func celsius(limitRegister raw: UInt16, extended: Bool) -> Double {
        let signed = Int16(bitPattern: raw)
        let steps = extended ? signed >> 3 : signed >> 4
        return Double(steps) * resolution
    }

    /// The T_LOW/T_HIGH register value of `temperature` in the mode's format, rounded to the nearest
    /// 0.0625 °C.
    /// - Throws: `SensorError(.invalidSetting)` outside −128 … +127.9375 °C (normal mode) or
    ///   −256 … +255.9375 °C (extended mode).
    public static func limitRegister(_ temperature: Temperature, extended: Bool) throws(SensorError) -> UInt16 {
        let bits = extended ? 13 : 12
        let maxSteps = (1 << (bits - 1)) - 1
        let steps = (temperature.celsius / resolution).rounded()
        guard steps.isFinite, steps >= Double(-maxSteps - 1), steps <= Double(maxSteps) else {
            let low = Double(-maxSteps - 1) * resolution, high = Double(maxSteps) * resolution
            throw SensorError(.invalidSetting, chip: "TMP102", "limit \(temperature) does not fit the \(bits)-bit format: use \(low) … \(high) °C" + (extended ? "" : ", or extended mode for up to 150 °C"))
        }
        let code = Int16(steps)
        return UInt16(bitPattern: extended ? code << 3 : code << 4)
    }
}
