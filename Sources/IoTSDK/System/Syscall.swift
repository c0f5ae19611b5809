#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the system calls the SDK uses, with EINTR retried in one place.
/// Each returns the raw result; callers turn errno into a `HardwareError` right away.
package enum Syscall {
    package static func open(_ path: String, _ flags: Int32) -> Int32 {
        retrying { Glibc.open(path, flags) }
    }

    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) -> Int {
        retrying { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    static func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int = 0) -> Int {
        retrying { Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int {
        retrying { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    @inline(__always)
    static func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result == -1 && errno == EINTR { continue }
            return result
        }
    }
}
