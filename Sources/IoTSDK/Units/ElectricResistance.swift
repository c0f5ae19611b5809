/// An electric resistance, stored in ohms (Ω); shown in Ω, kΩ or MΩ with three digits after the
/// point (`"4.700 kΩ"`).
public struct ElectricResistance: LinearQuantity {
    /// The base unit, ohm.
    public static let baseUnitSymbol = "Ω"

    /// The resistance in ohms.
    public let baseValue: Double

    /// Creates a resistance from ohms.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Ohms, kiloohms and megaohms.
    public static var displayUnits: [QuantityUnit<ElectricResistance>] { [.ohms, .kiloohms, .megaohms] }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }
}

// MARK: - Units

extension QuantityUnit where Quantity == ElectricResistance {
    /// Ohms (Ω), the base unit.
    public static var ohms: Self { Self(symbol: "Ω", coefficient: 1) }
    /// Kiloohms (kΩ), 10³ Ω.
    public static var kiloohms: Self { Self(symbol: "kΩ", coefficient: 1e3) }
    /// Megaohms (MΩ), 10⁶ Ω.
    public static var megaohms: Self { Self(symbol: "MΩ", coefficient: 1e6) }
}

// MARK: - Constructors and accessors

extension ElectricResistance {
    /// A resistance in ohms.
    public static func ohms(_ value: Double) -> ElectricResistance { ElectricResistance(value, in: .ohms) }
    /// A resistance in kiloohms.
    public static func kiloohms(_ value: Double) -> ElectricResistance { ElectricResistance(value, in: .kiloohms) }
    /// A resistance in megaohms.
    public static func megaohms(_ value: Double) -> ElectricResistance { ElectricResistance(value, in: .megaohms) }

    /// The resistance in ohms.
    public var ohms: Double { value(in: .ohms) }
    /// The resistance in kiloohms.
    public var kiloohms: Double { value(in: .kiloohms) }
    /// The resistance in megaohms.
    public var megaohms: Double { value(in: .megaohms) }
}
