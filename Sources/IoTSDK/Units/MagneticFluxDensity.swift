/// A magnetic flux density (magnetic field), stored in teslas (T); shown in microteslas
/// (`"48.20 µT"`), the scale of the Earth's field that magnetometers measure.
public struct MagneticFluxDensity: LinearQuantity {
    /// The base unit, tesla.
    public static let baseUnitSymbol = "T"

    /// The flux density in teslas.
    public let baseValue: Double

    /// Creates a flux density from teslas.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Microteslas.
    public static var displayUnits: [QuantityUnit<MagneticFluxDensity>] { [.microteslas] }
}

// MARK: - Units

extension QuantityUnit where Quantity == MagneticFluxDensity {
    /// Teslas (T), the base unit.
    public static var teslas: Self { Self(symbol: "T", coefficient: 1) }
    /// Milliteslas (mT), 10⁻³ T.
    public static var milliteslas: Self { Self(symbol: "mT", coefficient: 1e-3) }
    /// Microteslas (µT), 10⁻⁶ T.
    public static var microteslas: Self { Self(symbol: "µT", coefficient: 1e-6) }
    /// Nanoteslas (nT), 10⁻⁹ T.
    public static var nanoteslas: Self { Self(symbol: "nT", coefficient: 1e-9) }
    /// Gauss (G), the CGS unit: 10⁻⁴ T = 100 µT.
    public static var gauss: Self { Self(symbol: "G", coefficient: 1e-4) }
    /// Milligauss (mG), 10⁻⁷ T = 0.1 µT.
    public static var milligauss: Self { Self(symbol: "mG", coefficient: 1e-7) }
}

// MARK: - Constructors and accessors

extension MagneticFluxDensity {
    /// A flux density in teslas.
    public static func teslas(_ value: Double) -> MagneticFluxDensity { Self(value, in: .teslas) }
    /// A flux density in milliteslas.
    public static func milliteslas(_ value: Double) -> MagneticFluxDensity { Self(value, in: .milliteslas) }
    /// A flux density in microteslas.
    public static func microteslas(_ value: Double) -> MagneticFluxDensity { Self(value, in: .microteslas) }
    /// A flux density in nanoteslas.
    public static func nanoteslas(_ value: Double) -> MagneticFluxDensity { Self(value, in: .nanoteslas) }
    /// A flux density in gauss.
    public static func gauss(_ value: Double) -> MagneticFluxDensity { Self(value, in: .gauss) }
    /// A flux density in milligauss.
    public static func milligauss(_ value: Double) -> MagneticFluxDensity { Self(value, in: .milligauss) }

    /// The flux density in teslas.
    public var teslas: Double { value(in: .teslas) }
    /// The flux density in milliteslas.
    public var milliteslas: Double { value(in: .milliteslas) }
    /// The flux density in microteslas.
    public var microteslas: Double { value(in: .microteslas) }
    /// The flux density in nanoteslas.
    public var nanoteslas: Double { value(in: .nanoteslas) }
    /// The flux density in gauss.
    public var gauss: Double { value(in: .gauss) }
    /// The flux density in milligauss.
    public var milligauss: Double { value(in: .milligauss) }
}
