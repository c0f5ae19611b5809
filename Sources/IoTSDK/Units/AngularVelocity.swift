/// An angular velocity, stored in radians per second (rad/s); shown in degrees per second
/// (`"180.00 °/s"`), the unit gyroscope datasheets use.
public struct AngularVelocity: LinearQuantity {
    /// The base unit, radian per second.
    public static let baseUnitSymbol = "rad/s"

    /// The angular velocity in radians per second.
    public let baseValue: Double

    /// Creates an angular velocity from radians per second.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// Degrees per second.
    public static var displayUnits: [QuantityUnit<AngularVelocity>] { [.degreesPerSecond] }
}

// MARK: - Units

extension QuantityUnit where Quantity == AngularVelocity {
    /// Radians per second (rad/s), the base unit.
    public static var radiansPerSecond: Self { Self(symbol: "rad/s", coefficient: 1) }
    /// Degrees per second (°/s), π/180 rad/s.
    public static var degreesPerSecond: Self { Self(symbol: "°/s", coefficient: Double.pi / 180) }
    /// Revolutions per minute (rpm), 2π/60 rad/s.
    public static var revolutionsPerMinute: Self { Self(symbol: "rpm", coefficient: 2 * Double.pi / 60) }
}

// MARK: - Constructors and accessors

extension AngularVelocity {
    /// An angular velocity in radians per second.
    public static func radiansPerSecond(_ value: Double) -> AngularVelocity {
        AngularVelocity(value, in: .radiansPerSecond)
    }
    /// An angular velocity in degrees per second.
    public static func degreesPerSecond(_ value: Double) -> AngularVelocity {
        AngularVelocity(value, in: .degreesPerSecond)
    }
    /// An angular velocity in revolutions per minute.
    public static func revolutionsPerMinute(_ value: Double) -> AngularVelocity {
        AngularVelocity(value, in: .revolutionsPerMinute)
    }

    /// The angular velocity in radians per second.
    public var radiansPerSecond: Double { value(in: .radiansPerSecond) }
    /// The angular velocity in degrees per second.
    public var degreesPerSecond: Double { value(in: .degreesPerSecond) }
    /// The angular velocity in revolutions per minute.
    public var revolutionsPerMinute: Double { value(in: .revolutionsPerMinute) }
}
