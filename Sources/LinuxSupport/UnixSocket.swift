#if os(Linux)
import Glibc

/// AF_UNIX addresses: the control socket (a path), systemd's notification socket (a path, or a
/// name in the abstract namespace when it starts with "@").
package enum UnixSocket {
    /// Calls `body` with `path` as a `sockaddr_un` and its length; nil with errno ENAMETOOLONG when
    /// the path does not fit (108 bytes with its NUL).
    package static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            errno = ENAMETOOLONG
            return nil
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        // An abstract name is exactly its bytes long; a path's length may include the zeros after it.
        let length = abstract ? MemoryLayout<sa_family_t>.size + bytes.count : MemoryLayout<sockaddr_un>.size
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
        }
    }

    /// bind(2) to `path`; 0 or -1 with errno set.
    package static func bind(_ fd: Int32, _ path: String) -> Int32 {
        withAddress(path) { Glibc.bind(fd, $0, $1) } ?? -1
    }

    /// connect(2) to `path`, again after EINTR; 0 or -1 with errno set.
    package static func connect(_ fd: Int32, _ path: String) -> Int32 {
        withAddress(path) { address, length in Syscall.retrying { Glibc.connect(fd, address, length) } } ?? -1
    }

    /// Sends all of `bytes` on a connected stream socket (no SIGPIPE); false if the peer went away.
    package static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let written = send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}

/// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Does nothing when the
/// variable is not set (not started by systemd, or not Type=notify).
package enum SystemdNotify {
    /// Half the watchdog interval systemd asks for (`WATCHDOG_USEC`, for this process when
    /// `WATCHDOG_PID` is set); nil without a watchdog.
    package static var watchdogInterval: Duration? {
        guard let text = environment("WATCHDOG_USEC"), let microseconds = Int64(text), microseconds > 0 else { return nil }
        if let pid = environment("WATCHDOG_PID"), Int32(pid) != getpid() { return nil }
        return .microseconds(microseconds / 2)
    }

    /// Sends `message` ("READY=1", "WATCHDOG=1", "STATUS=…", several separated by newlines).
    package static func send(_ message: String) {
        guard let path = environment("NOTIFY_SOCKET"), !path.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        _ = UnixSocket.withAddress(path) { address, length in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
        }
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
#endif
