import Foundation
import ModuleProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running host: one supervisor per installed module, the runtime status file that
/// `plugin-host status` reads, and the automatic rollback of a freshly updated module that turns
/// out broken. `plugin-host run` wraps it in a service (swift-service-lifecycle).
public final class HostRuntime: Sendable {
    public let stateDirectory: String
    let runner: any ModuleRunner
    let backoff: ModuleSupervisor.Backoff
    /// A module counts as freshly updated while its last update committed less than this long ago
    /// (at least its restart window): if it breaks within it, it is rolled back.
    let freshUpdateWindow: Double
    private let supervisors = Mutex<[String: ModuleSupervisor]>([:])
    private let events = Mutex<[String]>([])
    private let stopping = Atomic<Bool>(false)
    private let features = Mutex<SandboxFeatures?>(nil)
    /// Modules an install has paused, with when (seconds since 1970).
    private let paused = Mutex<[String: Double]>([:])

    public init(stateDirectory: String, runner: any ModuleRunner, backoff: ModuleSupervisor.Backoff = .init(), freshUpdateWindow: Double = 600) {
        self.stateDirectory = stateDirectory
        self.runner = runner
        self.backoff = backoff
        self.freshUpdateWindow = freshUpdateWindow
    }

    /// The runtime status file, rewritten while the host runs.
    public static func statusPath(stateDirectory: String) -> String { stateDirectory + "/run/status.json" }

    /// A module's recent output, rewritten while the host runs (`plugin-host logs`).
    public static func outputPath(stateDirectory: String, id: String) -> String { stateDirectory + "/run/\(id).log" }

    /// What the host reports about itself and its modules.
    public struct Snapshot: Codable, Sendable {
        public var pid: Int32
        /// Seconds since 1970.
        public var updatedAt: Double
        public var modules: [ModuleSupervisor.Status]
        /// Host-level events: recoveries, automatic rollbacks, start failures.
        public var events: [String]
        /// What the sandbox could use on this system when the host started (nil: modules run
        /// without the sandbox).
        public var sandbox: SandboxFeatures?
    }

    /// Replays interrupted transactions, then starts a supervisor for every installed module.
    /// - Throws: `ModuleError` if the state directory cannot be opened (`.busy` while an
    ///   install is running: the caller retries).
    public func start() throws(ModuleError) {
        if let child = runner as? ChildProcessRunner, child.sandbox != nil {
            let detected = SandboxFeatures.detect(runner: child.executable)
            features.withLock { $0 = detected }
            for line in detected.missing { note("sandbox: not available: \(line)") }
        }
        let engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner)
        for line in engine.recoveryLog { note("recovered: \(line)") }
        for status in try UpdateEngine.list(stateDirectory: stateDirectory) where status.state == .active {
            guard let version = try engine.activeVersion(of: status.id) else { continue }
            startSupervisor(version)
        }
    }

    private func startSupervisor(_ version: InstalledVersion) {
        guard !stopping.load(ordering: .acquiring) else { return }
        let id = version.manifest.id
        let supervisor = ModuleSupervisor(context: version.context, runner: runner, backoff: backoff) { [weak self] status in
            self?.broken(status)
        }
        // One supervisor per module: a reconcile and an automatic rollback may both start one.
        let replaced = supervisors.withLock { supervisors -> ModuleSupervisor? in
            defer { supervisors[id] = supervisor }
            return supervisors[id]
        }
        replaced?.stop(timeout: .seconds(5))
        note("\(id) \(version.manifest.version): starting")
        supervisor.start()
    }

    /// A module failed more often than its policy allows. If its version was committed recently,
    /// the update is the likely cause: roll back and run the previous version.
    private func broken(_ status: ModuleSupervisor.Status) {
        note("\(status.id) \(status.version) is broken: \(status.lastFailure ?? "")")
        let paths = ModulePaths(stateDirectory: stateDirectory, id: status.id)
        guard let record = paths.lastRecord(), record.kind == .update, record.result == .committed,
              Date().timeIntervalSince1970 - record.finishedAt < freshUpdateWindow,
              paths.target(of: paths.previous) != nil else { return }
        // Run off the supervisor's thread: the rollback stops this very supervisor.
        Thread.detachNewThread { [self] in
            supervisors.withLock { $0[status.id] }?.stop(timeout: .seconds(5))
            for attempt in 0..<50 {
                do throws(ModuleError) {
                    let engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner)
                    let report = try engine.rollback(id: status.id)
                    note("\(status.id): rolled back from \(status.version) to \(report.active.map { "\($0)" } ?? "?") after it broke within \(Int(freshUpdateWindow)) s of its update")
                    if let version = try engine.activeVersion(of: status.id) { startSupervisor(version) }
                    return
                } catch where error.code == .busy && attempt < 49 {
                    Thread.sleep(forTimeInterval: 0.2)
                } catch {
                    note("\(status.id): automatic rollback failed: \(error)")
                    return
                }
            }
        }
    }

    // MARK: - Coordination with install, rollback and remove

    /// Stops supervising a module (its stop entry point, outputs to their safe state) while an
    /// install changes it; `plugin-host install` asks for this through the control socket, so
    /// that the new version's health check does not run beside the old version.
    /// - Returns: whether the module was running.
    public func pause(_ id: String) -> Bool {
        paused.withLock { $0[id] = Date().timeIntervalSince1970 }
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

    /// Brings supervision in line with the state directory when no install holds it: resumes
    /// modules an install paused and then left (it was killed), restarts modules whose active
    /// version changed (`plugin-host rollback`), stops removed ones, starts new ones. Called by
    /// `plugin-host run` every second.
    public func reconcile() {
        guard !stopping.load(ordering: .acquiring) else { return }
        // Only while no other plugin-host holds the state directory. Opening an engine also
        // replays what a killed command left (a half-done install is rolled back or finished)
        // before anything is started from the state directory.
        let engine: UpdateEngine
        do throws(ModuleError) {
            engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner)
        } catch {
            if error.code != .busy { note("cannot open the state directory: \(error)") }
            return
        }
        for line in engine.recoveryLog { note("recovered: \(line)") }
        withExtendedLifetime(engine) {
            let now = Date().timeIntervalSince1970
            for (id, since) in paused.withLock({ $0 }) where now - since > 2 {
                note("\(id): resumed (the install that paused it is gone)")
                resume(id)
            }
            let pausedNow = Set(paused.withLock { $0.keys })
            var ids = Set(supervisors.withLock { Array($0.keys) })
            ids.formUnion(((try? UpdateEngine.list(stateDirectory: stateDirectory)) ?? []).filter { $0.state == .active }.map(\.id))
            for id in ids.subtracting(pausedNow) { restartIfChanged(id, force: false) }
        }
    }

    private func restartIfChanged(_ id: String, force: Bool) {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: id)
        let active = paths.target(of: paths.current).flatMap { try? paths.installed($0) }
        let supervisor = supervisors.withLock { $0[id] }
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
        let modules = supervisors.withLock { $0.values.map(\.status) }.sorted { $0.id < $1.id }
        return Snapshot(pid: getpid(), updatedAt: Date().timeIntervalSince1970, modules: modules, events: events.withLock { $0 },
                        sandbox: features.withLock { $0 })
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

    /// The last output of a supervised module.
    public func output(of id: String) -> String? { supervisors.withLock { $0[id] }?.output }

    /// Writes the status file and each module's recent output (`run/<id>.log`), atomically.
    public func writeStatus() throws(ModuleError) {
        try DurableFiles.makeDirectory(stateDirectory + "/run")
        try DurableFiles.writeAtomically(try OCI.encode(snapshot), to: Self.statusPath(stateDirectory: stateDirectory))
        for (id, supervisor) in supervisors.withLock({ $0 }) {
            try DurableFiles.writeAtomically(Data(supervisor.output.utf8), to: Self.outputPath(stateDirectory: stateDirectory, id: id))
        }
    }

    /// Stops every module gracefully (stop entry point, then a kill after `timeout`).
    public func stop(timeout: Duration = .seconds(5)) {
        stopping.store(true, ordering: .releasing)
        let all = supervisors.withLock { Array($0.values) }
        for supervisor in all { supervisor.stop(timeout: timeout) }
        note("stopped \(all.count) module(s)")
        try? writeStatus()
    }

    private func note(_ line: String) {
        events.withLock {
            $0.append(line)
            if $0.count > 100 { $0.removeFirst($0.count - 100) }
        }
    }

    /// The status a running host last wrote, if its process is still alive.
    public static func runningSnapshot(stateDirectory: String) -> Snapshot? {
        guard let data = FileManager.default.contents(atPath: statusPath(stateDirectory: stateDirectory)),
              let snapshot = try? JSONDecoder().decode(Snapshot.self, from: data),
              kill(snapshot.pid, 0) == 0 || errno == EPERM else { return nil }
        return snapshot
    }
}
