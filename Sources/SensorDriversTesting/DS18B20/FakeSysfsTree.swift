#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IoTSDK

/// A directory laid out like sysfs, for running the sysfs-based drivers (DS18B20 over w1, IIO)
/// against simulated devices: pass ``paths`` where a driver takes `LinuxPaths`.
///
/// Files are plain files, so a read returns what was last written, at once; the simulated
/// devices (``SimulatedDS18B20``, ``SimulatedIIODevice``) rewrite them when their state changes.
public final class FakeSysfsTree: Sendable {
    /// The directory that stands for `/sys`.
    public let root: String

    /// `LinuxPaths` whose `sysfs` is ``root``.
    public var paths: LinuxPaths { LinuxPaths(sysfs: root, dev: root + "/dev") }

    /// Uses `root` (created if missing) as the sysfs mount.
    /// - Throws: `HardwareError` when the directory cannot be created.
    public init(root: String) throws(HardwareError) {
        self.root = root
        try Self.makeDirectories(root)
    }

    /// A new, empty tree in a fresh directory under `/tmp` (`mkdtemp`).
    /// - Throws: `HardwareError` when the directory cannot be made.
    public static func temporary(prefix: String = "fake-sysfs") throws(HardwareError) -> FakeSysfsTree {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        guard let made else {
            throw HardwareError(.ioError, "mkdtemp failed for /tmp/\(prefix).XXXXXX", errno: errno)
        }
        return try FakeSysfsTree(root: made)
    }

    // MARK: - Files

    /// Writes `text` to `relativePath` (creating directories), replacing what was there.
    public func write(_ text: String, to relativePath: String) throws(HardwareError) {
        try Self.writeFile(root + "/" + relativePath, text)
    }

    /// Creates the directory `relativePath` and its parents.
    public func makeDirectory(_ relativePath: String) throws(HardwareError) {
        try Self.makeDirectories(root + "/" + relativePath)
    }

    /// The text of `relativePath` without its trailing newline, or nil when it does not exist.
    public func read(_ relativePath: String) -> String? {
        Self.readFile(root + "/" + relativePath)
    }

    /// Whether `relativePath` exists.
    public func exists(_ relativePath: String) -> Bool {
        access(root + "/" + relativePath, F_OK) == 0
    }

    /// Removes `relativePath` and everything under it.
    public func remove(_ relativePath: String) {
        Self.removeRecursively(root + "/" + relativePath)
    }

    /// Removes the whole tree.
    public func removeAll() {
        Self.removeRecursively(root)
    }

    // MARK: - Glibc helpers

    static func makeDirectories(_ path: String) throws(HardwareError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw HardwareError(.ioError, "mkdir \(current) failed", errno: errno, location: current)
            }
        }
    }

    static func writeFile(_ path: String, _ text: String) throws(HardwareError) {
        if let slash = path.lastIndex(of: "/") {
            try makeDirectories(String(path[..<slash]))
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HardwareError(.ioError, "cannot create \(path)", errno: errno, location: path) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw HardwareError(.ioError, "short write to \(path)", errno: errno, location: path)
        }
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    static func removeRecursively(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { removeRecursively(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
