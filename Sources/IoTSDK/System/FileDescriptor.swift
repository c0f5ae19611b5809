#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LinuxSupport
import CIoTLinux
import Synchronization

/// Owns one open file descriptor (a GPIO line request, a sysfs `value` file) for the life of
/// the object, and lets it be released early without a lock on the hot path.
///
/// `close()` gives the kernel object back at once, but does not free the descriptor *number*:
/// it atomically points that number at a harmless placeholder (an eventfd, on which ioctl, pread
/// and pwrite fail at once). A call racing with `close()` therefore fails and is reported as
/// `.closed`; it can never reach a file that a later `open` was given the same number. The number
/// itself is closed in `deinit`, when no call can be using it any more.
final class OwnedDescriptor: Sendable {
    private let fd: Int32
    private let closed = Atomic<Bool>(false)
    /// Set when close() had to close the number itself, so deinit must not close it again.
    private let numberFreed = Atomic<Bool>(false)
    /// What the descriptor is, for error messages ("/dev/gpiochip0", "line request on gpiochip0").
    let path: String

    init(_ fd: Int32, path: String) {
        self.fd = fd
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

    /// Runs `body` with the descriptor; fails with `.closed` after `close()`.
    @inline(__always)
    func withDescriptor<R>(_ body: (Int32) throws(HardwareError) -> R) throws(HardwareError) -> R {
        guard !closed.load(ordering: .acquiring) else { throw closedError }
        do {
            return try body(fd)
        } catch {
            // The failure may come from a close() that raced with the call.
            if closed.load(ordering: .acquiring) { throw closedError }
            throw error
        }
    }

    private var closedError: HardwareError {
        HardwareError(.closed, "\(path) was already released", location: path)
    }

    /// The descriptor number, or nil once closed. For registering with poll(2).
    var rawValue: Int32? { closed.load(ordering: .acquiring) ? nil : fd }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Releases the kernel object now; later calls fail with `.closed`. Idempotent.
    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let placeholder = ciot_eventfd()
        if placeholder >= 0 {
            _ = dup2(placeholder, fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = Glibc.close(placeholder)
        } else {
            // No placeholder could be made (out of descriptors): close outright, as a last resort.
            numberFreed.store(true, ordering: .releasing)
            _ = Glibc.close(fd)
        }
    }

    deinit {
        // The real descriptor, or the placeholder that close() put in its place.
        if !numberFreed.load(ordering: .acquiring) { _ = Glibc.close(fd) }
    }
}
