import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import PluginHost

/// How `pull` and `install REF` reach registries (Documentation/Delivery.md).
struct RegistryFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Registry credentials as `skopeo login` writes them (default: $REGISTRY_AUTH_FILE, then containers' and Docker's auth files).", valueName: "file"))
    var authfile: String?

    @Option(help: ArgumentHelp("A registry (host[:port]) to speak plain HTTP to; repeat for several. Every other registry is HTTPS.", valueName: "host[:port]"))
    var insecureRegistry: [String] = []

    @Option(help: ArgumentHelp("A PEM file of the CAs to trust for one registry, instead of the system's; repeat for several.", valueName: "host[:port]=file"))
    var registryCa: [String] = []

    @Option(help: ArgumentHelp("The platform to pick from a multi-platform image (default: this device's).", valueName: "os/arch[/variant]"))
    var platform: String?

    func validate() throws {
        for entry in registryCa where !entry.contains("=") {
            throw ValidationError("--registry-ca takes host[:port]=file, e.g. registry.local:5000=/etc/plugin-host/registry-ca.pem; got '\(entry)'")
        }
        if let platform, Platform(platform) == nil {
            throw ValidationError("--platform takes os/arch[/variant], e.g. linux/arm64 or linux/arm/v7; got '\(platform)'")
        }
    }

    var options: RegistryOptions {
        var options = RegistryOptions()
        options.authFiles = authfile.map { [$0] }
        options.insecureRegistries = Set(insecureRegistry)
        for entry in registryCa {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            options.caFiles[parts[0]] = parts[1]
        }
        if let platform, let parsed = Platform(platform) { options.platform = parsed }
        return options
    }
}

/// Pulls `reference` into the state directory's content store, reporting progress on standard
/// error (one JSON object a line with `json`; one line redrawn in place on a terminal).
func pullImage(_ reference: ImageReference, stateDir: String, registry: RegistryFlags, json: Bool) throws(ModuleError) -> PulledImage {
    let store = ContentStore(stateDirectory: stateDir)
    let client = try RegistryClient(options: registry.options)
    let reporter = PullProgress(style: json ? .json : isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb" ? .terminal : .lines)
    defer { reporter.finish() }
    return try client.pull(reference, into: store) { reporter.report($0) }
}

/// How `pull` and `install REF` show a pull: on a terminal one line per blob, redrawn in place
/// (bytes, rate, time left) at most ten times a second; piped, plain lines, a progress line at
/// most every 5 s per blob; with `--json`, one JSON object per event.
final class PullProgress {
    enum Style { case terminal, lines, json }

    let style: Style
    /// The blob being downloaded: when and from which offset it started (a resumed download's
    /// rate counts only what this run received), and when its progress was last shown.
    private var started: ContinuousClock.Instant = .now
    private var startOffset: UInt64 = 0
    private var lastShown: ContinuousClock.Instant?
    /// Whether the terminal's last line is a progress line to redraw.
    private var open = false

    init(style: Style) { self.style = style }

    func report(_ event: PullEvent) {
        if case let .blobStarted(_, offset) = event {
            started = .now
            startOffset = offset
            lastShown = nil
        }
        if case .blobProgress = event {
            let interval: Duration = style == .terminal ? .milliseconds(100) : style == .lines ? .seconds(5) : .zero
            if let lastShown, ContinuousClock.now - lastShown < interval { return }
            lastShown = .now
        }
        let text = line(event)
        switch style {
        case .terminal:
            if case .blobProgress = event {
                writeToStandardError("\r\u{1B}[K" + text)
                open = true
            } else {
                writeToStandardError((open ? "\r\u{1B}[K" : "") + text + "\n")
                open = false
            }
        case .lines, .json:
            writeToStandardError(text + "\n")
        }
    }

    /// Ends a progress line left open (the pull failed in the middle of a blob).
    func finish() {
        if open { writeToStandardError("\n") }
        open = false
    }

    func line(_ event: PullEvent) -> String {
        let json = style == .json
        switch event {
        case let .blobPresent(descriptor):
            return json ? Self.object(["event": "present", "digest": "\(descriptor.digest)", "size": descriptor.size])
                : "\(Self.short(descriptor)): already present"
        case let .blobStarted(descriptor, offset):
            return json ? Self.object(["event": "start", "digest": "\(descriptor.digest)", "size": descriptor.size, "offset": offset])
                : "\(Self.short(descriptor)): downloading \(Self.bytes(UInt64(descriptor.size)))\(offset > 0 ? ", resuming at \(Self.bytes(offset))" : "")"
        case let .blobProgress(descriptor, received):
            let seconds = max((ContinuousClock.now - started) / .seconds(1), 0.001)
            let rate = Double(received - min(startOffset, received)) / seconds
            let size = UInt64(max(descriptor.size, 0))
            let left = rate > 0 ? Double(size - min(received, size)) / rate : 0
            let percent = size > 0 ? Int(Double(received) * 100 / Double(size)) : 100
            return json ? Self.object(["event": "progress", "digest": "\(descriptor.digest)", "size": descriptor.size, "bytes": received])
                : "\(Self.short(descriptor)): \(Self.bytes(received)) of \(Self.bytes(size)) (\(percent) %), \(Self.bytes(UInt64(rate)))/s, \(Int(left.rounded())) s left"
        case let .blobDone(descriptor, received):
            return json ? Self.object(["event": "done", "digest": "\(descriptor.digest)", "size": descriptor.size, "received": received])
                : "\(Self.short(descriptor)): done (\(Self.bytes(received)) received)"
        case let .retrying(what, attempt, delay):
            let pause = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            return json ? Self.object(["event": "retry", "reason": what, "attempt": attempt, "delaySeconds": pause])
                : "retrying in \(Int(pause.rounded(.up))) s (attempt \(attempt) failed: \(what))"
        }
    }

    private static func short(_ descriptor: OCI.Descriptor) -> String { "blob " + String(descriptor.digest.hex.prefix(12)) }

    static func bytes(_ count: UInt64) -> String { SizeText.short(count) }

    private static func object(_ fields: [String: any Sendable]) -> String {
        let parts = fields.keys.sorted().map { key -> String in
            let value = fields[key]!
            switch value {
            case let text as String:
                let escaped = text.unicodeScalars.map { scalar -> String in
                    switch scalar {
                    case "\"": "\\\""
                    case "\\": "\\\\"
                    case _ where scalar.value < 0x20: "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                    default: String(scalar)
                    }
                }.joined()
                return "\"\(key)\":\"\(escaped)\""
            default:
                return "\"\(key)\":\(value)"
            }
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch a module image from an OCI registry into the content store, without installing it.",
        discussion: """
        REF is registry[:port]/repository[:tag] or …@sha256:<digest>. Blobs already in the store \
        are not fetched again; a cut download resumes where it stopped. Progress goes to standard \
        error: on a terminal one line per blob, redrawn in place (bytes, rate, time left); \
        piped, plain lines; with --json, one JSON object per event. Exit codes: 0 pulled; 10 a blob or manifest did not match its digest or size; \
        12 REF is not a reference; 14 the state directory cannot be written; 24 the registry \
        could not be reached, refused, or has no image for this platform.
        """
    )

    @Argument(help: ArgumentHelp("The image in a registry.", valueName: "ref"))
    var reference: String

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @OptionGroup var registry: RegistryFlags

    @Flag(help: "Report progress as one JSON object a line, and the result (or the error) as JSON on standard output.")
    var json = false

    @Option(help: ArgumentHelp("Do nothing if the tag still points at this digest (one HEAD request, not retried); else pull what it points at now. What the running host runs to check a channel.", valueName: "digest"))
    var unlessAt: String?

    func run() throws {
        let (digest, pulled) = try CLI.run(json: json) { () throws(ModuleError) -> (Digest, PulledImage?) in
            var parsed = try ImageReference(parsing: reference)
            if let unlessAt {
                guard let known = Digest(unlessAt) else {
                    throw ModuleError(.invalidValue, "--unless-at takes a digest, sha256:<64 hex>; got '\(unlessAt)'", field: "unless-at")
                }
                var once = registry.options
                once.attempts = 1
                let current = try RegistryClient(options: once).currentDigest(of: parsed)
                if current == known { return (current, nil) }
                // What the tag points at now, not what it may point at by the time of the pull.
                parsed.digest = current
            }
            let pulled = try pullImage(parsed, stateDir: stateDir, registry: registry, json: json)
            return (parsed.digest ?? pulled.index ?? pulled.manifest.digest, pulled)
        }
        let report = PullReport(reference: reference, digest: digest, pulled: pulled)
        if json {
            try printJSON(report)
        } else if let pulled {
            let present = pulled.blobs.filter { $0.received == 0 }.count
            print("pulled \(pulled.reference) \(pulled.manifest.digest) (\(pulled.blobs.count) blobs, \(PullProgress.bytes(report.received)) received, \(present) already present)")
        } else {
            print("\(reference) still points at \(digest): nothing pulled")
        }
    }
}

struct CollectContent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove pulled blobs that no installed or previous version needs.",
        discussion: """
        The content store keeps the images of every module's current and previous version. Other \
        blobs, and partial downloads, are removed once they are older than a day (so that an \
        image pulled ahead of its install stays until then), or at once with --now. \
        `install REF` does the same after each install.
        """
    )

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @Flag(help: "Also remove what was pulled or partly downloaded in the last day.")
    var now = false

    func run() throws {
        let collected = try CLI.run { () throws(ModuleError) -> ContentStore.Collected in
            try openEngine(stateDir).collectContent(grace: now ? .zero : .seconds(24 * 3600))
        }
        print("removed \(collected.blobs) blob(s) and \(collected.partials) partial download(s), \(PullProgress.bytes(collected.bytes))")
    }
}

struct Follow: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep a module on a channel: the running host installs what a registry tag points at, whenever it moves.",
        discussion: """
        The running host (`plugin-host run`) checks REF every --every (with ±10 % jitter; a HEAD \
        request, no image bytes). When the tag points at a new digest it pulls that image and \
        installs it as `install` does: verified against the trusted keys, health-checked, rolled \
        back if it fails. A digest that was refused or rolled back is not tried again until the \
        tag moves on; following again forgets it. A check that fails (no network, the registry \
        down) is retried sooner, backing off up to --every, and changes nothing on the device. \
        An image that asks to run as root is refused unless --allow-root-module is given here. \
        Recorded in <state-dir>/channels/<module-id>.json. Exit codes: 0 followed; 12 a bad \
        REF, module id or interval; 14 the state directory cannot be written.
        """
    )

    @Argument(help: "Module id, e.g. com.example.thermostat (it need not be installed yet).")
    var id: String

    @Argument(help: ArgumentHelp("The channel: an image tag in a registry.", valueName: "ref"))
    var reference: String

    @Option(help: ArgumentHelp("How often to check: 30s, 15m, 1h, 1h30m, 1d.", valueName: "interval"))
    var every = "15m"

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @OptionGroup var root: RootModuleFlag

    @OptionGroup var registry: RegistryFlags

    func run() throws {
        let channel = try CLI.run { () throws(ModuleError) -> FollowedChannel in
            guard ModuleManifest.isModuleID(id) else {
                throw ModuleError(.invalidValue, "'\(id)' is not a module id (reverse-DNS, e.g. com.example.thermostat)", field: "id")
            }
            let parsed = try ImageReference(parsing: reference)
            guard let seconds = FollowedChannel.parseInterval(every) else {
                throw ModuleError(.invalidValue, "--every '\(every)' is not an interval: write 30s, 15m, 1h, 1h30m or 1d", field: "every")
            }
            guard parsed.digest == nil else {
                throw ModuleError(.invalidValue, "'\(reference)' names a digest, which never moves: follow a tag (e.g. \(parsed.registry)/\(parsed.repository):stable), or install the digest with `plugin-host install`", field: "reference")
            }
            let options = registry.options
            let access = FollowedChannel.Access(authFile: registry.authfile, insecure: options.insecureRegistries.contains(parsed.registry),
                                                caFile: options.caFiles[parsed.registry], platform: registry.platform)
            let channel = FollowedChannel(module: id, reference: parsed, every: seconds, registry: access, allowRootModule: root.allowRootModule)
            try channel.save(stateDirectory: stateDir)
            return channel
        }
        let host = HostRuntime.runningSnapshot(stateDirectory: stateDir) != nil
        print("\(id) follows \(channel.reference), checked every \(FollowedChannel.intervalText(channel.everySeconds))"
              + (host ? " by the running host (first check within a second)" : "; no host runs on \(stateDir) now: `plugin-host run` checks it"))
    }
}

struct Unfollow: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop following a module's channel; the installed version stays.",
        discussion: "Exit codes: 0 done; 17 the module follows no channel; 14 the state directory cannot be written."
    )

    @Argument(help: "Module id.")
    var id: String

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    func run() throws {
        try CLI.run { () throws(ModuleError) in
            guard try FollowedChannel.remove(stateDirectory: stateDir, module: id) else {
                throw ModuleError(.notInstalled, "\(id) follows no channel (`plugin-host list` shows which modules do)", field: id)
            }
        }
        print("\(id) no longer follows a channel; its installed version stays")
    }
}

/// How `list` and `status` show a channel: `follows REF every 15m; last: installed 1.2.0 (sha256:…)`.
func channelText(_ channel: FollowedChannel) -> String {
    var text = "follows \(channel.reference) every \(FollowedChannel.intervalText(channel.everySeconds))"
    if channel.allowRootModule == true { text += " (root modules allowed)" }
    if let outcome = channel.outcome {
        text += "; last: \(outcome.result.rawValue)\(outcome.version.map { " " + $0 } ?? "") (\(outcome.digest.prefix(19))…) at \(date(outcome.at))"
        if let reason = outcome.reason, outcome.result != .installed { text += ": \(reason)" }
    }
    return text
}
