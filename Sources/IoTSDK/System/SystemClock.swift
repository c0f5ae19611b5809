import LinuxSupport
#if canImport(Glibc)
import Glibc
#endif

/// The system's clocks as a device without a real-time clock needs them.
///
/// A Raspberry Pi has no battery-backed clock: it boots at 1970 (or at the time fake-hwclock
/// saved at the last shutdown) and an NTP client moves the wall clock hours or years forward
/// once the network is up. Until then a wall-clock time is wrong. The kernel knows: it marks the
/// clock unsynchronized (`STA_UNSYNC`) at boot and whenever it is set by hand, and an NTP client
/// (systemd-timesyncd, chrony, ntpd) clears the mark when it synchronizes. `CLOCK_BOOTTIME`
/// counts from the boot, includes suspend and never jumps, so an instant of this boot measured
/// on it can be placed on the wall clock later, once the wall clock is right.
///
/// ```swift
/// let clock = try SystemClock.sample()
/// if !clock.isSynchronized { print("time not synchronized yet; boot \(clock.bootID ?? "?")") }
/// ```
///
/// `Outbox` and `TimeSeriesStore` record this beside every wall-clock time they store and re-base
/// the times of this boot when the clock synchronizes (see their documentation).
public enum SystemClock {
    /// The clocks read at one moment.
    public struct Sample: Sendable, Hashable {
        /// `CLOCK_REALTIME`: the wall clock, possibly not synchronized yet.
        public var wallClock: Timestamp
        /// `CLOCK_BOOTTIME`: the time since the boot, suspend included; it never jumps.
        public var bootTime: Duration
        /// The kernel's random id of this boot (`/proc/sys/kernel/random/boot_id`); nil where it
        /// cannot be read.
        public var bootID: String?
        /// Whether the wall clock is synchronized to a time source (see ``SystemClock/isSynchronized()``).
        public var isSynchronized: Bool

        /// Creates a sample from its parts (a simulated clock in tests).
        public init(wallClock: Timestamp, bootTime: Duration, bootID: String?, isSynchronized: Bool) {
            self.wallClock = wallClock
            self.bootTime = bootTime
            self.bootID = bootID
            self.isSynchronized = isSynchronized
        }

        /// ``wallClock`` in nanoseconds since the epoch.
        var wallNanoseconds: Int64 { wallClock.nanosecondsSinceEpoch }

        /// ``bootTime`` in nanoseconds since the boot.
        var bootNanoseconds: Int64 {
            let (seconds, attoseconds) = bootTime.components
            return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        }
    }

    /// Whether the wall clock is synchronized, decided as systemd's `timedatectl` does:
    /// `adjtimex(2)` with `modes = 0` (a read that every user may make) returns neither
    /// `TIME_ERROR` nor a status with `STA_UNSYNC`. One system call.
    ///
    /// - Throws: ``TimestampError`` with code ``TimestampError/Code/clockUnavailable`` when
    ///   `adjtimex` fails (a seccomp filter that denies it: allow `adjtimex`).
    public static func isSynchronized() throws(TimestampError) -> Bool {
        switch KernelClock.isSynchronized() {
        case .success(let synchronized): return synchronized
        case .failure(let error): throw Timestamp.clockError(error.rawValue, call: "adjtimex(2)")
        }
    }

    /// The time since the boot, `clock_gettime(CLOCK_BOOTTIME)`: suspend included, never jumps.
    ///
    /// - Throws: ``TimestampError`` with code ``TimestampError/Code/clockUnavailable`` when the
    ///   call fails.
    public static func bootTime() throws(TimestampError) -> Duration {
        switch KernelClock.nanoseconds(CLOCK_BOOTTIME) {
        case .success(let nanoseconds): return .nanoseconds(nanoseconds)
        case .failure(let error): throw Timestamp.clockError(error.rawValue, call: "clock_gettime(CLOCK_BOOTTIME)")
        }
    }

    /// The kernel's random id of this boot, `/proc/sys/kernel/random/boot_id` (read once per
    /// process); nil where procfs is not mounted.
    public static var bootID: String? { KernelClock.bootID }

    /// Reads the wall clock, the boot clock and the synchronization state: three system calls.
    ///
    /// - Throws: ``TimestampError`` with code ``TimestampError/Code/clockUnavailable`` when one
    ///   of them fails.
    public static func sample() throws(TimestampError) -> Sample {
        let synchronized = try isSynchronized()
        return Sample(wallClock: try Timestamp.now(), bootTime: try bootTime(), bootID: bootID, isSynchronized: synchronized)
    }
}

/// Where storage reads the clocks: the system's, or a simulated one in tests ("unsynchronized at
/// 1970, then synchronized in 2026") that needs no root.
struct ClockSource: Sendable {
    let read: @Sendable () throws -> SystemClock.Sample

    static let system = ClockSource { try SystemClock.sample() }

    /// A synchronized clock that only moves the wall clock: what tests written before the boot
    /// clock was recorded inject (nanoseconds since the epoch).
    static func wallOnly(_ now: @escaping @Sendable () -> Int64) -> ClockSource {
        ClockSource {
            SystemClock.Sample(wallClock: Timestamp(nanosecondsSinceEpoch: now()), bootTime: .zero, bootID: "wall-only", isSynchronized: true)
        }
    }
}
