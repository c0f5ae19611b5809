/// A dimensionless ratio, stored as a fraction (unit symbol `"1"`); shown in percent (`"42.0 %"`).
///
/// For values such as a battery's state of charge, a PWM duty cycle or a gain. It is not
/// limited to 0…1; a type that needs that range (a duty cycle) validates it itself.
public struct Ratio: LinearQuantity {
    /// The base unit, the number one.
    public static let baseUnitSymbol = "1"

    /// The ratio as a fraction.
    public let baseValue: Double

    /// Creates a ratio from a fraction.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Percent.
    public static var displayUnits: [QuantityUnit<Ratio>] { [.percent] }

    /// One digit after the point.
    public static var displayFractionDigits: Int { 1 }
}

// MARK: - Units

extension QuantityUnit where Quantity == Ratio {
    /// A plain fraction (1), the base unit.
    public static var fraction: Self { Self(symbol: "", coefficient: 1) }
    /// Percent (%), 10⁻².
    public static var percent: Self { Self(symbol: "%", coefficient: 1e-2) }
}

// MARK: - Constructors and accessors

extension Ratio {
    /// A ratio given as a fraction (0.42).
    public static func fraction(_ value: Double) -> Ratio { Ratio(value, in: .fraction) }
    /// A ratio given in percent (42).
    public static func percent(_ value: Double) -> Ratio { Ratio(value, in: .percent) }

    /// The ratio as a fraction.
    public var fraction: Double { value(in: .fraction) }
    /// The ratio in percent.
    public var percent: Double { value(in: .percent) }
}
