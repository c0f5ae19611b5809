import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A TCP proxy on 127.0.0.1 between the host and a registry that breaks the link the ways a field
/// link breaks: it cuts every connection after some bytes from the registry, resets it, stalls
/// it, flips a byte, or refuses connections altogether. Each connection is pumped by a thread of
/// its own with poll(2). As a `tunnel`, it is an HTTPS proxy: each connection starts with
/// `CONNECT host:port`, answered 200, and the bytes that follow (TLS) go to that port. The
/// delivery tests (PluginHostTests) and `sdk-bench delivery` use it.
public final class FaultProxy: @unchecked Sendable {
    public struct Faults: Sendable {
        /// Close the connection after this many bytes from the registry (per connection).
        public var cutAfter: Int?
        /// Like `cutAfter`, with a TCP reset instead of a close.
        public var resetAfter: Int?
        /// Stop forwarding after this many bytes, and hold the connection open, once.
        public var stallOnceAfter: Int?
        /// Invert the byte at this offset of the registry's answer, on the first connection that
        /// gets that far only.
        public var flipOnceAt: Int?
        /// Close every new connection at once, as a registry that is down.
        public var refuse = false

        public init(cutAfter: Int? = nil, resetAfter: Int? = nil, stallOnceAfter: Int? = nil, flipOnceAt: Int? = nil, refuse: Bool = false) {
            self.cutAfter = cutAfter
            self.resetAfter = resetAfter
            self.stallOnceAfter = stallOnceAfter
            self.flipOnceAt = flipOnceAt
            self.refuse = refuse
        }
    }

    public private(set) var port = 0
    private var listener: Int32 = -1
    private let upstreamPort: Int
    private let tunnel: Bool
    private let state = Mutex<(faults: Faults, connections: Int, bytes: Int, closed: Bool, targets: [String])>((Faults(), 0, 0, false, []))

    /// - Parameter tunnel: an HTTPS (CONNECT) proxy, whose upstream is the port each CONNECT names
    ///   on 127.0.0.1 (`upstreamPort` is not used).
    public init(upstreamPort: Int = 0, tunnel: Bool = false) throws {
        self.upstreamPort = upstreamPort
        self.tunnel = tunnel
        (listener, port) = try Loopback.listen()
        Loopback.acceptEach(listener) { [self] client in
            let (faults, number) = state.withLock { state -> (Faults, Int) in
                state.connections += 1
                return (state.faults, state.connections)
            }
            if faults.refuse {
                close(client)
            } else {
                pump(client, faults: faults, number: number)
            }
        }
    }

    deinit { stop() }

    /// The faults from now on (connections open already keep what they had).
    public var faults: Faults {
        get { state.withLock { $0.faults } }
        set { state.withLock { $0.faults = newValue } }
    }

    /// Connections accepted so far, and bytes forwarded from the registry.
    public var connections: Int { state.withLock { $0.connections } }
    /// What each CONNECT asked for (`host:port`), as a tunnel.
    public var targets: [String] { state.withLock { $0.targets } }
    public var bytesFromRegistry: Int { state.withLock { $0.bytes } }

    public func stop() {
        let wasClosed = state.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        if !wasClosed { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }
    }

    /// Reads a CONNECT request's head and answers it; the port it names on 127.0.0.1, or nil
    /// (the connection is closed).
    private func acceptTunnel(_ client: Int32) -> Int? {
        var head = [UInt8]()
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual("\r\n\r\n".utf8) {
            guard head.count < 8192, read(client, &byte, 1) == 1 else { return nil }
            head.append(byte)
        }
        let line = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")[0].split(separator: " ")
        guard line.count >= 2, line[0] == "CONNECT", let port = line[1].split(separator: ":").last.flatMap({ Int($0) }) else {
            _ = write(client, "HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n", 43)
            return nil
        }
        state.withLock { $0.targets.append(String(line[1])) }
        let answer = Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)
        guard write(client, answer, answer.count) == answer.count else { return nil }
        return port
    }

    private func pump(_ client: Int32, faults: Faults, number: Int) {
        var upstreamPort = self.upstreamPort
        if tunnel {
            guard let port = acceptTunnel(client) else { close(client); return }
            upstreamPort = port
        }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = Loopback.address(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        defer { close(upstream); close(client) }
        guard connected else { return }
        var fromRegistry = 0
        var buffer = [UInt8](repeating: 0, count: 16384)
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
        while true {
            guard poll(&fds, 2, 1000) >= 0 || errno == EINTR else { return }
            if state.withLock({ $0.closed }) { return }
            if fds[0].revents != 0 {
                let count = read(client, &buffer, buffer.count)
                guard count > 0, write(upstream, buffer, count) == count else { return }
            }
            if fds[1].revents != 0 {
                var count = read(upstream, &buffer, buffer.count)
                guard count > 0 else { return }
                let limit = faults.cutAfter ?? faults.resetAfter
                if let limit { count = min(count, max(limit - fromRegistry, 0)) }
                if let stall = faults.stallOnceAfter, fromRegistry + count >= stall, state.withLock({ $0.faults.stallOnceAfter != nil }) {
                    count = max(stall - fromRegistry, 0)
                    _ = write(client, buffer, count)
                    state.withLock { $0.faults.stallOnceAfter = nil; $0.bytes += count }
                    // Hold the connection without a byte until the client gives up.
                    while read(client, &buffer, buffer.count) > 0 {}
                    return
                }
                if let flip = faults.flipOnceAt, fromRegistry <= flip, flip < fromRegistry + count,
                   state.withLock({ state -> Bool in
                       guard state.faults.flipOnceAt != nil else { return false }
                       state.faults.flipOnceAt = nil
                       return true
                   }) {
                    buffer[flip - fromRegistry] ^= 0xFF
                }
                guard write(client, buffer, count) == count else { return }
                fromRegistry += count
                state.withLock { $0.bytes += count }
                if let limit, fromRegistry >= limit {
                    if faults.resetAfter != nil {
                        var linger = linger(l_onoff: 1, l_linger: 0)
                        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                    }
                    return
                }
            }
        }
    }

    public struct ProxyError: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}

/// Listening sockets on 127.0.0.1 for the test servers (FaultProxy, FakeRegistry) and the bench.
public enum Loopback {
    /// A listening TCP socket on a free port of 127.0.0.1.
    public static func listen() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw FaultProxy.ProxyError("cannot listen on 127.0.0.1")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Accepts connections on `fd` until it is closed, each handed to `serve` on a thread of its own.
    public static func acceptEach(_ fd: Int32, _ serve: @escaping @Sendable (Int32) -> Void) {
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                Thread.detachNewThread { serve(client) }
            }
        }
    }

    public static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
