/// A three-axis vector of a linear quantity, as accelerometers, gyroscopes and magnetometers
/// report: `Vector3<Acceleration>`, `Vector3<AngularVelocity>`, `Vector3<MagneticFluxDensity>`.
///
/// The axes are the sensor's own; a driver documents their orientation. Only ``LinearQuantity``
/// components are allowed, because a magnitude or a sum needs a linear scale.
public struct Vector3<Quantity: LinearQuantity>: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The component along the x axis.
    public var x: Quantity
    /// The component along the y axis.
    public var y: Quantity
    /// The component along the z axis.
    public var z: Quantity

    /// Creates a vector from its components.
    public init(x: Quantity, y: Quantity, z: Quantity) {
        self.x = x
        self.y = y
        self.z = z
    }

    /// The zero vector.
    public static var zero: Vector3 { Vector3(x: .zero, y: .zero, z: .zero) }

    /// The Euclidean length, √(x² + y² + z²): the total acceleration or field strength.
    public var magnitude: Quantity {
        let (x, y, z) = (x.baseValue, y.baseValue, z.baseValue)
        return Quantity(baseValue: (x * x + y * y + z * z).squareRoot())
    }

    /// The vector with `transform` applied to each component, such as a per-axis calibration.
    public func map<E: Error>(_ transform: (Quantity) throws(E) -> Quantity) throws(E) -> Vector3 {
        Vector3(x: try transform(x), y: try transform(y), z: try transform(z))
    }

    /// Whether every component differs from `other`'s by at most `tolerance`.
    public func isApproximatelyEqual(to other: Vector3, tolerance: Quantity) -> Bool {
        x.isApproximatelyEqual(to: other.x, tolerance: tolerance)
            && y.isApproximatelyEqual(to: other.y, tolerance: tolerance)
            && z.isApproximatelyEqual(to: other.z, tolerance: tolerance)
    }

    /// The components, such as `"(x: 0.012 m/s², y: -0.034 m/s², z: 9.807 m/s²)"`.
    public var description: String { "(x: \(x), y: \(y), z: \(z))" }
}

// MARK: - Arithmetic

extension Vector3 {
    /// The component-wise sum.
    public static func + (lhs: Vector3, rhs: Vector3) -> Vector3 {
        Vector3(x: lhs.x + rhs.x, y: lhs.y + rhs.y, z: lhs.z + rhs.z)
    }

    /// The component-wise difference, such as a reading minus a calibrated offset.
    public static func - (lhs: Vector3, rhs: Vector3) -> Vector3 {
        Vector3(x: lhs.x - rhs.x, y: lhs.y - rhs.y, z: lhs.z - rhs.z)
    }

    /// The vector pointing the other way.
    public static prefix func - (operand: Vector3) -> Vector3 {
        Vector3(x: -operand.x, y: -operand.y, z: -operand.z)
    }

    /// The vector scaled by a number.
    public static func * (lhs: Vector3, rhs: Double) -> Vector3 {
        lhs.map { $0 * rhs }
    }

    /// The vector divided by a number.
    public static func / (lhs: Vector3, rhs: Double) -> Vector3 {
        lhs.map { $0 / rhs }
    }
}
