#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// The system calls swift-system has no wrapper for (openat, ioctl, fsync, mkdirat…) and the hot
/// paths that take a raw descriptor, with EINTR retried here and nowhere else. Each returns the
/// raw result; `Errno.current` turns a failure into swift-system's typed error.
package enum Syscall {
    package static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
        retrying { system_open(path, flags, mode) }
    }

    package static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) -> Int {
        retrying { system_pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        retrying { system_read(fd, buffer.baseAddress, buffer.count) }
    }

    package static func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int = 0) -> Int {
        retrying { system_pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int {
        retrying { system_write(fd, buffer.baseAddress, buffer.count) }
    }

    /// Calls `call` again while it fails with EINTR.
    @inline(__always)
    package static func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result == -1 && errno == EINTR { continue }
            return result
        }
    }
}

extension Errno {
    /// errno as swift-system's typed value.
    package static var current: Errno { Errno(rawValue: errno) }

    /// "No such file or directory (errno 2)": the message and the number, for logs and errors.
    package var text: String { "\(description) (errno \(rawValue))" }
}

// The C library's functions under names that the wrappers above do not shadow.
@inline(__always) private func system_open(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
@inline(__always) private func system_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
@inline(__always) private func system_pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: off_t) -> Int { pread(fd, buffer, count, offset) }
@inline(__always) private func system_write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
@inline(__always) private func system_pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int, _ offset: off_t) -> Int { pwrite(fd, buffer, count, offset) }
