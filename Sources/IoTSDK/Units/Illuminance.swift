/// An illuminance, stored in lux (lx); shown as `"350.0 lx"`.
public struct Illuminance: LinearQuantity {
    /// The base unit, lux.
    public static let baseUnitSymbol = "lx"

    /// The illuminance in lux.
    public let baseValue: Double

    /// Creates an illuminance from lux.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// One digit after the point.
    public static var displayFractionDigits: Int { 1 }
}

// MARK: - Units, constructors and accessors

extension QuantityUnit where Quantity == Illuminance {
    /// Lux (lx), lumens per square metre, the base unit.
    public static var lux: Self { Self(symbol: "lx", coefficient: 1) }
}

extension Illuminance {
    /// An illuminance in lux.
    public static func lux(_ value: Double) -> Illuminance { Illuminance(value, in: .lux) }

    /// The illuminance in lux.
    public var lux: Double { value(in: .lux) }
}
