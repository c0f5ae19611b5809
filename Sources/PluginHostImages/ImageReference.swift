/// A reference to an image in a registry, as `docker pull`, skopeo and containerd write it:
/// `[registry[:port]/]repository[:tag][@sha256:<hex>]` (the distribution project's grammar).
///
/// - The first component is the registry when it has a `.` or a `:` or is `localhost`
///   (`127.0.0.1:5000/sensors/climate:1.2`); otherwise the registry is Docker Hub (`docker.io`),
///   and a one-component repository there is in `library/`, as the docker CLI has it.
/// - Without a tag or a digest the tag is `latest`. With a digest the digest decides what is
///   pulled; a tag beside it is kept for display only.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry's host and optional port, as written (`registry.example.com`, `127.0.0.1:5000`).
    public var registry: String
    /// The repository path inside the registry (`sensors/climate`).
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    /// The registry Docker Hub's short names mean.
    public static let dockerHub = "docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses `text`.
    /// - Throws: `ModuleError` `.invalidValue` (field `reference`) that says which part is wrong.
    public init(parsing text: String) throws(ModuleError) {
        func invalid(_ why: String) -> ModuleError {
            ModuleError(.invalidValue, "'\(text)' is not an image reference: \(why); write registry[:port]/repository[:tag][@sha256:<64 hex>], e.g. 127.0.0.1:5000/sensors/climate:1.2", field: "reference")
        }
        guard !text.isEmpty else { throw invalid("it is empty") }
        guard text.utf8.count <= 512 else { throw invalid("it is longer than 512 bytes") }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            guard let digest = Digest(digestText) else { throw invalid("'\(digestText)' is not a sha256:<64 lowercase hex> digest") }
            self.digest = digest
            rest = rest[..<at]
        } else {
            digest = nil
        }
        // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tag = String(rest[rest.index(after: colon)...])
            guard Self.isTag(tag) else { throw invalid("'\(tag)' is not a tag (letters, digits, '_', '.', '-', up to 128, not starting with '.' or '-')") }
            self.tag = tag
            rest = rest[..<colon]
        } else {
            tag = nil
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, Self.isRegistry(components[0]) {
            registry = components.removeFirst()
            guard Self.isHostAndPort(registry) else { throw invalid("'\(registry)' is not a registry host[:port]") }
        } else {
            registry = Self.dockerHub
            if components.count == 1 { components.insert("library", at: 0) }
        }
        for component in components where !Self.isPathComponent(component) {
            throw invalid(component.isEmpty ? "the repository has an empty path component"
                : "'\(component)' is not a repository path component (lowercase letters and digits, separated by '.', '_', '__' or dashes)")
        }
        repository = components.joined(separator: "/")
        guard repository.utf8.count <= 255 else { throw invalid("the repository name is longer than 255 bytes") }
    }

    /// What a pull asks the registry for: the digest if there is one, else the tag (`latest` by default).
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The reference as it would be written in full: `registry/repository[:tag][@digest]`.
    public var description: String {
        var text = registry + "/" + repository
        if let tag { text += ":" + tag }
        if let digest { text += "@" + digest.description }
        if tag == nil && digest == nil { text += ":latest" }
        return text
    }

    // MARK: The grammar

    /// Whether the first component names a registry rather than a repository path.
    static func isRegistry(_ component: String) -> Bool {
        component.contains(".") || component.contains(":") || component == "localhost" || component.contains { $0.isUppercase }
    }

    /// host[:port]: DNS labels (letters, digits, '-'), dotted, or an IPv6 literal in brackets; a
    /// port of 1 to 5 digits.
    static func isHostAndPort(_ text: String) -> Bool {
        var host = Substring(text)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            return isPort(host.dropFirst())
        }
        if let colon = host.firstIndex(of: ":") {
            guard isPort(host[host.index(after: colon)...]) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    private static func isPort(_ text: Substring) -> Bool {
        (1...5).contains(text.count) && text.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isPathComponent(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        guard let first = bytes.first, let last = bytes.last, alphanumeric(first), alphanumeric(last) else { return false }
        var index = 0
        while index < bytes.count {
            if alphanumeric(bytes[index]) { index += 1; continue }
            // A separator: ".", "_", "__" or one or more "-", between alphanumerics.
            var end = index
            switch bytes[index] {
            case UInt8(ascii: "."): end = index + 1
            case UInt8(ascii: "_"): end = index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "_") ? index + 2 : index + 1
            case UInt8(ascii: "-"): while end < bytes.count && bytes[end] == UInt8(ascii: "-") { end += 1 }
            default: return false
            }
            guard end < bytes.count, alphanumeric(bytes[end]) else { return false }
            index = end
        }
        return true
    }

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
    static func isTag(_ text: String) -> Bool {
        func word(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
        guard let first = text.first, word(first), text.count <= 128 else { return false }
        return text.allSatisfy { word($0) || $0 == "." || $0 == "-" }
    }
}
