/// A pressure, stored in pascals (Pa); shown in hectopascals (`"1013.25 hPa"`), the unit of
/// barometric sensors and weather reports.
///
/// A pressure may be negative: it is also the type for differential and gauge pressures.
public struct Pressure: LinearQuantity {
    /// The base unit, pascal.
    public static let baseUnitSymbol = "Pa"

    /// The pressure in pascals.
    public let baseValue: Double

    /// Creates a pressure from pascals.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Hectopascals.
    public static var displayUnits: [QuantityUnit<Pressure>] { [.hectopascals] }

    /// The standard atmosphere, 101 325 Pa.
    public static let standardAtmosphere = Pressure(baseValue: 101_325)
}

// MARK: - Units

extension QuantityUnit where Quantity == Pressure {
    /// Pascals (Pa), the base unit.
    public static var pascals: Self { Self(symbol: "Pa", coefficient: 1) }
    /// Hectopascals (hPa), 100 Pa; equal to millibars.
    public static var hectopascals: Self { Self(symbol: "hPa", coefficient: 100) }
    /// Kilopascals (kPa), 1000 Pa.
    public static var kilopascals: Self { Self(symbol: "kPa", coefficient: 1_000) }
    /// Bars (bar), 100 000 Pa.
    public static var bars: Self { Self(symbol: "bar", coefficient: 100_000) }
    /// Millibars (mbar), 100 Pa.
    public static var millibars: Self { Self(symbol: "mbar", coefficient: 100) }
    /// Pounds-force per square inch (psi), 4.4482216152605 N / 0.00064516 m².
    public static var poundsPerSquareInch: Self { Self(symbol: "psi", coefficient: 4.4482216152605 / 0.00064516) }
    /// Conventional inches of mercury (inHg), 3386.389 Pa (NIST SP 811).
    public static var inchesOfMercury: Self { Self(symbol: "inHg", coefficient: 3_386.389) }
    /// Conventional millimetres of mercury (mmHg), 133.322387415 Pa (NIST SP 811).
    public static var millimetersOfMercury: Self { Self(symbol: "mmHg", coefficient: 133.322387415) }
}

// MARK: - Constructors and accessors

extension Pressure {
    /// A pressure in pascals.
    public static func pascals(_ value: Double) -> Pressure { Pressure(value, in: .pascals) }
    /// A pressure in hectopascals.
    public static func hectopascals(_ value: Double) -> Pressure { Pressure(value, in: .hectopascals) }
    /// A pressure in kilopascals.
    public static func kilopascals(_ value: Double) -> Pressure { Pressure(value, in: .kilopascals) }
    /// A pressure in bars.
    public static func bars(_ value: Double) -> Pressure { Pressure(value, in: .bars) }
    /// A pressure in millibars.
    public static func millibars(_ value: Double) -> Pressure { Pressure(value, in: .millibars) }
    /// A pressure in pounds-force per square inch.
    public static func poundsPerSquareInch(_ value: Double) -> Pressure { Pressure(value, in: .poundsPerSquareInch) }
    /// A pressure in inches of mercury.
    public static func inchesOfMercury(_ value: Double) -> Pressure { Pressure(value, in: .inchesOfMercury) }
    /// A pressure in millimetres of mercury.
    public static func millimetersOfMercury(_ value: Double) -> Pressure { Pressure(value, in: .millimetersOfMercury) }

    /// The pressure in pascals.
    public var pascals: Double { value(in: .pascals) }
    /// The pressure in hectopascals.
    public var hectopascals: Double { value(in: .hectopascals) }
    /// The pressure in kilopascals.
    public var kilopascals: Double { value(in: .kilopascals) }
    /// The pressure in bars.
    public var bars: Double { value(in: .bars) }
    /// The pressure in millibars.
    public var millibars: Double { value(in: .millibars) }
    /// The pressure in pounds-force per square inch.
    public var poundsPerSquareInch: Double { value(in: .poundsPerSquareInch) }
    /// The pressure in inches of mercury.
    public var inchesOfMercury: Double { value(in: .inchesOfMercury) }
    /// The pressure in millimetres of mercury.
    public var millimetersOfMercury: Double { value(in: .millimetersOfMercury) }
}
