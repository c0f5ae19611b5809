#if canImport(Glibc)
import Glibc
#endif
import IoTSDK
import Synchronization

/// Runs one blocking piece of work (a sysfs read that the kernel holds for a conversion) on a
/// thread of its own, so that it never occupies a thread of Swift's cooperative pool.
///
/// Why a new thread per call rather than `Task.detached` or a shared worker:
/// - `Task.detached` still runs on the cooperative pool: eight concurrent 750 ms `w1_slave` reads
///   would stall every task of the process on an eight-core board.
/// - A thread costs some tens of microseconds to start, nothing next to a 750 ms 1-Wire
///   conversion; reads of sensors on different 1-Wire masters or IIO devices run in parallel
///   (the kernel serialises those that share a bus master), and nothing has to be started in an
///   `init` or shut down at exit.
///
/// Cancellation: a blocked read(2) on sysfs cannot be interrupted from user space. When the
/// calling task is cancelled, `run` returns `CancellationError` at once; the thread finishes the
/// read in the background (bounded by the kernel driver's own timeout) and its result is dropped.
enum OffPoolThread {
    /// Runs `work` on a new detached thread and returns its result.
    ///
    /// - Throws: whatever `work` throws; `CancellationError` if the task is cancelled first;
    ///   `HardwareError(.ioError)` if no thread could be started (the process is out of threads).
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let job = Job<T>(work)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard job.install(continuation) else { return }
                if let failure = startThread(job) {
                    job.finish(.failure(failure))
                }
            }
        } onCancel: {
            job.finish(.failure(CancellationError()))
        }
    }

    /// Like ``run(_:)``, but gives up after `timeout` and throws `onTimeout()`; the thread's late
    /// result is dropped.
    static func run<T: Sendable>(timeout: Duration, onTimeout: @escaping @Sendable () -> any Error,
                                 _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await run(work) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw onTimeout()
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }

    /// Starts a detached thread that runs `job`; returns the error when it cannot.
    private static func startThread<T: Sendable>(_ job: Job<T>) -> HardwareError? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        let box = Unmanaged.passRetained(ThreadEntry(job.execute))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { argument in
            guard let argument else { return nil }
            let entry = Unmanaged<ThreadEntry>.fromOpaque(argument).takeRetainedValue()
            entry.body()
            return nil
        }, box.toOpaque())
        guard result == 0 else {
            box.release()
            return HardwareError(.ioError, "could not start a thread for a blocking sysfs read (pthread_create failed): the process has too many threads", errno: result)
        }
        return nil
    }
}

/// The closure a new thread runs.
private final class ThreadEntry: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// One piece of work and the continuation waiting for it, resumed exactly once: by the thread's
/// result, or earlier by cancellation.
private final class Job<T: Sendable>: Sendable {
    private enum State {
        case waiting
        case installed(CheckedContinuation<T, any Error>)
        case finished
    }

    private let work: @Sendable () throws -> T
    private let state = Mutex(State.waiting)

    init(_ work: @escaping @Sendable () throws -> T) {
        self.work = work
    }

    /// Stores the continuation; false (and the continuation resumed with `CancellationError`)
    /// when the task was cancelled before.
    func install(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let alreadyFinished = state.withLock { state -> Bool in
            if case .finished = state { return true }
            state = .installed(continuation)
            return false
        }
        if alreadyFinished { continuation.resume(throwing: CancellationError()) }
        return !alreadyFinished
    }

    /// Runs the work (on the dedicated thread) and hands over its result.
    func execute() {
        let result = Result { try work() }
        finish(result)
    }

    /// Resumes the continuation with `result` if nothing has resumed it yet.
    func finish(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            switch state {
            case .waiting:
                state = .finished
                return nil
            case .installed(let continuation):
                state = .finished
                return continuation
            case .finished:
                return nil
            }
        }
        continuation?.resume(with: result)
    }
}
