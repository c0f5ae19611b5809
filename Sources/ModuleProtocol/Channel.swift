// The channel is Linux's: SOCK_SEQPACKET, SO_PEERCRED and SCM_RIGHTS through CIoTLinux, which
// Package.swift links on Linux only. The rest of ModuleProtocol (values, messages, the codec) is
// portable, so that module images (PluginHostImages) build on macOS for module authors.
#if os(Linux)
import LinuxSupport
import CIoTLinux
import Glibc
import Synchronization

/// The credentials of the process at the other end of a socket (SO_PEERCRED).
public struct PeerCredentials: Sendable, Equatable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// One end of a host–runner connection: an AF_UNIX SOCK_SEQPACKET socket, one frame per
/// datagram, file descriptors passed as SCM_RIGHTS.
///
/// ## Connecting, and why the runner creates the connection
///
/// SO_PEERCRED of a socketpair reports the process that *created* the pair, for both ends, not
/// the process that holds the other end. A pair the host creates and hands to the runner would
/// therefore authenticate the host itself. So the connection is made in two steps:
///
/// 1. The host creates a bootstrap pair (`Channel.pair()`), passes one end to the runner as fd 3
///    (posix_spawn_file_actions_adddup2) and closes that end itself.
/// 2. The runner creates the real connection (`Channel.pair()`) and sends one end to the host
///    attached to `hello` on the bootstrap socket (`openToHost(bootstrap:moduleID:)`). It must be
///    the very process the host spawned: in the sandbox that is the outer runner, which connects
///    before it creates any namespace and hands the connection down to the module process
///    (plugin-host-runner's HostLink.swift), so the host never has to relate a pid it did not
///    spawn to one it did.
/// 3. The host receives it (`acceptRunner(bootstrap:expectedPID:expectedUID:timeout:)`): SO_PEERCRED
///    of that socket names the runner (its pid as the host sees it, also across pid namespaces,
///    and its uid as the host sees it), so the host checks them against the pid it spawned and
///    the uid it chose, and that `hello.pid` agrees. It then closes the bootstrap socket and
///    answers `welcome` on the new connection.
///
/// ## Threads
///
/// `send` and `receive` may be called from any thread, also at the same time (each datagram is
/// sent and received whole). `close` must not race with them: the descriptor number could be
/// reused by then. Every descriptor this type creates or receives is close-on-exec.
public final class Channel: Sendable {
    /// The socket.
    public let fileDescriptor: Int32
    private let isClosed = Atomic<Bool>(false)

    /// Takes ownership of `fileDescriptor`, a connected AF_UNIX SOCK_SEQPACKET socket; it is closed
    /// by `close()` or when the channel is released.
    public init(adopting fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    deinit { close() }

    /// Two connected channels (socketpair, SOCK_SEQPACKET | SOCK_CLOEXEC).
    public static func pair() throws(ProtocolError) -> (Channel, Channel) {
        var fds: [Int32] = [-1, -1]
        guard ciot_socket_pair(&fds) == 0 else { throw .system(call: "socketpair", errno: errno) }
        return (Channel(adopting: fds[0]), Channel(adopting: fds[1]))
    }

    /// Closes the socket (once; later calls do nothing). The peer's `receive` then reports `.closed`.
    public func close() {
        if !isClosed.exchange(true, ordering: .acquiringAndReleasing) {
            _ = Glibc.close(fileDescriptor)
        }
    }

    /// Shuts the connection down in both directions without releasing the descriptor: a thread
    /// blocked in `receive` on this channel returns (`.closed`), and the peer sees the connection
    /// closed. Unlike `close`, it may race with `send` and `receive` on other threads (the
    /// descriptor number stays this socket's until `close`).
    public func shutdown() {
        if !isClosed.load(ordering: .acquiring) {
            _ = Glibc.shutdown(fileDescriptor, Int32(SHUT_RDWR))
        }
    }

    // MARK: Sending

    /// Sends `frame` as one datagram, with `fd` (if any) attached as SCM_RIGHTS; the caller keeps
    /// its own copy of `fd`.
    /// - Parameter timeout: nil blocks until the peer's queue has room; else `.timedOut` after it.
    /// - Throws: `.closed` if the peer has closed, `.timedOut`, `.system`.
    public func send(_ frame: Frame, fd: Int32? = nil, timeout: Duration? = nil) throws(ProtocolError) {
        try send(frame, descriptors: fd.map { [$0] } ?? [], timeout: timeout)
    }

    /// Sends `message` (see `send(_:fd:timeout:)`). `fd` must be given for the messages that carry
    /// one (`gpioGranted`, `i2cGranted`, `hello`) and only for them, as `receiveMessage` on the other side requires.
    /// - Throws: `.missingDescriptor` / `.unexpectedDescriptors` (nothing sent) if not.
    public func send(_ message: Message, fd: Int32? = nil, timeout: Duration? = nil) throws(ProtocolError) {
        if message.kind.carriesDescriptor, fd == nil { throw .missingDescriptor(message.kind.rawValue) }
        if !message.kind.carriesDescriptor, fd != nil { throw .unexpectedDescriptors(count: 1) }
        try send(message.frame(), fd: fd, timeout: timeout)
    }

    /// Sends `frame` with up to `CIOT_SOCKET_MAX_FDS` descriptors attached.
    public func send(_ frame: Frame, descriptors: [Int32], timeout: Duration? = nil) throws(ProtocolError) {
        guard descriptors.count <= Int(CIOT_SOCKET_MAX_FDS) else { throw .unexpectedDescriptors(count: descriptors.count) }
        let bytes = frame.encoded()
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let sent = bytes.withUnsafeBytes { raw in
                descriptors.withUnsafeBufferPointer { fds in
                    ciot_socket_send(fileDescriptor, raw.baseAddress, raw.count, fds.baseAddress, Int32(fds.count),
                                     deadline == nil ? 0 : CIOT_SOCKET_MSG_DONTWAIT)
                }
            }
            if sent >= 0 { return }  // A datagram goes out whole or not at all.
            let code = errno
            switch code {
            case EPIPE, ECONNRESET, ENOTCONN: throw .closed
            case EAGAIN where deadline != nil:
                try Self.wait(fileDescriptor, events: Int16(POLLOUT), until: deadline!)
            default: throw .system(call: "sendmsg", errno: code)
            }
        }
    }

    // MARK: Receiving

    /// Receives one frame, waiting for ever.
    /// - Parameter maxDescriptors: how many attached descriptors to keep; any beyond are closed.
    /// - Returns: the frame and the descriptors that came with it (close-on-exec; the caller owns them).
    /// - Throws: `.closed` at the peer's end; `.datagramTooLarge`, `.controlDataTruncated` and
    ///   every framing error of `Frame(datagram:)` for what the peer sent (any descriptors
    ///   attached to it are closed first); `.system`.
    public func receive(maxDescriptors: Int = 1) throws(ProtocolError) -> (frame: Frame, fds: [Int32]) {
        try receive(deadline: nil, maxDescriptors: maxDescriptors)
    }

    /// `receive(maxDescriptors:)`, giving up with `.timedOut` after `timeout`.
    public func receive(timeout: Duration, maxDescriptors: Int = 1) throws(ProtocolError) -> (frame: Frame, fds: [Int32]) {
        try receive(deadline: ContinuousClock.now + timeout, maxDescriptors: maxDescriptors)
    }

    /// Receives and decodes one message, checking its descriptors: `gpioGranted`, `i2cGranted` and `hello` must
    /// carry exactly one (returned), every other message none. A message that breaks this rule is
    /// refused (`.missingDescriptor`, `.unexpectedDescriptors`) and its descriptors are closed.
    /// - Parameters:
    ///   - sender: who is at the other end (`.runner` on the host): messages only this side may send are refused.
    ///   - timeout: nil waits for ever.
    public func receiveMessage(from sender: Message.Sender, timeout: Duration? = nil) throws(ProtocolError) -> (message: Message, fd: Int32?) {
        let (frame, fds) = try receive(deadline: timeout.map { ContinuousClock.now + $0 }, maxDescriptors: Int(CIOT_SOCKET_MAX_FDS))
        let message: Message
        do {
            message = try Message(frame: frame, from: sender)
        } catch {
            Self.closeAll(fds)
            throw error
        }
        if message.kind.carriesDescriptor {
            guard fds.count == 1 else {
                Self.closeAll(fds)
                throw fds.isEmpty ? .missingDescriptor(frame.type) : .unexpectedDescriptors(count: fds.count)
            }
            return (message, fds[0])
        }
        guard fds.isEmpty else {
            Self.closeAll(fds)
            throw .unexpectedDescriptors(count: fds.count)
        }
        return (message, nil)
    }

    private func receive(deadline: ContinuousClock.Instant?, maxDescriptors: Int) throws(ProtocolError) -> (frame: Frame, fds: [Int32]) {
        while true {
            if let deadline { try Self.wait(fileDescriptor, events: Int16(POLLIN), until: deadline) }
            var fds = [Int32](repeating: -1, count: Int(CIOT_SOCKET_MAX_FDS))
            var fdCount: Int32 = 0
            var flags: Int32 = 0
            // One buffer of the largest frame; MSG_TRUNC makes the result the real length of a larger one.
            let outcome = withUnsafeTemporaryAllocation(byteCount: Frame.maxSize, alignment: 8) { buffer in
                let received = fds.withUnsafeMutableBufferPointer { fdBuffer in
                    ciot_socket_receive(fileDescriptor, buffer.baseAddress, buffer.count, deadline == nil ? 0 : CIOT_SOCKET_MSG_DONTWAIT,
                                        fdBuffer.baseAddress, &fdCount, &flags)
                }
                let code = errno
                return Result { () throws(ProtocolError) -> Frame? in
                    if received < 0 {
                        if code == EAGAIN && deadline != nil { return nil }  // another reader took it; wait again
                        throw code == ECONNRESET ? .closed : .system(call: "recvmsg", errno: code)
                    }
                    if received == 0 { throw .closed }
                    if flags & CIOT_SOCKET_MSG_CTRUNC != 0 { throw .controlDataTruncated }
                    if received > buffer.count || flags & CIOT_SOCKET_MSG_TRUNC != 0 {
                        // Name the header's own complaint (bad magic, oversized payload) if it has one.
                        _ = try FrameHeader(parsing: UnsafeRawBufferPointer(buffer))
                        throw .datagramTooLarge(received)
                    }
                    return try Frame(datagram: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<received]))
                }
            }
            var received = Array(fds.prefix(Int(fdCount)))
            switch outcome {
            case let .failure(error):
                Self.closeAll(received)
                throw error
            case .success(nil):
                continue
            case let .success(frame?):
                if received.count > maxDescriptors {
                    Self.closeAll(Array(received[max(0, maxDescriptors)...]))
                    received.removeSubrange(max(0, maxDescriptors)...)
                }
                return (frame, received)
            }
        }
    }

    /// Checks that the descriptor is an AF_UNIX SOCK_SEQPACKET socket (for one received or
    /// inherited: a stream socket would not keep frames apart).
    /// - Throws: `.notASeqpacketSocket`, or `.system`.
    public func verifySocketType() throws(ProtocolError) {
        switch ciot_socket_is_unix_seqpacket(fileDescriptor) {
        case 1: return
        case 0: throw .notASeqpacketSocket
        default: throw .system(call: "getsockopt(SO_TYPE)", errno: errno)
        }
    }

    // MARK: Credentials

    /// The process at the other end (SO_PEERCRED): for a socket from connect/accept the process
    /// that connected, for a socketpair the process that created the pair (see the type's notes).
    public func peerCredentials() throws(ProtocolError) -> PeerCredentials {
        var credentials = ciot_peer_credentials()
        guard ciot_socket_peer_credentials(fileDescriptor, &credentials) == 0 else {
            throw .system(call: "getsockopt(SO_PEERCRED)", errno: errno)
        }
        return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }

    /// The host's check of a runner's connection: the peer must be the process it spawned
    /// (`expectedPID`) running as the user it chose (`expectedUID`).
    /// - Throws: `.authenticationFailed` naming both, or `.system`.
    public func authenticate(expectedPID: pid_t, expectedUID: uid_t) throws(ProtocolError) {
        let peer = try peerCredentials()
        guard peer.pid == expectedPID, peer.uid == expectedUID else {
            throw .authenticationFailed(expectedPID: expectedPID, actualPID: peer.pid, expectedUID: expectedUID, actualUID: peer.uid)
        }
    }

    // MARK: Connecting

    /// The runner's side of connecting: creates the connection, sends its other end to the host
    /// with `hello` on `bootstrap` (fd 3), and returns the runner's end. The caller then closes
    /// `bootstrap` and waits for `welcome` (or `denied`) on the returned channel.
    public static func openToHost(bootstrap: Channel, moduleID: String, timeout: Duration? = nil) throws(ProtocolError) -> Channel {
        let (mine, theirs) = try pair()
        defer { theirs.close() }
        try bootstrap.send(.hello(protocolVersion: Frame.version, moduleID: moduleID, pid: getpid()), fd: theirs.fileDescriptor, timeout: timeout)
        return mine
    }

    /// The host's side of connecting: receives `hello` and the connection's socket on `bootstrap`,
    /// and checks that the socket is an AF_UNIX SOCK_SEQPACKET socket created by `expectedPID`
    /// running as `expectedUID`, and
    /// that hello names the same pid and this protocol version. The caller then closes `bootstrap`
    /// and sends `welcome` on the returned channel (after checking the module id).
    /// - Throws: `.authenticationFailed`, `.notASeqpacketSocket`, `.unexpectedMessage` (not hello),
    ///   `.unsupportedVersion`, `.timedOut`, a protocol error.
    public static func acceptRunner(bootstrap: Channel, expectedPID: pid_t, expectedUID: uid_t,
                                    timeout: Duration) throws(ProtocolError) -> (channel: Channel, moduleID: String) {
        let (message, fd) = try bootstrap.receiveMessage(from: .runner, timeout: timeout)
        guard case let .hello(version, moduleID, pid) = message, let fd else {
            if let fd { _ = Glibc.close(fd) }
            throw .unexpectedMessage(message.kind.rawValue)
        }
        let channel = Channel(adopting: fd)
        try channel.verifySocketType()
        try channel.authenticate(expectedPID: expectedPID, expectedUID: expectedUID)
        guard pid == expectedPID else {
            throw .authenticationFailed(expectedPID: expectedPID, actualPID: pid, expectedUID: expectedUID, actualUID: expectedUID)
        }
        guard version == Frame.version else { throw .unsupportedVersion(version) }
        return (channel, moduleID)
    }

    // MARK: Helpers

    private static func closeAll(_ fds: [Int32]) {
        for fd in fds { _ = Glibc.close(fd) }
    }

    /// Waits until `fd` is ready for `events` (or has hung up / failed, which the following call
    /// reports); `.timedOut` once `deadline` has passed.
    private static func wait(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) throws(ProtocolError) {
        while true {
            guard deadline > .now else { throw .timedOut }
            let milliseconds = pollMilliseconds(until: deadline)
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .system(call: "poll", errno: errno) }
        }
    }
}

#endif
