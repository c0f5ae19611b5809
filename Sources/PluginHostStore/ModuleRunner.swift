import ModuleProtocol
import PluginHostImages

/// The seam between the update engine and whatever runs module code.
///
/// The update engine never calls module code itself: it asks a `ModuleRunner` to run one hook
/// (a short call with a time limit) or to start the module (a long-running instance that reports
/// `ready` and heartbeats). `ChildProcessRunner` does both in a plain child process
/// (`plugin-host-runner`); the sandboxed runner replaces it without the engine changing.

/// Where one installed version of a module lives, as a runner needs it.
public struct ModuleContext: Sendable, Equatable {
    public var manifest: ModuleManifest
    /// The version's unpacked files (read-only for the module).
    public var moduleDirectory: String
    /// The module's writable data directory, shared by all its versions.
    public var dataDirectory: String
    /// The user the module's sandboxed code runs as, which owns `dataDirectory` (`ModuleUsers`);
    /// nil for a module the host has not given a user (the runner's default applies).
    public var user: ModuleUser?

    public init(manifest: ModuleManifest, moduleDirectory: String, dataDirectory: String, user: ModuleUser? = nil) {
        self.manifest = manifest
        self.moduleDirectory = moduleDirectory
        self.dataDirectory = dataDirectory
        self.user = user
    }
}

/// How a process ended.
public enum ProcessExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case let .exited(code): "exited with status \(code)" + (RunnerExitStatus(rawValue: code).flatMap { $0 == .success ? nil : " (\($0.meaning))" } ?? "")
        case let .signaled(signal): "killed by signal \(signal)"
        }
    }
}

/// The outcome of one hook call.
public struct HookResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The hook returned 0.
        case succeeded
        /// The hook returned this non-zero value.
        case returned(Int32)
        /// The hook did not return within its timeout and was killed.
        case timedOut
        /// The process running the hook ended without the hook returning (crash, missing symbol,
        /// library that does not load).
        case crashed(ProcessExit)
    }

    public var outcome: Outcome
    /// What the hook wrote (stdout and stderr merged, and its log lines), at most the last 64 KiB.
    public var output: String
    public var seconds: Double

    public init(outcome: Outcome, output: String, seconds: Double) {
        self.outcome = outcome
        self.output = output
        self.seconds = seconds
    }

    public var succeeded: Bool { outcome == .succeeded }
}

/// What a running module reports.
public enum ModuleEvent: Sendable, Equatable {
    case ready
    case heartbeat
    /// The module's process ended.
    case exited(ProcessExit)
}

/// A started module. Every method may be called from any thread, also while another thread
/// waits in `nextEvent`.
public protocol ModuleInstance: AnyObject, Sendable {
    /// The next event, waiting at most until `deadline`; nil if none came by then.
    /// After `.exited` has been returned once, returns `.exited` again at once.
    func nextEvent(before deadline: ContinuousClock.Instant) -> ModuleEvent?
    /// Asks the module to stop (its stop entry point), waits up to `timeout`, then kills it.
    @discardableResult
    func stop(timeout: Duration) -> ProcessExit
    /// What the module wrote so far (stdout and stderr merged), at most the last 64 KiB.
    var output: String { get }
    /// Calls the typed command `command` of the running module with `arguments`, checked first
    /// against `manifest` (`ModuleManifest.checkArguments`), and returns its result.
    /// - Throws: `ModuleError` `.unknownCommand` / `.badArguments` (no call was made),
    ///   `.notRunning`, `.commandFailed` (the call was sent but returned no value).
    func call(command: String, arguments: [CommandValue], manifest: ModuleManifest, timeout: Duration) throws(ModuleError) -> CommandValue
}

extension ModuleInstance {
    /// For instances that cannot call commands: checks the arguments, then refuses.
    public func call(command: String, arguments: [CommandValue], manifest: ModuleManifest, timeout: Duration) throws(ModuleError) -> CommandValue {
        try manifest.checkArguments(command, arguments)
        throw ModuleError(.unknownCommand, "module \(manifest.id) runs where typed commands cannot be called", field: "commands")
    }

    /// `call(command:arguments:manifest:timeout:)` with a timeout of 30 s.
    public func call(command: String, arguments: [CommandValue], manifest: ModuleManifest) throws(ModuleError) -> CommandValue {
        try call(command: command, arguments: arguments, manifest: manifest, timeout: .seconds(30))
    }
}

/// Runs module code for the update engine.
public protocol ModuleRunner: Sendable {
    /// Runs one hook (`name` is its step: verify, install, start, health, commit, rollback,
    /// failure) and waits for it, killing it when `hook.timeoutSeconds` has passed.
    func runHook(name: String, hook: ModuleManifest.Hook, context: ModuleContext) -> HookResult
    /// Starts the module: loads its library and calls its start entry point.
    /// - Throws: `ModuleError` `.runnerFailed` if the module could not be started at all.
    func start(_ context: ModuleContext) throws(ModuleError) -> any ModuleInstance
}
