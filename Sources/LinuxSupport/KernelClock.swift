#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if os(Linux)
import CIoTLinux
#endif
import SystemPackage

/// The kernel's clocks as the SDK and the host read them: `clock_gettime(2)`, the boot id, and
/// whether NTP (or another time source) has synchronized the wall clock (`adjtimex(2)`).
package enum KernelClock {
    /// `clock_gettime(clock)` in nanoseconds (`CLOCK_REALTIME` since the epoch, `CLOCK_BOOTTIME`
    /// since the boot), or the errno of the failure.
    package static func nanoseconds(_ clock: clockid_t) -> Result<Int64, Errno> {
        var time = timespec()
        guard clock_gettime(clock, &time) == 0 else { return .failure(.current) }
        return .success(Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }

    /// `/proc/sys/kernel/random/boot_id`: a random UUID the kernel draws at each boot; nil where
    /// it cannot be read (no procfs). Read once: it cannot change while a process runs.
    package static let bootID: String? = {
        guard let text = Files.readAttributeIfPresent("/proc/sys/kernel/random/boot_id"), !text.isEmpty else { return nil }
        return text
    }()

    #if os(Linux)
    /// Whether the wall clock is synchronized, as `timedatectl` says: `adjtimex(2)` with
    /// `modes = 0` (a read, allowed to every user) returns neither `TIME_ERROR` nor a status with
    /// `STA_UNSYNC`. The kernel sets STA_UNSYNC at boot and whenever the clock is set by hand;
    /// an NTP client (systemd-timesyncd, chrony, ntpd) clears it when it synchronizes.
    package static func isSynchronized() -> Result<Bool, Errno> {
        var status: Int32 = 0
        let state = ciot_clock_state(&status)
        guard state != -1 else { return .failure(.current) }
        return .success(ciot_clock_is_unsynchronized(state, status) == 0)
    }

    /// Sets (`false`) or clears (`true`) STA_UNSYNC with `adjtimex(ADJ_STATUS)`, as an NTP client
    /// does; needs CAP_SYS_TIME. For the lab, which plays the NTP client.
    package static func setSynchronized(_ synchronized: Bool) -> Errno? {
        ciot_clock_set_unsynchronized(synchronized ? 0 : 1) == -1 ? .current : nil
    }
    #endif
}
