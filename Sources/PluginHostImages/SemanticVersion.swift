/// A Semantic Versioning 2.0.0 version (`1.4.0`, `2.0.0-rc.1+build.7`), compared by its precedence
/// rules: numeric identifiers numerically, a pre-release below its release, build metadata ignored.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible, Codable {
    public var major: UInt64
    public var minor: UInt64
    public var patch: UInt64
    public var preRelease: [String]
    public var build: [String]

    public init(major: UInt64, minor: UInt64, patch: UInt64, preRelease: [String] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.preRelease = preRelease
        self.build = build
    }

    /// Parses a strict SemVer string; returns nil for anything else (`1.2`, `v1.2.3`, `01.2.3`).
    public init?(_ text: String) {
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !build.isEmpty, build.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isIdentifierCharacter) }) else { return nil }
            rest = rest[..<plus]
        }
        var preRelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            preRelease = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !preRelease.isEmpty else { return nil }
            for identifier in preRelease {
                guard !identifier.isEmpty, identifier.allSatisfy(Self.isIdentifierCharacter) else { return nil }
                if identifier.allSatisfy(\.isASCIIDigit), identifier.count > 1, identifier.first == "0" { return nil }
            }
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3 else { return nil }
        var numbers: [UInt64] = []
        for part in core {
            guard !part.isEmpty, part.allSatisfy(\.isASCIIDigit), part == "0" || part.first != "0",
                  let value = UInt64(part) else { return nil }
            numbers.append(value)
        }
        self.init(major: numbers[0], minor: numbers[1], patch: numbers[2], preRelease: preRelease, build: build)
    }

    private static func isIdentifierCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-")
    }

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !preRelease.isEmpty { text += "-" + preRelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    // MARK: - Precedence (SemVer §11): ordering, equality and hashing agree

    /// Precedence per SemVer §11 (build metadata does not take part).
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        precedence(lhs, rhs) == .ascending
    }

    /// Equal precedence: build metadata is ignored, so `1.0.0+a == 1.0.0+b`, as `Comparable`
    /// requires (`a == b` exactly when neither `a < b` nor `b < a`). This is what "same version"
    /// means for installs; use `isIdentical(to:)` where the build metadata must match too.
    public static func == (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        precedence(lhs, rhs) == .same
    }

    /// Hashes what `==` compares: the core numbers and the pre-release identifiers (numeric ones
    /// by value), not the build metadata.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(patch)
        hasher.combine(preRelease.count)
        for identifier in preRelease {
            if let digits = Self.numericValue(identifier) {
                hasher.combine(0 as UInt8)
                hasher.combine(digits)
            } else {
                hasher.combine(1 as UInt8)
                hasher.combine(identifier)
            }
        }
    }

    /// The same text, build metadata included (`1.0.0+a` is not identical to `1.0.0+b`).
    public func isIdentical(to other: SemanticVersion) -> Bool {
        major == other.major && minor == other.minor && patch == other.patch
            && preRelease == other.preRelease && build == other.build
    }

    private enum Order { case ascending, same, descending }

    private static func precedence(_ lhs: SemanticVersion, _ rhs: SemanticVersion) -> Order {
        for (a, b) in [(lhs.major, rhs.major), (lhs.minor, rhs.minor), (lhs.patch, rhs.patch)] where a != b {
            return a < b ? .ascending : .descending
        }
        // A pre-release has lower precedence than its release.
        switch (lhs.preRelease.isEmpty, rhs.preRelease.isEmpty) {
        case (true, true): return .same
        case (true, false): return .descending
        case (false, true): return .ascending
        case (false, false): break
        }
        for (a, b) in zip(lhs.preRelease, rhs.preRelease) {
            let order = identifierPrecedence(a, b)
            if order != .same { return order }
        }
        // A larger set of pre-release fields has higher precedence when all before are equal.
        if lhs.preRelease.count == rhs.preRelease.count { return .same }
        return lhs.preRelease.count < rhs.preRelease.count ? .ascending : .descending
    }

    /// Numeric identifiers compare numerically (of any length) and below alphanumeric ones, which
    /// compare in ASCII order.
    private static func identifierPrecedence(_ a: String, _ b: String) -> Order {
        switch (numericValue(a), numericValue(b)) {
        case let (x?, y?):
            if x.count != y.count { return x.count < y.count ? .ascending : .descending }
            return x == y ? .same : (x < y ? .ascending : .descending)
        case (_?, nil): return .ascending
        case (nil, _?): return .descending
        case (nil, nil):
            let (x, y) = (Array(a.utf8), Array(b.utf8))
            return x == y ? .same : (x.lexicographicallyPrecedes(y) ? .ascending : .descending)
        }
    }

    /// The digits of a numeric identifier without leading zeros (`"0"` for zero), or nil if the
    /// identifier is alphanumeric. The parser refuses leading zeros; the memberwise initializer does not.
    private static func numericValue(_ identifier: String) -> Substring? {
        guard !identifier.isEmpty, identifier.allSatisfy(\.isASCIIDigit) else { return nil }
        let digits = Substring(identifier).drop { $0 == "0" }
        return digits.isEmpty ? "0" : digits
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let version = SemanticVersion(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a semantic version such as 1.2.0 or 2.0.0-rc.1")
        }
        self = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
