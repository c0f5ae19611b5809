/// A physical quantity on a linear scale, where sums, differences, negatives and scalar multiples
/// are quantities of the same kind: a voltage minus a voltage is a voltage.
///
/// Everything here is implemented once in this protocol's extension. Values are not checked: a
/// difference may be negative (a pressure drop, a current flowing back), and arithmetic follows
/// `Double` (dividing by zero gives an infinity). Use ``PhysicalQuantity/validated()`` where a
/// result must be finite.
///
/// Conformance to `AdditiveArithmetic` gives ``zero``, `+=` and `-=`, and lets generic code sum
/// readings: `samples.reduce(.zero, +)`.
public protocol LinearQuantity: PhysicalQuantity, AdditiveArithmetic where Difference == Self {}

extension LinearQuantity {
    /// The quantity zero.
    public static var zero: Self { Self(baseValue: 0) }

    /// Creates a quantity from a value in `unit`, as given; see ``PhysicalQuantity/init(baseValue:)``.
    public init(_ value: Double, in unit: QuantityUnit<Self>) {
        self.init(unchecked: value, in: unit)
    }

    /// The sum of two quantities.
    public static func + (lhs: Self, rhs: Self) -> Self {
        Self(baseValue: lhs.baseValue + rhs.baseValue)
    }

    /// The difference of two quantities.
    public static func - (lhs: Self, rhs: Self) -> Self {
        Self(baseValue: lhs.baseValue - rhs.baseValue)
    }

    /// The quantity with its sign reversed.
    public static prefix func - (operand: Self) -> Self {
        Self(baseValue: -operand.baseValue)
    }

    /// The quantity scaled by a number.
    public static func * (lhs: Self, rhs: Double) -> Self {
        Self(baseValue: lhs.baseValue * rhs)
    }

    /// The quantity scaled by a number.
    public static func * (lhs: Double, rhs: Self) -> Self {
        Self(baseValue: lhs * rhs.baseValue)
    }

    /// The quantity divided by a number.
    public static func / (lhs: Self, rhs: Double) -> Self {
        Self(baseValue: lhs.baseValue / rhs)
    }

    /// Scales the quantity by a number.
    public static func *= (lhs: inout Self, rhs: Double) {
        lhs = lhs * rhs
    }

    /// Divides the quantity by a number.
    public static func /= (lhs: inout Self, rhs: Double) {
        lhs = lhs / rhs
    }

    /// The absolute value of the quantity.
    public var magnitude: Self { Self(baseValue: baseValue.magnitude) }
}
