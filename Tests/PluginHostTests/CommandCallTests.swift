import Foundation
import ModuleFFI
import ModuleProtocol
import Synchronization
import Testing
import PluginHost
@testable import PluginHostImages

// Typed commands: reading and checking arguments against the manifest (CommandValue,
// ModuleManifest.commandArguments/checkArguments), and real calls through libffi (FFISignature)
// of the functions in Tests/Fixtures/modules/commands.c, loaded into this process.

@Suite("command values: parsing")
struct CommandValueParsingTests {
    @Test("ParameterType is ModuleProtocol's ValueType, with the same JSON names")
    func parameterTypeIsValueType() throws {
        #expect(ModuleManifest.ParameterType.self == ValueType.self)
        #expect(ValueType.allCases.map(\.rawValue) == ["bool", "int32", "int64", "uint32", "uint64", "double", "string"])
        let command = ModuleManifest.Command(name: "greet", symbol: "cmd_greet", parameters: [.init(name: "name", type: .string)], returns: .string)
        let json = try JSONEncoder().encode(command)
        #expect(String(decoding: json, as: UTF8.self).contains("\"returns\":\"string\""))
        #expect(try JSONDecoder().decode(ModuleManifest.Command.self, from: json) == command)
    }

    @Test("bool: true, false, 1, 0 and nothing else")
    func bools() {
        #expect(CommandValue.parse("true", as: .bool) == .bool(true))
        #expect(CommandValue.parse("1", as: .bool) == .bool(true))
        #expect(CommandValue.parse("false", as: .bool) == .bool(false))
        #expect(CommandValue.parse("0", as: .bool) == .bool(false))
        for text in ["", "yes", "no", "TRUE", "True", " true", "true ", "2", "-1", "0x1", "01"] {
            #expect(CommandValue.parse(text, as: .bool) == nil, "\(text)")
        }
    }

    @Test("int32: decimal and hex, signs, range")
    func int32s() throws {
        let accepted: [(String, Int32)] = [
            ("0", 0), ("42", 42), ("+7", 7), ("-1", -1), ("007", 7), ("-0", 0),
            ("2147483647", .max), ("-2147483648", .min), ("0x7fffffff", .max), ("0X7FFFFFFF", .max),
            ("-0x80000000", .min), ("0x1f", 31), ("-0x10", -16),
        ]
        for (text, value) in accepted { #expect(CommandValue.parse(text, as: .int32) == .int32(value), "\(text)") }
        let outOfRange = ["2147483648", "-2147483649", "3000000000", "0x80000000", "-0x80000001", "99999999999999999999999"]
        for text in outOfRange {
            #expect(throws: CommandValueError.self, "\(text)") { try CommandValue(parsing: text, as: .int32) }
            let error = try #require(Self.error(text, .int32))
            #expect(error.kind == .outOfRange, "\(text)")
            #expect(error.reason == "out of range for int32 (-2147483648...2147483647)")
        }
        let malformed = ["", "-", "+", "0x", "-0x", "1.0", "1e3", " 1", "1 ", "1_000", "--1", "+-1", "0x-1", "0xg", "12a", "٣", "１", "0b101", "abc"]
        for text in malformed { #expect(Self.error(text, .int32)?.kind == .syntax, "\(text)") }
    }

    @Test("int64, uint32, uint64: the edges of each range")
    func widerIntegers() {
        #expect(CommandValue.parse("9223372036854775807", as: .int64) == .int64(.max))
        #expect(CommandValue.parse("-9223372036854775808", as: .int64) == .int64(.min))
        #expect(CommandValue.parse("-0x8000000000000000", as: .int64) == .int64(.min))
        #expect(CommandValue.parse("3000000000", as: .int64) == .int64(3_000_000_000))
        #expect(Self.error("9223372036854775808", .int64)?.kind == .outOfRange)
        #expect(Self.error("-9223372036854775809", .int64)?.kind == .outOfRange)
        #expect(Self.error("0x8000000000000000", .int64)?.kind == .outOfRange)

        #expect(CommandValue.parse("4294967295", as: .uint32) == .uint32(.max))
        #expect(CommandValue.parse("0xFFFFFFFF", as: .uint32) == .uint32(.max))
        #expect(CommandValue.parse("3000000000", as: .uint32) == .uint32(3_000_000_000))
        #expect(CommandValue.parse("-0", as: .uint32) == .uint32(0))
        #expect(Self.error("-1", .uint32)?.kind == .outOfRange)
        #expect(Self.error("-1", .uint32)?.reason == "out of range for uint32 (0...4294967295)")
        #expect(Self.error("4294967296", .uint32)?.kind == .outOfRange)
        #expect(Self.error("0x100000000", .uint32)?.kind == .outOfRange)

        #expect(CommandValue.parse("18446744073709551615", as: .uint64) == .uint64(.max))
        #expect(CommandValue.parse("0xffffffffffffffff", as: .uint64) == .uint64(.max))
        #expect(CommandValue.parse("0x0000000000000000000001", as: .uint64) == .uint64(1))
        #expect(Self.error("18446744073709551616", .uint64)?.kind == .outOfRange)
        #expect(Self.error("0x10000000000000000", .uint64)?.kind == .outOfRange)
        #expect(Self.error("-9223372036854775808", .uint64)?.kind == .outOfRange)
    }

    @Test("double: finite decimal and exponent forms; no nan, inf or hex")
    func doubles() {
        let accepted: [(String, Double)] = [
            ("21.5", 21.5), ("-0.5", -0.5), ("+3", 3), ("0", 0), (".5", 0.5), ("5.", 5), ("1e3", 1000), ("2.5E-3", 0.0025),
            ("-1e-300", -1e-300), ("1e+2", 100), ("1.7976931348623157e308", .greatestFiniteMagnitude), ("1e-400", 0),
            ("007.25", 7.25),
        ]
        for (text, value) in accepted { #expect(CommandValue.parse(text, as: .double) == .double(value), "\(text)") }
        let negativeZero = CommandValue.parse("-0", as: .double)
        #expect(negativeZero == .double(0))
        if case .double(let zero) = negativeZero { #expect(zero.sign == .minus) }
        for text in ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "infinity", "0x1p3", "0x10", "", ".", "-", "e5", "1e", "1e+",
                     "1.2.3", "1,5", " 1", "1 ", "1f", "1_0", "--1", "٣"] {
            #expect(Self.error(text, .double)?.kind == .syntax, "\(text)")
        }
        #expect(Self.error("1e999", .double)?.kind == .outOfRange)
        #expect(Self.error("-1.8e308", .double)?.kind == .outOfRange)
    }

    @Test("string: anything but NUL, at most 4096 bytes of UTF-8")
    func strings() {
        #expect(CommandValue.parse("", as: .string) == .string(""))
        #expect(CommandValue.parse("héllo ✓ 🌍", as: .string) == .string("héllo ✓ 🌍"))
        #expect(CommandValue.parse(" spaces and\nnewlines ", as: .string) == .string(" spaces and\nnewlines "))
        #expect(Self.error("a\0b", .string)?.kind == .containsNUL)
        #expect(Self.error("\0", .string)?.kind == .containsNUL)
        let limit = String(repeating: "x", count: 4096)
        #expect(CommandValue.parse(limit, as: .string) == .string(limit))
        #expect(Self.error(limit + "x", .string)?.kind == .tooLong)
        // The limit is in bytes: "é" is two.
        let accents = String(repeating: "é", count: 2048)
        #expect(CommandValue.parse(accents, as: .string) == .string(accents))
        #expect(Self.error(accents + "é", .string)?.kind == .tooLong)
        #expect(Self.error(accents + "é", .string)?.reason == "is 4098 bytes of UTF-8; a string may have at most 4096")
    }

    @Test("description reads back as the same value; validate() refuses what parsing refuses")
    func descriptionRoundTrip() throws {
        let values: [CommandValue] = [
            .bool(true), .bool(false), .int32(.min), .int32(.max), .int64(.min), .int64(.max), .uint32(.max), .uint64(.max),
            .double(21.5), .double(-0.0025), .double(1e-5), .double(.greatestFiniteMagnitude), .double(-.leastNonzeroMagnitude),
            .double(0.1 + 0.2), .string(""), .string("Grüße 🌍"),
        ]
        for value in values {
            #expect(CommandValue.parse(value.description, as: value.type) == value, "\(value)")
            #expect(throws: Never.self) { try value.validate() }
        }
        #expect(CommandValue.int64(.min).description == "-9223372036854775808")
        #expect(CommandValue.double(21.5).description == "21.5")
        #expect(CommandValue.string("a b").description == "a b")
        #expect(CommandValue.bool(false).description == "false")
        for bad: CommandValue in [.double(.nan), .double(.infinity), .double(-.infinity), .string("a\0"), .string(String(repeating: "y", count: 4097))] {
            #expect(throws: CommandValueError.self, "\(bad)") { try bad.validate() }
        }
    }

    @Test("Codable: {type, value}, exact at the 64-bit edges")
    func codable() throws {
        let values: [CommandValue] = [.bool(true), .int32(-5), .int64(.min), .int64(.max), .uint32(.max), .uint64(.max), .double(-2.5e-300), .string("ü\n\"x\"")]
        let data = try JSONEncoder().encode(values)
        #expect(try JSONDecoder().decode([CommandValue].self, from: data) == values)
        let one = try JSONEncoder().encode(CommandValue.int32(7))
        let object = try #require(try JSONSerialization.jsonObject(with: one) as? [String: Any])
        #expect(object["type"] as? String == "int32")
        #expect((object["value"] as? NSNumber)?.intValue == 7)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(CommandValue.self, from: Data(#"{"type":"uint32","value":-1}"#.utf8)) }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(CommandValue.self, from: Data(#"{"type":"float","value":1}"#.utf8)) }
    }

    static func error(_ text: String, _ type: ValueType) -> CommandValueError? {
        do throws(CommandValueError) {
            _ = try CommandValue(parsing: text, as: type)
            return nil
        } catch {
            return error
        }
    }
}

@Suite("command arguments: checked against the manifest")
struct CommandArgumentTests {
    /// The test module with the commands of commands.c (and one without parameters).
    static var manifest: ModuleManifest {
        var manifest = TestModule.manifest()
        manifest.commands = [
            .init(name: "set_target", symbol: "thermostat_set_target", parameters: [.init(name: "celsius", type: .double)]),
            .init(name: "calls", symbol: "cmd_calls"),
            .init(name: "add", symbol: "cmd_add", parameters: [.init(name: "a", type: .int32), .init(name: "b", type: .int32)], returns: .int32),
            .init(name: "greet", symbol: "cmd_greet", parameters: [.init(name: "name", type: .string)], returns: .string),
            .init(name: "invert", symbol: "cmd_u32", parameters: [.init(name: "bits", type: .uint32)], returns: .uint32),
            .init(name: "mixed", symbol: "cmd_mixed", parameters: [
                .init(name: "flag", type: .bool), .init(name: "small", type: .int32), .init(name: "big", type: .int64),
                .init(name: "count", type: .uint32), .init(name: "mask", type: .uint64), .init(name: "ratio", type: .double),
                .init(name: "label", type: .string),
            ]),
        ]
        do { try manifest.validate() } catch { preconditionFailure("\(error)") }
        return manifest
    }

    /// The ModuleError that `body` throws; nil (and an issue if it threw another error) if none.
    static func refusal(_ body: () throws -> Void) -> ModuleError? {
        do {
            try body()
            return nil
        } catch let error as ModuleError {
            return error
        } catch {
            Issue.record("not a ModuleError: \(error)")
            return nil
        }
    }

    @Test("signatures read like C prototypes; absent returns is int32")
    func signatures() {
        let signatures = Self.manifest.commands.map(\.signature)
        #expect(signatures == [
            "set_target(celsius: double) -> int32", "calls() -> int32", "add(a: int32, b: int32) -> int32", "greet(name: string) -> string",
            "invert(bits: uint32) -> uint32",
            "mixed(flag: bool, small: int32, big: int64, count: uint32, mask: uint64, ratio: double, label: string) -> int32",
        ])
    }

    @Test("text arguments become typed values in parameter order")
    func textArguments() throws {
        let manifest = Self.manifest
        let target = try manifest.commandArguments("set_target", ["21.5"])
        #expect(target.command.symbol == "thermostat_set_target")
        #expect(target.values == [.double(21.5)])
        #expect(try manifest.commandArguments("calls", []).values == [])
        #expect(try manifest.commandArguments("add", ["0x10", "-3"]).values == [.int32(16), .int32(-3)])
        #expect(try manifest.commandArguments("greet", [""]).values == [.string("")])
        let mixed = try manifest.commandArguments("mixed", ["1", "-5", "-9000000000", "4000000000", "0xffffffffffffffff", "2.5", "abc"])
        #expect(mixed.values == [.bool(true), .int32(-5), .int64(-9_000_000_000), .uint32(4_000_000_000), .uint64(.max), .double(2.5), .string("abc")])
    }

    @Test("an unknown command lists the module's commands with their signatures")
    func unknownCommand() throws {
        let manifest = Self.manifest
        let error = try #require(Self.refusal { _ = try manifest.commandArguments("set_targte", ["21.5"]) })
        #expect(error.code == .unknownCommand)
        #expect(error.exitCode == 21)
        #expect(error.message.hasPrefix("module com.example.testmodule has no command 'set_targte'; its commands are: "))
        for command in manifest.commands { #expect(error.message.contains(command.signature), "\(command.name)") }
        let typed = try #require(Self.refusal { try manifest.checkArguments("nope", []) })
        #expect(typed.code == .unknownCommand)

        var empty = manifest
        empty.commands = []
        let none = try #require(Self.refusal { _ = try empty.commandArguments("set_target", []) })
        #expect(none.message == "module com.example.testmodule has no command 'set_target'; it declares no commands")
    }

    @Test("a wrong number of arguments names the parameters")
    func wrongCount() throws {
        let manifest = Self.manifest
        let two = try #require(Self.refusal { _ = try manifest.commandArguments("set_target", ["21.5", "22"]) })
        #expect(two.code == .badArguments)
        #expect(two.exitCode == 21)
        #expect(two.message == "set_target takes 1 argument (celsius: double), got 2")
        #expect(Self.refusal { _ = try manifest.commandArguments("set_target", []) }?.message == "set_target takes 1 argument (celsius: double), got 0")
        #expect(Self.refusal { _ = try manifest.commandArguments("add", ["1"]) }?.message == "add takes 2 arguments (a: int32, b: int32), got 1")
        #expect(Self.refusal { _ = try manifest.commandArguments("calls", ["1"]) }?.message == "calls takes no arguments, got 1")
        #expect(Self.refusal { try manifest.checkArguments("add", [.int32(1), .int32(2), .int32(3)]) }?.message == "add takes 2 arguments (a: int32, b: int32), got 3")
    }

    @Test("a text of the wrong type names the parameter, its type, the text and the problem")
    func wrongType() throws {
        let manifest = Self.manifest
        let abc = try #require(Self.refusal { _ = try manifest.commandArguments("set_target", ["abc"]) })
        #expect(abc.code == .badArguments)
        #expect(abc.message == "set_target: argument 1 (celsius: double) got 'abc': expected \(ValueType.double.textForm)")
        #expect(abc.field == "commands[0].parameters[0]")
        #expect(Self.refusal { _ = try manifest.commandArguments("set_target", ["nan"]) }?.message.contains("'nan'") == true)
        let range = try #require(Self.refusal { _ = try manifest.commandArguments("add", ["1", "3000000000"]) })
        #expect(range.message == "add: argument 2 (b: int32) got '3000000000': out of range for int32 (-2147483648...2147483647)")
        #expect(range.field == "commands[2].parameters[1]")
        #expect(Self.refusal { _ = try manifest.commandArguments("invert", ["-1"]) }?.message == "invert: argument 1 (bits: uint32) got '-1': out of range for uint32 (0...4294967295)")
        let nul = try #require(Self.refusal { _ = try manifest.commandArguments("greet", ["a\0b"]) })
        #expect(nul.message == "greet: argument 1 (name: string) got 'a\\0b': contains a NUL byte, which a C string cannot carry")
        let long = try #require(Self.refusal { _ = try manifest.commandArguments("greet", [String(repeating: "z", count: 5000)]) })
        #expect(long.message.contains("… (5000 bytes)"))
        #expect(long.message.hasSuffix("is 5000 bytes of UTF-8; a string may have at most 4096"))
        #expect(long.message.count < 300)
        let flag = try #require(Self.refusal { _ = try manifest.commandArguments("mixed", ["yes", "1", "1", "1", "1", "1", "x"]) })
        #expect(flag.message == "mixed: argument 1 (flag: bool) got 'yes': expected true, false, 1 or 0")
    }

    @Test("typed arguments: the same checks, and the same rules for doubles and strings")
    func typedArguments() throws {
        let manifest = Self.manifest
        #expect(try manifest.checkArguments("set_target", [.double(-3.5)]).symbol == "thermostat_set_target")
        #expect(throws: Never.self) { try manifest.checkArguments("calls", []) }
        let type = try #require(Self.refusal { try manifest.checkArguments("set_target", [.int32(21)]) })
        #expect(type.code == .badArguments)
        #expect(type.message == "set_target: argument 1 (celsius: double) got a value of type int32 ('21'); pass a double")
        #expect(Self.refusal { try manifest.checkArguments("set_target", [.double(.nan)]) }?.code == .badArguments)
        #expect(Self.refusal { try manifest.checkArguments("set_target", [.double(-.infinity)]) }?.message.contains("not finite") == true)
        #expect(Self.refusal { try manifest.checkArguments("greet", [.string("a\0")]) }?.message.contains("NUL") == true)
        #expect(Self.refusal { try manifest.checkArguments("greet", [.string(String(repeating: "é", count: 2049))]) }?.code == .badArguments)
        #expect(Self.refusal { try manifest.checkArguments("add", [.int32(1), .int64(2)]) }?.message == "add: argument 2 (b: int32) got a value of type int64 ('2'); pass a int32")
    }
}

/// Loads the test module into this process and finds its functions.
enum CommandLibrary {
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    static func function(_ name: String) throws -> UnsafeRawPointer {
        let path = try TestModule.build()
        // dlopen counts references: the library stays loaded (never closed) and is the same each time.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw LoadError(description: "dlopen \(path): \(dlerror().map { String(cString: $0) } ?? "?")")
        }
        guard let symbol = dlsym(handle, name) else { throw LoadError(description: "\(name) is not in \(path)") }
        return UnsafeRawPointer(symbol)
    }

    static func call(_ name: String, _ parameters: [ValueType], _ returns: ValueType, _ arguments: [CommandValue]) throws -> CommandValue {
        try FFISignature(parameters: parameters, returns: returns).call(function(name), arguments)
    }

    /// cmd_calls(): how many cmd_* functions this process has called.
    static func calls() throws -> Int32 {
        guard case .int32(let count) = try call("cmd_calls", [], .int32, []) else { throw LoadError(description: "cmd_calls returned no int32") }
        return count
    }

    /// What cmd_mixed computes (see commands.c).
    static func mixedChecksum(_ b: Bool, _ i32: Int32, _ i64: Int64, _ u32: UInt32, _ u64: UInt64, _ d: Double, _ s: String) -> Int32 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func byte(_ value: UInt64) { hash = (hash ^ value) &* 0x100_0000_01b3 }
        func word(_ value: UInt64) { for i in 0..<8 { byte((value >> (8 * UInt64(i))) & 0xff) } }
        word(b ? 1 : 0)
        word(UInt64(bitPattern: Int64(i32)))
        word(UInt64(bitPattern: i64))
        word(UInt64(u32))
        word(u64)
        word(d.bitPattern)
        for value in s.utf8 { byte(UInt64(value)) }
        word(UInt64(s.utf8.count))
        return Int32(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    /// What cmd_sum16 computes (see commands.c).
    static func sum16(_ values: [CommandValue]) -> Int64 {
        var sum: UInt64 = 0
        for (index, value) in values.enumerated() {
            let term: UInt64 = switch value {
            case .bool(let v): v ? 1 : 0
            case .int32(let v): UInt64(bitPattern: Int64(v))
            case .int64(let v): UInt64(bitPattern: v)
            case .uint32(let v): UInt64(v)
            case .uint64(let v): v
            case .double(let v): UInt64(bitPattern: Int64(v))
            case .string: 0
            }
            sum = sum &+ UInt64(index + 1) &* term
        }
        return Int64(bitPattern: sum)
    }
}

// Serialized: the refusal test reads cmd_calls before and after, and no other test may call a
// cmd_* function in between.
@Suite("command calls through libffi", .serialized)
struct FFICallTests {
    typealias L = CommandLibrary

    @Test("int32 and int64: sign, wrap-around and the extremes")
    func signedIntegers() throws {
        let add = try FFISignature(parameters: [.int32, .int32], returns: .int32)
        let addFunction = try L.function("cmd_add")
        #expect(try add.call(addFunction, [.int32(1), .int32(2)]) == .int32(3))
        #expect(try add.call(addFunction, [.int32(-5), .int32(-7)]) == .int32(-12))
        #expect(try add.call(addFunction, [.int32(.max), .int32(1)]) == .int32(.min))
        #expect(try add.call(addFunction, [.int32(.min), .int32(0)]) == .int32(.min))
        #expect(try add.call(addFunction, [.int32(.min), .int32(-1)]) == .int32(.max))

        let mul = try FFISignature(parameters: [.int64, .int64], returns: .int64)
        let mulFunction = try L.function("cmd_mul64")
        #expect(try mul.call(mulFunction, [.int64(.min), .int64(1)]) == .int64(.min))
        #expect(try mul.call(mulFunction, [.int64(.max), .int64(-1)]) == .int64(-Int64.max))
        #expect(try mul.call(mulFunction, [.int64(-3), .int64(3_000_000_000)]) == .int64(-9_000_000_000))
        #expect(try mul.call(mulFunction, [.int64(.min), .int64(-1)]) == .int64(.min))
        #expect(try mul.call(mulFunction, [.int64(1 << 40), .int64(1 << 20)]) == .int64(1 << 60))
    }

    @Test("uint32 and uint64: the top bit is not a sign")
    func unsignedIntegers() throws {
        #expect(try L.call("cmd_u32", [.uint32], .uint32, [.uint32(0)]) == .uint32(.max))
        #expect(try L.call("cmd_u32", [.uint32], .uint32, [.uint32(.max)]) == .uint32(0))
        #expect(try L.call("cmd_u32", [.uint32], .uint32, [.uint32(4_000_000_000)]) == .uint32(~UInt32(4_000_000_000)))
        #expect(try L.call("cmd_u32", [.uint32], .uint32, [.uint32(0x7fff_ffff)]) == .uint32(0x8000_0000))
        #expect(try L.call("cmd_u64_max", [], .uint64, []) == .uint64(.max))
        for value: UInt64 in [0, 1, 1 << 63, .max, 0x0123_4567_89ab_cdef] {
            #expect(try L.call("cmd_u64", [.uint64], .uint64, [.uint64(value)]) == .uint64(value))
        }
    }

    @Test("double: negative, tiny, huge, signed zero")
    func doubles() throws {
        let scale = try FFISignature(parameters: [.double, .double], returns: .double)
        let function = try L.function("cmd_scale")
        #expect(try scale.call(function, [.double(-2.5), .double(4)]) == .double(-10))
        #expect(try scale.call(function, [.double(21.5), .double(-0.5)]) == .double(-10.75))
        #expect(try scale.call(function, [.double(.leastNonzeroMagnitude), .double(1)]) == .double(.leastNonzeroMagnitude))
        #expect(try scale.call(function, [.double(-.greatestFiniteMagnitude), .double(1)]) == .double(-.greatestFiniteMagnitude))
        // The module may return what the host would not accept as an argument.
        #expect(try scale.call(function, [.double(1e308), .double(10)]) == .double(.infinity))
        guard case .double(let zero) = try scale.call(function, [.double(-0.0), .double(1)]) else { Issue.record("not a double"); return }
        #expect(zero == 0 && zero.sign == .minus)
    }

    @Test("bool: C bool both ways")
    func bools() throws {
        let not = try FFISignature(parameters: [.bool], returns: .bool)
        let function = try L.function("cmd_not")
        #expect(try not.call(function, [.bool(true)]) == .bool(false))
        #expect(try not.call(function, [.bool(false)]) == .bool(true))
    }

    @Test("string: copied at once, empty, unicode, NULL, an argument returned as the result")
    func strings() throws {
        let greet = try FFISignature(parameters: [.string], returns: .string)
        let function = try L.function("cmd_greet")
        #expect(try greet.call(function, [.string("world")]) == .string("hello, world"))
        #expect(try greet.call(function, [.string("")]) == .string("hello, "))
        let unicode = "Grüße, 世界 🌍 \u{301}"
        #expect(try greet.call(function, [.string(unicode)]) == .string("hello, " + unicode))
        #expect(try L.call("cmd_strlen", [.string], .int32, [.string(unicode)]) == .int32(Int32(unicode.utf8.count)))
        let longest = String(repeating: "ß", count: 2048)
        #expect(try greet.call(function, [.string(longest)]) == .string("hello, " + longest))
        // cmd_greet reuses its buffer: each result must have been copied before the next call.
        let first = try greet.call(function, [.string("a")])
        _ = try greet.call(function, [.string("b")])
        #expect(first == .string("hello, a"))

        let echo = try FFISignature(parameters: [.string], returns: .string)
        let echoFunction = try L.function("cmd_echo")
        for text in ["", "x", unicode, String(repeating: "long text ", count: 100), String("abc:def".split(separator: ":")[1])] {
            #expect(try echo.call(echoFunction, [.string(text)]) == .string(text))
        }
        #expect(try L.call("cmd_null", [], .string, []) == .string(""))
    }

    @Test("seven parameters of seven types arrive in order and at full width")
    func mixedArguments() throws {
        let types: [ValueType] = [.bool, .int32, .int64, .uint32, .uint64, .double, .string]
        let mixed = try FFISignature(parameters: types, returns: .int32)
        let mixedText = try FFISignature(parameters: types, returns: .string)
        let function = try L.function("cmd_mixed")
        let textFunction = try L.function("cmd_mixed_text")
        let cases: [(Bool, Int32, Int64, UInt32, UInt64, Double, String)] = [
            (true, -5, -9_000_000_000, 4_000_000_000, .max, 2.5, "abc"),
            (false, .min, .min, 0, 0, -0.0, ""),
            (true, .max, .max, .max, 1 << 63, -1e-300, "ünïcode 🌍"),
            (false, 1, 2, 3, 4, 5, "6"),
        ]
        for (b, i32, i64, u32, u64, d, s) in cases {
            let arguments: [CommandValue] = [.bool(b), .int32(i32), .int64(i64), .uint32(u32), .uint64(u64), .double(d), .string(s)]
            #expect(try mixed.call(function, arguments) == .int32(L.mixedChecksum(b, i32, i64, u32, u64, d, s)), "\(arguments)")
        }
        let text = try mixedText.call(textFunction, [.bool(true), .int32(-5), .int64(-9_000_000_000), .uint32(4_000_000_000), .uint64(.max), .double(2.5), .string("abc")])
        #expect(text == .string("true -5 -9000000000 4000000000 18446744073709551615 2.5 abc"))
    }

    @Test("16 parameters, the manifest's maximum: mixed types, 16 strings, 16 doubles")
    func sixteenParameters() throws {
        let arguments: [CommandValue] = [
            .int32(-1), .int64(-9_000_000_000), .double(-2.75), .uint32(.max), .uint64(.max), .bool(true), .int32(.min), .double(1e6),
            .int64(.max), .uint32(7), .double(3.99), .int32(.max), .uint64(1 << 63), .bool(false), .double(-123.5), .int64(.min),
        ]
        let sum16 = try FFISignature(parameters: arguments.map(\.type), returns: .int64)
        #expect(try sum16.call(L.function("cmd_sum16"), arguments) == .int64(L.sum16(arguments)))
        let small: [CommandValue] = arguments.enumerated().map { index, value in
            switch value.type {
            case .bool: .bool(index % 2 == 1)
            case .int32: .int32(Int32(index))
            case .int64: .int64(Int64(index))
            case .uint32: .uint32(UInt32(index))
            case .uint64: .uint64(UInt64(index))
            case .double: .double(Double(index))
            case .string: .string("")
            }
        }
        #expect(try sum16.call(L.function("cmd_sum16"), small) == .int64(L.sum16(small)))

        let strings = (0..<16).map { CommandValue.string("s\($0)") }
        let join = try FFISignature(parameters: Array(repeating: .string, count: 16), returns: .string)
        #expect(try join.call(L.function("cmd_join16"), strings) == .string((0..<16).map { "s\($0)" }.joined(separator: ",")))

        let doubles = (0..<16).map { CommandValue.double(Double($0) + 0.5) }
        let dsum = try FFISignature(parameters: Array(repeating: .double, count: 16), returns: .double)
        var expected = 0.0
        for index in 0..<16 {
            let position = Double(index + 1), value = Double(index) + 0.5
            expected += position * value
        }
        #expect(try dsum.call(L.function("cmd_dsum16"), doubles) == .double(expected))
    }

    @Test("from the manifest: text arguments, checked, then called")
    func manifestToCall() throws {
        let manifest = CommandArgumentTests.manifest
        func run(_ name: String, _ texts: [String]) throws -> CommandValue {
            let (command, values) = try manifest.commandArguments(name, texts)
            let signature = try FFISignature(parameters: command.parameters.map(\.type), returns: command.resultType)
            return try signature.call(L.function(command.symbol), values)
        }
        #expect(try run("add", ["0x7fffffff", "-0x7fffffff"]) == .int32(0))
        #expect(try run("greet", ["Zoë"]) == .string("hello, Zoë"))
        #expect(try run("invert", ["0xFFFF0000"]) == .uint32(0x0000_FFFF))
        #expect(try run("calls", []) == .int32(try L.calls()))
        #expect(try run("mixed", ["true", "-5", "-9000000000", "4000000000", "18446744073709551615", "2.5", "abc"])
            == .int32(L.mixedChecksum(true, -5, -9_000_000_000, 4_000_000_000, .max, 2.5, "abc")))
    }

    @Test("a refused call makes no call: cmd_calls does not move")
    func refusedCallsMakeNoCall() throws {
        let manifest = CommandArgumentTests.manifest
        let add = try FFISignature(parameters: [.int32, .int32], returns: .int32)
        let addFunction = try L.function("cmd_add")
        let greet = try FFISignature(parameters: [.string], returns: .string)
        let greetFunction = try L.function("cmd_greet")
        let before = try L.calls()

        // The manifest refuses: nothing reaches libffi.
        for (name, texts) in [("add", ["1"]), ("add", ["1", "x"]), ("add", ["1", "3000000000"]), ("nope", []), ("greet", ["a\0b"])] {
            #expect(throws: ModuleError.self, "\(name) \(texts)") {
                let (command, values) = try manifest.commandArguments(name, texts)
                _ = try FFISignature(parameters: command.parameters.map(\.type), returns: command.resultType).call(L.function(command.symbol), values)
            }
        }
        #expect(throws: ModuleError.self) {
            try manifest.checkArguments("add", [.int32(1), .double(2)])
            _ = try add.call(addFunction, [.int32(1), .double(2)])
        }
        // The signature refuses: wrong count, wrong type, NUL.
        for arguments: [CommandValue] in [[], [.int32(1)], [.int32(1), .int32(2), .int32(3)], [.int32(1), .uint32(2)], [.int64(1), .int32(2)]] {
            do throws(FFIError) {
                _ = try add.call(addFunction, arguments)
                Issue.record("called cmd_add with \(arguments)")
            } catch {
                #expect(error.kind == (arguments.count == 2 ? .argumentType : .argumentCount), "\(arguments)")
            }
        }
        do throws(FFIError) {
            _ = try greet.call(greetFunction, [.string("a\0b")])
            Issue.record("called cmd_greet with a NUL byte")
        } catch {
            #expect(error.kind == .stringContainsNUL)
            #expect(error.message == "argument 1 of the function (string) -> string holds a NUL byte, which a C string cannot carry")
        }
        #expect(try L.calls() == before)

        // One accepted call moves it by one.
        #expect(try add.call(addFunction, [.int32(2), .int32(2)]) == .int32(4))
        #expect(try L.calls() == before + 1)
    }

    @Test("one signature, called from several threads at once")
    func concurrentCalls() throws {
        let mixed = try FFISignature(parameters: [.bool, .int32, .int64, .uint32, .uint64, .double, .string], returns: .int32)
        let address = UInt(bitPattern: try L.function("cmd_mixed"))
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            guard let function = UnsafeRawPointer(bitPattern: address) else { return }
            for i in 0..<500 {
                let label = "t\(thread)-\(i)"
                let arguments: [CommandValue] = [.bool(i % 2 == 0), .int32(Int32(i)), .int64(Int64(thread) << 40), .uint32(UInt32(i)), .uint64(UInt64(thread)), .double(Double(i) / 3), .string(label)]
                let expected = L.mixedChecksum(i % 2 == 0, Int32(i), Int64(thread) << 40, UInt32(i), UInt64(thread), Double(i) / 3, label)
                if (try? mixed.call(function, arguments)) != .int32(expected) { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }
}
