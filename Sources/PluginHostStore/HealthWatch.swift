import PluginHostImages

/// The health rules of a module's manifest (`health`), judged on the events of a running
/// instance: `ready` within `readyTimeoutSeconds`, then no two signs of life (ready or heartbeat)
/// more than 1.5 × `heartbeatIntervalSeconds` apart. Both the update's health check
/// (`UpdateSteps.judgeHealth`, over the stability window) and the running host's supervision
/// (`ModuleSupervisor`, for as long as the module runs) judge with this one type. Every wait is
/// on the monotonic clock, so a wall-clock jump cannot fail a healthy module.
package struct HealthWatch {
    /// Why a module failed its health rules.
    package enum Failure: Equatable, Sendable {
        /// No `ready` within `readyTimeoutSeconds`.
        case notReady(timeoutSeconds: Double)
        /// The runner ended before the module said ready.
        case exitedBeforeReady(ProcessExit)
        /// No sign of life for longer than the allowed gap.
        case silent(for: Duration, heartbeatIntervalSeconds: Double)
        /// The runner ended after the module said ready; `after` counts from its start.
        case exited(ProcessExit, after: Duration)
    }

    let policy: ModuleManifest.HealthPolicy
    let started: ContinuousClock.Instant

    package init(policy: ModuleManifest.HealthPolicy, started: ContinuousClock.Instant = .now) {
        self.policy = policy
        self.started = started
    }

    /// The longest silence allowed between two signs of life.
    var allowedGap: Duration { .seconds(policy.heartbeatIntervalSeconds * 1.5) }

    /// Waits for the module's `ready`; nil once it came. The instance is left as it is.
    package func awaitReady(_ instance: any ModuleInstance) -> Failure? {
        while true {
            switch instance.nextEvent(before: started + .seconds(policy.readyTimeoutSeconds)) {
            case nil: return .notReady(timeoutSeconds: policy.readyTimeoutSeconds)
            case let .exited(exit)?: return .exitedBeforeReady(exit)
            case .heartbeat?: continue
            case .ready?: return nil
            }
        }
    }

    /// Watches the heartbeats of a ready module until `end` (nil: as long as it runs) or until a
    /// wait times out while `stopping()` is true; nil then. The first rule broken ends it.
    package func watch(_ instance: any ModuleInstance, until end: ContinuousClock.Instant?, stopping: () -> Bool = { false }) -> Failure? {
        var lastSign = ContinuousClock.now
        while end.map({ ContinuousClock.now < $0 }) ?? true {
            let deadline = end.map { min($0, lastSign + allowedGap) } ?? lastSign + allowedGap
            switch instance.nextEvent(before: deadline) {
            case nil:
                if let end, ContinuousClock.now >= end { return nil }
                if stopping() { return nil }
                return .silent(for: ContinuousClock.now - lastSign, heartbeatIntervalSeconds: policy.heartbeatIntervalSeconds)
            case .ready?, .heartbeat?:
                lastSign = .now
            case let .exited(exit)?:
                return .exited(exit, after: ContinuousClock.now - started)
            }
        }
        return nil
    }
}
