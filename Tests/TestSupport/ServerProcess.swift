import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A server the tests start as a child process on a port of 127.0.0.1 (docker-registry,
/// mosquitto): started and waited for until it accepts connections, ended with SIGTERM (`stop`)
/// or SIGKILL (`kill`, a crash), and started again on the same port.
public final class ServerProcess {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// What the errors call it ("mosquitto").
    public let name: String
    public let port: Int
    private let executable: URL
    private let arguments: [String]
    private let log: String
    private var process: Process?

    /// - Parameters:
    ///   - log: the file the server's own output goes to (created when missing).
    ///   - resetSignalMask: start it with no signal blocked. A child inherits the mask of the
    ///     thread that spawns it, and the test runner's threads block most signals: a server that
    ///     does not reset its mask itself (mosquitto) would never see SIGTERM. Through perl, which
    ///     Debian always has (perl-base is essential).
    public init(name: String, port: Int, executable: URL, arguments: [String], log: String, resetSignalMask: Bool = false) {
        self.name = name
        self.port = port
        self.log = log
        if resetSignalMask {
            self.executable = URL(fileURLWithPath: "/usr/bin/perl")
            self.arguments = ["-e", "use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec @ARGV or die", "--", executable.path] + arguments
        } else {
            self.executable = executable
            self.arguments = arguments
        }
    }

    deinit { stop() }

    /// Starts the server (again, after `stop` or `kill`) and waits up to 20 s until it listens.
    public func start() throws {
        if !FileManager.default.fileExists(atPath: log) {
            guard FileManager.default.createFile(atPath: log, contents: nil) else { throw StartError(description: "cannot create \(log)") }
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = FileHandle(forWritingAtPath: log)
        output?.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.process = process
        let port = self.port
        guard waitUntil(seconds: 20, { Self.accepts(port) }) else {
            stop()
            throw StartError(description: "\(name) did not listen on 127.0.0.1:\(port) within 20 s (its log: \(log))")
        }
    }

    /// Ends the server with SIGTERM and waits.
    public func stop() { end(SIGTERM) }

    /// Ends the server with SIGKILL, as a crash, and waits.
    public func kill() { end(SIGKILL) }

    private func end(_ signal: Int32) {
        guard let process else { return }
        self.process = nil
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    /// A port of 127.0.0.1 that nothing listens on (just now).
    public static func freePort() throws -> Int {
        let (fd, port) = try Loopback.listen()
        close(fd)
        return port
    }

    /// Whether something accepts connections on 127.0.0.1:`port`.
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = Loopback.address(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
