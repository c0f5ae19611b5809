/// Decimal formatting without Foundation, so that `IoTSDK` stays small in static binaries.
enum FixedPointFormat {
    /// The most fraction digits supported; more would exceed the exactly representable integers.
    static let maximumFractionDigits = 9

    /// Formats `value` with exactly `fractionDigits` digits after the point (0 to 9), rounding half
    /// away from zero: `string(21.5, fractionDigits: 2) == "21.50"`.
    ///
    /// NaN and infinities print as `nan`, `inf` and `-inf`; magnitudes too large for exact
    /// fixed-point output fall back to Swift's shortest representation. A value that rounds to zero
    /// prints without a minus sign.
    static func string(_ value: Double, fractionDigits: Int) -> String {
        guard value.isFinite else {
            return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf")
        }
        let digits = min(max(fractionDigits, 0), maximumFractionDigits)
        let scale = scale(fractionDigits: digits)
        let scaled = scaledMagnitude(value, fractionDigits: digits)
        // Doubles represent every integer up to 2^53 exactly; beyond that, digits would be invented.
        guard scaled < 9_007_199_254_740_992 else { return "\(value)" }
        let units = UInt64(scaled)
        let sign = value < 0 && units != 0 ? "-" : ""
        let whole = String(units / scale)
        guard digits > 0 else { return sign + whole }
        return sign + whole + "." + zeroPadded(units % scale, width: digits)
    }

    /// |value| × 10^fractionDigits rounded half away from zero: the digits that
    /// ``string(_:fractionDigits:)`` prints, as an integer-valued `Double`.
    static func scaledMagnitude(_ value: Double, fractionDigits: Int) -> Double {
        (value.magnitude * Double(scale(fractionDigits: fractionDigits))).rounded(.toNearestOrAwayFromZero)
    }

    /// 10^fractionDigits, with `fractionDigits` limited to 0…``maximumFractionDigits``.
    static func scale(fractionDigits: Int) -> UInt64 {
        var scale: UInt64 = 1
        for _ in 0..<min(max(fractionDigits, 0), maximumFractionDigits) { scale *= 10 }
        return scale
    }

    /// Formats a non-negative integer with leading zeros to at least `width` digits.
    static func zeroPadded<T: BinaryInteger>(_ value: T, width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
