/// The closed set of C types a typed command's parameters and result may have (a module
/// manifest's `ModuleManifest.ParameterType`). Each maps to one C type:
///
/// | type   | C type        | text form (`CommandValue.parse`)                      |
/// |--------|---------------|-------------------------------------------------------|
/// | bool   | `bool`        | `true`, `false`, `1`, `0`                             |
/// | int32  | `int32_t`     | decimal or `0x` hex, optional sign, range-checked     |
/// | int64  | `int64_t`     | likewise                                              |
/// | uint32 | `uint32_t`    | likewise, no negative values                          |
/// | uint64 | `uint64_t`    | likewise                                              |
/// | double | `double`      | finite decimal, optional exponent; no nan, no inf     |
/// | string | `const char *`| any text without NUL, at most 4096 bytes of UTF-8     |
public enum ValueType: String, Codable, Sendable, CaseIterable {
    case bool, int32, int64, uint32, uint64, double, string

    /// What a text argument of this type must look like, for error messages.
    public var textForm: String {
        switch self {
        case .bool: "true, false, 1 or 0"
        case .int32: "an integer in \(Int32.min)...\(Int32.max), decimal or 0x hex"
        case .int64: "an integer in \(Int64.min)...\(Int64.max), decimal or 0x hex"
        case .uint32: "an integer in 0...\(UInt32.max), decimal or 0x hex"
        case .uint64: "an integer in 0...\(UInt64.max), decimal or 0x hex"
        case .double: "a finite decimal number such as 21.5, -3 or 2.5e-3 (not nan or inf)"
        case .string: "text without NUL bytes, at most \(CommandValue.maximumStringBytes) bytes of UTF-8"
        }
    }
}

/// One typed argument or result of a command.
///
/// Encoded (Codable) as `{"type": "int32", "value": 5}`; 64-bit integers keep their exact value.
public enum CommandValue: Sendable, Equatable, Hashable, CustomStringConvertible {
    case bool(Bool)
    case int32(Int32)
    case int64(Int64)
    case uint32(UInt32)
    case uint64(UInt64)
    case double(Double)
    case string(String)

    /// The longest string argument, in bytes of UTF-8 (without the terminating NUL).
    public static let maximumStringBytes = 4096

    public var type: ValueType {
        switch self {
        case .bool: .bool
        case .int32: .int32
        case .int64: .int64
        case .uint32: .uint32
        case .uint64: .uint64
        case .double: .double
        case .string: .string
        }
    }

    /// The value as a command prints it: `true`/`false`, decimal integers, the shortest decimal
    /// form of a double that reads back exactly (`21.5`, `1e-05`), a string as it is. For every
    /// value that `validate()` accepts, `CommandValue.parse(v.description, as: v.type) == v`.
    public var description: String {
        switch self {
        case .bool(let value): value ? "true" : "false"
        case .int32(let value): String(value)
        case .int64(let value): String(value)
        case .uint32(let value): String(value)
        case .uint64(let value): String(value)
        case .double(let value): value.description
        case .string(let value): value
        }
    }
}

/// Why a text is not a value of a type, or why a value may not be passed to a command.
public struct CommandValueError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The text is not in the type's text form (`ValueType.textForm`).
        case syntax
        /// A number in the right form that the type cannot hold.
        case outOfRange
        /// NaN or an infinity.
        case notFinite
        /// A string with a NUL byte, which a C string cannot carry.
        case containsNUL
        /// A string longer than `CommandValue.maximumStringBytes`.
        case tooLong
    }

    public var kind: Kind
    public var type: ValueType
    /// What is wrong, as a phrase: `out of range for int32 (-2147483648...2147483647)`.
    public var reason: String

    public init(_ kind: Kind, _ type: ValueType, _ reason: String) {
        self.kind = kind
        self.type = type
        self.reason = reason
    }

    public var description: String { reason }
}

// MARK: - Parsing and checking

extension CommandValue {
    /// Reads `text` as a value of `type`; nil if it is not one (see `init(parsing:as:)` for the
    /// rules and for the reason).
    public static func parse(_ text: String, as type: ValueType) -> CommandValue? {
        try? CommandValue(parsing: text, as: type)
    }

    /// Reads `text` as a value of `type`, exactly and strictly (no surrounding white space):
    /// - bool: `true`, `false`, `1` or `0`;
    /// - integers: an optional `+` or `-`, then decimal digits or `0x`/`0X` and hex digits; the value
    ///   must fit the type (`-1` is not a uint32, `3000000000` not an int32; `-0` is 0);
    /// - double: `[+-]digits[.digits][e[+-]digits]` (either side of the point may be empty, not
    ///   both); `nan`, `inf`, hex floats and values that overflow to infinity are refused;
    /// - string: any text without NUL, at most `maximumStringBytes` bytes of UTF-8.
    /// - Throws: `CommandValueError` saying what is wrong.
    public init(parsing text: String, as type: ValueType) throws(CommandValueError) {
        switch type {
        case .bool:
            switch text {
            case "true", "1": self = .bool(true)
            case "false", "0": self = .bool(false)
            default: throw CommandValueError(.syntax, type, "expected \(type.textForm)")
            }
        case .int32: self = .int32(try Self.integer(text, as: type))
        case .int64: self = .int64(try Self.integer(text, as: type))
        case .uint32: self = .uint32(try Self.integer(text, as: type))
        case .uint64: self = .uint64(try Self.integer(text, as: type))
        case .double: self = .double(try Self.double(text))
        case .string:
            self = .string(text)
            try validate()
        }
    }

    /// Checks the rules that the type alone does not express, the same that `init(parsing:as:)`
    /// applies to text: a double must be finite; a string must have no NUL byte and at most
    /// `maximumStringBytes` bytes of UTF-8.
    public func validate() throws(CommandValueError) {
        switch self {
        case .double(let value) where !value.isFinite:
            throw CommandValueError(.notFinite, .double, "\(value) is not finite; expected \(ValueType.double.textForm)")
        case .string(let value):
            var count = 0
            for byte in value.utf8 {
                if byte == 0 { throw CommandValueError(.containsNUL, .string, "contains a NUL byte, which a C string cannot carry") }
                count += 1
            }
            if count > Self.maximumStringBytes {
                throw CommandValueError(.tooLong, .string, "is \(count) bytes of UTF-8; a string may have at most \(Self.maximumStringBytes)")
            }
        default:
            break
        }
    }

    private static func integer<T: FixedWidthInteger>(_ text: String, as type: ValueType) throws(CommandValueError) -> T {
        let syntax = CommandValueError(.syntax, type, "expected \(type.textForm)")
        let range = CommandValueError(.outOfRange, type, "out of range for \(type.rawValue) (\(T.min)...\(T.max))")
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        var radix = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
        }
        // UInt64(_:radix:) would also take a sign; only digits may remain here.
        guard !digits.isEmpty, digits.utf8.allSatisfy({ radix == 16 ? $0.isHexDigit : $0.isDecimalDigit }) else { throw syntax }
        guard let magnitude = UInt64(digits, radix: radix) else { throw range }  // more than 64 bits
        if !negative {
            guard let value = T(exactly: magnitude) else { throw range }
            return value
        }
        if magnitude == 0 { return 0 }
        guard T.isSigned, magnitude <= UInt64(Int64.max) + 1 else { throw range }
        let signed = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        guard let value = T(exactly: signed) else { throw range }
        return value
    }

    private static func double(_ text: String) throws(CommandValueError) -> Double {
        let syntax = CommandValueError(.syntax, .double, "expected \(ValueType.double.textForm)")
        // [+-] digits* [. digits*] [(e|E) [+-] digits+], with at least one digit before the exponent.
        var bytes = Substring(text).utf8[...]
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let integerDigits = bytes.prefix(while: \.isDecimalDigit).count
        bytes = bytes.dropFirst(integerDigits)
        var fractionDigits = 0
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            fractionDigits = bytes.prefix(while: \.isDecimalDigit).count
            bytes = bytes.dropFirst(fractionDigits)
        }
        guard integerDigits + fractionDigits > 0 else { throw syntax }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            let exponentDigits = bytes.prefix(while: \.isDecimalDigit).count
            guard exponentDigits > 0 else { throw syntax }
            bytes = bytes.dropFirst(exponentDigits)
        }
        guard bytes.isEmpty, let value = Double(text) else { throw syntax }
        guard value.isFinite else {
            throw CommandValueError(.outOfRange, .double, "out of range for double (magnitude at most \(Double.greatestFiniteMagnitude))")
        }
        return value
    }
}

private extension UInt8 {
    var isDecimalDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    var isHexDigit: Bool {
        isDecimalDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}

// MARK: - Codable

extension CommandValue: Codable {
    private enum CodingKeys: String, CodingKey { case type, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(ValueType.self, forKey: .type) {
        case .bool: self = .bool(try container.decode(Bool.self, forKey: .value))
        case .int32: self = .int32(try container.decode(Int32.self, forKey: .value))
        case .int64: self = .int64(try container.decode(Int64.self, forKey: .value))
        case .uint32: self = .uint32(try container.decode(UInt32.self, forKey: .value))
        case .uint64: self = .uint64(try container.decode(UInt64.self, forKey: .value))
        case .double: self = .double(try container.decode(Double.self, forKey: .value))
        case .string: self = .string(try container.decode(String.self, forKey: .value))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .bool(let value): try container.encode(value, forKey: .value)
        case .int32(let value): try container.encode(value, forKey: .value)
        case .int64(let value): try container.encode(value, forKey: .value)
        case .uint32(let value): try container.encode(value, forKey: .value)
        case .uint64(let value): try container.encode(value, forKey: .value)
        case .double(let value): try container.encode(value, forKey: .value)
        case .string(let value): try container.encode(value, forKey: .value)
        }
    }
}
