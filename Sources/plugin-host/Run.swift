import ArgumentParser
import Foundation
import Logging
import PluginHost
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the host: start every installed module, supervise it, and stop them all on SIGTERM.",
        discussion: """
        Each module runs in a runner process of its own and is restarted with exponential backoff \
        when it exits or stops sending heartbeats; more than health.maxRestarts failures within \
        health.restartWindowSeconds mark it broken, and a module broken soon after an update is \
        rolled back. Under systemd (NOTIFY_SOCKET set) the host sends READY=1 and, when \
        WatchdogSec is set, WATCHDOG=1. The status is written to <state-dir>/run/status.json \
        every second (`plugin-host status`). `plugin-host command` calls the modules' typed \
        commands through <state-dir>/run/control.sock (mode 0600; root or the host's user only).
        """
    )

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @Option(help: "Seconds after a committed update during which a module that breaks is rolled back.")
    var freshUpdateWindow: Double = 600

    @OptionGroup var sandbox: SandboxFlags

    func run() async throws {
        guard let executable = ChildProcessRunner.locate() else {
            FileHandle.standardError.write(Data("plugin-host: plugin-host-runner not found next to plugin-host: install it there or set PLUGIN_HOST_RUNNER\n".utf8))
            throw ExitCode(ModuleError(.runnerFailed, "").exitCode)
        }
        var logger = Logger(label: "plugin-host")
        logger.logLevel = .info
        let runtime = HostRuntime(stateDirectory: stateDir, runner: ChildProcessRunner(executable: executable, sandbox: sandbox.options, stateDirectory: stateDir), freshUpdateWindow: freshUpdateWindow)
        let service = HostService(runtime: runtime, logger: logger)
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// The host as a swift-service-lifecycle service: starts the runtime, keeps the status file and
/// the systemd watchdog fresh, and stops every module on graceful shutdown.
struct HostService: Service {
    let runtime: HostRuntime
    let logger: Logger

    func run() async throws {
        // An install running at the same moment holds the state directory: wait for it.
        while true {
            let result = Result { () throws(ModuleError) in try runtime.start() }
            switch result {
            case .success: break
            case let .failure(error) where error.code == .busy:
                logger.info("state directory busy (an install is running); retrying")
                try await Task.sleep(for: .milliseconds(500))
                continue
            case let .failure(error):
                logger.error("cannot start: \(error)")
                throw ExitCode(error.exitCode)
            }
            break
        }
        // `plugin-host command` reaches the modules through it; the host runs without it if need be.
        let control = ControlServer(runtime: runtime)
        do throws(ModuleError) {
            try control.start()
        } catch {
            logger.warning("no control socket (plugin-host command will not reach this host): \(error)")
        }
        let snapshot = runtime.snapshot
        logger.info("running \(snapshot.modules.count) module(s): \(snapshot.modules.map { "\($0.id) \($0.version)" }.joined(separator: ", "))")
        SystemdNotify.send("READY=1\nSTATUS=running \(snapshot.modules.count) module(s)")
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                runtime.reconcile()
                do { try runtime.writeStatus() } catch { logger.warning("cannot write the status file: \(error)") }
                SystemdNotify.send("WATCHDOG=1")
                try? await Task.sleep(for: .seconds(1))
            }
        } onGracefulShutdown: {
            SystemdNotify.send("STOPPING=1")
        }
        control.stop()
        runtime.stop()
        logger.info("stopped")
    }
}

/// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Does nothing when the
/// variable is not set (not started by systemd, or not Type=notify).
enum SystemdNotify {
    static func send(_ message: String) {
        guard let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty, path.utf8.count < 108 else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 } // abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        _ = message.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, text, strlen(text), Int32(MSG_NOSIGNAL), $0, length) }
            }
        }
    }
}
