#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// JSON coding for values the stores keep (`KeyValueStore` values, `Outbox` Codable payloads).
///
/// The only place in Storage that uses Foundation. Keys are sorted, so the same value always gives
/// the same bytes; non-finite numbers (a sensor's NaN) are written as the strings "NaN",
/// "+Infinity" and "-Infinity" instead of failing.
enum StorageJSON {
    static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return Array(try encoder.encode(value))
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws -> Value {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(type, from: Data(bytes))
    }

    /// Whether `bytes` are one JSON value (any value: a scalar, an array, an object).
    static func isJSON(_ bytes: [UInt8]) -> Bool {
        (try? JSONDecoder().decode(AnyValue.self, from: Data(bytes))) != nil
    }

    /// Decodes any JSON value and keeps nothing of it.
    private struct AnyValue: Decodable {
        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                while !array.isAtEnd { _ = try array.decode(AnyValue.self) }
            } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
                for key in object.allKeys { _ = try object.decode(AnyValue.self, forKey: key) }
            } else {
                let value = try decoder.singleValueContainer()
                if !value.decodeNil(), (try? value.decode(Bool.self)) == nil, (try? value.decode(Double.self)) == nil {
                    _ = try value.decode(String.self)
                }
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A one-line reason for a coding failure: what was expected where, without the whole dump.
    static func reason(_ error: any Error) -> String {
        if let error = error as? DecodingError {
            switch error {
            case .typeMismatch(let type, let context):
                return "expected \(type) at \(path(context.codingPath)): \(sentence(context.debugDescription))"
            case .valueNotFound(let type, let context):
                return "no \(type) at \(path(context.codingPath)): \(sentence(context.debugDescription))"
            case .keyNotFound(let key, let context):
                return "key '\(key.stringValue)' missing at \(path(context.codingPath))"
            case .dataCorrupted(let context):
                return "\(sentence(context.debugDescription)) at \(path(context.codingPath))"
            @unknown default:
                return "\(error)"
            }
        }
        if let error = error as? EncodingError, case .invalidValue(let value, let context) = error {
            return "cannot encode \(value) at \(path(context.codingPath)): \(sentence(context.debugDescription))"
        }
        return "\(error)"
    }

    /// `text` without its closing full stop, to be followed by more of the message.
    private static func sentence(_ text: String) -> Substring {
        text.hasSuffix(".") ? text.dropLast() : Substring(text)
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "the top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// The name of a value's type as errors and the `type` column show it (`Swift.Int`,
    /// `MyApp.Settings`), without the `(unknown context at $…)` parts that types declared inside a
    /// function get, which differ from one build to the next.
    static func typeName<Value>(_ type: Value.Type) -> String {
        var name = Substring(String(reflecting: type))
        var result = ""
        while let start = name.firstRange(of: "(unknown context at $") {
            result += name[..<start.lowerBound]
            name = name[start.upperBound...]
            guard let close = name.firstIndex(of: ")") else { break }
            name = name[name.index(after: close)...]
            if name.first == "." { name = name.dropFirst() }
        }
        return result + name
    }
}
