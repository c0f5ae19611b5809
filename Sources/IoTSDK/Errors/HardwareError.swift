#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every error that the hardware layer (GPIO, I2C, discovery) throws.
///
/// The `message` is written for the person at the device: it says what went wrong and what to do
/// about it ("add the user to group gpio…", "held by consumer 'w1-gpio'"). `errno` carries the
/// kernel's error number when one was involved, and `location` the path or line it concerns.
public struct HardwareError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; switch on it to react in code.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The process lacks the permission to open or use a device node or sysfs file.
        case permissionDenied
        /// The line, address or device is held by someone else (another process or a kernel driver).
        case busy
        /// No chip, line, adapter or device matches what was asked for.
        case notFound
        /// The kernel, the adapter or the backend cannot do what was asked.
        case unsupported
        /// An argument is out of range or the settings contradict each other.
        case invalidArgument
        /// No device acknowledged its address on the I2C bus.
        case noAcknowledge
        /// The bus or the device did not answer in time.
        case timeout
        /// The board could not be identified from the chips present.
        case unknownBoard
        /// The handle was already released.
        case closed
        /// Any other I/O error reported by the kernel.
        case ioError
    }

    public var code: Code
    public var message: String
    /// The errno value, when the kernel reported one.
    public var errno: Int32?
    /// The path, chip or line this error concerns.
    public var location: String?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, location: String? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.location = location
    }

    public var description: String {
        var text = message
        if let errno {
            text += " (errno \(errno): \(HardwareError.errnoName(errno)))"
        }
        return text
    }

    /// The C library's text for an errno value.
    static func errnoName(_ value: Int32) -> String {
        guard let text = strerror(value) else { return "unknown error" }
        return String(cString: text)
    }
}

extension HardwareError {
    /// Maps an errno from opening or using a device node to a typed error whose message says
    /// what to do. `what` names the operation, `path` the node; `advice` overrides the fix for
    /// permission errors (GPIO and I2C name different groups).
    static func fromErrno(
        _ value: Int32, _ what: String, path: String, permissionAdvice: String? = nil
    ) -> HardwareError {
        switch value {
        case EACCES, EPERM:
            let fix = permissionAdvice ?? "run as root or grant this user access to \(path)"
            return HardwareError(.permissionDenied, "permission denied on \(path) (\(what)): \(fix)", errno: value, location: path)
        case ENOENT, ENODEV, ENXIO:
            return HardwareError(.notFound, "\(path) does not exist (\(what)): is the kernel driver loaded and the device enabled?", errno: value, location: path)
        case EBUSY:
            return HardwareError(.busy, "\(path) is busy (\(what)): another process or a kernel driver holds it", errno: value, location: path)
        case ETIMEDOUT:
            return HardwareError(.timeout, "\(what) on \(path) timed out: check wiring, pull-ups and bus speed", errno: value, location: path)
        case EOPNOTSUPP, ENOTTY, ENOSYS:
            return HardwareError(.unsupported, "\(what) is not supported by \(path)", errno: value, location: path)
        case EINVAL:
            return HardwareError(.invalidArgument, "the kernel rejected \(what) on \(path) as invalid", errno: value, location: path)
        default:
            return HardwareError(.ioError, "\(what) on \(path) failed", errno: value, location: path)
        }
    }
}
