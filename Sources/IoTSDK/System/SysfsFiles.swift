import LinuxSupport

// The SDK's Linux backends read sysfs through LinuxSupport's `Files`; these two turn a failure
// into the `HardwareError` that says what to do.
extension Files {
    /// The attribute's text (without its trailing newline), or a `HardwareError` naming the file.
    static func readRequired(_ path: String, what: String) throws(HardwareError) -> String {
        do {
            return try readAttribute(path)
        } catch {
            throw HardwareError.fromErrno(error.errno.rawValue, what, path: path)
        }
    }

    /// Writes `text` to a sysfs attribute in one write(2), as sysfs requires.
    static func write(_ text: String, to path: String, what: String, permissionAdvice: String? = nil) throws(HardwareError) {
        do {
            try write(text, to: path)
        } catch {
            throw HardwareError.fromErrno(error.errno.rawValue, what, path: path, permissionAdvice: permissionAdvice)
        }
    }
}
