import LinuxSupport
import PluginHostImages
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on the state directory (`flock` on `<state>/.lock`), held while the state
/// changes, so two `plugin-host` processes never update at once. The kernel drops it when the
/// process dies, so a killed update never leaves a stale lock.
final class StateLock {
    private let fd: Int32

    /// - Parameter wait: how long to wait for another process to let go of it (zero: not at
    ///   all). The wait sleeps on inotify until a process closes the lock file, which is when a
    ///   holder lets go (or dies), and then tries again.
    /// - Throws: `ModuleError` `.busy` if another process still holds it, `.io` if it cannot be created.
    init(stateDirectory: String, wait: Duration = .zero) throws(ModuleError) {
        try StateFiles.makeStateDirectory(stateDirectory)
        let path = stateDirectory + "/.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFiles.ioError("opening lock", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) != 0 else { return }
        var code = errno
        if code == EWOULDBLOCK && wait > .zero {
            code = Self.lockWhenReleased(fd, path: path, until: .now + wait)
            if code == 0 { return }
        }
        close(fd)
        if code == EWOULDBLOCK {
            throw ModuleError(.busy, "another plugin-host process is changing '\(stateDirectory)': wait for it to finish and try again", field: path)
        }
        throw StateFiles.ioError("locking", path, code)
    }

    deinit { close(fd) }

    /// Takes the lock as soon as its holder closes the lock file, by `deadline`; 0, or the errno
    /// (EWOULDBLOCK: still held at the deadline).
    private static func lockWhenReleased(_ fd: Int32, path: String, until deadline: ContinuousClock.Instant) -> Int32 {
        guard let closed = FileEvents(path, mask: UInt32(IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) else { return EWOULDBLOCK }
        while true {
            // Tried after the watch exists, so a release between the first try and the watch is not missed.
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return 0 }
            guard errno == EWOULDBLOCK || errno == EINTR else { return errno }
            guard deadline > .now else { return EWOULDBLOCK }
            closed.wait(until: deadline)
        }
    }
}
