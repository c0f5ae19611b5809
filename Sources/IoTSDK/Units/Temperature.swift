/// A thermodynamic temperature, stored in kelvin (K) and never below absolute zero when it was
/// created through the throwing constructors, decoding or the Foundation bridge.
///
/// ```swift
/// let ambient = try Temperature.celsius(21.5)
/// print(ambient)              // 21.50 °C
/// print(ambient.fahrenheit)   // 70.7
/// ```
///
/// ## Absolute zero
/// A temperature below 0 K cannot be measured; a driver that computes one has a wrong conversion or
/// bad calibration data. So ``kelvin(_:)``, ``celsius(_:)``, ``fahrenheit(_:)``,
/// ``PhysicalQuantity/init(validating:in:)`` and decoding **throw** ``QuantityError`` for such a
/// value (and for NaN and infinities) instead of clamping it or passing it on. Only the raw
/// ``init(baseValue:)`` that generic code uses skips the check.
///
/// ## Arithmetic
/// Temperature is an absolute, affine quantity: 20 °C + 20 °C is not 40 °C. So it is not a
/// ``LinearQuantity``. The difference of two temperatures is a ``TemperatureDifference``, which can
/// be added to or subtracted from a temperature (throwing if the result would be below absolute
/// zero). The ratio `t1 / t2` is the ratio of kelvin temperatures.
public struct Temperature: PhysicalQuantity {
    /// Differences between temperatures, in kelvin.
    public typealias Difference = TemperatureDifference

    /// The base unit, kelvin.
    public static let baseUnitSymbol = "K"

    /// The temperature in kelvin.
    public let baseValue: Double

    /// Creates a temperature from kelvin **without** the absolute-zero check; prefer ``kelvin(_:)``.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// From absolute zero (0 K) up.
    public static var validBaseValues: ClosedRange<Double> { 0...Double.greatestFiniteMagnitude }

    /// Degrees Celsius.
    public static var displayUnits: [QuantityUnit<Temperature>] { [.celsius] }

    /// Absolute zero, 0 K (−273.15 °C).
    public static let absoluteZero = Temperature(baseValue: 0)
}

// MARK: - Units

extension QuantityUnit where Quantity == Temperature {
    /// Kelvin (K), the base unit.
    public static var kelvin: Self { Self(symbol: "K", coefficient: 1) }
    /// Degrees Celsius (°C): K = °C + 273.15.
    public static var celsius: Self { Self(symbol: "°C", coefficient: 1, offset: 273.15) }
    /// Degrees Fahrenheit (°F): K = (°F + 459.67) × 5/9.
    public static var fahrenheit: Self { Self(symbol: "°F", coefficient: 5.0 / 9.0, offset: 459.67) }
}

// MARK: - Constructors and accessors

extension Temperature {
    /// A temperature in kelvin.
    /// - Throws: ``QuantityError`` below absolute zero or for a non-finite value.
    public static func kelvin(_ value: Double) throws(QuantityError) -> Temperature {
        try Temperature(validating: value, in: .kelvin)
    }

    /// A temperature in degrees Celsius.
    /// - Throws: ``QuantityError`` below −273.15 °C or for a non-finite value.
    public static func celsius(_ value: Double) throws(QuantityError) -> Temperature {
        try Temperature(validating: value, in: .celsius)
    }

    /// A temperature in degrees Fahrenheit.
    /// - Throws: ``QuantityError`` below −459.67 °F or for a non-finite value.
    public static func fahrenheit(_ value: Double) throws(QuantityError) -> Temperature {
        try Temperature(validating: value, in: .fahrenheit)
    }

    /// The temperature in kelvin.
    public var kelvin: Double { value(in: .kelvin) }
    /// The temperature in degrees Celsius.
    public var celsius: Double { value(in: .celsius) }
    /// The temperature in degrees Fahrenheit.
    public var fahrenheit: Double { value(in: .fahrenheit) }
}
