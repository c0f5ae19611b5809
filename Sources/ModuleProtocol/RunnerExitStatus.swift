/// The exit statuses of `plugin-host-runner` itself, which the runner exits with and the host
/// reads back (`ProcessExit.description` says what each means). Any other status, or a signal, is
/// the module's own (`exit(n)` in module code, a crash): the runner passes those on unchanged,
/// also from inside the sandbox.
public enum RunnerExitStatus: Int32, Sendable, CaseIterable {
    /// A hook returned 0, or the module stopped when asked.
    case success = 0
    /// A hook returned non-zero (the value also went to the host as `returned`).
    case hookFailed = 1
    /// The module's library, an entry point or hook, or a thread the runner needs could not be set
    /// up (stderr says which).
    case moduleUnusable = 2
    /// The start entry point returned non-zero (the value also went to the host as `returned`).
    case startFailed = 3
    /// A WebAssembly module trapped: out of fuel, out-of-bounds memory, call stack exhausted,
    /// unreachable, … (stderr says which, and in which call).
    case wasmTrapped = 4
    /// The sandbox could not be built as asked: an unreadable spec, or a refusal under `strict`.
    case sandboxFailed = 5
    /// No connection to the host: the bootstrap socket is missing, or the host refused or did not
    /// answer.
    case notConnected = 6
    /// Bad command-line options.
    case usage = 64
    /// The host died while the runner was starting (the runner was reparented, or the sandbox's
    /// init lost its parent).
    case hostGone = 70

    /// What the status means, for people.
    public var meaning: String {
        switch self {
        case .success: "success"
        case .hookFailed: "the hook returned non-zero"
        case .moduleUnusable: "the module's library, entry point or a runner thread could not be set up"
        case .startFailed: "the start entry point returned non-zero"
        case .wasmTrapped: "the WebAssembly module trapped"
        case .sandboxFailed: "the sandbox could not be built"
        case .notConnected: "the runner could not connect to the host"
        case .usage: "the runner was started with bad options"
        case .hostGone: "the host went away while the runner started"
        }
    }
}
