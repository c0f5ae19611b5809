#if os(Linux)
import Glibc

/// Wakes when something happens to one file (inotify): a process closed it, or the kernel
/// announced a change (cgroup v2's `cgroup.events`).
package final class FileEvents {
    private let descriptor: Int32

    /// nil when the file cannot be watched (it does not exist, or the kernel has no inotify).
    package init?(_ path: String, mask: UInt32) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        guard inotify_add_watch(fd, path, mask) >= 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Returns once an event came since the last call, or at `deadline`.
    package func wait(until deadline: ContinuousClock.Instant) {
        var watched = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&watched, 1, pollMilliseconds(until: deadline))
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 8) { buffer in
            while read(descriptor, buffer.baseAddress, buffer.count) > 0 {}
        }
    }
}
#endif
