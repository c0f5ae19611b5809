#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginHostImages
#if canImport(Glibc)
import Glibc
#endif

/// File operations whose effect survives a power cut once they return: every write is fsync'd,
/// and so is the directory whose entries changed. The update engine builds its guarantees from
/// these and from rename(2) being atomic.
package enum DurableFiles {
    package static func ioError(_ what: String, _ path: String, _ code: Int32 = errno) -> ModuleError {
        ModuleError(.io, "\(what) '\(path)' failed: check that the state directory is writable and the disk is not full", field: path, underlying: ModuleError.errnoText(code))
    }

    /// fsyncs a file or directory by path.
    static func sync(_ path: String) throws(ModuleError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("opening", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError("fsync of", path) }
    }

    static func syncParent(of path: String) throws(ModuleError) {
        try sync(parentDirectory(of: path))
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates a directory (and missing parents) and fsyncs each parent it changed.
    package static func makeDirectory(_ path: String) throws(ModuleError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if !parent.isEmpty, parent != path { try makeDirectory(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw ioError("creating directory", path) }
        try sync(parent.isEmpty ? "." : parent)
    }

    /// Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename,
    /// fsync of the directory. A reader sees the old content or the new, never a mix.
    /// `durable: false` (files on tmpfs, which a power cut clears anyway) leaves out both fsyncs.
    package static func writeAtomically(_ data: Data, to path: String, durable: Bool = true) throws(ModuleError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("creating", temporary) }
        var failure: ModuleError?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; failure = ioError("writing", temporary); return }
                offset += n
            }
        }
        if failure == nil, durable, fsync(fd) != 0 { failure = ioError("fsync of", temporary) }
        close(fd)
        if let failure { unlink(temporary); throw failure }
        guard rename(temporary, path) == 0 else { let e = ioError("renaming into", path); unlink(temporary); throw e }
        if durable { try syncParent(of: path) }
    }

    /// The target of a symbolic link, or nil if `path` is not one.
    package static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Points the symbolic link `path` at `target` atomically: a new link beside it, then
    /// rename(2) over the old one, then fsync of the directory. At every instant the link exists
    /// and points at the old or the new target; it is never deleted and re-created.
    package static func switchLink(_ path: String, to target: String) throws(ModuleError) {
        let temporary = path + ".new"
        unlink(temporary)
        guard symlink(target, temporary) == 0 else { throw ioError("creating link", temporary) }
        guard rename(temporary, path) == 0 else { let e = ioError("switching link", path); unlink(temporary); throw e }
        try syncParent(of: path)
    }

    /// Removes a link or file if present and fsyncs its directory.
    package static func removeFile(_ path: String) throws(ModuleError) {
        guard exists(path) else { return }
        guard unlink(path) == 0 || errno == ENOENT else { throw ioError("removing", path) }
        try syncParent(of: path)
    }

    /// Renames and fsyncs the directories involved.
    package static func move(_ from: String, to: String) throws(ModuleError) {
        guard rename(from, to) == 0 else { throw ioError("renaming '\(from)' to", to) }
        try syncParent(of: to)
        let fromParent = parentDirectory(of: from)
        if fromParent != parentDirectory(of: to) { try sync(fromParent) }
    }

    /// Removes a directory tree without following symbolic links (descriptor-relative, as the
    /// layer extractor cleans up). Crash-safe for callers that first rename the tree to a name
    /// that marks it as garbage.
    package static func removeTree(_ path: String) throws(ModuleError) {
        if let failure = ExtractionIO.removeTree(path) {
            throw ModuleError(.io, "removing '\(path)' failed: check that the state directory is writable", field: path, underlying: failure)
        }
    }

    /// Copies a directory tree (regular files, directories, symbolic links as links), fsyncing
    /// every file and directory written. `to` must not exist.
    static func copyTree(_ from: String, to: String) throws(ModuleError) {
        var st = stat()
        guard lstat(from, &st) == 0 else { throw ioError("reading", from) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            guard mkdir(to, 0o755) == 0 else { throw ioError("creating directory", to) }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: from) else { throw ioError("listing", from) }
            for name in names.sorted() { try copyTree(from + "/" + name, to: to + "/" + name) }
            try sync(to)
        case S_IFLNK:
            guard let target = linkTarget(from), symlink(target, to) == 0 else { throw ioError("copying link", from) }
        case S_IFREG:
            try copyFile(from, to: to, mode: mode_t(st.st_mode & 0o777))
        default:
            break // sockets and FIFOs in a data directory are runtime artefacts, not data
        }
    }

    private static func copyFile(_ from: String, to: String, mode: mode_t) throws(ModuleError) {
        let input = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw ioError("opening", from) }
        defer { close(input) }
        let output = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard output >= 0 else { throw ioError("creating", to) }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(input, &buffer, buffer.count)
            if n < 0 { if errno == EINTR { continue }; throw ioError("reading", from) }
            if n == 0 { break }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, n - offset) }
                if w < 0 { if errno == EINTR { continue }; throw ioError("writing", to) }
                offset += w
            }
        }
        guard fsync(output) == 0 else { throw ioError("fsync of", to) }
    }
}

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
        try DurableFiles.makeDirectory(stateDirectory)
        let path = stateDirectory + "/.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DurableFiles.ioError("opening lock", path) }
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
        throw DurableFiles.ioError("locking", path, code)
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
        var buffer = [UInt8](repeating: 0, count: 1024)
        while read(descriptor, &buffer, buffer.count) > 0 {}
    }
}
