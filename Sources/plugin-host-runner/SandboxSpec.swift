import Glibc
import ModuleProtocol

/// What the sandbox of one run is made of: written by the host (`SandboxSpec` in
/// Sources/PluginHost/Runtime/SandboxSpec.swift, encoded with JSONEncoder) to a file whose path is
/// `--sandbox`. The two definitions have the same stored properties, so that the synthesized
/// coding keys agree; the runner decodes with `SpecJSON` below, because it does not link
/// Foundation (it stays small and quick to start).
struct SandboxSpec: Codable, Equatable {
    struct User: Codable, Equatable {
        var uid: UInt32
        var gid: UInt32
    }

    /// The format; this runner reads 1.
    var version: Int
    /// The module's files on the host: bound read-only at /module.
    var moduleDirectory: String
    /// The module's data on the host: bound read-write at /data.
    var dataDirectory: String
    /// false: a new network namespace with only the loopback interface.
    var network: Bool
    var hostname: String
    /// cgroup directories the runner joins (writes its pid to `cgroup.procs`) before it creates
    /// any namespace; the host made them and set their limits.
    var cgroups: [String]
    /// RLIMIT_NOFILE (soft and hard); nil leaves it as inherited.
    var openFiles: UInt64?
    /// nil: the module runs as uid 0 without any capability; else as this user, which must own
    /// (or be able to write) the data directory.
    var user: User?
    /// The size of the tmpfs at /tmp.
    var temporaryBytes: UInt64
    /// More host paths bound read-only at the same path (libraries the module needs elsewhere).
    var readOnlyPaths: [String]
    /// true: a part of the sandbox that the kernel refuses stops the run (exit status 5) instead
    /// of being reported and skipped.
    var strict: Bool

    static let currentVersion = 1

    /// Reads and decodes the spec file; on failure says why on stderr and exits with status 5.
    static func load(_ path: String) -> SandboxSpec {
        guard let bytes = readFile(path) else {
            diagnose("sandbox: cannot read the sandbox spec '\(path)': \(String(cString: strerror(errno)))")
            finish(.sandboxFailed)
        }
        do {
            let spec = try SpecJSON.decode(SandboxSpec.self, from: bytes)
            guard spec.version == currentVersion else {
                diagnose("sandbox: the sandbox spec '\(path)' has version \(spec.version); this runner reads version \(currentVersion)")
                finish(.sandboxFailed)
            }
            return spec
        } catch {
            diagnose("sandbox: the sandbox spec '\(path)' is not valid: \(error)")
            finish(.sandboxFailed)
        }
    }
}

/// The whole content of a (small) file; nil with errno set if it cannot be read.
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16_384)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count > 0 {
            bytes += buffer[..<count]
        } else if count == 0 {
            return bytes
        } else if errno != EINTR {
            return nil
        }
    }
}

// MARK: - A minimal JSON decoder (RFC 8259 values into Decodable types)

enum SpecJSON {
    indirect enum Value {
        case null
        case bool(Bool)
        /// The number's text, converted when a type asks for it (exact for 64-bit integers).
        case number(String)
        case string(String)
        case array([Value])
        case object([String: Value])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var parser = Parser(bytes: bytes)
        let value = try parser.document()
        return try T(from: ValueDecoder(value: value, codingPath: []))
    }

    // MARK: Parsing

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        mutating func document() throws -> Value {
            let value = try parseValue()
            skipSpace()
            guard index == bytes.count else { throw fail("unexpected text after the JSON value") }
            return value
        }

        func fail(_ message: String) -> Failure { Failure(description: "\(message) at byte \(index)") }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ literal: String) throws {
            for byte in literal.utf8 {
                guard index < bytes.count, bytes[index] == byte else { throw fail("expected '\(literal)'") }
                index += 1
            }
        }

        mutating func parseValue() throws -> Value {
            skipSpace()
            guard index < bytes.count else { throw fail("unexpected end of the document") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                depth += 1
                defer { depth -= 1 }
                guard depth < 64 else { throw fail("nested too deeply") }
                index += 1
                var object: [String: Value] = [:]
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                while true {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    let key = try parseString()
                    skipSpace()
                    try expect(":")
                    object[key] = try parseValue()
                    skipSpace()
                    guard index < bytes.count else { throw fail("unterminated object") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect("}")
                    return .object(object)
                }
            case UInt8(ascii: "["):
                depth += 1
                defer { depth -= 1 }
                guard depth < 64 else { throw fail("nested too deeply") }
                index += 1
                var array: [Value] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
                while true {
                    array.append(try parseValue())
                    skipSpace()
                    guard index < bytes.count else { throw fail("unterminated array") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect("]")
                    return .array(array)
                }
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default:
                let start = index
                while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
                guard index > start else { throw fail("unexpected character") }
                return .number(String(decoding: bytes[start..<index], as: UTF8.self))
            }
        }

        mutating func parseString() throws -> String {
            index += 1 // the opening quote
            var scalars = String.UnicodeScalarView()
            var run: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run.removeAll()
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") {
                    flush()
                    return String(scalars)
                }
                guard byte == UInt8(ascii: "\\") else {
                    run.append(byte)
                    continue
                }
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): run.append(escape)
                case UInt8(ascii: "b"): run.append(0x08)
                case UInt8(ascii: "f"): run.append(0x0C)
                case UInt8(ascii: "n"): run.append(0x0A)
                case UInt8(ascii: "r"): run.append(0x0D)
                case UInt8(ascii: "t"): run.append(0x09)
                case UInt8(ascii: "u"):
                    flush()
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    scalars.append(scalar)
                default:
                    throw fail("invalid escape")
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw fail("invalid \\u escape")
            }
            index += 4
            return value
        }
    }

    // MARK: Decoding

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) {
            stringValue = String(intValue)
            self.intValue = intValue
        }
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "the document" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    }

    struct ValueDecoder: Decoder, SingleValueDecodingContainer {
        let value: Value
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func mismatch(_ expected: String) -> Failure {
            Failure(description: "\(SpecJSON.path(codingPath)): expected \(expected), found \(value)")
        }

        func container<K: CodingKey>(keyedBy type: K.Type) throws -> KeyedDecodingContainer<K> {
            guard case let .object(members) = value else { throw mismatch("an object") }
            return KeyedDecodingContainer(Keyed<K>(members: members, codingPath: codingPath))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            guard case let .array(elements) = value else { throw mismatch("an array") }
            return Unkeyed(elements: elements, codingPath: codingPath)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool {
            if case .null = value { return true }
            return false
        }

        func decode(_ type: Bool.Type) throws -> Bool {
            guard case let .bool(bool) = value else { throw mismatch("true or false") }
            return bool
        }

        func decode(_ type: String.Type) throws -> String {
            guard case let .string(string) = value else { throw mismatch("a string") }
            return string
        }

        func decode(_ type: Double.Type) throws -> Double {
            guard case let .number(text) = value, let number = Double(text) else { throw mismatch("a number") }
            return number
        }

        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

        func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
            guard case let .number(text) = value else { throw mismatch("an integer") }
            if let exact = T(text) { return exact }
            // 1e3 or 1000.0: accepted when the value is a whole number in range.
            guard let number = Double(text), number == number.rounded(), let whole = T(exactly: number) else {
                throw mismatch("an integer that fits \(T.self)")
            }
            return whole
        }

        func decode(_ type: Int.Type) throws -> Int { try integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }
    }

    struct Keyed<K: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [String: Value]
        let codingPath: [any CodingKey]
        var allKeys: [K] { members.keys.compactMap { K(stringValue: $0) } }

        func contains(_ key: K) -> Bool { members[key.stringValue] != nil }

        func child(_ key: K) throws -> ValueDecoder {
            guard let value = members[key.stringValue] else {
                throw Failure(description: "\(SpecJSON.path(codingPath + [key])): missing")
            }
            return ValueDecoder(value: value, codingPath: codingPath + [key])
        }

        func decodeNil(forKey key: K) throws -> Bool { try child(key).decodeNil() }
        func decode(_ type: Bool.Type, forKey key: K) throws -> Bool { try child(key).decode(type) }
        func decode(_ type: String.Type, forKey key: K) throws -> String { try child(key).decode(type) }
        func decode(_ type: Double.Type, forKey key: K) throws -> Double { try child(key).decode(type) }
        func decode(_ type: Float.Type, forKey key: K) throws -> Float { try child(key).decode(type) }
        func decode(_ type: Int.Type, forKey key: K) throws -> Int { try child(key).decode(type) }
        func decode(_ type: Int8.Type, forKey key: K) throws -> Int8 { try child(key).decode(type) }
        func decode(_ type: Int16.Type, forKey key: K) throws -> Int16 { try child(key).decode(type) }
        func decode(_ type: Int32.Type, forKey key: K) throws -> Int32 { try child(key).decode(type) }
        func decode(_ type: Int64.Type, forKey key: K) throws -> Int64 { try child(key).decode(type) }
        func decode(_ type: UInt.Type, forKey key: K) throws -> UInt { try child(key).decode(type) }
        func decode(_ type: UInt8.Type, forKey key: K) throws -> UInt8 { try child(key).decode(type) }
        func decode(_ type: UInt16.Type, forKey key: K) throws -> UInt16 { try child(key).decode(type) }
        func decode(_ type: UInt32.Type, forKey key: K) throws -> UInt32 { try child(key).decode(type) }
        func decode(_ type: UInt64.Type, forKey key: K) throws -> UInt64 { try child(key).decode(type) }
        func decode<T: Decodable>(_ type: T.Type, forKey key: K) throws -> T { try child(key).decode(type) }

        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: K) throws -> KeyedDecodingContainer<N> {
            try child(key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: K) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> any Decoder { ValueDecoder(value: .object(members), codingPath: codingPath) }
        func superDecoder(forKey key: K) throws -> any Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [Value]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        mutating func next() throws -> ValueDecoder {
            let path = codingPath + [Key(intValue: currentIndex)]
            guard !isAtEnd else { throw Failure(description: "\(SpecJSON.path(path)): past the end of the array") }
            defer { currentIndex += 1 }
            return ValueDecoder(value: elements[currentIndex], codingPath: path)
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, case .null = elements[currentIndex] else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
        mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
        mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
        mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
            try next().container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }
}
