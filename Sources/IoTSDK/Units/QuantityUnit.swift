/// A unit in which a quantity of kind `Quantity` can be expressed: its symbol and how a value in it
/// maps to the quantity's base unit.
///
/// The map is `baseValue = (value + offset) × coefficient`. For every unit except the Celsius and
/// Fahrenheit temperature scales the offset is 0, so the coefficient is simply "base units per one
/// of this unit" (100 for hectopascals, 0.001 for millivolts).
///
/// Each quantity type declares its common units as static members, so they read as
/// `Pressure(validating: raw, in: .hectopascals)` and `pressure.value(in: .inchesOfMercury)`. You
/// can define more: `QuantityUnit<Pressure>(symbol: "atm", coefficient: 101_325)`.
public struct QuantityUnit<Quantity: PhysicalQuantity>: Sendable, Hashable, CustomStringConvertible {
    /// The unit's symbol, such as `"hPa"` or `"°C"`.
    public let symbol: String

    /// Base units per one of this unit, after the offset is added; must be finite and non-zero.
    public let coefficient: Double

    /// The amount added to a value in this unit before it is multiplied by ``coefficient``.
    public let offset: Double

    /// Creates a unit.
    ///
    /// - Parameters:
    ///   - symbol: The unit's symbol, used by descriptions.
    ///   - coefficient: Base units per one of this unit; finite and non-zero.
    ///   - offset: Added to a value before scaling; 0 for all but offset scales such as °C.
    public init(symbol: String, coefficient: Double, offset: Double = 0) {
        self.symbol = symbol
        self.coefficient = coefficient
        self.offset = offset
    }

    /// Converts a value in this unit to the base unit.
    public func baseValue(fromValue value: Double) -> Double {
        (value + offset) * coefficient
    }

    /// Converts a value in the base unit to this unit.
    public func value(fromBaseValue baseValue: Double) -> Double {
        baseValue / coefficient - offset
    }

    /// The unit's symbol.
    public var description: String { symbol }
}
