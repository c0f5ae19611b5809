import IoTSDK

/// An IIO channel type: the `temp` of `in_temp_input`, the `voltage` of `in_voltage0_raw`.
///
/// Open-ended (drivers keep adding types), so a validated string rather than an enum; the types
/// whose unit the kernel ABI fixes (Documentation/ABI/testing/sysfs-bus-iio) have static members
/// and map to IoTSDK quantities through ``quantity(fromABIValue:)``.
public struct IIOChannelType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// A type name: one or more lower-case ASCII letters.
    public init?(rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else { return nil }
        self.rawValue = rawValue
    }

    private init(known: String) { rawValue = known }

    /// Temperature; ABI unit milli °C.
    public static let temp = IIOChannelType(known: "temp")
    /// Voltage; millivolts.
    public static let voltage = IIOChannelType(known: "voltage")
    /// Current; milliamps.
    public static let current = IIOChannelType(known: "current")
    /// Power; milliwatts.
    public static let power = IIOChannelType(known: "power")
    /// Pressure; kilopascals.
    public static let pressure = IIOChannelType(known: "pressure")
    /// Relative humidity; milli percent.
    public static let humidityRelative = IIOChannelType(known: "humidityrelative")
    /// Illuminance; lux.
    public static let illuminance = IIOChannelType(known: "illuminance")
    /// Acceleration; m/s².
    public static let accel = IIOChannelType(known: "accel")
    /// Angular velocity; rad/s.
    public static let angularVelocity = IIOChannelType(known: "anglvel")
    /// Magnetic field; gauss.
    public static let magneticField = IIOChannelType(known: "magn")
    /// Resistance; ohms.
    public static let resistance = IIOChannelType(known: "resistance")
    /// Distance; metres.
    public static let distance = IIOChannelType(known: "distance")
    /// Concentration of a substance; percent.
    public static let concentration = IIOChannelType(known: "concentration")
    /// Mass concentration of particulate matter; µg/m³.
    public static let massConcentration = IIOChannelType(known: "massconcentration")

    /// The quantity that a processed value of this type (`(raw + offset) × scale`, or `_input`)
    /// is, in the unit the IIO ABI fixes for the type. Types without a standard unit
    /// (intensity, proximity, counts…) become ``IIOQuantity/unitless(_:)``.
    ///
    /// - Throws: `QuantityError` for NaN, an infinity or a temperature below absolute zero.
    public func quantity(fromABIValue value: Double) throws(QuantityError) -> IIOQuantity {
        switch self {
        case .temp: return .temperature(try Temperature(validating: value / 1000, in: .celsius))
        case .voltage: return .voltage(try Voltage(validating: value, in: .millivolts))
        case .current: return .current(try ElectricCurrent(validating: value, in: .milliamperes))
        case .power: return .power(try Power(validating: value, in: .milliwatts))
        case .pressure: return .pressure(try Pressure(validating: value, in: .kilopascals))
        case .humidityRelative: return .relativeHumidity(try RelativeHumidity(validating: value / 1000, in: .percent))
        case .illuminance: return .illuminance(try Illuminance(validating: value, in: .lux))
        case .accel: return .acceleration(try Acceleration(validating: value, in: .metersPerSecondSquared))
        case .angularVelocity: return .angularVelocity(try AngularVelocity(validating: value, in: .radiansPerSecond))
        case .magneticField: return .magneticField(try MagneticFluxDensity(validating: value, in: .gauss))
        case .resistance: return .resistance(try ElectricResistance(validating: value, in: .ohms))
        case .distance: return .distance(try Distance(validating: value, in: .meters))
        case .concentration: return .concentration(try Concentration(validating: value, in: .percentByVolume))
        case .massConcentration: return .massConcentration(try MassConcentration(validating: value, in: .microgramsPerCubicMeter))
        default:
            return .unitless(try Ratio(validatingBaseValue: value).baseValue)
        }
    }

    public var description: String { rawValue }
}
