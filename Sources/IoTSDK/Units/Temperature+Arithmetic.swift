// MARK: - Affine arithmetic

// Both `Temperature` and `TemperatureDifference` have `.kelvin(_:)`, `.celsius(_:)` and
// `.fahrenheit(_:)`, so `t - .kelvin(5)` can mean either subtraction below. Where the compiler
// cannot tell from the context, it reports the ambiguity; name the type of the result
// (`let lowered: Temperature = try t - .kelvin(5)`) or of the operand.

extension Temperature {
    /// The difference between two temperatures: `try .celsius(25) - .celsius(20)` is 5 K.
    public static func - (lhs: Temperature, rhs: Temperature) -> TemperatureDifference {
        TemperatureDifference(baseValue: lhs.baseValue - rhs.baseValue)
    }

    /// The temperature raised by a difference.
    /// - Throws: ``QuantityError`` if the result is below absolute zero or not finite.
    public static func + (lhs: Temperature, rhs: TemperatureDifference) throws(QuantityError) -> Temperature {
        try Temperature(validatingBaseValue: lhs.baseValue + rhs.baseValue)
    }

    /// The temperature lowered by a difference.
    /// - Throws: ``QuantityError`` if the result is below absolute zero or not finite.
    public static func - (lhs: Temperature, rhs: TemperatureDifference) throws(QuantityError) -> Temperature {
        try Temperature(validatingBaseValue: lhs.baseValue - rhs.baseValue)
    }
}
