/// An electric potential difference, stored in volts (V); shown in V, mV or µV with three digits
/// after the point (`"3.300 V"`, `"12.500 mV"`).
public struct Voltage: LinearQuantity {
    /// The base unit, volt.
    public static let baseUnitSymbol = "V"

    /// The voltage in volts.
    public let baseValue: Double

    /// Creates a voltage from volts.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Volts, millivolts and microvolts.
    public static var displayUnits: [QuantityUnit<Voltage>] { [.volts, .millivolts, .microvolts] }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }
}

// MARK: - Units

extension QuantityUnit where Quantity == Voltage {
    /// Volts (V), the base unit.
    public static var volts: Self { Self(symbol: "V", coefficient: 1) }
    /// Millivolts (mV), 10⁻³ V.
    public static var millivolts: Self { Self(symbol: "mV", coefficient: 1e-3) }
    /// Microvolts (µV), 10⁻⁶ V.
    public static var microvolts: Self { Self(symbol: "µV", coefficient: 1e-6) }
}

// MARK: - Constructors and accessors

extension Voltage {
    /// A voltage in volts.
    public static func volts(_ value: Double) -> Voltage { Voltage(value, in: .volts) }
    /// A voltage in millivolts.
    public static func millivolts(_ value: Double) -> Voltage { Voltage(value, in: .millivolts) }
    /// A voltage in microvolts.
    public static func microvolts(_ value: Double) -> Voltage { Voltage(value, in: .microvolts) }

    /// The voltage in volts.
    public var volts: Double { value(in: .volts) }
    /// The voltage in millivolts.
    public var millivolts: Double { value(in: .millivolts) }
    /// The voltage in microvolts.
    public var microvolts: Double { value(in: .microvolts) }
}
