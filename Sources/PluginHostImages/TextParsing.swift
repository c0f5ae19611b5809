#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The few text helpers the host needs that FoundationEssentials does not have (the host links
// FoundationEssentials only, not Foundation with its ICU data: a smaller binary and fewer pages).

extension StringProtocol {
    /// The text without leading and trailing white space, line ends and NUL bytes (sysfs and
    /// device-tree files end in "\n" or "\0").
    package var trimmed: String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace || $0 == "\0" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// Whether `data` is one well-formed JSON value; nil if it is, else what is wrong, as the JSON
/// decoder says it.
func jsonSyntaxError(_ data: Data) -> String? {
    struct AnyJSON: Decodable {
        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                while !array.isAtEnd { _ = try array.decode(AnyJSON.self) }
            } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
                for key in object.allKeys { _ = try object.decode(AnyJSON.self, forKey: key) }
            } else {
                _ = try decoder.singleValueContainer()
            }
        }
    }
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    do {
        _ = try JSONDecoder().decode(AnyJSON.self, from: data)
        return nil
    } catch let DecodingError.dataCorrupted(context) {
        return context.underlyingError.map { "\($0)" } ?? context.debugDescription
    } catch {
        return "\(error)"
    }
}

/// A non-negative number with one decimal, rounded half up ("1.5", "12.0").
func oneDecimal(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
