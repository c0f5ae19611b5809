import SystemPackage

/// A file operation that failed: what was done, to which path, and the errno. Each domain turns it
/// into its own error with the advice that fits there (`ModuleError` for the state directory,
/// `HardwareError` for sysfs).
package struct FileFailure: Error, Sendable, CustomStringConvertible {
    package var errno: Errno
    /// What was being done, as the start of a sentence: "opening", "fsync of", "renaming into".
    package var operation: String
    package var path: String

    package init(_ errno: Errno, _ operation: String, _ path: String) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    /// The failure of the call that just set errno.
    package static func current(_ operation: String, _ path: String) -> FileFailure {
        FileFailure(.current, operation, path)
    }

    package var description: String { "\(operation) '\(path)' failed: \(errno.text)" }
}

