/// A mass concentration in air, stored in micrograms per cubic metre (µg/m³), the unit of
/// particulate-matter (PM1, PM2.5, PM10) sensors and air-quality limits; shown as `"12.5 µg/m³"`.
public struct MassConcentration: LinearQuantity {
    /// The base unit, microgram per cubic metre.
    public static let baseUnitSymbol = "µg/m³"

    /// The concentration in micrograms per cubic metre.
    public let baseValue: Double

    /// Creates a concentration from micrograms per cubic metre.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// One digit after the point.
    public static var displayFractionDigits: Int { 1 }
}

// MARK: - Units

extension QuantityUnit where Quantity == MassConcentration {
    /// Micrograms per cubic metre (µg/m³), the base unit.
    public static var microgramsPerCubicMeter: Self { Self(symbol: "µg/m³", coefficient: 1) }
    /// Milligrams per cubic metre (mg/m³), 1000 µg/m³.
    public static var milligramsPerCubicMeter: Self { Self(symbol: "mg/m³", coefficient: 1e3) }
}

// MARK: - Constructors and accessors

extension MassConcentration {
    /// A concentration in micrograms per cubic metre.
    public static func microgramsPerCubicMeter(_ value: Double) -> MassConcentration {
        Self(value, in: .microgramsPerCubicMeter)
    }
    /// A concentration in milligrams per cubic metre.
    public static func milligramsPerCubicMeter(_ value: Double) -> MassConcentration {
        Self(value, in: .milligramsPerCubicMeter)
    }

    /// The concentration in micrograms per cubic metre.
    public var microgramsPerCubicMeter: Double { value(in: .microgramsPerCubicMeter) }
    /// The concentration in milligrams per cubic metre.
    public var milligramsPerCubicMeter: Double { value(in: .milligramsPerCubicMeter) }
}
