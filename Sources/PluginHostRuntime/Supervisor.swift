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
#elseif canImport(Musl)
import Musl
#endif

/// Keeps one module running: starts it through a `ModuleRunner`, holds it to its health policy
/// (ready in time, heartbeats no more than 1.5 × the interval apart), restarts it with
/// exponential backoff when it exits or hangs, and marks it broken when it fails more than
/// `maxRestarts` times within `restartWindowSeconds`. Runs on a thread of its own, because the
/// runner's waits block; it sleeps until the runner sends something, exits, or a health deadline
/// or the backoff passes (all on the monotonic clock).
public final class ModuleSupervisor: Sendable {
    public enum State: String, Codable, Sendable {
        case starting, running
        case backingOff = "backing-off"
        case broken, stopped
    }

    /// What `plugin-host status` shows for a running module.
    public struct Status: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public var state: State
        /// Restarts since the supervisor began.
        public var restarts: Int
        /// Failures inside the current restart window.
        public var recentFailures: Int
        public var lastFailure: String?
        /// Seconds since 1970 when `state` was entered.
        public var since: Double
        /// The calls the sandbox's syscall filter stopped since the host started, with their
        /// counts (nil: none).
        public var syscallDenials: [String: Int]?
    }

    /// Backoff between restarts: `initial` × 2ⁿ, at most `maximum`.
    public struct Backoff: Sendable {
        public var initial: Duration
        public var maximum: Duration
        public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30)) {
            self.initial = initial
            self.maximum = maximum
        }

        func delay(afterFailures count: Int) -> Duration {
            var delay = initial
            for _ in 1..<max(count, 1) where delay < maximum { delay *= 2 }
            return min(delay, maximum)
        }
    }

    public let context: ModuleContext
    let runner: any ModuleRunner
    let backoff: Backoff
    /// Called (on the supervisor's thread) once the module is marked broken.
    let onBroken: @Sendable (Status) -> Void
    /// Called (on the supervisor's thread) whenever `status` changes, with a line saying what
    /// happened and why when it is worth reporting (a failure, a restart, the module marked broken).
    let onChange: @Sendable (_ event: String?) -> Void

    private struct Inner {
        var status: Status
        var stopRequested = false
        var instance: (any ModuleInstance)?
        var failures: [ContinuousClock.Instant] = []
        var started = false
        var output = ""
    }

    private let inner: Mutex<Inner>
    /// Wakes the backoff wait on `stop`, and `stop` once the supervisor's thread has finished.
    private let wakeup = MonotonicCondition()
    private let finished = Atomic<Bool>(false) // changed with `wakeup` held

    public init(context: ModuleContext, runner: any ModuleRunner, backoff: Backoff = Backoff(),
                onBroken: @escaping @Sendable (Status) -> Void = { _ in },
                onChange: @escaping @Sendable (_ event: String?) -> Void = { _ in }) {
        self.context = context
        self.runner = runner
        self.backoff = backoff
        self.onBroken = onBroken
        self.onChange = onChange
        inner = Mutex(Inner(status: Status(id: context.manifest.id, version: context.manifest.version.description, state: .starting,
                                           restarts: 0, recentFailures: 0, lastFailure: nil, since: Date().timeIntervalSince1970)))
    }

    public var status: Status { inner.withLock { $0.status } }

    /// The last 64 KiB the module wrote (of its most recent run).
    public var output: String { inner.withLock { $0.instance?.output ?? $0.output } }

    /// Calls a typed command of the running module (`ModuleInstance.call`), with the arguments
    /// checked against this module's manifest first.
    /// - Throws: `ModuleError` `.unknownCommand` / `.badArguments` (no call made), `.notRunning`
    ///   (starting, backing off, broken or stopped), `.commandFailed`.
    public func call(command: String, arguments: [CommandValue], timeout: Duration = .seconds(30)) throws(ModuleError) -> CommandValue {
        try context.manifest.checkArguments(command, arguments)
        let (instance, state) = inner.withLock { inner in (inner.status.state == .running ? inner.instance : nil, inner.status.state) }
        guard let instance else {
            throw ModuleError(.notRunning, "module \(context.manifest.id) is \(state.rawValue), not running, so \(command) cannot be called")
        }
        return try instance.call(command: command, arguments: arguments, manifest: context.manifest, timeout: timeout)
    }

    /// Starts supervising on a new thread.
    public func start() {
        let ended: @Sendable () -> Void = { [self] in
            wakeup.locked {
                finished.store(true, ordering: .releasing)
                wakeup.broadcast()
            }
        }
        inner.withLock { $0.started = true }
        let created = startDetachedThread(name: "supervisor \(context.manifest.id)") { [self] in
            run()
            ended()
        }
        if created != 0 {
            let reason = "cannot start its supervisor thread: \(String(cString: strerror(created)))"
            set(.broken, failure: reason, event: "\(context.manifest.id) \(context.manifest.version): broken: \(reason)")
            ended()
        }
    }

    /// Stops the module (its stop entry point, then a kill after `timeout`) and the supervisor.
    public func stop(timeout: Duration = .seconds(5)) {
        let (instance, started) = inner.withLock { inner -> ((any ModuleInstance)?, Bool) in
            inner.stopRequested = true
            return (inner.instance, inner.started)
        }
        wakeup.locked { wakeup.broadcast() }
        instance?.stop(timeout: timeout)
        guard started else { return }
        wakeup.locked {
            while !finished.load(ordering: .acquiring) { wakeup.wait(until: nil) }
        }
    }

    private var stopRequested: Bool { inner.withLock { $0.stopRequested } }

    private func set(_ state: State, failure: String? = nil, event: String? = nil) {
        inner.withLock {
            $0.status.state = state
            $0.status.since = Date().timeIntervalSince1970
            if let failure { $0.status.lastFailure = failure }
        }
        onChange(event)
    }

    private func run() {
        let clock = ContinuousClock()
        let policy = context.manifest.health
        let name = "\(context.manifest.id) \(context.manifest.version)"
        while !stopRequested {
            set(.starting)
            let failure = runOnce(policy: policy)
            if stopRequested { break }
            let now = clock.now
            let count = inner.withLock { inner -> Int in
                inner.failures.append(now)
                inner.failures.removeAll { now - $0 > .seconds(policy.restartWindowSeconds) }
                inner.status.recentFailures = inner.failures.count
                inner.status.lastFailure = failure
                return inner.failures.count
            }
            let window = "\(count) failure(s) within \(UpdateSteps.seconds(policy.restartWindowSeconds)) (maxRestarts \(policy.maxRestarts))"
            if count > Int(policy.maxRestarts) {
                let reason = "\(failure); \(window)"
                set(.broken, failure: reason, event: "\(name): marked broken: \(reason)")
                onBroken(self.status)
                return
            }
            let delay = backoff.delay(afterFailures: count)
            set(.backingOff, failure: failure,
                event: "\(name): \(failure); restarting in \(UpdateSteps.seconds(UpdateSteps.seconds(delay))) (\(window))")
            let resume = clock.now + delay
            wakeup.locked {
                while clock.now < resume, !stopRequested { wakeup.wait(until: resume) }
            }
            if stopRequested { break }
            inner.withLock { $0.status.restarts += 1 }
        }
        set(.stopped)
    }

    /// One run of the module; returns why it ended (the module is stopped when this returns).
    private func runOnce(policy: ModuleManifest.HealthPolicy) -> String {
        let instance: any ModuleInstance
        do { instance = try runner.start(context) } catch { return "could not start: \(error.message)" }
        let stopNow = inner.withLock { inner -> Bool in
            inner.instance = instance
            return inner.stopRequested
        }
        defer {
            let text = instance.output
            inner.withLock {
                $0.instance = nil
                $0.output = text
            }
        }
        if stopNow { instance.stop(timeout: .seconds(5)); return "stopped" }
        let health = HealthWatch(policy: policy)
        if let failure = health.awaitReady(instance) {
            switch failure {
            case let .exitedBeforeReady(exit): return "\(exit) before signalling ready"
            default:
                instance.stop(timeout: .seconds(2))
                return "did not signal ready within \(UpdateSteps.seconds(policy.readyTimeoutSeconds))"
            }
        }
        set(.running)
        switch health.watch(instance, until: nil, stopping: { stopRequested }) {
        case nil:
            return "stopped"
        case let .silent(gap, _)?:
            instance.stop(timeout: .seconds(2))
            return "hung: no heartbeat for \(UpdateSteps.seconds(UpdateSteps.seconds(gap))); killed"
        case let .exited(exit, after)?:
            return "\(exit) after running \(UpdateSteps.seconds(UpdateSteps.seconds(after)))"
        case let failure?:
            return "\(failure)"
        }
    }
}
