#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// Reading, writing and listing files: kernel attribute files (sysfs, cgroupfs, procfs) and the
/// small files of the state directory. Descriptors are swift-system's, errors `FileFailure`.
package enum Files {
    // MARK: Reading

    /// The whole file, read until end of file (kernel files report a size of 0).
    package static func readBytes(_ path: String) throws(FileFailure) -> [UInt8] {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) } catch { throw failure(error, "opening", path) }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        do {
            try withUnsafeTemporaryAllocation(byteCount: 8192, alignment: 1) { (buffer) throws(Errno) in
                while true {
                    let count: Int
                    do { count = try fd.read(into: buffer) } catch { throw error as? Errno ?? .ioError }
                    if count == 0 { return }
                    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                }
            }
        } catch {
            throw FileFailure(error, "reading", path)
        }
        return bytes
    }

    /// The whole file as text.
    package static func read(_ path: String) throws(FileFailure) -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// A kernel attribute: the file's text without its trailing newlines and NULs.
    package static func readAttribute(_ path: String) throws(FileFailure) -> String {
        var text = try read(path)
        while text.last == "\n" || text.last == "\0" { text.removeLast() }
        return text
    }

    /// `readAttribute`, or nil when the file does not exist or cannot be read (optional attributes).
    package static func readAttributeIfPresent(_ path: String) -> String? {
        try? readAttribute(path)
    }

    // MARK: Writing

    /// Writes `text` to an existing file with one write(2): a kernel attribute takes one value
    /// per write, and a temporary file renamed over it would fail. A short write is EIO.
    package static func write(_ text: String, to path: String, truncate: Bool = false) throws(FileFailure) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .writeOnly, options: truncate ? [.closeOnExec, .truncate] : [.closeOnExec])
        } catch {
            throw failure(error, "opening", path)
        }
        defer { try? fd.close() }
        let bytes = Array(text.utf8)
        let written: Int
        do { written = try bytes.withUnsafeBytes { try fd.write($0) } } catch { throw failure(error, "writing '\(text)' to", path) }
        guard written == bytes.count else { throw FileFailure(.ioError, "writing '\(text)' to", path) }
    }

    /// `write`, for callers that report the errno (in a protocol reply or a refusal) rather
    /// than throw: nil when it worked.
    package static func writeReturningErrno(_ text: String, to path: String) -> Int32? {
        do {
            try write(text, to: path)
            return nil
        } catch {
            return error.errno.rawValue
        }
    }

    // MARK: Listing

    /// The names in a directory (without "." and ".."), in `naturalOrder`.
    package static func listing(_ path: String) throws(FileFailure) -> [String] {
        guard let directory = opendir(path) else { throw .current("listing", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted(by: naturalOrder)
    }

    /// `listing`, or an empty list when the directory does not exist or cannot be read.
    package static func list(_ path: String) -> [String] {
        (try? listing(path)) ?? []
    }

    /// Orders names with a trailing number by value: "gpiochip2" < "gpiochip10", "iio:device2" <
    /// "iio:device10"; names without one, or with different text before it, in plain text order.
    package static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let (pa, na) = splitTrailingNumber(a)
        let (pb, nb) = splitTrailingNumber(b)
        guard pa == pb, let na, let nb, na != nb else { return a < b }
        return na < nb
    }

    /// "gpiochip12" → ("gpiochip", 12); "label" → ("label", nil).
    package static func splitTrailingNumber(_ name: String) -> (String, Int?) {
        let digits = name.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count < 18 else { return (name, nil) }
        let prefix = String(name.dropLast(digits.count))
        return (prefix, Int(String(digits.reversed())))
    }

    // MARK: What is there

    /// stat(2), or lstat(2) when `followingLinks` is false; nil if there is nothing (or no access).
    package static func status(_ path: String, followingLinks: Bool = true) -> Stat? {
        try? Stat(path, followTargetSymlink: followingLinks)
    }

    package static func exists(_ path: String, followingLinks: Bool = true) -> Bool {
        status(path, followingLinks: followingLinks) != nil
    }

    package static func isDirectory(_ path: String, followingLinks: Bool = true) -> Bool {
        status(path, followingLinks: followingLinks)?.type == .directory
    }

    /// The target of a symbolic link, or nil if `path` is not one.
    package static func linkTarget(_ path: String) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PATH_MAX) + 1) { buffer in
            let count = readlink(path, buffer.baseAddress!, buffer.count - 1)
            guard count >= 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[..<count]), as: UTF8.self)
        }
    }

    /// The canonical path with every link resolved, or nil.
    package static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func failure(_ error: any Error, _ operation: String, _ path: String) -> FileFailure {
        FileFailure(error as? Errno ?? .ioError, operation, path)
    }
}

// MARK: - Paths

/// The directory part of a path: "a/b/c" → "a/b", "/a" → "/", "name" → "." (trailing slashes ignored).
package func parentDirectory(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    if slash == trimmed.startIndex { return "/" }
    return String(trimmed[..<slash])
}

/// The last component of a path ("/a/b/" → "b").
package func lastPathComponent(_ path: String) -> String {
    let parts = path.split(separator: "/")
    return parts.last.map(String.init) ?? (path.hasPrefix("/") ? "/" : "")
}

/// A byte string as a C string for the duration of `body` (names read from a directory or an
/// archive need not be valid UTF-8).
package func withCPath<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    var terminated = bytes
    terminated.append(0)
    return terminated.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { body($0) }
    }
}
