/// The error thrown when a value cannot be a physical quantity: it is not a finite number, or it is
/// outside what the quantity can physically be (a temperature below absolute zero).
///
/// Such a value almost always comes from a wrong raw-value conversion or from bad calibration data
/// in a driver, so the ``message`` points there.
public struct QuantityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong with the value.
    public enum Code: String, Hashable, Sendable {
        /// The value was NaN or an infinity.
        case notFinite
        /// The value was outside the quantity's physical range.
        case outOfRange
    }

    /// What was wrong with the value.
    public let code: Code

    /// The name of the quantity type, such as `"Temperature"`.
    public let quantity: String

    /// The rejected value, in the quantity's base unit.
    public let baseValue: Double

    /// The symbol of the base unit of ``baseValue``.
    public let unitSymbol: String

    /// What happened and what to check.
    public let message: String

    /// Creates an error; drivers normally get one from the validating initialisers instead.
    public init(code: Code, quantity: String, baseValue: Double, unitSymbol: String, message: String) {
        self.code = code
        self.quantity = quantity
        self.baseValue = baseValue
        self.unitSymbol = unitSymbol
        self.message = message
    }

    /// The ``message``.
    public var description: String { message }
}

// MARK: - Factories used by validation

extension QuantityError {
    /// The fix that the messages name: where an impossible value comes from.
    private static let hint =
        "check the driver's raw-value conversion (a division by zero, a wrong scale or sign) "
        + "and the calibration data it read from the device"

    /// The error for a value that is NaN or an infinity.
    static func notFinite<Q: PhysicalQuantity>(_ quantity: Q) -> QuantityError {
        let name = String(describing: Q.self)
        return QuantityError(
            code: .notFinite, quantity: name, baseValue: quantity.baseValue, unitSymbol: Q.baseUnitSymbol,
            message: "\(name) value \(quantity.baseValue) \(Q.baseUnitSymbol) is not a finite number: \(hint)"
        )
    }

    /// The error for a finite value outside `Q.validBaseValues`.
    static func outOfRange<Q: PhysicalQuantity>(_ quantity: Q) -> QuantityError {
        let name = String(describing: Q.self)
        let range = Q.validBaseValues
        let limit = quantity.baseValue < range.lowerBound
            ? "below the physical minimum of \(Q.baseUnit.format(range.lowerBound))"
            : "above the physical maximum of \(Q.baseUnit.format(range.upperBound))"
        return QuantityError(
            code: .outOfRange, quantity: name, baseValue: quantity.baseValue, unitSymbol: Q.baseUnitSymbol,
            message: "\(name) \(quantity) (\(Q.baseUnit.format(quantity.baseValue))) is \(limit): \(hint)"
        )
    }
}
