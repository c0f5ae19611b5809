#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import IoTSDK

/// Reading and writing the small text attributes of sysfs (`w1_slave`, `in_temp_input`,
/// `resolution`…) and listing sysfs directories, for the sysfs-based drivers (DS18B20, IIO).
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
        let fd = Syscall.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, what, path) }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Syscall.read(fd, $0) }
            if n < 0 { throw error(errno, what, path) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" || text.last == "\0" { text.removeLast() }
        return text
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
        let fd = Syscall.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, what, path) }
        defer { _ = close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Syscall.write(fd, $0) }
        if n < 0 { throw error(errno, what, path) }
    }

    /// The names in a directory (without "." and ".."), numbered names in numeric order
    /// ("iio:device2" before "iio:device10"); empty when the directory is missing.
    static func list(_ path: String) -> [String] { SysfsFiles.list(path) }

    /// Whether something exists at `path` (a symbolic link is followed).
    static func exists(_ path: String) -> Bool { SysfsFiles.exists(path) }

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
