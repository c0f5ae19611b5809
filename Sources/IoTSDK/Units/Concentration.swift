/// The concentration of a gas as an amount (volume) fraction, stored in parts per million (ppm),
/// the unit of CO₂, VOC and other gas sensors; shown as `"415.0 ppm"`.
public struct Concentration: LinearQuantity {
    /// The base unit, parts per million.
    public static let baseUnitSymbol = "ppm"

    /// The concentration in parts per million.
    public let baseValue: Double

    /// Creates a concentration from parts per million.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// One digit after the point.
    public static var displayFractionDigits: Int { 1 }
}

// MARK: - Units

extension QuantityUnit where Quantity == Concentration {
    /// Parts per million (ppm), the base unit.
    public static var partsPerMillion: Self { Self(symbol: "ppm", coefficient: 1) }
    /// Parts per billion (ppb), 10⁻³ ppm.
    public static var partsPerBillion: Self { Self(symbol: "ppb", coefficient: 1e-3) }
    /// Percent by volume (%vol), 10 000 ppm, the unit of oxygen sensors.
    public static var percentByVolume: Self { Self(symbol: "%vol", coefficient: 1e4) }
}

// MARK: - Constructors and accessors

extension Concentration {
    /// A concentration in parts per million.
    public static func partsPerMillion(_ value: Double) -> Concentration { Self(value, in: .partsPerMillion) }
    /// A concentration in parts per billion.
    public static func partsPerBillion(_ value: Double) -> Concentration { Self(value, in: .partsPerBillion) }
    /// A concentration in percent by volume.
    public static func percentByVolume(_ value: Double) -> Concentration { Self(value, in: .percentByVolume) }

    /// The concentration in parts per million.
    public var partsPerMillion: Double { value(in: .partsPerMillion) }
    /// The concentration in parts per billion.
    public var partsPerBillion: Double { value(in: .partsPerBillion) }
    /// The concentration in percent by volume.
    public var percentByVolume: Double { value(in: .percentByVolume) }
}
