/// The difference between two temperatures, stored in kelvin (K); one kelvin of difference equals
/// one degree Celsius and 1.8 degrees Fahrenheit.
///
/// It is what `Temperature - Temperature` gives, what you add to a temperature
/// (`try setpoint + .kelvin(0.5)`), and the tolerance of
/// ``PhysicalQuantity/isApproximatelyEqual(to:tolerance:)`` for temperatures. It may be negative.
public struct TemperatureDifference: LinearQuantity {
    /// The base unit, kelvin.
    public static let baseUnitSymbol = "K"

    /// The difference in kelvin.
    public let baseValue: Double

    /// Creates a difference from kelvin.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }
}

// MARK: - Units

extension QuantityUnit where Quantity == TemperatureDifference {
    /// Kelvin (K), the base unit.
    public static var kelvin: Self { Self(symbol: "K", coefficient: 1) }
    /// Degrees Celsius of difference, equal to kelvin.
    public static var celsius: Self { Self(symbol: "°C", coefficient: 1) }
    /// Degrees Fahrenheit of difference: 1 °F = 5/9 K.
    public static var fahrenheit: Self { Self(symbol: "°F", coefficient: 5.0 / 9.0) }
}

// MARK: - Constructors and accessors

extension TemperatureDifference {
    /// A difference in kelvin.
    public static func kelvin(_ value: Double) -> TemperatureDifference { Self(value, in: .kelvin) }
    /// A difference in degrees Celsius (equal to kelvin).
    public static func celsius(_ value: Double) -> TemperatureDifference { Self(value, in: .celsius) }
    /// A difference in degrees Fahrenheit.
    public static func fahrenheit(_ value: Double) -> TemperatureDifference { Self(value, in: .fahrenheit) }

    /// The difference in kelvin.
    public var kelvin: Double { value(in: .kelvin) }
    /// The difference in degrees Celsius (equal to kelvin).
    public var celsius: Double { value(in: .celsius) }
    /// The difference in degrees Fahrenheit.
    public var fahrenheit: Double { value(in: .fahrenheit) }
}
