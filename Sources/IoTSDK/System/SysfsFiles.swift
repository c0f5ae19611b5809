#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing the small text attributes of sysfs, and listing its directories.
package enum SysfsFiles {
    /// The file's contents with the trailing newline removed, or nil when it cannot be read.
    static func read(_ path: String) -> String? {
        let fd = Syscall.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Syscall.read(fd, $0) }
            if n <= 0 { if n < 0 { return nil }; break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" || text.last == "\0" { text.removeLast() }
        return text
    }

    /// Like `read`, but throws a `HardwareError` that names the file.
    static func readRequired(_ path: String, what: String) throws(HardwareError) -> String {
        let fd = Syscall.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HardwareError.fromErrno(errno, what, path: path) }
        _ = close(fd)
        guard let text = read(path) else {
            throw HardwareError.fromErrno(errno, what, path: path)
        }
        return text
    }

    /// Writes `text` to a sysfs attribute in one write(2), as sysfs requires.
    static func write(_ text: String, to path: String, what: String, permissionAdvice: String? = nil) throws(HardwareError) {
        let fd = Syscall.open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HardwareError.fromErrno(errno, what, path: path, permissionAdvice: permissionAdvice) }
        defer { _ = close(fd) }
        var bytes = Array(text.utf8)
        let n = bytes.withUnsafeMutableBytes { Syscall.write(fd, UnsafeRawBufferPointer($0)) }
        if n < 0 { throw HardwareError.fromErrno(errno, what, path: path, permissionAdvice: permissionAdvice) }
    }

    /// The names in a directory (without "." and ".."), sorted naturally ("i2c-2" before "i2c-10"),
    /// or an empty list when it does not exist.
    package static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted(by: naturalOrder)
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The canonical path with every link resolved, or nil.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The last component of a symbolic link's target ("/…/drivers/bmp280" → "bmp280").
    static func linkTargetName(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init)
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
    static func splitTrailingNumber(_ name: String) -> (String, Int?) {
        let digits = name.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count < 18 else { return (name, nil) }
        let prefix = String(name.dropLast(digits.count))
        return (prefix, Int(String(digits.reversed())))
    }
}
