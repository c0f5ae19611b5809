import LinuxSupport
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginHost
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How `install` and `run` sandbox the module code they run.
struct SandboxFlags: ParsableArguments {
    @Flag(help: "Run module code in plain child processes, without namespaces and cgroups (for debugging).")
    var noSandbox = false

    @Flag(help: "Refuse to run module code when any part of the sandbox or any resource limit cannot be applied (by default the module runs with what the kernel offers, and status reports the rest).")
    var strictSandbox = false

    @Option(help: ArgumentHelp("What the sandbox's syscall filter does with a call it stops: enforce (EPERM) or log (the call runs; see what a module would hit in `plugin-host status` and the audit log). Counted either way.",
                               valueName: "enforce|log"))
    var syscallFilter: SyscallFilterMode = .enforce

    func validate() throws {
        if noSandbox && strictSandbox { throw ValidationError("--no-sandbox and --strict-sandbox contradict each other: give one") }
    }

    /// nil without the sandbox.
    var options: SandboxOptions? { noSandbox ? nil : SandboxOptions(strict: strictSandbox, syscallFilter: syscallFilter.mode) }
}

/// `install`'s and `follow`'s permission for a module that asks to run as root.
struct RootModuleFlag: ParsableArguments {
    @Flag(help: "Let the module run as uid 0 (still without capabilities) if its manifest asks for it (capabilities.root); without this flag such an image is refused with exit code 26. Other modules run as a user of their own.")
    var allowRootModule = false
}

/// `--syscall-filter`'s values. The filter cannot be turned off on its own: `--no-sandbox` runs
/// module code with no sandbox at all.
enum SyscallFilterMode: String, ExpressibleByArgument, CaseIterable {
    case enforce, log

    var mode: SandboxSpec.SyscallFilter { self == .enforce ? .enforce : .log }
}

/// Opens the state directory for a change: takes its lock and replays interrupted transactions,
/// telling the user what recovery did.
func openEngine(_ stateDir: String, sandbox: SandboxOptions? = SandboxOptions(), waitSeconds: Double = 10) throws(ModuleError) -> UpdateEngine {
    let runner = ChildProcessRunner.locate().map {
        ChildProcessRunner(executable: $0, sandbox: sandbox, stateDirectory: stateDir)
    }
    // A running host holds the state directory for a moment when it reconciles, and another
    // command may be finishing: wait for it a little before saying busy.
    let engine = try UpdateEngine(stateDirectory: stateDir, runner: runner, waitingForLock: .milliseconds(Int64(waitSeconds * 1000)))
    for line in engine.recoveryLog {
        writeToStandardError("plugin-host: recovered: \(line)\n")
    }
    return engine
}

/// Makes an existing state directory that other users may enter root's alone again (0700), and
/// says so on stderr; `install` does it before it writes there, `run` (HostService) at start.
func tightenStateDirectory(_ stateDir: String) throws(ModuleError) {
    if let line = try StateFiles.tightenStateDirectory(stateDir) { writeToStandardError("plugin-host: \(line)\n") }
}

func date(_ seconds: Double) -> String {
    Date(timeIntervalSince1970: seconds).formatted(.iso8601)
}

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify, install and activate a module image; roll back by itself if the new version is not healthy.",
        discussion: """
        Steps: verify the image (digests, signature, manifest, the signing key's scope and \
        expiry) and the version policy; unpack; verify hook; snapshot the module's data; install \
        hook; switch `current`; start hook; \
        start the module and judge its health (ready, heartbeats, stability window, health hook); \
        commit hook; commit. A failure after unpacking rolls back to the version that was active. \
        Exit codes: 0 committed; 10-16 refused before anything changed (image, signature, \
        manifest, files, layer content, version policy); 18 another plugin-host is busy; \
        20 the new version failed a hook or its health check and was rolled back; 24 the \
        registry could not be reached, refused, or has no image for this platform (nothing \
        installed); 25 the image's signing key may not sign this module, or has expired (nothing \
        installed); 26 the manifest asks for root without --allow-root-module, or no module user \
        is left (nothing installed). An image in a registry is pulled first (as `pull`), then \
        installed the same way. The module runs as a user of its own, which owns its data directory.
        """
    )

    @Argument(help: "OCI image layout directory, a .tar of one, or an image in a registry (registry[:port]/repository[:tag][@sha256:…]).")
    var image: String

    @Option(help: "The tag to install when the image's index.json lists several.")
    var tag: String?

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @OptionGroup var sandbox: SandboxFlags

    @OptionGroup var root: RootModuleFlag

    @OptionGroup var registry: RegistryFlags

    func run() throws {
        try CLI.run { () throws(ModuleError) in try tightenStateDirectory(stateDir) }
        // Not a file or directory here: an image in a registry.
        if !Files.exists(image) {
            let reference = try CLI.run { () throws(ModuleError) -> ImageReference in
                do throws(ModuleError) {
                    return try ImageReference(parsing: image)
                } catch {
                    throw ModuleError(.io, "there is no image file or directory '\(image)', and it is not an image reference (\(error.message))", field: image)
                }
            }
            return try installPulled(reference)
        }
        // A running host stops supervising the module while it changes (so the new version's
        // health check does not run beside the old one) and takes it up again afterwards.
        let id = ImageVerifier.claimedModuleID(ofImageAt: image, reference: tag)
        if let id { _ = try? ControlServer.send(.init("pause", module: id), stateDirectory: stateDir) }
        defer { if let id { _ = try? ControlServer.send(.init("resume", module: id), stateDirectory: stateDir) } }
        let report = try CLI.run { () throws(ModuleError) -> UpdateEngine.Report in
            try openEngine(stateDir, sandbox: sandbox.options).install(imageAt: image, reference: tag, allowingRoot: root.allowRootModule)
        }
        print("\(report.id) \(report.active.map { "\($0)" } ?? "?") installed and committed (logs: \(report.record.logDirectory))")
    }

    private func installPulled(_ reference: ImageReference) throws {
        let pulled = try CLI.run { () throws(ModuleError) -> PulledImage in
            try pullImage(reference, stateDir: stateDir, registry: registry, json: false)
        }
        let store = ContentStore(stateDirectory: stateDir)
        let id = (try? pulled.source(in: store)).flatMap { ImageVerifier.claimedModuleID(of: $0) }
        if let id { _ = try? ControlServer.send(.init("pause", module: id), stateDirectory: stateDir) }
        defer { if let id { _ = try? ControlServer.send(.init("resume", module: id), stateDirectory: stateDir) } }
        let report = try CLI.run { () throws(ModuleError) -> UpdateEngine.Report in
            let engine = try openEngine(stateDir, sandbox: sandbox.options)
            let report = try engine.install(ImageVerifier(trust: engine.trust).verify(pulled.source(in: store)), allowingRoot: root.allowRootModule)
            // What the versions replaced by this one needed, and pulls abandoned long ago, go.
            if let collected = (try? engine.collectContent())?.afterInstall { writeToStandardError(collected + "\n") }
            return report
        }
        print("\(report.id) \(report.active.map { "\($0)" } ?? "?") installed and committed from \(reference)@\(pulled.manifest.digest) (logs: \(report.record.logDirectory))")
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the modules installed on this host.")

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @Flag(help: "Print a JSON array of module status objects (as `status --json`), each with the channel it follows, if any.")
    var json = false

    func run() throws {
        let modules = try CLI.run { () throws(ModuleError) -> [ModuleStatus] in
            try recoverIfIdle(stateDir)
            return try UpdateEngine.list(stateDirectory: stateDir)
        }
        let (followed, unreadable) = FollowedChannel.all(stateDirectory: stateDir)
        let channels = Dictionary(uniqueKeysWithValues: followed.map { ($0.module, $0) })
        // A followed module that has no directory yet (the channel has not installed it) is listed too.
        let waiting = followed.filter { channel in !modules.contains { $0.id == channel.module } }
        if json {
            let listed = modules.map { Listed(id: $0.id, status: $0, channel: channels[$0.id]) }
                + waiting.map { Listed(id: $0.module, status: nil, channel: $0) }
            try printJSON(listed)
            return
        }
        for line in unreadable { writeToStandardError("plugin-host: \(line)\n") }
        if modules.isEmpty && followed.isEmpty { print("no modules installed in \(stateDir)"); return }
        for module in modules {
            let version = module.version.map { "\($0)" } ?? "-"
            let previous = module.previousVersion.map { " (previous \($0))" } ?? ""
            let last = module.lastTransaction.map { "  last: \($0.kind.rawValue) \($0.result.rawValue) \(date($0.finishedAt))" } ?? ""
            print("\(module.id)  \(version)  \(module.state.rawValue)\(previous)\(last)")
            if let channel = channels[module.id] { print("    \(channelText(channel))") }
            if module.disabled == true { print("    disabled: the fleet's desired state says enabled: false; no version of it runs") }
        }
        for channel in waiting {
            print("\(channel.module)  -  not-installed")
            print("    \(channelText(channel))")
        }
    }

    /// A module's status with the channel it follows, as one JSON object (a module the channel
    /// has not installed yet: its id, state `not-installed` and the channel).
    struct Listed: Encodable {
        var id: String
        var status: ModuleStatus?
        var channel: FollowedChannel?

        enum Keys: String, CodingKey { case id, state, channel }

        func encode(to encoder: any Encoder) throws {
            try status?.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            if status == nil {
                try container.encode(id, forKey: .id)
                try container.encode(ModuleStatus.State.notInstalled, forKey: .state)
            }
            try container.encodeIfPresent(channel, forKey: .channel)
        }
    }
}

/// `list` and `status` replay an interrupted transaction first when no other process is working
/// on the state directory, so that what they show is what will run; when another is, they show
/// the state as it is (`updating`).
func recoverIfIdle(_ stateDir: String) throws(ModuleError) {
    guard FileManager.default.fileExists(atPath: stateDir + "/modules") else { return }
    do { _ = try openEngine(stateDir, waitSeconds: 0) } catch where error.code == .busy {
        return
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one module: its active and previous versions, and its last update, rollback or removal.",
        discussion: "Exit codes: 0 shown; 17 the module is not installed."
    )

    @Argument(help: "Module id, e.g. com.example.thermostat. Without it: the running host and every module.")
    var id: String?

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        guard let id else { return try hostStatus() }
        let running = HostRuntime.runningSnapshot(stateDirectory: stateDir)?.modules.first { $0.id == id }
        let status = try CLI.run { () throws(ModuleError) -> ModuleStatus in
            try recoverIfIdle(stateDir)
            return try UpdateEngine.status(id: id, stateDirectory: stateDir)
        }
        if json { try printJSON(status); return }
        print("module     \(status.id)")
        if let running {
            print("running    \(running.state.rawValue) since \(date(running.since)), \(running.restarts) restart(s)\(running.lastFailure.map { "; last failure: \($0)" } ?? "")")
        } else {
            print("running    no (the host is not running, or does not run this module)")
        }
        print("state      \(status.state.rawValue)")
        print("version    \(status.version.map { "\($0)" } ?? "-")\(status.versionDirectory.map { " (versions/\($0))" } ?? "")")
        print("previous   \(status.previousVersion.map { "\($0)" } ?? "-")")
        if let key = status.keyID { print("signed by  \(key)") }
        if let digest = status.imageManifestDigest { print("image      \(digest)") }
        print("data       \(status.dataDirectory)")
        if let user = status.user { print("user       \(user)\(user == .root ? " (root: the manifest asks for capabilities.root)" : "")") }
        if let last = status.lastTransaction {
            print("last       \(last.kind.rawValue) \(last.from ?? "-") -> \(last.to ?? "-"): \(last.result.rawValue) at \(date(last.finishedAt))")
            if let reason = last.reason { print("reason     \(reason)") }
            print("logs       \(last.logDirectory)")
        }
        if let channel = try? FollowedChannel.load(stateDirectory: stateDir, module: id) { print("channel    \(channelText(channel))") }
    }
}

extension Status {
    /// The running host's view: each module's state and restarts, and the host's recent events.
    func hostStatus() throws {
        let snapshot = HostRuntime.runningSnapshot(stateDirectory: stateDir)
        let installed = try CLI.run { () throws(ModuleError) -> [ModuleStatus] in try UpdateEngine.list(stateDirectory: stateDir) }
        if json {
            struct Report: Encodable { var host: HostRuntime.Snapshot?; var installed: [ModuleStatus] }
            try printJSON(Report(host: snapshot, installed: installed))
            return
        }
        guard let snapshot else {
            print("host       not running (no live \(HostRuntime.statusPath(stateDirectory: stateDir)))")
            for module in installed { print("installed  \(module.id) \(module.version.map { "\($0)" } ?? "-") \(module.state.rawValue)") }
            return
        }
        print("host       running, pid \(snapshot.pid), status of \(date(snapshot.updatedAt))")
        for module in snapshot.modules {
            print("module     \(module.id) \(module.version): \(module.state.rawValue), \(module.restarts) restart(s)\(module.lastFailure.map { "; last failure: \($0)" } ?? "")")
            if let denials = module.syscallDenials { print("  syscalls stopped by the filter: \(SyscallDenials.summary(denials))") }
        }
        for channel in snapshot.channels ?? [] {
            let last = channel.lastCheck.map { "last check \(date($0))" + (channel.lastError.map { " failed: \($0)" } ?? " worked") } ?? "not checked yet"
            let next = channel.checking ? "checking now" : channel.nextCheckIn.map { "next in \(Int($0.rounded())) s" } ?? ""
            print("channel    \(channel.module) \(channel.reference) every \(FollowedChannel.intervalText(channel.everySeconds)): \(last); \(next)")
        }
        if let sandbox = snapshot.sandbox {
            let missing = sandbox.missing
            print("sandbox    \(missing.isEmpty ? "complete: namespaces, no_new_privs, memory/pids/cpu cgroups" : "partial")")
            for line in missing { print("  missing  \(line)") }
            for controller in sandbox.cgroups.controllers where controller.isAvailable {
                print("  cgroup   \(controller.controller.rawValue): \(controller.version?.rawValue ?? "?")")
            }
        } else {
            print("sandbox    off (plugin-host run --no-sandbox)")
        }
        for event in snapshot.events.suffix(10) { print("event      \(event)") }
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a module's recent output: from the running host, else from its last update's logs.",
        discussion: "Exit codes: 0 shown; 17 nothing is known about this module."
    )

    @Argument(help: "Module id.")
    var id: String

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    func run() throws {
        // A running host answers from memory: it writes no log file while it runs.
        if HostRuntime.runningSnapshot(stateDirectory: stateDir) != nil,
           let response = try? ControlServer.send(.init("output", module: id), stateDirectory: stateDir), case let .string(text)? = response.result {
            print("== \(id), running (from the host on \(stateDir))")
            print(text, terminator: "")
            return
        }
        let status = try CLI.run { () throws(ModuleError) -> ModuleStatus in try UpdateEngine.status(id: id, stateDirectory: stateDir) }
        guard let directory = status.lastTransaction?.logDirectory,
              let files = try? FileManager.default.contentsOfDirectory(atPath: directory).sorted(), !files.isEmpty else {
            print("no output kept for \(id)")
            return
        }
        for file in files {
            print("== \(directory)/\(file)")
            print(String(decoding: FileManager.default.contents(atPath: directory + "/" + file) ?? Data(), as: UTF8.self), terminator: "")
        }
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return a module to its previous committed version.",
        discussion: """
        Runs the current version's rollback hook, switches `current` to the previous version and \
        removes the version rolled back from. The data directory is kept as it is. \
        Exit codes: 0 rolled back; 17 not installed or no previous version; 18 busy.
        """
    )

    @Argument(help: "Module id.")
    var id: String

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    func run() throws {
        let report = try CLI.run { () throws(ModuleError) -> UpdateEngine.Report in
            try openEngine(stateDir).rollback(id: id)
        }
        print("\(report.id) rolled back to \(report.active.map { "\($0)" } ?? "?")")
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Uninstall a module. Its data directory is kept unless --purge-data.",
        discussion: "Exit codes: 0 removed; 17 not installed; 18 busy."
    )

    @Argument(help: "Module id.")
    var id: String

    @Flag(help: "Also delete the module's data directory (cannot be undone).")
    var purgeData = false

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    func run() throws {
        try CLI.run { () throws(ModuleError) in
            try openEngine(stateDir).remove(id: id, purgeData: purgeData)
        }
        print("\(id) removed\(purgeData ? " with its data" : "; its data is kept in \(stateDir)/modules/\(id)/data")")
    }
}
