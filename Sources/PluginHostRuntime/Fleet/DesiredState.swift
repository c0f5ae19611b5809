#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginHostImages
import PluginHostRegistry

/// What the fleet's back end wants a device to run: the retained JSON document on
/// `<prefix>devices/<device>/desired` (Documentation/Fleet.md).
///
/// ```json
/// {"revision": "2026-12-07.1",
///  "modules": {
///    "com.example.thermostat": {"image": "registry.local:5000/acme/thermostat:1.2.0", "digest": "sha256:…"},
///    "com.example.logger": {"channel": "registry.local:5000/acme/logger:stable", "every": "15m"},
///    "com.example.display": {"enabled": false}}}
/// ```
///
/// A module names an image (a tag, or pinned by `digest` or `@sha256:…`), which is installed
/// once; or a channel (a tag the device follows, checked `every`), as `plugin-host follow`; or
/// neither, for a module already on the device whose `enabled` alone is set. `enabled` (default
/// true) false installs the image but runs no version of the module. A module the fleet
/// installed that a later desired state no longer names is removed (its data kept); a module
/// installed by hand and never named is left alone.
///
/// Parsing checks the whole document and reports every problem at once, so that a desired state
/// is applied whole or not at all.
public struct DesiredState: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// Install this image once (a tag is resolved when the desired state arrives).
        case image(ImageReference)
        /// Follow this tag, checked every so many seconds.
        case channel(ImageReference, every: Double)
        /// Nothing to install: the module must be on the device already.
        case installed
    }

    public struct Module: Sendable, Equatable {
        public var source: Source
        public var enabled: Bool
    }

    /// The back end's name for this desired state, or the SHA-256 of the document.
    public var revision: String
    public var modules: [String: Module]

    /// The largest document read (a desired state is a few hundred bytes per module).
    public static let maximumSize = 256 << 10
    /// `every` of a channel when the document gives none.
    public static let defaultChannelInterval = 900.0

    /// Reads a desired-state document.
    /// - Throws: `DesiredStateError` listing every problem found, each saying what to write instead.
    public init(parsing bytes: [UInt8]) throws(DesiredStateError) {
        guard bytes.count <= Self.maximumSize else {
            throw DesiredStateError(["the document is \(bytes.count) bytes; a desired state may have at most \(Self.maximumSize)"])
        }
        let digest = Digest(of: Data(bytes)).description
        let document: JSONValue
        do { document = try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) } catch {
            throw DesiredStateError(["the document is not JSON (\(Self.describe(error))): publish a JSON object {\"modules\": {\"<module id>\": {\"image\": \"<registry>/<repository>:<tag>\"}}}"])
        }
        guard case let .object(top) = document else {
            throw DesiredStateError(["the document is not a JSON object: publish {\"modules\": {…}}"])
        }
        var problems: [String] = []
        for key in top.keys.sorted() where !["modules", "revision"].contains(key) {
            problems.append("unknown field '\(key)' (a desired state has 'modules' and 'revision')")
        }
        switch top["revision"] {
        case nil: revision = digest
        case let .string(text)? where !text.isEmpty && text.utf8.count <= 200: revision = text
        default:
            revision = digest
            problems.append("'revision' must be a string of 1 to 200 bytes")
        }
        var modules: [String: Module] = [:]
        switch top["modules"] {
        case let .object(entries)?:
            for (id, value) in entries.sorted(by: { $0.key < $1.key }) {
                do throws(DesiredStateError) {
                    modules[id] = try Self.module(id, value)
                } catch {
                    problems += error.problems
                }
            }
        case nil: problems.append("'modules' is missing: give an object of module ids, {} for none")
        default: problems.append("'modules' must be an object of module ids")
        }
        guard problems.isEmpty else { throw DesiredStateError(problems) }
        self.modules = modules
    }

    public init(revision: String, modules: [String: Module]) {
        self.revision = revision
        self.modules = modules
    }

    private static func module(_ id: String, _ value: JSONValue) throws(DesiredStateError) -> Module {
        guard ModuleManifest.isModuleID(id) else {
            throw DesiredStateError(["'\(id)' is not a module id (lowercase reverse-DNS, e.g. com.example.thermostat)"])
        }
        guard case let .object(fields) = value else {
            throw DesiredStateError(["\(id): must be an object such as {\"image\": \"<registry>/<repository>:<tag>\"}"])
        }
        var problems: [String] = []
        for key in fields.keys.sorted() where !["image", "digest", "channel", "every", "enabled"].contains(key) {
            problems.append("\(id): unknown field '\(key)' (a module has image, digest, channel, every and enabled)")
        }
        var enabled = true
        switch fields["enabled"] {
        case nil: break
        case let .bool(value)?: enabled = value
        default: problems.append("\(id): 'enabled' must be true or false")
        }
        func string(_ key: String) -> String? {
            switch fields[key] {
            case nil: return nil
            case let .string(text)?: return text
            default:
                problems.append("\(id): '\(key)' must be a string")
                return nil
            }
        }
        func reference(_ key: String, _ text: String) -> ImageReference? {
            do throws(ModuleError) {
                return try ImageReference(parsing: text)
            } catch {
                problems.append("\(id): '\(key)' \(error.message)")
                return nil
            }
        }
        let image = string("image"), channel = string("channel"), digest = string("digest"), every = string("every")
        var source = Source.installed
        switch (image, channel) {
        case (.some, .some):
            problems.append("\(id): give 'image' (installed once) or 'channel' (followed), not both")
        case let (text?, nil):
            if every != nil { problems.append("\(id): 'every' belongs to a channel, not to an image") }
            if var parsed = reference("image", text) {
                if let digest {
                    if let pinned = Digest(digest) {
                        if let own = parsed.digest, own != pinned {
                            problems.append("\(id): 'digest' \(digest) differs from the one in 'image' (\(own))")
                        }
                        parsed.digest = pinned
                    } else {
                        problems.append("\(id): 'digest' '\(digest)' is not a digest (sha256: and 64 lowercase hex digits)")
                    }
                }
                source = .image(parsed)
            }
        case let (nil, text?):
            if digest != nil { problems.append("\(id): a channel follows a tag and takes no 'digest': give 'image' with the digest to pin one") }
            var seconds = defaultChannelInterval
            if let every {
                if let parsed = FollowedChannel.parseInterval(every) { seconds = parsed } else {
                    problems.append("\(id): 'every' '\(every)' is not an interval (e.g. 15m, 1h30m, 90s)")
                }
            }
            if let parsed = reference("channel", text) {
                if parsed.digest != nil {
                    problems.append("\(id): 'channel' \(text) names a digest, which never moves: give a tag, or use 'image'")
                } else {
                    source = .channel(parsed, every: seconds)
                }
            }
        case (nil, nil):
            if digest != nil || every != nil { problems.append("\(id): 'digest' and 'every' need an 'image' or a 'channel'") }
        }
        guard problems.isEmpty else { throw DesiredStateError(problems) }
        return Module(source: source, enabled: enabled)
    }

    private static func describe(_ error: any Error) -> String {
        if case let DecodingError.dataCorrupted(context) = error {
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// Why a desired state was not applied: every problem found, one line each.
public struct DesiredStateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "; ") }
}

/// JSON as it was written, for checking a document field by field.
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}
