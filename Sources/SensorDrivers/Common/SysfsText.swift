#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import IoTSDK
import LinuxSupport

/// Reading and writing the small text attributes of sysfs (`w1_slave`, `in_temp_input`,
/// `resolution`…) for the sysfs-based drivers (DS18B20, IIO): LinuxSupport's `Files`, with each
/// failure as the `HardwareError` a driver reports. Listing and existence are `Files.list` and
/// `Files.exists`.
///
/// Every call is a plain blocking system call. A read of a sensor attribute can take as long as
/// the kernel driver's conversion (a DS18B20 `w1_slave` about 750 ms), so callers run these on a
/// dedicated thread (`OffPoolThread`), never on the cooperative pool.
enum SysfsText {
    /// The file's contents with trailing newlines and NULs removed.
    ///
    /// - Throws: `HardwareError` naming the file: `.notFound` when it does not exist,
    ///   `.permissionDenied`, `.timeout` (the kernel driver gave up, e.g. a 1-Wire slave that did
    ///   not answer), `.ioError` for any other errno.
    static func read(_ path: String, what: String) throws(HardwareError) -> String {
        do {
            return try Files.readAttribute(path)
        } catch {
            throw Self.error(error.errno.rawValue, what, path)
        }
    }

    /// The file's contents, or nil when it does not exist or cannot be read (optional attributes).
    static func readIfPresent(_ path: String) -> String? {
        try? read(path, what: "reading")
    }

    /// Writes `text` in one write(2), as sysfs requires.
    ///
    /// - Throws: `HardwareError` naming the file (`.invalidArgument` when the kernel rejects the
    ///   value with EINVAL).
    static func write(_ text: String, to path: String, what: String) throws(HardwareError) {
        do {
            try Files.write(text, to: path, truncate: true)
        } catch {
            throw Self.error(error.errno.rawValue, what, path)
        }
    }

    /// A `HardwareError` for a failed open/read/write of a sysfs attribute, saying what to check.
    static func error(_ value: Int32, _ what: String, _ path: String) -> HardwareError {
        switch value {
        case EACCES, EPERM:
            return HardwareError(.permissionDenied, "permission denied on \(path) (\(what)): run as root or give this user access to the attribute (a udev rule)", errno: value, location: path)
        case ENOENT, ENODEV, ENXIO:
            return HardwareError(.notFound, "\(path) does not exist (\(what)): the device is gone or its kernel driver is not loaded", errno: value, location: path)
        case ETIMEDOUT:
            return HardwareError(.timeout, "\(what) on \(path) timed out in the kernel driver: check wiring, power and pull-up", errno: value, location: path)
        case EBUSY:
            return HardwareError(.busy, "\(path) is busy (\(what)): a buffered capture or another reader holds the device", errno: value, location: path)
        case EINVAL:
            return HardwareError(.invalidArgument, "the kernel rejected \(what) on \(path) as invalid", errno: value, location: path)
        case EOPNOTSUPP, ENOTTY, ENOSYS:
            return HardwareError(.unsupported, "\(what) is not supported by \(path)", errno: value, location: path)
        default:
            return HardwareError(.ioError, "\(what) on \(path) failed: the kernel driver reported an I/O error (check wiring and power)", errno: value, location: path)
        }
    }
}
