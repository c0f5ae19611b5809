/// A frequency, stored in hertz (Hz); shown in Hz, kHz or MHz with three digits after the point
/// (`"400.000 kHz"`).
public struct Frequency: LinearQuantity {
    /// The base unit, hertz.
    public static let baseUnitSymbol = "Hz"

    /// The frequency in hertz.
    public let baseValue: Double

    /// Creates a frequency from hertz.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Hertz, kilohertz and megahertz.
    public static var displayUnits: [QuantityUnit<Frequency>] { [.hertz, .kilohertz, .megahertz] }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }
}

// MARK: - Units

extension QuantityUnit where Quantity == Frequency {
    /// Hertz (Hz), the base unit.
    public static var hertz: Self { Self(symbol: "Hz", coefficient: 1) }
    /// Kilohertz (kHz), 10³ Hz.
    public static var kilohertz: Self { Self(symbol: "kHz", coefficient: 1e3) }
    /// Megahertz (MHz), 10⁶ Hz.
    public static var megahertz: Self { Self(symbol: "MHz", coefficient: 1e6) }
}

// MARK: - Constructors and accessors

extension Frequency {
    /// A frequency in hertz.
    public static func hertz(_ value: Double) -> Frequency { Frequency(value, in: .hertz) }
    /// A frequency in kilohertz.
    public static func kilohertz(_ value: Double) -> Frequency { Frequency(value, in: .kilohertz) }
    /// A frequency in megahertz.
    public static func megahertz(_ value: Double) -> Frequency { Frequency(value, in: .megahertz) }

    /// The frequency in hertz.
    public var hertz: Double { value(in: .hertz) }
    /// The frequency in kilohertz.
    public var kilohertz: Double { value(in: .kilohertz) }
    /// The frequency in megahertz.
    public var megahertz: Double { value(in: .megahertz) }
}
