/// A distance or length, stored in metres (m); shown in mm, m or km with three digits after the
/// point (`"254.000 mm"`). It may be negative, as a displacement.
public struct Distance: LinearQuantity {
    /// The base unit, metre.
    public static let baseUnitSymbol = "m"

    /// The distance in metres.
    public let baseValue: Double

    /// Creates a distance from metres.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Metres, millimetres and kilometres.
    public static var displayUnits: [QuantityUnit<Distance>] { [.meters, .millimeters, .kilometers] }

    /// Three digits after the point.
    public static var displayFractionDigits: Int { 3 }
}

// MARK: - Units

extension QuantityUnit where Quantity == Distance {
    /// Metres (m), the base unit.
    public static var meters: Self { Self(symbol: "m", coefficient: 1) }
    /// Millimetres (mm), 10⁻³ m.
    public static var millimeters: Self { Self(symbol: "mm", coefficient: 1e-3) }
    /// Centimetres (cm), 10⁻² m.
    public static var centimeters: Self { Self(symbol: "cm", coefficient: 1e-2) }
    /// Kilometres (km), 10³ m.
    public static var kilometers: Self { Self(symbol: "km", coefficient: 1e3) }
    /// International inches (in), 0.0254 m exactly.
    public static var inches: Self { Self(symbol: "in", coefficient: 0.0254) }
    /// International feet (ft), 0.3048 m exactly.
    public static var feet: Self { Self(symbol: "ft", coefficient: 0.3048) }
}

// MARK: - Constructors and accessors

extension Distance {
    /// A distance in metres.
    public static func meters(_ value: Double) -> Distance { Distance(value, in: .meters) }
    /// A distance in millimetres.
    public static func millimeters(_ value: Double) -> Distance { Distance(value, in: .millimeters) }
    /// A distance in centimetres.
    public static func centimeters(_ value: Double) -> Distance { Distance(value, in: .centimeters) }
    /// A distance in kilometres.
    public static func kilometers(_ value: Double) -> Distance { Distance(value, in: .kilometers) }
    /// A distance in inches.
    public static func inches(_ value: Double) -> Distance { Distance(value, in: .inches) }
    /// A distance in feet.
    public static func feet(_ value: Double) -> Distance { Distance(value, in: .feet) }

    /// The distance in metres.
    public var meters: Double { value(in: .meters) }
    /// The distance in millimetres.
    public var millimeters: Double { value(in: .millimeters) }
    /// The distance in centimetres.
    public var centimeters: Double { value(in: .centimeters) }
    /// The distance in kilometres.
    public var kilometers: Double { value(in: .kilometers) }
    /// The distance in inches.
    public var inches: Double { value(in: .inches) }
    /// The distance in feet.
    public var feet: Double { value(in: .feet) }
}
