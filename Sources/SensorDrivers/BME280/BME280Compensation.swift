/// The datasheet's integer compensation formulas, as pure functions of the raw ADC values and the
/// calibration: 32-bit temperature and humidity, 64-bit pressure (BME280 datasheet section 4.2.3,
/// rev. 1.1 of the code; BMP280 datasheet section 3.11.3).
///
/// The arithmetic is the datasheet's, bit for bit: the same widths, arithmetic right shifts, and
/// division truncating towards zero. (Swift binds `>>` tighter than `*`, unlike C, so every
/// shift below is parenthesised as the C code groups it.) Wrapping operators stand where the C code would overflow
/// silently, so that corrupt calibration or raw data can never trap; with real chip data nothing
/// overflows and the results equal the datasheet's.
public enum BME280Compensation {
    /// A compensated temperature and the fine temperature that pressure and humidity need.
    public struct CompensatedTemperature: Sendable, Hashable {
        /// The temperature in hundredths of a degree Celsius: 5123 is 51.23 °C.
        public var hundredthsOfDegreeCelsius: Int32
        /// t_fine, the fine-resolution temperature that the pressure and humidity formulas use.
        public var fine: Int32

        public init(hundredthsOfDegreeCelsius: Int32, fine: Int32) {
            self.hundredthsOfDegreeCelsius = hundredthsOfDegreeCelsius
            self.fine = fine
        }
    }

    /// Temperature from a 20-bit raw value (BME280_compensate_T_int32 / bmp280_compensate_T_int32).
    ///
    /// - Parameters:
    ///   - adcT: the raw temperature, temp_msb…temp_xlsb as 20 bits.
    ///   - calibration: dig_T1…dig_T3 are used.
    /// - Returns: the temperature in 0.01 °C and t_fine.
    public static func temperature(adcT: Int32, calibration: BME280Calibration) -> CompensatedTemperature {
        let c = calibration
        let t1 = Int32(c.digT1)
        let t2 = Int32(c.digT2)
        let t3 = Int32(c.digT3)
        let var1 = (((adcT >> 3) &- (t1 << 1)) &* t2) >> 11
        let delta = (adcT >> 4) &- t1
        let var2 = (((delta &* delta) >> 12) &* t3) >> 14
        let fine = var1 &+ var2
        return CompensatedTemperature(hundredthsOfDegreeCelsius: (fine &* 5 &+ 128) >> 8, fine: fine)
    }

    /// Pressure from a 20-bit raw value with 64-bit integers (BME280_compensate_P_int64 /
    /// bmp280_compensate_P_int64).
    ///
    /// - Parameters:
    ///   - adcP: the raw pressure, press_msb…press_xlsb as 20 bits.
    ///   - fine: t_fine from ``temperature(adcT:calibration:)`` of the same conversion.
    ///   - calibration: dig_P1…dig_P9 are used.
    /// - Returns: the pressure in pascals as Q24.8 (24674867 is 24674867 / 256 = 96386.2 Pa), or
    ///   `nil` where the datasheet's code returns 0 to avoid a division by zero (dig_P1 of zero,
    ///   or a t_fine that cancels it): there is no pressure to report then.
    public static func pressure(adcP: Int32, fine: Int32, calibration: BME280Calibration) -> UInt32? {
        let c = calibration
        var var1 = Int64(fine) - 128_000
        var var2 = var1 &* var1 &* Int64(c.digP6)
        var2 = var2 &+ ((var1 &* Int64(c.digP5)) << 17)
        var2 = var2 &+ (Int64(c.digP4) << 35)
        var1 = ((var1 &* var1 &* Int64(c.digP3)) >> 8) &+ ((var1 &* Int64(c.digP2)) << 12)
        var1 = (((Int64(1) << 47) &+ var1) &* Int64(c.digP1)) >> 33
        guard var1 != 0 else { return nil }
        var p = 1_048_576 - Int64(adcP)
        let (quotient, overflow) = (((p << 31) &- var2) &* 3125).dividedReportingOverflow(by: var1)
        guard !overflow else { return nil }
        p = quotient
        var1 = (Int64(c.digP9) &* (p >> 13) &* (p >> 13)) >> 25
        var2 = (Int64(c.digP8) &* p) >> 19
        p = ((p &+ var1 &+ var2) >> 8) &+ (Int64(c.digP7) << 4)
        return UInt32(truncatingIfNeeded: p)
    }

    /// Relative humidity from a 16-bit raw value with 32-bit integers (BME280_compensate_H_int32).
    /// BME280 only.
    ///
    /// - Parameters:
    ///   - adcH: the raw humidity, hum_msb…hum_lsb.
    ///   - fine: t_fine from ``temperature(adcT:calibration:)`` of the same conversion.
    ///   - calibration: dig_H1…dig_H6 are used.
    /// - Returns: the relative humidity in percent as Q22.10 (47445 is 47445 / 1024 = 46.333 %RH),
    ///   limited to 0…100 %RH by the formula itself.
    public static func humidity(adcH: Int32, fine: Int32, calibration: BME280Calibration) -> UInt32 {
        let c = calibration
        let h1 = Int32(c.digH1)
        let h2 = Int32(c.digH2)
        let h3 = Int32(c.digH3)
        let h4 = Int32(c.digH4)
        let h5 = Int32(c.digH5)
        let h6 = Int32(c.digH6)
        var x = fine &- 76_800
        let offset = (((adcH << 14) &- (h4 << 20) &- (h5 &* x)) &+ 16_384) >> 15
        let scale = ((((((x &* h6) >> 10) &* (((x &* h3) >> 11) &+ 32_768)) >> 10) &+ 2_097_152) &* h2 &+ 8_192) >> 14
        x = offset &* scale
        x = x &- (((((x >> 15) &* (x >> 15)) >> 7) &* h1) >> 4)
        x = min(max(x, 0), 419_430_400)
        return UInt32(x >> 12)
    }
}
