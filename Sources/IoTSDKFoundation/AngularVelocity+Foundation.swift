import Foundation
import IoTSDK

/// Foundation has no `UnitAngularVelocity`, so an angular velocity cannot be a `Measurement` of
/// its own and ``AngularVelocity`` is not ``MeasurementConvertible``. What Foundation does have,
/// and what this extension offers instead:
/// - the angle turned over a time (`Measurement<UnitAngle>` per `Duration`), for integrating a
///   gyroscope's rate into a heading: ``init(turning:in:)``, ``angle(over:)``;
/// - the rotation frequency (`Measurement<UnitFrequency>`, revolutions per second), for fans,
///   wheels and motors: ``init(rotationFrequency:)``, ``rotationFrequency``.
extension AngularVelocity {
    /// The angular velocity that turns through `angle` in `duration`.
    ///
    /// - Throws: `QuantityError` if the result is not finite, as for a zero `duration`.
    public init(turning angle: Measurement<UnitAngle>, in duration: Duration) throws(QuantityError) {
        try self.init(validatingBaseValue: angle.converted(to: .radians).value / Self.seconds(in: duration))
    }

    /// The angle turned through at this angular velocity over `duration`, in radians.
    public func angle(over duration: Duration) -> Measurement<UnitAngle> {
        Measurement(value: radiansPerSecond * Self.seconds(in: duration), unit: .radians)
    }

    /// The angular velocity of a rotation at `frequency` revolutions per second (ω = 2π f).
    ///
    /// - Throws: `QuantityError` if the result is not finite.
    public init(rotationFrequency frequency: Measurement<UnitFrequency>) throws(QuantityError) {
        try self.init(validatingBaseValue: 2 * Double.pi * frequency.converted(to: .hertz).value)
    }

    /// The rotation frequency, in revolutions per second (hertz): f = ω / 2π.
    public var rotationFrequency: Measurement<UnitFrequency> {
        Measurement(value: radiansPerSecond / (2 * Double.pi), unit: .hertz)
    }

    /// A duration in seconds as a `Double`.
    private static func seconds(in duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
