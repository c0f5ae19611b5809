import LinuxSupport
import CIoTLinux
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import ModuleProtocol
import PluginHostImages
import PluginHostStore
import Synchronization

/// Runs module code in a plain child process: `plugin-host-runner` (Sources/plugin-host-runner)
/// loads the module's library and calls one hook, or its start and stop entry points.
///
/// The child gets stdin from /dev/null, stdout and stderr merged into one pipe (the output, of
/// which the last 64 KiB are kept), and fd 3, one end of a bootstrap socketpair on which the
/// runner connects to the host (ModuleProtocol's `Channel`; the handshake checks with
/// SO_PEERCRED that the connection was made by the very process spawned here). Over that
/// connection the runner reports `ready`, `heartbeat`, `log` and what a hook returned, asks for
/// hardware (answered by a `HardwareBroker` made from the manifest's capabilities, whose
/// decisions go to `<stateDirectory>/audit.log`), and receives typed command calls
/// (`ChildModuleInstance.call`). Every other descriptor of the host is closed in the child. The
/// child leads a new process group, so that killing the group also ends processes the module forked.
///
/// With `sandbox`, each run (a hook, or a started module) gets cgroups holding the manifest's
/// `resources` (CgroupSet, made before the runner starts and removed when the run ends) and the
/// runner isolates the module (namespaces, a new root, no capabilities: plugin-host-runner's
/// Sandbox.swift). What could not be applied is reported in the output: `plugin-host: sandbox:`
/// lines from the host, `plugin-host-runner: sandbox:` lines from the runner.
public struct ChildProcessRunner: ModuleRunner {
    /// The path of `plugin-host-runner`.
    public let executable: String
    /// nil: the module runs in a plain child process, as the host's user, unconfined.
    public let sandbox: SandboxOptions?
    /// The host's state directory: the hardware broker's decisions go to its `audit.log`. nil:
    /// they are not recorded (requests are decided all the same).
    public let stateDirectory: String?
    /// Makes the broker that answers a run's hardware requests; nil: one from the manifest's
    /// capabilities, on /dev, auditing to `stateDirectory`.
    public let brokerFactory: (@Sendable (ModuleContext) -> HardwareBroker)?
    /// The host's uplink, through which modules publish and subscribe (`.notConfigured`: every MQTT call
    /// of a module answers ENOTCONN).
    public let uplink: ModuleUplink
    /// What the sandbox's syscall filter stopped, by module, across runs (a factory's brokers
    /// count only if it passes this to them).
    public let denials = SyscallDenials()

    public init(executable: String, sandbox: SandboxOptions? = nil, stateDirectory: String? = nil,
                brokerFactory: (@Sendable (ModuleContext) -> HardwareBroker)? = nil, uplink: ModuleUplink = .notConfigured) {
        self.uplink = uplink
        self.executable = executable
        self.sandbox = sandbox
        self.stateDirectory = stateDirectory
        self.brokerFactory = brokerFactory
    }

    /// The broker of one run.
    func broker(for context: ModuleContext) -> HardwareBroker {
        if let brokerFactory { return brokerFactory(context) }
        return HardwareBroker(moduleID: context.manifest.id, capabilities: context.manifest.capabilities,
                              audit: stateDirectory.map { AuditLog(stateDirectory: $0) } ?? .discarding, denials: denials)
    }

    /// The runner executable: `$PLUGIN_HOST_RUNNER` if set, else `plugin-host-runner` next to the
    /// running executable (/proc/self/exe), else nil.
    public static func locate() -> String? {
        if let path = ProcessInfo.processInfo.environment["PLUGIN_HOST_RUNNER"], !path.isEmpty { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let path = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let candidate = String(path[..<slash]) + "/plugin-host-runner"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }

    /// The descriptor number the runner finds the bootstrap socket on (`--events-fd`).
    static let eventsDescriptor: Int32 = 3

    public func runHook(name: String, hook: ModuleManifest.Hook, context: ModuleContext) -> HookResult {
        let clock = ContinuousClock()
        let started = clock.now
        func seconds() -> Double {
            let elapsed = (clock.now - started).components
            return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }
        let arguments = ["hook", "--library", Self.libraryPath(context), "--symbol", hook.symbol, "--step", name] + commonArguments(context)
        var sandboxRun: PreparedSandbox?
        if let sandbox {
            do {
                sandboxRun = try PreparedSandbox.prepare(sandbox, context: context, label: name)
            } catch {
                return HookResult(outcome: .crashed(.exited(127)), output: error.message + (error.underlying.map { ": \($0)" } ?? "") + "\n", seconds: seconds())
            }
        }
        var child: RunnerProcess
        switch RunnerProcess.spawn(executable: executable, arguments: arguments, eventsDescriptor: Self.eventsDescriptor) {
        case let .failure(error):
            _ = sandboxRun?.finish()
            return HookResult(outcome: .crashed(.exited(127)), output: spawnFailure(error).message + "\n", seconds: seconds())
        case let .success(spawned):
            child = spawned
        }
        defer { child.closeDescriptors() }
        sandboxRun?.notes.forEach { child.note($0) }

        let deadline = started + Self.duration(seconds: hook.timeoutSeconds)
        let broker = broker(for: context)
        let connection = child.connect(moduleID: context.manifest.id, broker: broker, sandbox: sandboxRun?.spec, uplink: uplink,
                                       timeout: max(min(RunnerConnection.handshakeTimeout, deadline - clock.now), .seconds(1)))
        var killedAtDeadline = false
        while child.exit == nil {
            child.readAvailable()
            connection.map { child.take(from: $0) }
            if child.reapIfExited() { break }
            if clock.now >= deadline {
                child.killAndReap()
                killedAtDeadline = true
                break
            }
            RunnerProcess.wait(for: child.pollSet(with: connection), until: deadline)
        }
        // What the runner sent before it ended (its result among it) is read to the end.
        if let connection {
            connection.waitUntilDone(timeout: .seconds(2))
            connection.shutdown()
            child.take(from: connection)
        }
        broker.driveOutputsToSafeState()

        let returned = connection?.returnedValue
        sandboxRun?.finish().forEach { child.note($0) }
        let exit = child.exit ?? .signaled(SIGKILL)
        let outcome: HookResult.Outcome
        switch (returned, exit) {
        case let (value?, _) where value != 0: outcome = .returned(value)
        case (0?, .exited(0)): outcome = .succeeded
        case (_, _) where killedAtDeadline: outcome = .timedOut
        default: outcome = .crashed(exit)
        }
        return HookResult(outcome: outcome, output: child.output.text, seconds: seconds())
    }

    public func start(_ context: ModuleContext) throws(ModuleError) -> any ModuleInstance {
        let entryPoints = context.manifest.library.entryPoints
        let arguments = ["start", "--library", Self.libraryPath(context), "--start", entryPoints.start, "--stop", entryPoints.stop] + commonArguments(context)
        var sandboxRun: PreparedSandbox?
        if let sandbox {
            sandboxRun = try PreparedSandbox.prepare(sandbox, context: context, label: "run")
        }
        switch RunnerProcess.spawn(executable: executable, arguments: arguments, eventsDescriptor: Self.eventsDescriptor) {
        case let .failure(error):
            _ = sandboxRun?.finish()
            throw spawnFailure(error)
        case var .success(child):
            sandboxRun?.notes.forEach { child.note($0) }
            let broker = broker(for: context)
            let connection = child.connect(moduleID: context.manifest.id, broker: broker, sandbox: sandboxRun?.spec, uplink: uplink, timeout: RunnerConnection.handshakeTimeout)
            return ChildModuleInstance(child, connection: connection, broker: broker, moduleID: context.manifest.id, sandbox: sandboxRun)
        }
    }

    // MARK: - Helpers

    static func libraryPath(_ context: ModuleContext) -> String {
        context.moduleDirectory + "/" + context.manifest.library.path
    }

    /// The options of every run: `--device-id` only when the host has an uplink, `--wasm-fuel` and
    /// `--wasm-memory` for a WebAssembly module.
    func commonArguments(_ context: ModuleContext) -> [String] {
        let library = context.manifest.library
        return ["--module-id", context.manifest.id, "--module-version", context.manifest.version.description,
         "--module-dir", context.moduleDirectory, "--data-dir", context.dataDirectory,
         "--events-fd", String(Self.eventsDescriptor)]
            + (context.manifest.capabilities.storageQuotaBytes > 0 ? ["--storage-quota", String(context.manifest.capabilities.storageQuotaBytes)] : [])
            + (uplink.messaging.map { ["--device-id", $0.deviceID] } ?? [])
            + (library.libraryKind == .wasm ? ["--wasm-fuel", String(library.fuelPerCall), "--wasm-memory", String(context.manifest.resources.memoryBytes)] : [])
    }

    static func duration(seconds: Double) -> Duration {
        seconds.isFinite ? .nanoseconds(Int64(min(max(seconds, 0), 1e9) * 1e9)) : .seconds(1_000_000_000)
    }

    private func spawnFailure(_ error: Subprocess.Failure) -> ModuleError {
        ModuleError(.runnerFailed,
                    "cannot run the module runner '\(executable)' (\(error.step)): build plugin-host-runner, which is installed next to plugin-host, or set PLUGIN_HOST_RUNNER to its absolute path",
                    underlying: String(cString: strerror(error.errno)))
    }
}

/// A module started by `ChildProcessRunner`: the `plugin-host-runner start` process.
///
/// Thread-safe: every method may be called from any thread. Waiting (`nextEvent`, `stop`,
/// `call`) happens outside the lock, so `output` and `stop` are never held up by a waiting
/// `nextEvent`. The runner's messages are read by the connection's own thread
/// (`RunnerConnection`), which also answers the module's hardware requests, whether or not
/// anyone waits here. The output pipe is drained whenever any method runs; a module that writes
/// more than the pipe holds (1 MiB where the kernel allows, else 64 KiB) while nobody calls them
/// blocks in write. When the runner has exited, the outputs the broker granted are driven to
/// their safe state and, sandboxed, the cgroups are removed.
public final class ChildModuleInstance: ModuleInstance {
    private struct State {
        var child: RunnerProcess
        /// nil if the handshake failed (the output says why; the runner was killed, or had exited).
        let connection: RunnerConnection?
        let broker: HardwareBroker
        var pending: [ModuleEvent] = []
        /// What a failing start entry point returned (`returned` on the channel): the runner is
        /// exiting with status 3.
        var startFailed: Int32?
        /// Set once the runner's exit was seen and the connection read to its end.
        var settled = false
        /// The sandbox's cgroups and spec, until the runner has exited.
        var sandbox: PreparedSandbox?
        /// The OOM kills counted just before the cgroups were removed.
        var finalOOMKills: Int?

        /// Reads what is there, reaps the child if it has exited, and takes what the connection
        /// received. Once the child has exited, first lets the connection read everything the
        /// runner sent, so that its last events come before `.exited`.
        mutating func update() {
            child.readAvailable()
            child.reapIfExited()
            if child.exit != nil && !settled {
                settled = true
                if let connection {
                    // The runner's end closes when its last process is gone; a process the module
                    // moved out of the killed process group could keep it open: give up then.
                    connection.waitUntilDone(timeout: .seconds(1))
                    connection.shutdown()
                }
                let driven = broker.driveOutputsToSafeState()
                if !driven.isEmpty { child.note("plugin-host: GPIO outputs driven to their safe state (inactive): " + driven.joined(separator: ", ")) }
            }
            if let connection {
                connection.drainWake()
                child.take(from: connection)
                pending += connection.takeEvents()
                if let value = connection.returnedValue { startFailed = value }
            }
            settleSandbox()
        }

        /// Once the runner has exited: counts the OOM kills, removes the cgroups (killing what
        /// is left in them) and notes the problems in the output.
        mutating func settleSandbox() {
            guard child.exit != nil, let run = sandbox else { return }
            finalOOMKills = run.cgroups.oomKills()
            run.finish().forEach { child.note($0) }
            sandbox = nil
        }
    }

    private let state: Mutex<State>
    /// The runner's process id (also its process group id).
    public let processID: pid_t
    /// The module's id.
    public let moduleID: String
    /// The cgroups of a sandboxed run (removed once the runner has exited).
    public let cgroups: CgroupSet?

    init(_ child: RunnerProcess, connection: RunnerConnection?, broker: HardwareBroker, moduleID: String, sandbox: PreparedSandbox? = nil) {
        processID = child.pid
        self.moduleID = moduleID
        cgroups = sandbox?.cgroups
        state = Mutex(State(child: child, connection: connection, broker: broker, sandbox: sandbox))
    }

    deinit {
        let problems = state.withLock { state -> [String] in
            if state.child.exit == nil { state.child.killAndReap() }
            state.connection?.shutdown()
            state.broker.driveOutputsToSafeState()
            state.child.closeDescriptors()
            guard let run = state.sandbox else { return [] }
            state.sandbox = nil
            return run.finish()
        }
        // Nobody can read the output any more; the problems go to the host's stderr.
        for line in problems where !line.contains("OOM killer") {
            writeToStandardError(line + "\n")
        }
    }

    /// How many processes of the module the kernel's OOM killer ended (the memory cgroup's
    /// counter); nil unsandboxed, or without a memory cgroup.
    public func oomKills() -> Int? {
        state.withLock { state in
            state.update()
            return state.sandbox?.cgroups.oomKills() ?? state.finalOOMKills
        }
    }

    public func nextEvent(before deadline: ContinuousClock.Instant) -> ModuleEvent? {
        while true {
            enum Step { case event(ModuleEvent), wait(RunnerProcess.PollSet) }
            let step = state.withLock { state -> Step in
                state.update()
                if !state.pending.isEmpty { return .event(state.pending.removeFirst()) }
                if let exit = state.child.exit { return .event(.exited(exit)) }
                return .wait(state.child.pollSet(with: state.connection))
            }
            switch step {
            case let .event(event): return event
            case let .wait(pollSet):
                if ContinuousClock.now >= deadline { return nil }
                RunnerProcess.wait(for: pollSet, until: deadline)
            }
        }
    }

    /// Sends SIGTERM to the runner (which sets should_stop and calls the module's stop entry
    /// point), waits up to `timeout` for it to exit, then kills the whole process group. The GPIO
    /// outputs granted to the module are then driven to their safe state (inactive).
    /// Events not yet taken are dropped: after `stop`, `nextEvent` reports only `.exited`.
    @discardableResult
    public func stop(timeout: Duration) -> ProcessExit {
        let deadline = ContinuousClock.now + timeout
        var signaled = false
        while true {
            let (exit, pollSet) = state.withLock { state -> (ProcessExit?, RunnerProcess.PollSet) in
                state.update()
                if state.child.exit == nil {
                    if !signaled {
                        kill(state.child.pid, SIGTERM)
                        signaled = true
                    } else if ContinuousClock.now >= deadline {
                        state.child.killAndReap()
                        state.update()
                    }
                }
                if state.child.exit != nil { state.pending.removeAll() }
                return (state.child.exit, state.child.pollSet(with: state.connection))
            }
            if let exit { return exit }
            RunnerProcess.wait(for: pollSet, until: deadline)
        }
    }

    public var output: String {
        state.withLock { state in
            state.update()
            return state.child.output.text
        }
    }

    /// Calls a typed command of the running module: checks `arguments` against `manifest`
    /// (nothing is sent if they do not fit), sends `callCommand`, and waits up to `timeout` for
    /// the runner, which calls the exported symbol through libffi on a thread of its own.
    /// - Throws: `ModuleError` `.unknownCommand` / `.badArguments` (no call made); `.notRunning`
    ///   if the runner has exited (or never connected); `.commandFailed` if the call was sent
    ///   but no value came back (symbol missing, the module ended during the call, timeout).
    public func call(command name: String, arguments: [CommandValue], manifest: ModuleManifest, timeout: Duration) throws(ModuleError) -> CommandValue {
        let command = try manifest.checkArguments(name, arguments)
        let connection = state.withLock { state -> RunnerConnection? in
            state.update()
            return state.child.exit == nil ? state.connection : nil
        }
        guard let connection, !connection.isDone else {
            throw ModuleError(.notRunning, "module \(manifest.id) is not running, so \(command.name) cannot be called")
        }
        switch connection.call(symbol: command.symbol, arguments: arguments, returns: command.resultType, timeout: timeout) {
        case let .success(value):
            guard value.type == command.resultType else {
                throw ModuleError(.commandFailed, "\(command.name) returned a \(value.type.rawValue), not the declared \(command.resultType.rawValue)", field: "commands")
            }
            return value
        case let .failure(failure):
            let why = switch failure {
            case let .module(text): text
            case let .lost(text): "the module ended during the call (\(text))"
            case .timedOut: "no answer within \(UpdateSteps.seconds(UpdateSteps.seconds(timeout))); the call may still be running in the module"
            case let .notSent(text): "the call could not be sent to the runner: \(text)"
            }
            throw ModuleError(.commandFailed, "\(command.name) (\(command.symbol)) of module \(manifest.id) failed: \(why)")
        }
    }
}

// MARK: - The child process

/// One spawned `plugin-host-runner`, the host's end of its output pipe and, until the runner has
/// connected, of its bootstrap socket. Not thread-safe by itself: `runHook` owns one,
/// `ChildModuleInstance` keeps one behind a mutex.
struct RunnerProcess {
    /// What to wait on: the open read ends and the pidfd; plain descriptor numbers, valid until
    /// `closeDescriptors`, which only the owner calls, so polling them needs no lock.
    struct PollSet: Sendable {
        var descriptors: [Int32]
        /// Whether exit is signalled by a descriptor (pidfd); otherwise the waiter must look again soon.
        var exitIsPollable: Bool
    }

    let pid: pid_t
    private var outputFD: Int32
    /// The host's end of the bootstrap socketpair, until `connect`.
    private var bootstrap: Channel?

    /// The result `probe-sandbox` sends on the bootstrap socket; nil if none came by `deadline`.
    mutating func receiveProbe(until deadline: ContinuousClock.Instant) -> SandboxProbe? {
        guard let bootstrap else { return nil }
        let timeout = max(deadline - .now, .zero)
        guard case let .sandboxProbe(probe)? = try? bootstrap.receiveMessage(from: .runner, timeout: timeout).message else { return nil }
        return probe
    }
    private var pidFD: Int32
    private var outputOpen = true
    private(set) var exit: ProcessExit?
    private(set) var output = RunnerOutputTail()

    // MARK: Spawning

    static func spawn(executable: String, arguments: [String], eventsDescriptor: Int32) -> Result<RunnerProcess, Subprocess.Failure> {
        guard let outputPipe = Subprocess.makePipe() else { return .failure(Subprocess.Failure(errno: errno, step: "pipe")) }
        guard let bootstrap = Subprocess.makeSocketPair() else {
            let code = errno
            close(outputPipe.read); close(outputPipe.write)
            return .failure(Subprocess.Failure(errno: code, step: "socketpair"))
        }
        defer {
            close(outputPipe.write)
            close(bootstrap.1)
        }
        // Best effort: a larger buffer gives a chatty module slack between two drains.
        _ = fcntl(outputPipe.read, 1031 /* F_SETPIPE_SZ */, 1 << 20)
        // The runner compares its parent with this after asking for a parent-death signal, so that
        // a host killed while the runner was starting does not leave an orphan behind.
        // The Swift runtime's crash backtracer is off, as inside the sandbox: when a module crashes
        // it would symbolicate the runner for a second or more while the module's heartbeats stop,
        // and the host would report a hang instead of the signal (the supervisor's crash-loop test
        // saw exactly that).
        let environment = Subprocess.environment.filter { !$0.hasPrefix("PLUGIN_HOST_PID=") && !$0.hasPrefix("SWIFT_BACKTRACE=") }
            + ["PLUGIN_HOST_PID=\(getpid())", "SWIFT_BACKTRACE=enable=no"]
        // Output and errors to the pipe, the bootstrap socket where the runner looks for it; every
        // other descriptor stays behind (close-on-exec, and closed from eventsDescriptor + 1 on).
        let spawned = Subprocess.spawn(executable, arguments: arguments, environment: environment,
                                       descriptors: [(outputPipe.write, 1), (outputPipe.write, 2), (bootstrap.1, eventsDescriptor)],
                                       closeFrom: eventsDescriptor + 1)
        switch spawned {
        case let .failure(failure):
            close(outputPipe.read); close(bootstrap.0)
            return .failure(failure)
        case let .success(child):
            _ = fcntl(outputPipe.read, F_SETFL, fcntl(outputPipe.read, F_GETFL) | O_NONBLOCK)
            return .success(RunnerProcess(pid: child.pid, outputFD: outputPipe.read, bootstrap: Channel(adopting: bootstrap.0), pidFD: child.pidFD))
        }
    }

    private init(pid: pid_t, outputFD: Int32, bootstrap: Channel, pidFD: Int32) {
        self.pid = pid
        self.outputFD = outputFD
        self.bootstrap = bootstrap
        self.pidFD = pidFD
    }

    /// The handshake with the runner (`RunnerConnection.accept`), once, right after spawning. On
    /// failure the reason goes to the output and, unless the runner closed the socket itself
    /// (it is exiting: its exit status tells why), the runner is killed. nil then.
    mutating func connect(moduleID: String, broker: HardwareBroker, sandbox: SandboxSpec?, uplink: ModuleUplink = .notConfigured,
                          timeout: Duration) -> RunnerConnection? {
        guard let bootstrap else { return nil }
        self.bootstrap = nil
        switch RunnerConnection.accept(bootstrap: bootstrap, runnerPID: pid, moduleID: moduleID, broker: broker, sandbox: sandbox,
                                       uplink: uplink, timeout: timeout) {
        case let .success(connection):
            return connection
        case let .failure(failure):
            note("plugin-host: \(failure)")
            if !failure.runnerClosed { killAndReap() }
            return nil
        }
    }

    /// Moves the log lines (and notes) the connection received into the output.
    mutating func take(from connection: RunnerConnection) {
        for line in connection.takeLines() { note(line) }
    }

    // MARK: Reading

    /// Reads what the output pipe holds now, without blocking.
    mutating func readAvailable() {
        if outputOpen { outputOpen = drain(outputFD) { output.append($0) } }
    }

    /// Adds a line of the host's own to the output (sandbox problems).
    mutating func note(_ line: String) {
        Array((line + "\n").utf8).withUnsafeBytes { output.append($0) }
    }

    /// Reads `fd` until it would block; false at end of file (or on an error).
    private func drain(_ fd: Int32, into sink: (UnsafeRawBufferPointer) -> Void) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 1) { buffer in
            // Bounded, so that a module writing without pause cannot hold the caller here for ever.
            for _ in 0..<64 {
                let count = read(fd, buffer.baseAddress, buffer.count)
                if count > 0 {
                    sink(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                } else if count == 0 {
                    return false
                } else if errno == EINTR {
                    continue
                } else {
                    return errno == EAGAIN || errno == EWOULDBLOCK
                }
            }
            return true
        }
    }

    var pollSet: PollSet {
        var descriptors: [Int32] = []
        if outputOpen { descriptors.append(outputFD) }
        let exitIsPollable = exit == nil && pidFD >= 0
        if exitIsPollable { descriptors.append(pidFD) }
        return PollSet(descriptors: descriptors, exitIsPollable: exitIsPollable)
    }

    /// `pollSet` and the connection's wake descriptor (valid while the connection lives; its
    /// owner keeps it).
    func pollSet(with connection: RunnerConnection?) -> PollSet {
        var set = pollSet
        if let connection, !connection.isDone { set.descriptors.append(connection.wakeDescriptor) }
        return set
    }

    /// Waits until a descriptor of `set` is ready or `deadline` passes (the pidfd signals the
    /// child's exit, so nothing else needs a look); without a pidfd (Linux before 5.3), at most
    /// 20 ms, so that the caller looks for the child's exit again.
    static func wait(for set: PollSet, until deadline: ContinuousClock.Instant) {
        guard deadline > .now else { return }
        let wakeAt = set.exitIsPollable ? deadline : min(deadline, .now + .milliseconds(20))
        var descriptors = set.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&descriptors, nfds_t(descriptors.count), pollMilliseconds(until: wakeAt))
    }

    // MARK: Exit

    /// If the child has exited: kills what is left of its process group (processes the module
    /// forked), reaps it, reads the pipes one last time. True once the child is reaped.
    @discardableResult
    mutating func reapIfExited() -> Bool {
        if exit != nil { return true }
        // WNOWAIT leaves the zombie in place: its pid, and so its process group id, cannot be
        // reused before the group is killed below.
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid else {
            return false
        }
        finishExit()
        return true
    }

    /// Kills the whole process group and reaps the child.
    mutating func killAndReap() {
        guard exit == nil else { return }
        kill(-pid, SIGKILL)
        finishExit()
    }

    private mutating func finishExit() {
        kill(-pid, SIGKILL)
        guard let status = Subprocess.reap(pid) else {
            // Somebody else reaped it (a waitpid(-1) elsewhere in the host): the status is lost.
            exit = .exited(-1)
            readAvailable()
            return
        }
        let signal = status & 0x7f
        exit = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        readAvailable()
    }

    /// Closes the host's descriptors; the child must have been reaped.
    mutating func closeDescriptors() {
        for fd in [outputFD, pidFD] where fd >= 0 { close(fd) }
        outputFD = -1
        pidFD = -1
        outputOpen = false
        bootstrap?.close()
        bootstrap = nil
    }
}

/// The last 64 KiB of a stream.
struct RunnerOutputTail {
    static let limit = 64 * 1024
    private var bytes: [UInt8] = []

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
        // Trim in large steps, not on every append.
        if bytes.count > 2 * Self.limit { bytes.removeFirst(bytes.count - Self.limit) }
    }

    var text: String { String(decoding: bytes.suffix(Self.limit), as: UTF8.self) }
}
