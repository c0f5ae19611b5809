import LinuxSupport
import CIoTLinux
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import ModuleProtocol
import PluginHostImages
import PluginHostStore
import Synchronization

/// The running host's control socket, `<state>/run/control.sock` (in the runtime directory on
/// tmpfs: `RuntimeDirectory`): an AF_UNIX stream socket, mode
/// 0600 (so only its owner, root on a device, can even connect), on which `plugin-host command`
/// reaches the running modules. Every connection is checked again with SO_PEERCRED: the peer
/// must be root or the host's own user. One request per connection, one JSON line each way:
///
///     → {"request":"call","module":"com.example.x","command":"set_target","arguments":["21.5"],"timeoutSeconds":30}
///     ← {"ok":true,"result":{"type":"int32","value":0},"text":"0"}
///     ← {"ok":false,"error":{"code":"bad-arguments","exitCode":21,"message":"..."}}
///
/// The arguments are text, parsed and checked against the module's manifest by the host
/// (`HostRuntime.call`), so the client needs no manifest. Each connection is served on a thread
/// of its own, so a slow command holds up nobody else.
public final class ControlServer: Sendable {
    public struct Request: Codable, Sendable, Equatable {
        /// `call`.
        public var request: String
        public var module: String
        public var command: String
        public var arguments: [String]
        public var timeoutSeconds: Double?

        public init(module: String, command: String, arguments: [String], timeoutSeconds: Double? = nil) {
            request = "call"
            self.module = module
            self.command = command
            self.arguments = arguments
            self.timeoutSeconds = timeoutSeconds
        }

        /// `pause` (stop supervising the module while an install changes it), `resume`, or
        /// `output` (the module's recent output, `plugin-host logs`).
        public init(_ request: String, module: String) {
            self.request = request
            self.module = module
            command = ""
            arguments = []
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public struct Failure: Codable, Sendable, Equatable {
            /// `ModuleError.Code`'s raw value.
            public var code: String
            public var exitCode: Int32
            public var message: String
            public var field: String?

            public init(code: String, exitCode: Int32, message: String, field: String? = nil) {
                self.code = code
                self.exitCode = exitCode
                self.message = message
                self.field = field
            }
        }

        public var ok: Bool
        public var result: CommandValue?
        /// The result as `plugin-host command` prints it (`CommandValue.description`).
        public var text: String?
        public var error: Failure?

        public init(result: CommandValue) {
            ok = true
            self.result = result
            text = result.description
        }

        public init(error: ModuleError) {
            ok = false
            self.error = Failure(code: error.code.rawValue, exitCode: error.exitCode, message: error.message, field: error.field)
        }
    }

    public static func socketPath(stateDirectory: String) -> String { stateDirectory + "/run/control.sock" }

    /// The longest request line read.
    static let maxRequestBytes = 256 * 1024

    let runtime: HostRuntime
    public let path: String
    private let listener = Atomic<Int32>(-1)
    private let wakeWrite = Atomic<Int32>(-1)
    private let finished = Atomic<Bool>(true)
    /// Wakes `stop` when the accepting thread has ended.
    private let ended = MonotonicCondition()

    public init(runtime: HostRuntime) {
        self.runtime = runtime
        path = Self.socketPath(stateDirectory: runtime.stateDirectory)
    }

    deinit { stop() }

    /// Creates the socket (replacing a stale one) and starts accepting connections.
    /// - Throws: `ModuleError` `.io`.
    public func start() throws(ModuleError) {
        let directory = parentDirectory(of: path)
        try RuntimeDirectory.prepare(stateDirectory: runtime.stateDirectory)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StateFiles.ioError("creating the control socket", path) }
        // Bound in a private directory (0700), made 0600 there, then renamed into place: the
        // socket is never reachable with looser permissions, whatever the umask.
        var template = Array((directory + "/.ctl-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            close(fd)
            throw StateFiles.ioError("creating a directory for the control socket in", directory)
        }
        let staging = String(cString: made)
        let temporary = staging + "/s"
        defer { rmdir(staging) }
        guard UnixSocket.bind(fd, temporary) == 0 else {
            let code = errno
            close(fd)
            throw StateFiles.ioError("binding the control socket", temporary, code)
        }
        guard chmod(temporary, 0o600) == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw StateFiles.ioError("setting up the control socket", temporary, code)
        }
        var existing = stat()
        if lstat(path, &existing) == 0, existing.st_mode & S_IFMT != S_IFSOCK {
            close(fd)
            unlink(temporary)
            throw ModuleError(.io, "\(path) exists and is not a socket; remove it", field: path)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw StateFiles.ioError("moving the control socket to", path, code)
        }
        guard let wake = Subprocess.makePipe() else {
            close(fd)
            throw StateFiles.ioError("creating a pipe for", path)
        }
        listener.store(fd, ordering: .releasing)
        wakeWrite.store(wake.write, ordering: .releasing)
        finished.store(false, ordering: .releasing)
        let created = startDetachedThread(name: "control socket") { [self] in
            acceptLoop(fd, wake: wake.read)
            close(wake.read)
            close(fd)
            ended.locked {
                finished.store(true, ordering: .releasing)
                ended.broadcast()
            }
        }
        guard created == 0 else {
            close(wake.read)
            close(wake.write)
            close(fd)
            unlink(path)
            wakeWrite.store(-1, ordering: .releasing)
            throw ModuleError(.io, "cannot start the control socket's thread: \(String(cString: strerror(created)))")
        }
    }

    /// Stops accepting, removes the socket file and waits for the accepting thread to end
    /// (connections being served finish on their own threads).
    public func stop() {
        let wake = wakeWrite.exchange(-1, ordering: .acquiringAndReleasing)
        guard wake >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(wake, &byte, 1)
        unlink(path)
        ended.locked {
            while !finished.load(ordering: .acquiring) { ended.wait(until: nil) }
        }
        close(wake)
        listener.store(-1, ordering: .releasing)
    }

    private func acceptLoop(_ fd: Int32, wake: Int32) {
        while true {
            var descriptors = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { return }
            if descriptors[1].revents != 0 { return }
            guard descriptors[0].revents != 0 else { continue }
            // accept, then close-on-exec: runners are spawned with every descriptor above 3
            // closed (posix_spawn_file_actions_addclosefrom_np) where glibc offers it.
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let created = startDetachedThread(name: "control client") { [self] in
                serve(client)
                close(client)
            }
            if created != 0 { close(client) }
        }
    }

    private func serve(_ client: Int32) {
        var credentials = ciot_peer_credentials()
        guard ciot_socket_peer_credentials(client, &credentials) == 0 else { return }
        guard credentials.uid == 0 || credentials.uid == geteuid() else {
            reply(client, Response(error: ModuleError(.io, "uid \(credentials.uid) may not use the control socket of this host (root or uid \(geteuid()) only)")))
            return
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let line = readLine(client) else { return }
        guard let request = try? JSONDecoder().decode(Request.self, from: line), ["call", "pause", "resume", "output"].contains(request.request) else {
            reply(client, Response(error: ModuleError(.malformedJSON, "the request is not a JSON object {\"request\":\"call\",\"module\":…,\"command\":…,\"arguments\":[…]}")))
            return
        }
        if request.request == "pause" {
            reply(client, Response(result: .bool(runtime.pause(request.module))))
            return
        }
        if request.request == "resume" {
            runtime.resume(request.module)
            reply(client, Response(result: .bool(true)))
            return
        }
        if request.request == "output" {
            if let output = runtime.output(of: request.module) {
                reply(client, Response(result: .string(output)))
            } else {
                reply(client, Response(error: ModuleError(.notRunning, "module \(request.module) does not run on this host")))
            }
            return
        }
        let seconds = min(max(request.timeoutSeconds ?? 30, 0.001), 3600)
        let result = Result { () throws(ModuleError) -> CommandValue in
            try runtime.call(module: request.module, command: request.command, arguments: request.arguments,
                             timeout: .nanoseconds(Int64(seconds * 1e9)))
        }
        switch result {
        case let .success(value): reply(client, Response(result: value))
        case let .failure(error): reply(client, Response(error: error))
        }
    }

    /// One line (without its newline), at most `maxRequestBytes`; nil on EOF, timeout or overflow.
    private func readLine(_ fd: Int32) -> Data? {
        var bytes = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < Self.maxRequestBytes {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return bytes.isEmpty ? nil : bytes }
            if let newline = buffer[..<count].firstIndex(of: 10) {
                bytes.append(contentsOf: buffer[..<newline])
                return bytes
            }
            bytes.append(contentsOf: buffer[..<count])
        }
        return nil
    }

    private func reply(_ fd: Int32, _ response: Response) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var data = try? encoder.encode(response) else { return }
        data.append(10)
        _ = Self.sendAll(fd, data)
    }

    /// Writes all of `data` to a stream socket (retrying short writes and EINTR); false on error.
    static func sendAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { UnixSocket.sendAll(fd, $0) }
    }

    // MARK: - The client side

    /// Sends `request` to the host running on `stateDirectory` and returns its answer.
    /// - Throws: `ModuleError` `.notRunning` if no host listens there (no socket, or a stale one),
    ///   `.io` if the socket cannot be used (permission) or the answer is not one.
    public static func send(_ request: Request, stateDirectory: String) throws(ModuleError) -> Response {
        let path = socketPath(stateDirectory: stateDirectory)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StateFiles.ioError("creating a socket for", path) }
        defer { close(fd) }
        guard UnixSocket.connect(fd, path) == 0 else {
            let code = errno
            if code == ENOENT || code == ECONNREFUSED {
                throw ModuleError(.notRunning, "no plugin-host is running on \(stateDirectory) (\(path): \(String(cString: strerror(code)))); start it with `plugin-host run --state-dir \(stateDirectory)`, so module \(request.module) is not running")
            }
            throw StateFiles.ioError("connecting to the host's control socket", path, code)
        }
        guard var data = try? JSONEncoder().encode(request) else { throw ModuleError(.io, "cannot encode the request") }
        data.append(10)
        let sent = sendAll(fd, data)
        guard sent else { throw StateFiles.ioError("sending the request to", path) }
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            answer.append(contentsOf: buffer[..<count])
            if buffer[..<count].contains(10) { break }
        }
        guard let line = answer.split(separator: 10).first, let response = try? JSONDecoder().decode(Response.self, from: Data(line)) else {
            throw ModuleError(.io, "the host at \(path) sent no answer (\(answer.count) bytes)")
        }
        return response
    }
}
