import LinuxSupport

/// The thread on which the host runs modules' MQTT requests (a `TaskExecutor`: the tasks that
/// call `ModuleMessaging` prefer it, and so does the non-isolated and default-actor code they
/// call). Not the cooperative pool: code of the host that waits synchronously (a supervisor
/// waiting for a module's events, a test) may hold every pool thread while the module waits for
/// an answer, and a module's publish must not wait for them.
///
/// One thread, started when the first job comes and ended after `idleTimeout` without one, so an
/// idle host wakes for nothing. Jobs run in the order they came.
final class UplinkExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = MonotonicCondition()
    // Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var running = false

    /// How long the thread waits for a job before it ends.
    static let idleTimeout: Duration = .seconds(10)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let start = condition.locked { () -> Bool in
            jobs.append(job)
            condition.broadcast()
            guard !running else { return false }
            running = true
            return true
        }
        guard start else { return }
        if startDetachedThread(name: "uplink", { [self] in run() }) != 0 {
            // No thread to be had: the jobs run on the global executor rather than never.
            let pending = condition.locked { () -> [UnownedJob] in
                running = false
                defer { jobs.removeAll(); head = 0 }
                return Array(jobs[head...])
            }
            for job in pending { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
        }
    }

    private func run() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The next job; nil (and the thread ends) after `idleTimeout` without one.
    private func next() -> UnownedJob? {
        condition.locked {
            let deadline = ContinuousClock.now + Self.idleTimeout
            while head == jobs.count {
                if !condition.wait(until: deadline), head == jobs.count {
                    running = false
                    jobs.removeAll()
                    head = 0
                    return nil
                }
            }
            defer {
                head += 1
                if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            }
            return jobs[head]
        }
    }
}
