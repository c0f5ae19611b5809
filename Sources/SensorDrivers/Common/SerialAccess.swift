import Synchronization

/// Runs a driver's bus sequences one at a time.
///
/// A driver actor suspends while it waits for a conversion (`Task.sleep`), and an actor lets other
/// calls in while it is suspended. Without this gate a second `read()` could send its command
/// between the first one's command and its read-out. Every public method that talks to the chip
/// runs its whole sequence inside ``run(isolation:_:)``; callers queue in arrival order.
///
/// Shared by every driver of this module whose sequences wait between bus transfers.
final class SerialAccess: Sendable {
    private let state = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init() {}

    /// Runs `body` once every earlier sequence has finished, on the caller's actor.
    func run<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { s -> Bool in
                if s.busy {
                    s.waiters.append(continuation)
                    return false
                }
                s.busy = true
                return true
            }
            if free { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst()     // stays busy: handed over to the next caller
        }
        next?.resume()
    }
}
