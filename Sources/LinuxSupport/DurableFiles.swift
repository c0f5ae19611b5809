#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// File operations whose effect survives a power cut once they return: every write is fsync'd,
/// and so is the directory whose entries changed. The update engine builds its guarantees from
/// these and from rename(2) being atomic; the layer extractor removes trees with them.
package enum DurableFiles {
    /// fsyncs a file or directory by path.
    package static func sync(_ path: String) throws(FileFailure) {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) } catch { throw FileFailure(error as? Errno ?? .ioError, "opening", path) }
        defer { try? fd.close() }
        guard fsync(fd.rawValue) == 0 else { throw .current("fsync of", path) }
    }

    package static func syncParent(of path: String) throws(FileFailure) {
        try sync(parentDirectory(of: path))
    }

    /// Creates a directory (and missing parents) and fsyncs each parent it changed. The directory
    /// gets `mode`, missing parents `parentMode` (`mode` if nil); the umask applies to both, and
    /// an existing directory keeps its mode.
    package static func makeDirectory(_ path: String, mode: mode_t = 0o755, parentMode: mode_t? = nil) throws(FileFailure) {
        if Files.isDirectory(path, followingLinks: false) { return }
        let parent = parentDirectory(of: path)
        if !parent.isEmpty, parent != path { try makeDirectory(parent, mode: parentMode ?? mode) }
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw .current("creating directory", path) }
        try sync(parent.isEmpty ? "." : parent)
    }

    /// Creates a directory only its owner may enter (0700; missing parents 0755), as
    /// `makeDirectory` does.
    package static func makeOwnerOnlyDirectory(_ path: String) throws(FileFailure) {
        try makeDirectory(path, mode: 0o700, parentMode: 0o755)
    }

    /// Takes every permission of the group and of others off an existing directory or file
    /// (chmod, following a symbolic link), keeping the owner's. Returns the permission bits it
    /// had when it changed them; nil when there was nothing to take off, or nothing at `path`.
    package static func restrictToOwner(_ path: String) throws(FileFailure) -> mode_t? {
        guard let status = Files.status(path) else { return nil }
        let permissions = mode_t(status.permissions.rawValue & 0o7777)
        guard permissions & 0o077 != 0 else { return nil }
        guard chmod(path, permissions & ~0o077) == 0 else { throw .current("changing the mode of", path) }
        try sync(path)
        return permissions
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename,
    /// fsync of the directory. A reader sees the old content or the new, never a mix.
    /// `durable: false` (files on tmpfs, which a power cut clears anyway) leaves out both fsyncs.
    package static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String, durable: Bool = true) throws(FileFailure) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = Syscall.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .current("creating", temporary) }
        var failure: FileFailure?
        if let code = writeAll(fd, bytes) {
            failure = FileFailure(Errno(rawValue: code), "writing", temporary)
        } else if durable, fsync(fd) != 0 {
            failure = .current("fsync of", temporary)
        }
        close(fd)
        if let failure { unlink(temporary); throw failure }
        guard rename(temporary, path) == 0 else {
            let failure = FileFailure.current("renaming into", path)
            unlink(temporary)
            throw failure
        }
        if durable { try syncParent(of: path) }
    }

    package static func writeAtomically(_ bytes: [UInt8], to path: String, durable: Bool = true) throws(FileFailure) {
        var failure: FileFailure?
        bytes.withUnsafeBytes { buffer in
            do throws(FileFailure) { try writeAtomically(buffer, to: path, durable: durable) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Points the symbolic link `path` at `target` atomically: a new link beside it, then
    /// rename(2) over the old one, then fsync of the directory. At every instant the link exists
    /// and points at the old or the new target; it is never deleted and re-created.
    package static func switchLink(_ path: String, to target: String) throws(FileFailure) {
        let temporary = path + ".new"
        unlink(temporary)
        guard symlink(target, temporary) == 0 else { throw .current("creating link", temporary) }
        guard rename(temporary, path) == 0 else {
            let failure = FileFailure.current("switching link", path)
            unlink(temporary)
            throw failure
        }
        try syncParent(of: path)
    }

    /// Removes a link or file if present and fsyncs its directory.
    package static func removeFile(_ path: String) throws(FileFailure) {
        guard Files.exists(path, followingLinks: false) else { return }
        guard unlink(path) == 0 || errno == ENOENT else { throw .current("removing", path) }
        try syncParent(of: path)
    }

    /// Renames and fsyncs the directories involved.
    package static func move(_ from: String, to: String) throws(FileFailure) {
        guard rename(from, to) == 0 else { throw .current("renaming '\(from)' to", to) }
        try syncParent(of: to)
        let fromParent = parentDirectory(of: from)
        if fromParent != parentDirectory(of: to) { try sync(fromParent) }
    }

    /// Copies a directory tree (regular files, directories, symbolic links as links), fsyncing
    /// every file and directory written, with the permission bits of files and directories (so
    /// the copy of a 0700 directory is not readable by others either). `to` must not exist.
    package static func copyTree(_ from: String, to: String) throws(FileFailure) {
        let status: Stat
        do { status = try Stat(from, followTargetSymlink: false) } catch { throw FileFailure(error, "reading", from) }
        switch status.type {
        case .directory:
            // Private while it fills; its own mode once it is complete.
            guard mkdir(to, 0o700) == 0 else { throw .current("creating directory", to) }
            for name in try Files.listing(from) { try copyTree(from + "/" + name, to: to + "/" + name) }
            guard chmod(to, mode_t(status.permissions.rawValue & 0o777)) == 0 else { throw .current("changing the mode of", to) }
            try sync(to)
        case .symbolicLink:
            guard let target = Files.linkTarget(from) else { throw .current("reading link", from) }
            guard symlink(target, to) == 0 else { throw .current("copying link", from) }
        case .regular:
            try copyFile(from, to: to, mode: mode_t(status.permissions.rawValue & 0o777))
        default:
            break // sockets and FIFOs in a data directory are runtime artefacts, not data
        }
    }

    private static func copyFile(_ from: String, to: String, mode: mode_t) throws(FileFailure) {
        let input = Syscall.open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw .current("opening", from) }
        defer { close(input) }
        let output = Syscall.open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard output >= 0 else { throw .current("creating", to) }
        defer { close(output) }
        try withUnsafeTemporaryAllocation(byteCount: 1 << 16, alignment: 1) { (buffer) throws(FileFailure) in
            while true {
                let count = Syscall.read(input, buffer)
                if count < 0 { throw .current("reading", from) }
                if count == 0 { break }
                if let code = writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[..<count])) {
                    throw FileFailure(Errno(rawValue: code), "writing", to)
                }
            }
        }
        guard fsync(output) == 0 else { throw .current("fsync of", to) }
    }

    // MARK: Removing trees

    /// Removes `path` and everything below it without following symbolic links (descriptor-
    /// relative, so a link planted in the tree cannot redirect it). Nothing there is success.
    /// Crash-safe for callers that first rename the tree to a name that marks it as garbage.
    package static func removeTree(_ path: String) throws(FileFailure) {
        let status: Stat
        do {
            status = try Stat(path, followTargetSymlink: false)
        } catch {
            if error == .noSuchFileOrDirectory { return }
            throw FileFailure(error, "removing", path)
        }
        if status.type != .directory {
            guard unlink(path) == 0 else { throw .current("removing", path) }
            return
        }
        let fd = Syscall.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .current("opening", path) }
        var failure = removeContents(of: fd, path: path)
        if rmdir(path) != 0, failure == nil { failure = .current("removing", path) }
        if let failure { throw failure }
    }

    /// Empties the directory open at `fd` (and closes `fd`); the first failure, if any.
    private static func removeContents(of fd: Int32, path: String) -> FileFailure? {
        withEntries(of: fd, path: path) { parent, names in removeEntries(names, in: parent, path: path) }
    }

    /// Calls `body` with the directory open at `fd` (which it takes over and closes) and the names
    /// of its entries but `.` and `..`, read before `body` changes anything.
    private static func withEntries(of fd: Int32, path: String, _ body: (Int32, [[UInt8]]) -> FileFailure?) -> FileFailure? {
        guard let directory = fdopendir(fd) else {
            let failure = FileFailure.current("listing", path)
            close(fd)
            return failure
        }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return body(dirfd(directory), names)
    }

    private static func removeEntries(_ names: [[UInt8]], in parent: Int32, path: String) -> FileFailure? {
        var failure: FileFailure?
        for name in names {
            let childPath = path + "/" + String(decoding: name, as: UTF8.self)
            var status = stat()
            let isDirectory = withCPath(name) { fstatat(parent, $0, &status, AT_SYMLINK_NOFOLLOW) } == 0 && status.st_mode & S_IFMT == S_IFDIR
            if isDirectory {
                let child = withCPath(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                if child >= 0 {
                    if let inner = removeContents(of: child, path: childPath), failure == nil { failure = inner }
                } else if failure == nil {
                    failure = .current("opening", childPath)
                }
            }
            if withCPath(name, { unlinkat(parent, $0, isDirectory ? AT_REMOVEDIR : 0) }) != 0, errno != ENOENT, failure == nil {
                failure = .current("removing", childPath)
            }
        }
        return failure
    }

    // MARK: Owners

    /// Gives `path` and everything below it to `uid:gid`, and `path` itself the mode `mode`.
    /// Symbolic links are changed themselves, never followed, and the walk opens each directory
    /// relative to its parent with O_NOFOLLOW, so a link planted in the tree cannot hand a file
    /// outside it to the user. A regular file with more than one hard link is left as it is (the
    /// other name may be outside the tree). Entries that already belong to `uid:gid` are not
    /// written. Returns how many entries changed owner.
    @discardableResult
    package static func changeOwner(ofTree path: String, uid: uid_t, gid: gid_t, mode: mode_t) throws(FileFailure) -> Int {
        let fd = Syscall.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .current("opening", path) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let failure = FileFailure.current("reading", path)
            close(fd)
            throw failure
        }
        var changed = 0
        if status.st_uid != uid || status.st_gid != gid {
            guard fchown(fd, uid, gid) == 0 else {
                let failure = FileFailure.current("changing the owner of", path)
                close(fd)
                throw failure
            }
            changed += 1
        }
        if status.st_mode & 0o7777 != mode, fchmod(fd, mode) != 0 {
            let failure = FileFailure.current("changing the mode of", path)
            close(fd)
            throw failure
        }
        if let failure = changeOwner(ofContents: fd, path: path, uid: uid, gid: gid, changed: &changed) { throw failure }
        return changed
    }

    /// `changeOwner(ofTree:)` for the entries of the directory open at `fd` (which it closes).
    private static func changeOwner(ofContents fd: Int32, path: String, uid: uid_t, gid: gid_t, changed: inout Int) -> FileFailure? {
        withEntries(of: fd, path: path) { parent, names in
            var failure: FileFailure?
            for name in names where failure == nil {
                let childPath = path + "/" + String(decoding: name, as: UTF8.self)
                var status = stat()
                guard withCPath(name, { fstatat(parent, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                    if errno != ENOENT { failure = .current("reading", childPath) }
                    continue
                }
                let type = status.st_mode & S_IFMT
                if type == S_IFREG && status.st_nlink > 1 { continue }
                if status.st_uid != uid || status.st_gid != gid {
                    guard withCPath(name, { fchownat(parent, $0, uid, gid, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                        failure = .current("changing the owner of", childPath)
                        continue
                    }
                    changed += 1
                }
                guard type == S_IFDIR else { continue }
                let child = withCPath(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                guard child >= 0 else { failure = .current("opening", childPath); continue }
                failure = changeOwner(ofContents: child, path: childPath, uid: uid, gid: gid, changed: &changed)
            }
            return failure
        }
    }
}
