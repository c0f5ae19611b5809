import IoTSDK

/// One IIO channel's value as a typed quantity, chosen by the channel type.
public enum IIOQuantity: Sendable, Hashable, CustomStringConvertible {
    case temperature(Temperature)
    case voltage(Voltage)
    case current(ElectricCurrent)
    case power(Power)
    case pressure(Pressure)
    case relativeHumidity(RelativeHumidity)
    case illuminance(Illuminance)
    case acceleration(Acceleration)
    case angularVelocity(AngularVelocity)
    case magneticField(MagneticFluxDensity)
    case resistance(ElectricResistance)
    case distance(Distance)
    case concentration(Concentration)
    case massConcentration(MassConcentration)
    /// A type whose unit the ABI does not fix (intensity, proximity, counts…): the processed
    /// number as the driver gives it.
    case unitless(Double)

    public var description: String {
        switch self {
        case .temperature(let q): return q.description
        case .voltage(let q): return q.description
        case .current(let q): return q.description
        case .power(let q): return q.description
        case .pressure(let q): return q.description
        case .relativeHumidity(let q): return q.description
        case .illuminance(let q): return q.description
        case .acceleration(let q): return q.description
        case .angularVelocity(let q): return q.description
        case .magneticField(let q): return q.description
        case .resistance(let q): return q.description
        case .distance(let q): return q.description
        case .concentration(let q): return q.description
        case .massConcentration(let q): return q.description
        case .unitless(let value): return "\(value)"
        }
    }
}

/// One reading of several IIO channels, by channel name (`temp`, `pressure`, `voltage0`,
/// `accel_x`, `voltage0-voltage1`).
public struct IIOMeasurement: Sendable, Hashable, CustomStringConvertible {
    /// The values, by channel name.
    public var values: [String: IIOQuantity]

    public init(values: [String: IIOQuantity]) {
        self.values = values
    }

    /// The value of `channel`, or nil when it was not read.
    public subscript(channel: String) -> IIOQuantity? { values[channel] }

    /// The temperature of `channel` (default `temp`), or nil when it is not a temperature.
    public func temperature(_ channel: String = "temp") -> Temperature? {
        if case .temperature(let value)? = values[channel] { return value }
        return nil
    }

    /// The pressure of `channel` (default `pressure`).
    public func pressure(_ channel: String = "pressure") -> Pressure? {
        if case .pressure(let value)? = values[channel] { return value }
        return nil
    }

    /// The relative humidity of `channel` (default `humidityrelative`).
    public func relativeHumidity(_ channel: String = "humidityrelative") -> RelativeHumidity? {
        if case .relativeHumidity(let value)? = values[channel] { return value }
        return nil
    }

    /// The voltage of `channel`, e.g. `voltage0`.
    public func voltage(_ channel: String) -> Voltage? {
        if case .voltage(let value)? = values[channel] { return value }
        return nil
    }

    /// The illuminance of `channel` (default `illuminance`).
    public func illuminance(_ channel: String = "illuminance") -> Illuminance? {
        if case .illuminance(let value)? = values[channel] { return value }
        return nil
    }

    /// The acceleration along x, y and z (`accel_x`, `accel_y`, `accel_z`), when all three were read.
    public var acceleration: Vector3<Acceleration>? {
        guard case .acceleration(let x)? = values["accel_x"], case .acceleration(let y)? = values["accel_y"],
              case .acceleration(let z)? = values["accel_z"] else { return nil }
        return Vector3(x: x, y: y, z: z)
    }

    /// The angular velocity about x, y and z (`anglvel_x`…), when all three were read.
    public var angularVelocity: Vector3<AngularVelocity>? {
        guard case .angularVelocity(let x)? = values["anglvel_x"], case .angularVelocity(let y)? = values["anglvel_y"],
              case .angularVelocity(let z)? = values["anglvel_z"] else { return nil }
        return Vector3(x: x, y: y, z: z)
    }

    /// "pressure: 1005.23 hPa, temp: 23.45 °C", sorted by channel name.
    public var description: String {
        values.keys.sorted().map { "\($0): \(values[$0].map(\.description) ?? "")" }.joined(separator: ", ")
    }
}
