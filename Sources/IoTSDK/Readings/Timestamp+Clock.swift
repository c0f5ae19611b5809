import LinuxSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Reading the wall clock

extension Timestamp {
    /// The current wall-clock time, read with `clock_gettime(CLOCK_REALTIME)`.
    ///
    /// - Throws: ``TimestampError`` with code ``TimestampError/Code/clockUnavailable`` if the system
    ///   call fails. On Linux that happens when a seccomp filter denies it: Docker with libseccomp
    ///   older than 2.4.2 on 32-bit ARM (Raspberry Pi OS) denies `clock_gettime64`.
    public static func now() throws(TimestampError) -> Timestamp {
        switch KernelClock.nanoseconds(CLOCK_REALTIME) {
        case .success(let nanoseconds): return Timestamp(nanosecondsSinceEpoch: nanoseconds)
        case .failure(let error): throw clockError(error.rawValue)
        }
    }

    /// The error for a failed clock system call (`clock_gettime(CLOCK_REALTIME)` unless `call`
    /// says another), naming the fix.
    static func clockError(_ errorNumber: Int32, call: String = "clock_gettime(CLOCK_REALTIME)") -> TimestampError {
        let fix: String
        switch errorNumber {
        case EPERM:
            fix = "a seccomp filter denies the call; in a container on 32-bit ARM, update libseccomp to 2.4.2 "
                + "or newer (or Docker to 19.03.9 or newer), or run with --security-opt seccomp=unconfined"
        case EINVAL:
            fix = "the kernel does not support the call"
        default:
            fix = "errno \(errorNumber)"
        }
        return TimestampError(
            code: .clockUnavailable, errorNumber: errorNumber,
            message: "\(call) failed: \(fix)"
        )
    }
}
