#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
import PluginHostStore

/// A module following a channel: a tag in a registry (`registry/repo:stable`) that its publisher
/// moves from release to release. `plugin-host follow` records it in
/// `<state>/channels/<module-id>.json`; the running host checks the tag every `everySeconds`
/// (with jitter) and, when it points at a new digest, pulls that image and installs it through
/// the update engine (Documentation/Delivery.md).
///
/// The file is written when it is followed and when the host acted on a new digest, never for a
/// check that found nothing new: a device checking every 15 minutes writes nothing to flash.
public struct FollowedChannel: Codable, Sendable, Equatable {
    /// The module the channel delivers; an image of another module is refused.
    public var module: String
    /// The tag, written in full (`ImageReference.description`).
    public var reference: String
    public var everySeconds: Double
    /// How to reach the registry.
    public var registry: Access
    /// Seconds since 1970 when it was followed.
    public var since: Double
    /// The digest the tag pointed at when the host last acted on it: installed it, found it
    /// already running, or refused it (a failed health check, a bad signature). The host acts
    /// again only when the tag moves away from this digest, so a release that rolled back is not
    /// retried in a loop. Following the channel again (`plugin-host follow`) forgets it.
    public var seen: String?
    /// What the host did with `seen`.
    public var outcome: Outcome?
    /// An image whose manifest asks for `capabilities.root` may be installed from this channel
    /// (`follow --allow-root-module`); nil or false: such an image is refused.
    public var allowRootModule: Bool?

    public struct Access: Codable, Sendable, Equatable {
        /// Credentials as `skopeo login` writes them; nil: the default auth files.
        public var authFile: String?
        /// Plain HTTP (the registry is listed as insecure).
        public var insecure = false
        /// A PEM file of the CAs to trust for this registry instead of the system's.
        public var caFile: String?
        /// The platform to pick from an image index (`os/arch[/variant]`); nil: this device's.
        public var platform: String?

        public init(authFile: String? = nil, insecure: Bool = false, caFile: String? = nil, platform: String? = nil) {
            self.authFile = authFile
            self.insecure = insecure
            self.caFile = caFile
            self.platform = platform
        }

        /// The arguments of a `plugin-host pull --json` of `reference` this way (`--unless-at`
        /// `unlessAt`, if given).
        public func pullArguments(reference: ImageReference, stateDirectory: String, unlessAt: String? = nil) -> [String] {
            var arguments = ["pull", reference.description, "--json", "--state-dir", stateDirectory]
            if let unlessAt { arguments += ["--unless-at", unlessAt] }
            if let authFile { arguments += ["--authfile", authFile] }
            if insecure { arguments += ["--insecure-registry", reference.registry] }
            if let caFile { arguments += ["--registry-ca", reference.registry + "=" + caFile] }
            if let platform { arguments += ["--platform", platform] }
            return arguments
        }
    }

    public struct Outcome: Codable, Sendable, Equatable {
        public enum Result: String, Codable, Sendable {
            /// Installed and committed.
            case installed
            /// The module already ran this image.
            case current
            /// Not installed: refused before anything changed (signature, version policy, another
            /// module's image, no image for this platform).
            case refused
            /// Installed, then rolled back: it failed a hook or its health check, or broke soon
            /// after it committed.
            case rolledBack = "rolled-back"

            /// What became of an image whose install threw `code`: rolled back when a hook, the
            /// health check or the runner failed after it was unpacked (the engine's rollback),
            /// refused when it was stopped before anything changed.
            public init(failedInstall code: ModuleError.Code) {
                self = [.hookFailed, .unhealthy, .runnerFailed].contains(code) ? .rolledBack : .refused
            }
        }
        public var result: Result
        /// The tag's digest (an index's, for a multi-platform image).
        public var digest: String
        /// The image manifest chosen for this device.
        public var manifest: String?
        public var version: String?
        public var reason: String?
        /// Seconds since 1970.
        public var at: Double

        public init(result: Result, digest: String, manifest: String? = nil, version: String? = nil, reason: String? = nil, at: Double = Date().timeIntervalSince1970) {
            self.result = result
            self.digest = digest
            self.manifest = manifest
            self.version = version
            self.reason = reason
            self.at = at
        }
    }

    public init(module: String, reference: ImageReference, every: Double, registry: Access, since: Double = Date().timeIntervalSince1970,
                allowRootModule: Bool = false) {
        self.module = module
        self.reference = reference.description
        everySeconds = every
        self.registry = registry
        self.since = since
        self.allowRootModule = allowRootModule ? true : nil
    }

    /// The arguments of the `plugin-host pull` that checks the channel: `--unless-at` the digest
    /// last acted on, and how to reach the registry.
    public func pullArguments(stateDirectory: String) throws(ModuleError) -> [String] {
        registry.pullArguments(reference: try ImageReference(parsing: reference), stateDirectory: stateDirectory, unlessAt: seen)
    }

    // MARK: The files

    /// `<state>/channels`.
    public static func directory(stateDirectory: String) -> String { stateDirectory + "/channels" }

    static func path(stateDirectory: String, module: String) -> String { directory(stateDirectory: stateDirectory) + "/" + module + ".json" }

    /// Every followed channel, sorted by module, and a line for each file that cannot be read
    /// (it is skipped, and stays for the operator to fix or `unfollow`).
    public static func all(stateDirectory: String) -> (channels: [FollowedChannel], unreadable: [String]) {
        let root = directory(stateDirectory: stateDirectory)
        var channels: [FollowedChannel] = []
        var unreadable: [String] = []
        for name in Files.list(root) where name.hasSuffix(".json") {
            let module = String(name.dropLast(".json".count))
            guard ModuleManifest.isModuleID(module) else { continue }
            do throws(ModuleError) {
                if let channel = try load(stateDirectory: stateDirectory, module: module) { channels.append(channel) }
            } catch {
                unreadable.append(error.message)
            }
        }
        return (channels.sorted { $0.module < $1.module }, unreadable)
    }

    /// The channel `module` follows, or nil.
    /// - Throws: `ModuleError` `.malformedJSON` if its file is damaged, `.io`.
    public static func load(stateDirectory: String, module: String) throws(ModuleError) -> FollowedChannel? {
        let file = path(stateDirectory: stateDirectory, module: module)
        let bytes: [UInt8]
        do { bytes = try Files.readBytes(file) } catch {
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw StateFiles.ioError(error)
        }
        do { return try JSONDecoder().decode(FollowedChannel.self, from: Data(bytes)) } catch {
            throw ModuleError(.malformedJSON, "the channel file '\(file)' is damaged: follow the channel again (`plugin-host follow \(module) REF`) or `plugin-host unfollow \(module)`", field: file, underlying: "\(error)")
        }
    }

    /// Writes the channel's file (atomically, fsync'd).
    public func save(stateDirectory: String) throws(ModuleError) {
        try StateFiles.makeStateDirectory(stateDirectory)
        try StateFiles.makeDirectory(Self.directory(stateDirectory: stateDirectory))
        try StateFiles.writeAtomically(try OCI.encode(self), to: Self.path(stateDirectory: stateDirectory, module: module))
    }

    /// Stops following; false if `module` followed nothing.
    @discardableResult
    public static func remove(stateDirectory: String, module: String) throws(ModuleError) -> Bool {
        let file = path(stateDirectory: stateDirectory, module: module)
        guard Files.exists(file) else { return false }
        try StateFiles.removeFile(file)
        return true
    }

    // MARK: Intervals

    /// `15m`, `1h30m`, `90s`, `2d`, or a number of seconds.
    public static func parseInterval(_ text: String) -> Double? {
        if let seconds = Double(text), seconds.isFinite, seconds > 0 { return seconds }
        var total = 0.0
        var number = ""
        var units = 0
        for character in text {
            if character.isASCII && (character.isNumber || character == ".") {
                number.append(character)
                continue
            }
            let scale: Double
            switch character {
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            default: return nil
            }
            guard let value = Double(number) else { return nil }
            total += value * scale
            number = ""
            units += 1
        }
        guard number.isEmpty, units > 0, total > 0, total.isFinite else { return nil }
        return total
    }

    /// `15m`, `1h30m`, `45s`: the form `parseInterval` reads.
    public static func intervalText(_ seconds: Double) -> String {
        var left = Int(seconds.rounded())
        guard left > 0 else { return "\(seconds)s" }
        var text = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where left >= size {
            text += "\(left / size)\(unit)"
            left %= size
        }
        return text
    }
}
