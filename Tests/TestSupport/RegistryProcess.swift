import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's docker-registry (CNCF distribution) serving on a free port of 127.0.0.1, with its
/// configuration, storage and log in a directory of the caller's; `stop()` (or letting go of it)
/// ends it, and `start()` serves again on the same port and storage (a registry that was down). The delivery tests (PluginHostTests' `LocalRegistry`, which adds TLS and auth) and
/// `sdk-bench delivery` start their registries with it.
public final class RegistryProcess {
    /// docker-registry on PATH, or nil (Scripts/ensure-registry.sh installs it).
    public static var executable: URL? { Tool.onPath("docker-registry") }

    public var port: Int { server.port }
    /// `127.0.0.1:PORT`, as references write it.
    public var address: String { "127.0.0.1:\(port)" }
    private let server: ServerProcess

    /// Writes `<directory>/config.yml` (storage in `<directory>/storage`, log in
    /// `<directory>/registry.log`), starts the registry and waits until it listens.
    /// - Parameter extraConfig: more lines for the `http` section (TLS) and the sections after it
    ///   (auth), as YAML indented for where they go.
    public init(executable: URL, directory: String, extraConfig: String = "") throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try ServerProcess.freePort()
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
        server = ServerProcess(name: "docker-registry", port: port, executable: executable, arguments: ["serve", directory + "/config.yml"],
                               log: directory + "/registry.log")
        try start()
    }

    /// Starts the registry (again, after `stop`) and waits until it listens.
    public func start() throws { try server.start() }

    /// Stops the registry (SIGTERM) and waits.
    public func stop() { server.stop() }

    /// A port of 127.0.0.1 that nothing listens on (just now).
    public static func freePort() throws -> Int { try ServerProcess.freePort() }
}
