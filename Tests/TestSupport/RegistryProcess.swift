import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's docker-registry (CNCF distribution) serving on a free port of 127.0.0.1, with its
/// configuration, storage and log in a directory of the caller's; `stop()` (or letting go of it)
/// ends it, and `start()` serves again on the same port and storage (a registry that was down). The delivery tests (PluginHostTests' `LocalRegistry`, which adds TLS and auth) and
/// `sdk-bench delivery` start their registries with it.
public final class RegistryProcess {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// docker-registry on PATH, or nil (Scripts/ensure-registry.sh installs it).
    public static var executable: URL? { Tool.onPath("docker-registry") }

    public let port: Int
    /// `127.0.0.1:PORT`, as references write it.
    public var address: String { "127.0.0.1:\(port)" }
    private let executable: URL
    private let directory: String
    private var process: Process?

    /// Writes `<directory>/config.yml` (storage in `<directory>/storage`, log in
    /// `<directory>/registry.log`), starts the registry and waits until it listens.
    /// - Parameter extraConfig: more lines for the `http` section (TLS) and the sections after it
    ///   (auth), as YAML indented for where they go.
    public init(executable: URL, directory: String, extraConfig: String = "") throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        let config = """
        version: 0.1
        log:
          level: warn
        storage:
          filesystem:
            rootdirectory: \(directory)/storage
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:\(port)
        """ + extraConfig
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/config.yml"))
        guard FileManager.default.createFile(atPath: directory + "/registry.log", contents: nil) else {
            throw StartError(description: "cannot create \(directory)/registry.log")
        }
        self.executable = executable
        self.directory = directory
        try start()
    }

    /// Starts the registry (again, after `stop`) and waits until it listens.
    public func start() throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", directory + "/config.yml"]
        process.standardOutput = FileHandle(forWritingAtPath: directory + "/registry.log")
        process.standardError = process.standardOutput
        try process.run()
        self.process = process
        let port = self.port
        guard waitUntil(seconds: 20, { Self.accepts(port) }) else {
            stop()
            throw StartError(description: "docker-registry did not listen on 127.0.0.1:\(port) within 20 s (its log: \(directory)/registry.log)")
        }
    }

    deinit { stop() }

    public func stop() {
        guard let process else { return }
        self.process = nil
        guard process.isRunning else { return }
        process.terminate()
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
