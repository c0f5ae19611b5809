#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import ModuleProtocol
import PluginHostImages
import PluginHostStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running host: one supervisor per installed module, the runtime status that
/// `plugin-host status` reads, and the automatic rollback of a freshly updated module that turns
/// out broken. `plugin-host run` drives it with a `HostEventLoop`, which wakes it only when
/// something happened (a supervisor's state changed, the state directory changed, a timer it
/// asked for).
///
/// Every automatic action (a restart, a module marked broken, a rollback) is an event with its
/// reason: in `snapshot.events`, in `status`, and through `log` in the host's own log.
public final class HostRuntime: Sendable {
    public let stateDirectory: String
    let runner: any ModuleRunner
    let backoff: ModuleSupervisor.Backoff
    /// A module counts as freshly updated while its last update committed less than this long ago
    /// in the current boot (the boot clock, never the wall clock): if it breaks within it, it is
    /// rolled back.
    let freshUpdateWindow: Double
    /// Where each event goes besides the snapshot (the host's log).
    let log: @Sendable (String) -> Void
    private let supervisors = Mutex<[String: ModuleSupervisor]>([:])
    private let events = Mutex<[String]>([])
    private let stopping = Atomic<Bool>(false)
    private let features = Mutex<SandboxFeatures?>(nil)
    /// Modules an install has paused, with when.
    private let paused = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Counts changes of the snapshot; the status file is written when it moved.
    private let generation = Atomic<Int>(1)
    private let written = Mutex<Int>(0)
    /// Called after every change of the snapshot (the event loop wakes on it).
    private let changeHandler = Mutex<(@Sendable () -> Void)?>(nil)
    /// The channels modules follow (`plugin-host follow`), checked on the event loop's timer.
    let follower = ChannelFollower()
    /// The fleet's desired state (`plugin-host run --fleet`), if the host follows one.
    private let fleet = Mutex<FleetAgent?>(nil)

    /// The `plugin-host` executable, run for each channel check (`pull --unless-at`).
    let hostExecutable: String

    /// - Parameters:
    ///   - stateDirectory: the host's state directory.
    ///   - runner: runs module code (supervision, hooks, health checks).
    ///   - backoff: how restarts of a failing module back off.
    ///   - freshUpdateWindow: seconds after a committed update during which a module that breaks
    ///     is rolled back.
    ///   - hostExecutable: the `plugin-host` that checks channels (`pull --unless-at`); nil: the
    ///     one beside the runner's executable (the package's `plugin-host-runner` is a link to it).
    ///   - log: where each event goes besides the snapshot (the host's log).
    public init(stateDirectory: String, runner: any ModuleRunner, backoff: ModuleSupervisor.Backoff = .init(), freshUpdateWindow: Double = 600,
                hostExecutable: String? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.hostExecutable = hostExecutable
            ?? ((runner as? ChildProcessRunner).map { parentDirectory(of: $0.executable) + "/plugin-host" } ?? "/usr/bin/plugin-host")
        self.stateDirectory = stateDirectory
        self.runner = runner
        self.backoff = backoff
        self.freshUpdateWindow = freshUpdateWindow
        self.log = log
    }

    /// The runtime status file (in the runtime directory, on tmpfs: `RuntimeDirectory`).
    public static func statusPath(stateDirectory: String) -> String { RuntimeDirectory.path(stateDirectory: stateDirectory) + "/status.json" }

    /// A module's output as the host stopped it (`plugin-host logs` asks a running host instead).
    public static func outputPath(stateDirectory: String, id: String) -> String { RuntimeDirectory.path(stateDirectory: stateDirectory) + "/\(id).log" }

    /// What the host reports about itself and its modules.
    public struct Snapshot: Codable, Sendable {
        public var pid: Int32
        /// Seconds since 1970 of the last change.
        public var updatedAt: Double
        public var modules: [ModuleSupervisor.Status]
        /// Host-level events with their reasons: restarts, modules marked broken, recoveries,
        /// automatic rollbacks, start failures.
        public var events: [String]
        /// What the sandbox could use on this system when the host started (nil: modules run
        /// without the sandbox).
        public var sandbox: SandboxFeatures?
        /// The channels modules follow, with their last and next check (nil from a host that
        /// followed none).
        public var channels: [ChannelStatus]?
    }

    /// Sets what is called after every change of the snapshot (once; the event loop's wake-up).
    public func onChange(_ handler: @escaping @Sendable () -> Void) {
        changeHandler.withLock { $0 = handler }
    }

    func changed() {
        generation.add(1, ordering: .relaxed)
        changeHandler.withLock { $0 }?()
        fleet.withLock { $0 }?.changed()
    }

    /// Tells `agent` of every change and rollback (`FleetAgent.start()` calls it).
    func attach(fleet agent: FleetAgent) {
        fleet.withLock { $0 = agent }
    }

    /// Replays interrupted transactions, then starts a supervisor for every installed module.
    /// - Parameter waitingForLock: how long to wait for a command that holds the state
    ///   directory (an install) to finish.
    /// - Throws: `ModuleError` if the state directory cannot be opened (`.busy` while an
    ///   install is still running after `waitingForLock`: the caller retries).
    public func start(waitingForLock: Duration = .zero) throws(ModuleError) {
        (runner as? ChildProcessRunner)?.denials.onChange { [weak self] in self?.changed() }
        if let child = runner as? ChildProcessRunner, child.sandbox != nil {
            let detected = SandboxFeatures.detect(runner: child.executable)
            features.withLock { $0 = detected }
            for line in detected.missing { note("sandbox: not available: \(line)") }
        }
        let engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner, waitingForLock: waitingForLock)
        for line in engine.recoveryLog { note("recovered: \(line)") }
        for status in try UpdateEngine.list(stateDirectory: stateDirectory) where status.state == .active {
            guard let version = try engine.activeVersion(of: status.id) else { continue }
            startSupervisor(version)
        }
        for line in follower.reload(stateDirectory: stateDirectory, starting: true) { note(line) }
    }

    // MARK: - Channels

    /// Reads the channel files again (`plugin-host follow` or `unfollow` changed them).
    func reloadChannels() {
        for line in follower.reload(stateDirectory: stateDirectory, starting: false) { note(line) }
        changed()
    }

    /// When a channel check is due next (nil: none is, or one is running).
    var nextChannelCheck: ContinuousClock.Instant? { stopping.load(ordering: .acquiring) ? nil : follower.nextDue }

    /// Starts the checks that are due, off the calling thread.
    func checkDueChannels() { follower.startDue(self) }

    private func startSupervisor(_ version: InstalledVersion) {
        guard !stopping.load(ordering: .acquiring) else { return }
        let id = version.manifest.id
        guard !Files.exists(ModulePaths(stateDirectory: stateDirectory, id: id).disabledMarker) else {
            note("\(id) \(version.manifest.version): disabled by the fleet's desired state; not started")
            return
        }
        let supervisor = ModuleSupervisor(context: version.context, runner: runner, backoff: backoff, onBroken: { [weak self] status in
            self?.broken(status)
        }, onChange: { [weak self] event in
            if let event { self?.note(event) } else { self?.changed() }
        })
        // One supervisor per module: a reconcile and an automatic rollback may both start one.
        let replaced = supervisors.withLock { supervisors -> ModuleSupervisor? in
            defer { supervisors[id] = supervisor }
            return supervisors[id]
        }
        replaced?.stop(timeout: .seconds(5))
        note("\(id) \(version.manifest.version): starting")
        supervisor.start()
    }

    /// A module failed more often than its policy allows. If its version was committed in this
    /// boot less than `freshUpdateWindow` ago (boot clock), the update is the likely cause: roll
    /// back and run the previous version. Either way the events say what was decided and why.
    private func broken(_ status: ModuleSupervisor.Status) {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: status.id)
        let window = UpdateSteps.seconds(freshUpdateWindow)
        guard let record = paths.lastRecord(), record.kind == .update, record.result == .committed else {
            note("\(status.id) \(status.version): not rolled back: it was not installed by an update")
            return
        }
        guard let age = record.finishedIn?.secondsAgo() else {
            note("\(status.id) \(status.version): not rolled back: its update committed before this boot (a device without a real-time clock cannot tell how long ago; only updates committed within \(window) in this boot are rolled back)")
            return
        }
        guard age < freshUpdateWindow else {
            note("\(status.id) \(status.version): not rolled back: its update committed \(UpdateSteps.seconds(age.rounded())) ago, more than \(window)")
            return
        }
        guard paths.target(of: paths.previous) != nil else {
            note("\(status.id) \(status.version): not rolled back: no previous version is kept")
            return
        }
        let reason = "broke \(UpdateSteps.seconds(age.rounded())) after its update committed (within \(window)): \(status.lastFailure ?? "failed")"
        note("\(status.id) \(status.version): rolling back: \(reason)")
        // Run off the supervisor's thread: the rollback stops this very supervisor.
        let created = startDetachedThread(name: "rollback") { [self] in
            supervisors.withLock { $0[status.id] }?.stop(timeout: .seconds(5))
            do throws(ModuleError) {
                // A command holding the state directory (an install) is waited for, up to 10 s.
                let engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner, waitingForLock: .seconds(10))
                let report = try engine.rollback(id: status.id, reason: "automatic, by the running host: \(status.version) \(reason)")
                note("\(status.id): rolled back from \(status.version) to \(report.active.map { "\($0)" } ?? "?") after it broke within \(Int(freshUpdateWindow)) s of its update")
                follower.rolledBack(stateDirectory: stateDirectory, module: status.id, from: "\(status.version)", reason: reason)
                fleet.withLock { $0 }?.rolledBack(module: status.id, from: "\(status.version)", reason: reason)
                if let version = try engine.activeVersion(of: status.id) { startSupervisor(version) }
            } catch {
                note("\(status.id): automatic rollback failed: \(error)")
            }
        }
        if created != 0 { note("\(status.id): automatic rollback not started: no thread for it (\(String(cString: strerror(created))))") }
    }

    // MARK: - Coordination with install, rollback and remove

    /// Stops supervising a module (its stop entry point, outputs to their safe state) while an
    /// install changes it; `plugin-host install` asks for this through the control socket, so
    /// that the new version's health check does not run beside the old version.
    /// - Returns: whether the module was running.
    public func pause(_ id: String) -> Bool {
        paused.withLock { $0[id] = .now }
        changed()
        guard let supervisor = supervisors.withLock({ $0.removeValue(forKey: id) }) else { return false }
        supervisor.stop(timeout: .seconds(5))
        note("\(id): paused for an install")
        return true
    }

    /// Supervises the module's active version again (after an install, successful or not).
    public func resume(_ id: String) {
        paused.withLock { _ = $0.removeValue(forKey: id) }
        restartIfChanged(id, force: true)
    }

    /// How long an install may hold a module paused without a sign of itself before the host
    /// takes it up again (the install was killed: its lock is gone).
    static let pauseGrace: Duration = .seconds(2)

    /// Brings supervision in line with the state directory when no install holds it: resumes
    /// modules an install paused and then left (it was killed), restarts modules whose active
    /// version changed (`plugin-host rollback`), stops removed ones, starts new ones. The event
    /// loop calls it when the state directory changed and when the time it returns has come.
    /// - Returns: when to call again even if nothing changes (the state directory was busy, or a
    ///   module is paused); nil: only on a change.
    @discardableResult
    public func reconcile() -> ContinuousClock.Instant? {
        guard !stopping.load(ordering: .acquiring) else { return nil }
        // Only while no other plugin-host holds the state directory. Opening an engine also
        // replays what a killed command left (a half-done install is rolled back or finished)
        // before anything is started from the state directory.
        let engine: UpdateEngine
        do throws(ModuleError) {
            engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner)
        } catch {
            if error.code != .busy { note("cannot open the state directory: \(error)") }
            return .now + .milliseconds(500)
        }
        for line in engine.recoveryLog { note("recovered: \(line)") }
        return withExtendedLifetime(engine) { () -> ContinuousClock.Instant? in
            let now = ContinuousClock.now
            for (id, since) in paused.withLock({ $0 }) where now - since > Self.pauseGrace {
                note("\(id): resumed (the install that paused it is gone)")
                resume(id)
            }
            let stillPaused = paused.withLock { $0 }
            var ids = Set(supervisors.withLock { Array($0.keys) })
            ids.formUnion(((try? UpdateEngine.list(stateDirectory: stateDirectory)) ?? []).filter { $0.state == .active }.map(\.id))
            for id in ids.subtracting(stillPaused.keys) { restartIfChanged(id, force: false) }
            return stillPaused.values.min().map { $0 + Self.pauseGrace + .milliseconds(100) }
        }
    }

    /// Stops and starts a module's supervision again (it was enabled or disabled).
    func restart(_ id: String) { restartIfChanged(id, force: true) }

    private func restartIfChanged(_ id: String, force: Bool) {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: id)
        let active = paths.target(of: paths.current).flatMap { try? paths.installed($0) }
        let supervisor = supervisors.withLock { $0[id] }
        if Files.exists(paths.disabledMarker) {
            if let supervisor {
                supervisors.withLock { _ = $0.removeValue(forKey: id) }
                supervisor.stop(timeout: .seconds(5))
                note("\(id): disabled by the fleet's desired state; stopped")
            }
            return
        }
        if !force, supervisor?.context.moduleDirectory == active?.context.moduleDirectory { return }
        if let supervisor {
            supervisors.withLock { _ = $0.removeValue(forKey: id) }
            supervisor.stop(timeout: .seconds(5))
        }
        if let active {
            if supervisor != nil { note("\(id): now \(active.manifest.version)") }
            startSupervisor(active)
        } else if supervisor != nil {
            note("\(id): removed; stopped")
        }
    }

    /// The status of every supervised module.
    public var snapshot: Snapshot {
        let denials = (runner as? ChildProcessRunner)?.denials
        let modules = supervisors.withLock { $0.values.map(\.status) }.sorted { $0.id < $1.id }.map { status in
            var status = status
            let counts = denials?.counts(of: status.id) ?? [:]
            status.syscallDenials = counts.isEmpty ? nil : counts
            return status
        }
        let channels = follower.statuses(at: .now)
        return Snapshot(pid: getpid(), updatedAt: Date().timeIntervalSince1970, modules: modules, events: events.withLock { $0 },
                        sandbox: features.withLock { $0 }, channels: channels.isEmpty ? nil : channels)
    }

    /// Calls a typed command of a running module with arguments as text (as typed on a command
    /// line; parsed and checked against the module's manifest before anything is sent).
    /// - Throws: `ModuleError` `.unknownCommand` / `.badArguments` (exit code 21: no call made),
    ///   `.notRunning` (17: no such module on this host, or not running now), `.commandFailed` (23).
    public func call(module id: String, command: String, arguments: [String], timeout: Duration = .seconds(30)) throws(ModuleError) -> CommandValue {
        guard let supervisor = supervisors.withLock({ $0[id] }) else {
            let running = supervisors.withLock { $0.keys.sorted() }
            throw ModuleError(.notRunning, "module \(id) does not run on this host (\(running.isEmpty ? "it runs no modules" : "it runs " + running.joined(separator: ", ")))")
        }
        let (_, values) = try supervisor.context.manifest.commandArguments(command, arguments)
        return try supervisor.call(command: command, arguments: values, timeout: timeout)
    }

    /// The last output of a supervised module (the last 64 KiB of its current or last run).
    public func output(of id: String) -> String? { supervisors.withLock { $0[id] }?.output }

    /// Writes the status file if the snapshot changed since it was last written. It lives in the
    /// runtime directory (tmpfs): written with a rename, never fsync'd.
    public func writeStatusIfChanged() throws(ModuleError) {
        let current = generation.load(ordering: .relaxed)
        guard written.withLock({ $0 }) != current else { return }
        try writeRuntimeFile(try OCI.encode(snapshot), to: Self.statusPath(stateDirectory: stateDirectory))
        written.withLock { $0 = current }
    }

    /// Stops every module gracefully (stop entry point, then a kill after `timeout`), then writes
    /// the status and each module's last output (`<state>/run/<id>.log`) for `plugin-host logs`.
    public func stop(timeout: Duration = .seconds(5)) {
        stopping.store(true, ordering: .releasing)
        // A pull under way is cancelled; an install under way ends first (bounded by its timeouts).
        fleet.withLock { $0 }?.stop()
        follower.stop()
        let all = supervisors.withLock { Array($0.values) }
        for supervisor in all { supervisor.stop(timeout: timeout) }
        note("stopped \(all.count) module(s)")
        for supervisor in all {
            try? writeRuntimeFile(Data(supervisor.output.utf8), to: Self.outputPath(stateDirectory: stateDirectory, id: supervisor.context.manifest.id))
        }
        try? writeStatusIfChanged()
    }

    private func writeRuntimeFile(_ data: Data, to path: String) throws(ModuleError) {
        let directory = RuntimeDirectory.path(stateDirectory: stateDirectory)
        if !Files.isDirectory(directory, followingLinks: false) && Files.linkTarget(directory) == nil { try RuntimeDirectory.prepare(stateDirectory: stateDirectory) }
        try StateFiles.writeAtomically(data, to: path, durable: false)
    }

    func note(_ line: String) {
        events.withLock {
            $0.append(line)
            if $0.count > 100 { $0.removeFirst($0.count - 100) }
        }
        log(line)
        changed()
    }

    /// The status a running host last wrote, if its process is still alive.
    public static func runningSnapshot(stateDirectory: String) -> Snapshot? {
        guard let data = FileManager.default.contents(atPath: statusPath(stateDirectory: stateDirectory)),
              let snapshot = try? JSONDecoder().decode(Snapshot.self, from: data),
              kill(snapshot.pid, 0) == 0 || errno == EPERM else { return nil }
        return snapshot
    }
}
