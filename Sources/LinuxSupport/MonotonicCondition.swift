#if os(Linux)
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A mutex and condition variable whose timed waits run on the monotonic clock
/// (`pthread_condattr_setclock(CLOCK_MONOTONIC)`), so a wall-clock jump — a Raspberry Pi that
/// booted at 1970 and then got NTP — neither ends a wait early nor stretches it by the jump.
/// (`NSCondition.wait(until:)` takes a `Date`: it waits on the wall clock.)
///
/// Deadlines are `ContinuousClock` instants, the clock every deadline of the host, the runner
/// and the MQTT connection uses.
public final class MonotonicCondition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held.
    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Wakes every waiter. Call with the mutex held (inside `locked`).
    public func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits (with the mutex held, inside `locked`) until woken or until `deadline`; nil waits
    /// without a deadline. Returns false once the deadline has passed. Wakes may be spurious:
    /// callers check their condition in a loop.
    @discardableResult
    public func wait(until deadline: ContinuousClock.Instant?) -> Bool {
        guard let deadline else {
            pthread_cond_wait(condition, mutex)
            return true
        }
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return false }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = left.components
        var nanoseconds = Int64(now.tv_nsec) + attoseconds / 1_000_000_000
        var wholeSeconds = Int64(now.tv_sec) + min(seconds, Int64(Int32.max))
        if nanoseconds >= 1_000_000_000 { nanoseconds -= 1_000_000_000; wholeSeconds += 1 }
        var target = timespec(tv_sec: Int(wholeSeconds), tv_nsec: Int(nanoseconds))
        return pthread_cond_timedwait(condition, mutex, &target) != ETIMEDOUT || ContinuousClock.now < deadline
    }
}
#endif
