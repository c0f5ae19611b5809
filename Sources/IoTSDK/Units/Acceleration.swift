/// A linear acceleration, stored in metres per second squared (m/s²); shown as `"9.807 m/s²"`.
///
/// Accelerometers often report in multiples of standard gravity: ``gravities(_:)`` uses
/// g = 9.80665 m/s² exactly (CGPM 1901).
public struct Acceleration: LinearQuantity {
    /// The base unit, metre per second squared.
    public static let baseUnitSymbol = "m/s²"

    /// The acceleration in metres per second squared.
    public let baseValue: Double

    /// Creates an acceleration from metres per second squared.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }

    /// Standard gravity, 9.80665 m/s².
    public static let standardGravity = Acceleration(baseValue: 9.806_65)
}

// MARK: - Units

extension QuantityUnit where Quantity == Acceleration {
    /// Metres per second squared (m/s²), the base unit.
    public static var metersPerSecondSquared: Self { Self(symbol: "m/s²", coefficient: 1) }
    /// Multiples of standard gravity (g), 9.80665 m/s².
    public static var gravities: Self { Self(symbol: "g", coefficient: Acceleration.standardGravity.baseValue) }
}

// MARK: - Constructors and accessors

extension Acceleration {
    /// An acceleration in metres per second squared.
    public static func metersPerSecondSquared(_ value: Double) -> Acceleration {
        Acceleration(value, in: .metersPerSecondSquared)
    }
    /// An acceleration in multiples of standard gravity.
    public static func gravities(_ value: Double) -> Acceleration { Acceleration(value, in: .gravities) }

    /// The acceleration in metres per second squared.
    public var metersPerSecondSquared: Double { value(in: .metersPerSecondSquared) }
    /// The acceleration in multiples of standard gravity.
    public var gravities: Double { value(in: .gravities) }
}
