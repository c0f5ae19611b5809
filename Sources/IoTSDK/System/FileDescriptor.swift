#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Owns one open file descriptor and closes it exactly once: on `close()` or in `deinit`.
///
/// Users of the descriptor call `withDescriptor`, which fails with `.closed` after `close()`;
/// the lock makes sure a descriptor number is never used after it was closed (and perhaps reused).
final class OwnedDescriptor: Sendable {
    private let state: Mutex<Int32>
    /// What the descriptor is, for error messages ("/dev/gpiochip0", "line request on gpiochip0").
    let path: String

    init(_ fd: Int32, path: String) {
        self.state = Mutex(fd)
        self.path = path
    }

    /// Opens `path` with `flags` (O_CLOEXEC is always added); errno becomes a `HardwareError`.
    static func open(_ path: String, _ flags: Int32, what: String, permissionAdvice: String? = nil) throws(HardwareError) -> OwnedDescriptor {
        let fd = Syscall.open(path, flags | O_CLOEXEC)
        guard fd >= 0 else {
            throw HardwareError.fromErrno(errno, what, path: path, permissionAdvice: permissionAdvice)
        }
        return OwnedDescriptor(fd, path: path)
    }

    /// Runs `body` with the raw descriptor while holding the lock that `close()` takes.
    @inline(__always)
    func withDescriptor<R>(_ body: (Int32) throws(HardwareError) -> R) throws(HardwareError) -> R {
        try state.withLock { (fd: inout Int32) throws(HardwareError) -> R in
            guard fd >= 0 else {
                throw HardwareError(.closed, "\(path) was already released", location: path)
            }
            return try body(fd)
        }
    }

    /// The descriptor number, or nil once closed. Only for registering with poll; never for I/O.
    var rawValue: Int32? {
        state.withLock { $0 >= 0 ? $0 : nil }
    }

    var isClosed: Bool { state.withLock { $0 < 0 } }

    /// Closes the descriptor; later calls do nothing.
    func close() {
        state.withLock { fd in
            if fd >= 0 {
                _ = Glibc.close(fd)
                fd = -1
            }
        }
    }

    deinit { close() }
}
