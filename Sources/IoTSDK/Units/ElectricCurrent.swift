/// An electric current, stored in amperes (A); shown in A, mA or µA with three digits after the
/// point (`"12.500 mA"`). Negative values are currents flowing the other way.
public struct ElectricCurrent: LinearQuantity {
    /// The base unit, ampere.
    public static let baseUnitSymbol = "A"

    /// The current in amperes.
    public let baseValue: Double

    /// Creates a current from amperes.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Amperes, milliamperes and microamperes.
    public static var displayUnits: [QuantityUnit<ElectricCurrent>] { [.amperes, .milliamperes, .microamperes] }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }
}

// MARK: - Units

extension QuantityUnit where Quantity == ElectricCurrent {
    /// Amperes (A), the base unit.
    public static var amperes: Self { Self(symbol: "A", coefficient: 1) }
    /// Milliamperes (mA), 10⁻³ A.
    public static var milliamperes: Self { Self(symbol: "mA", coefficient: 1e-3) }
    /// Microamperes (µA), 10⁻⁶ A.
    public static var microamperes: Self { Self(symbol: "µA", coefficient: 1e-6) }
}

// MARK: - Constructors and accessors

extension ElectricCurrent {
    /// A current in amperes.
    public static func amperes(_ value: Double) -> ElectricCurrent { ElectricCurrent(value, in: .amperes) }
    /// A current in milliamperes.
    public static func milliamperes(_ value: Double) -> ElectricCurrent { ElectricCurrent(value, in: .milliamperes) }
    /// A current in microamperes.
    public static func microamperes(_ value: Double) -> ElectricCurrent { ElectricCurrent(value, in: .microamperes) }

    /// The current in amperes.
    public var amperes: Double { value(in: .amperes) }
    /// The current in milliamperes.
    public var milliamperes: Double { value(in: .milliamperes) }
    /// The current in microamperes.
    public var microamperes: Double { value(in: .microamperes) }
}
