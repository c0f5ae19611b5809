import LinuxSupport
#if canImport(Glibc)
import Glibc
#endif

/// A moment on the boot clock: which boot (the kernel's random `boot_id`) and the seconds since
/// it started (`CLOCK_BOOTTIME`, which counts suspend and never jumps). A Raspberry Pi has no
/// real-time clock: it boots at 1970 or at fake-hwclock's last saved time, and NTP later moves the
/// wall clock by hours or years. How long ago something happened in this boot is measured here,
/// never on the wall clock.
public struct BootInstant: Codable, Sendable, Equatable {
    /// `/proc/sys/kernel/random/boot_id`; empty where it cannot be read.
    public var bootID: String
    /// Seconds since the boot (`CLOCK_BOOTTIME`).
    public var seconds: Double

    public init(bootID: String, seconds: Double) {
        self.bootID = bootID
        self.seconds = seconds
    }

    /// This moment.
    public static var now: BootInstant { BootInstant(bootID: currentBootID, seconds: bootSeconds()) }

    /// Seconds from this instant to now, if it was in this boot; nil for an earlier boot (or an
    /// unknown one), where no clock can tell.
    public func secondsAgo(_ current: BootInstant = .now) -> Double? {
        guard !bootID.isEmpty, bootID == current.bootID else { return nil }
        return current.seconds - seconds
    }

    static var currentBootID: String { KernelClock.bootID ?? "" }

    static func bootSeconds() -> Double {
        let nanoseconds = (try? KernelClock.nanoseconds(CLOCK_BOOTTIME).get()) ?? 0
        return Double(nanoseconds) / 1e9
    }
}
