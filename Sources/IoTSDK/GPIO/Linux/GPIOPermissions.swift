/// The fixes named in GPIO permission errors.
enum GPIOAdvice {
    static let permission = "add the user to group 'gpio' (sudo usermod -aG gpio $USER, then log in again) "
        + "or install the udev rule from Documentation/RaspberryPi.md; running as root also works"
}

extension String {
    /// A C `char[N]` tuple from a kernel struct, up to its first NUL.
    init<T>(fixedCString tuple: T) {
        self = withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
