/// A power, stored in watts (W); shown in kW, W, mW or µW with three digits after the point
/// (`"1.250 W"`, `"330.000 mW"`).
public struct Power: LinearQuantity {
    /// The base unit, watt.
    public static let baseUnitSymbol = "W"

    /// The power in watts.
    public let baseValue: Double

    /// Creates a power from watts.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Watts, kilowatts, milliwatts and microwatts.
    public static var displayUnits: [QuantityUnit<Power>] { [.watts, .kilowatts, .milliwatts, .microwatts] }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }
}

// MARK: - Units

extension QuantityUnit where Quantity == Power {
    /// Watts (W), the base unit.
    public static var watts: Self { Self(symbol: "W", coefficient: 1) }
    /// Kilowatts (kW), 10³ W.
    public static var kilowatts: Self { Self(symbol: "kW", coefficient: 1e3) }
    /// Milliwatts (mW), 10⁻³ W.
    public static var milliwatts: Self { Self(symbol: "mW", coefficient: 1e-3) }
    /// Microwatts (µW), 10⁻⁶ W.
    public static var microwatts: Self { Self(symbol: "µW", coefficient: 1e-6) }
}

// MARK: - Constructors and accessors

extension Power {
    /// A power in watts.
    public static func watts(_ value: Double) -> Power { Power(value, in: .watts) }
    /// A power in kilowatts.
    public static func kilowatts(_ value: Double) -> Power { Power(value, in: .kilowatts) }
    /// A power in milliwatts.
    public static func milliwatts(_ value: Double) -> Power { Power(value, in: .milliwatts) }
    /// A power in microwatts.
    public static func microwatts(_ value: Double) -> Power { Power(value, in: .microwatts) }

    /// The power in watts.
    public var watts: Double { value(in: .watts) }
    /// The power in kilowatts.
    public var kilowatts: Double { value(in: .kilowatts) }
    /// The power in milliwatts.
    public var milliwatts: Double { value(in: .milliwatts) }
    /// The power in microwatts.
    public var microwatts: Double { value(in: .microwatts) }
}
