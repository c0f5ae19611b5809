/// A physical quantity of one kind (temperature, pressure, voltage, …), stored as a `Double` in its
/// base unit: the SI unit where there is one (kelvin, pascal, volt, metre per second squared), or the
/// unit that the field uses (percent relative humidity, parts per million, µg/m³).
///
/// Conforming types are small structs that hold only ``baseValue``. Everything else is shared and
/// implemented once in extensions of this protocol:
/// - equality, hashing and ordering by ``baseValue``;
/// - conversion to and from any ``QuantityUnit`` of the quantity (``value(in:)``, ``init(validating:in:)``);
/// - validation at input boundaries (``init(validatingBaseValue:)``, ``validated()``);
/// - the ``description`` in a display unit (`"21.50 °C"`), and ``formatted(in:fractionDigits:)``;
/// - `Codable` as `{"value": 101325, "unit": "Pa"}`, validated when decoded;
/// - ``isApproximatelyEqual(to:tolerance:)`` and the ratio of two quantities (`q1 / q2`).
///
/// Sums, differences, negation and scalar multiples are meaningful only for ``LinearQuantity``
/// types. ``Temperature`` is the exception that shows why: it is an absolute (affine) quantity, so
/// the difference of two temperatures is a ``TemperatureDifference``, not a temperature.
public protocol PhysicalQuantity: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The type that expresses the difference between two values of this quantity, and the
    /// tolerance of ``isApproximatelyEqual(to:tolerance:)``.
    ///
    /// It is `Self` for every ``LinearQuantity``. Its ``baseValue`` must use the same base unit as
    /// this type's (``TemperatureDifference`` is in kelvin, like ``Temperature``).
    associatedtype Difference: LinearQuantity = Self

    /// Creates a quantity from a value in the base unit, as given, without validation.
    ///
    /// This is the raw initialiser that generic code and arithmetic use. Where the value comes from
    /// hardware, a file or the network, use ``init(validatingBaseValue:)`` or a type's throwing
    /// constructors instead, so that an impossible value throws rather than travels on.
    init(baseValue: Double)

    /// The value in the base unit (``baseUnitSymbol``).
    var baseValue: Double { get }

    /// The symbol of the base unit, such as `"K"`, `"Pa"` or `"%RH"`; also the `unit` that
    /// `Codable` writes.
    static var baseUnitSymbol: String { get }

    /// The base values that a value of this quantity can physically take.
    ///
    /// ``init(validatingBaseValue:)``, decoding and the Foundation bridge reject values outside it.
    /// The default is all finite values; ``Temperature`` narrows it to `0...` (absolute zero).
    static var validBaseValues: ClosedRange<Double> { get }

    /// The units ``description`` may choose from, the preferred one first.
    ///
    /// ``description`` picks the largest unit in which the rounded value is at least 1 (so that a
    /// current reads `"12.500 mA"` rather than `"0.013 A"`), and the first unit for zero and for
    /// values smaller than every unit. The default is the base unit alone.
    static var displayUnits: [QuantityUnit<Self>] { get }

    /// The number of digits after the decimal point in ``description``; the default is 2.
    static var displayFractionDigits: Int { get }
}

// MARK: - Defaults

extension PhysicalQuantity {
    /// All finite values.
    public static var validBaseValues: ClosedRange<Double> {
        -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    }

    /// The base unit alone.
    public static var displayUnits: [QuantityUnit<Self>] { [baseUnit] }

    /// Two digits after the decimal point.
    public static var displayFractionDigits: Int { 2 }

    /// The base unit, with the symbol ``baseUnitSymbol`` and a coefficient of 1.
    public static var baseUnit: QuantityUnit<Self> {
        QuantityUnit(symbol: baseUnitSymbol, coefficient: 1)
    }
}

// MARK: - Comparison

extension PhysicalQuantity {
    /// Orders two quantities by their base values.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.baseValue < rhs.baseValue
    }

    /// Returns whether this quantity differs from `other` by at most `tolerance`.
    ///
    /// - Parameters:
    ///   - other: The quantity to compare with.
    ///   - tolerance: The largest difference that still counts as equal; its sign is ignored.
    /// - Returns: `false` if either value is NaN.
    public func isApproximatelyEqual(to other: Self, tolerance: Difference) -> Bool {
        abs(baseValue - other.baseValue) <= abs(tolerance.baseValue)
    }

    /// The ratio of two quantities of the same kind, as a plain number (`Distance.meters(3) /
    /// Distance.meters(2) == 1.5`).
    ///
    /// For ``Temperature`` this is the ratio of thermodynamic (kelvin) temperatures. Dividing by a
    /// zero quantity gives an infinity or NaN, as `Double` division does.
    public static func / (lhs: Self, rhs: Self) -> Double {
        lhs.baseValue / rhs.baseValue
    }
}

// MARK: - Units and validation

extension PhysicalQuantity {
    /// Creates a quantity from a value in the base unit after checking that it is possible.
    ///
    /// - Throws: ``QuantityError`` with code ``QuantityError/Code/notFinite`` for NaN or an
    ///   infinity, and ``QuantityError/Code/outOfRange`` for a value outside ``validBaseValues``
    ///   (a temperature below absolute zero).
    public init(validatingBaseValue baseValue: Double) throws(QuantityError) {
        let candidate = Self(baseValue: baseValue)
        guard baseValue.isFinite else { throw QuantityError.notFinite(candidate) }
        guard Self.validBaseValues.contains(baseValue) else { throw QuantityError.outOfRange(candidate) }
        self = candidate
    }

    /// Creates a quantity from a value in `unit` after checking that it is possible.
    ///
    /// `try Pressure(validating: raw, in: .hectopascals)` is the form for converted hardware values.
    ///
    /// - Throws: ``QuantityError`` as ``init(validatingBaseValue:)`` does.
    public init(validating value: Double, in unit: QuantityUnit<Self>) throws(QuantityError) {
        try self.init(validatingBaseValue: unit.baseValue(fromValue: value))
    }

    /// Creates a quantity from a value in `unit` without validation; see ``init(baseValue:)``.
    init(unchecked value: Double, in unit: QuantityUnit<Self>) {
        self.init(baseValue: unit.baseValue(fromValue: value))
    }

    /// Returns this quantity unchanged if it is possible, and throws otherwise.
    ///
    /// - Throws: ``QuantityError`` as ``init(validatingBaseValue:)`` does.
    public func validated() throws(QuantityError) -> Self {
        try Self(validatingBaseValue: baseValue)
    }

    /// The value of this quantity expressed in `unit`.
    public func value(in unit: QuantityUnit<Self>) -> Double {
        unit.value(fromBaseValue: baseValue)
    }
}
