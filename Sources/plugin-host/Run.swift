import LinuxSupport
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HostUplink
import Logging
import ModuleProtocol
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
        WatchdogSec is set, WATCHDOG=1 at half its interval. The status is written to \
        <state-dir>/run/status.json when it changes (`plugin-host status`); <state-dir>/run links to \
        a directory on tmpfs (/run/plugin-host for the default state directory), so that a running \
        host does not write to flash. `plugin-host command` calls the modules' typed \
        commands through <state-dir>/run/control.sock (mode 0600; root or the host's user only). \
        With --mqtt-url the host holds the device's broker connection: modules publish and \
        subscribe through it within their manifest's capabilities.mqtt filters; their messages \
        wait in <state-dir>/uplink/outbox.sqlite (up to --mqtt-module-quota bytes per module) \
        until the broker acknowledges them, and <prefix>devices/<device-id>/status is retained \
        'online', or 'offline' when the host stops or vanishes. With --fleet as well, the host \
        follows the desired state retained on <prefix>devices/<device-id>/desired: it pulls the \
        images it names (through the registry options below), installs them through the update \
        engine's health gate, and reports on <prefix>devices/<device-id>/reported and \
        .../events (Documentation/Fleet.md). Only images signed by trusted keys install.
        """
    )

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @Option(help: "Seconds after a committed update during which a module that breaks is rolled back.")
    var freshUpdateWindow: Double = 600

    @OptionGroup var sandbox: SandboxFlags

    @OptionGroup(title: "MQTT uplink") var uplink: UplinkFlags

    @Flag(help: "Follow the fleet's desired state on <prefix>devices/<device-id>/desired and report on .../reported (needs --mqtt-url).")
    var fleet = false

    @OptionGroup(title: "Registries the fleet's images come from (with --fleet)") var registry: RegistryFlags

    func validate() throws {
        if fleet && uplink.mqttURL == nil {
            throw ValidationError("--fleet needs --mqtt-url: the desired state arrives through the broker")
        }
    }

    func run() async throws {
        guard let executable = ChildProcessRunner.locate() else {
            writeToStandardError("plugin-host: plugin-host-runner not found next to plugin-host: install it there or set PLUGIN_HOST_RUNNER\n")
            throw ExitCode(ModuleError(.runnerFailed, "").exitCode)
        }
        var logger = Logger(label: "plugin-host")
        logger.logLevel = .info
        let eventLogger = logger
        let messaging = try await openUplink(logger: logger)
        let modules = messaging.map { ModuleUplink(messaging: $0) } ?? .notConfigured
        if let messaging { messaging.attach(modules) }
        // Channel checks run this very executable (`pull --unless-at`).
        let runner = ChildProcessRunner(executable: executable, sandbox: sandbox.options, stateDirectory: stateDir, uplink: modules)
        let runtime = HostRuntime(stateDirectory: stateDir, runner: runner,
                                  freshUpdateWindow: freshUpdateWindow, hostExecutable: Files.realPath("/proc/self/exe"), log: { eventLogger.info("\($0)") })
        let agent = try fleetAgent(runtime: runtime, messaging: messaging, logger: logger)
        let service = HostService(runtime: runtime, logger: logger, fleet: agent)
        // A graceful shutdown ends the services in reverse order: the modules first, then the
        // uplink, which still takes what they publish while stopping.
        let services: [any Service] = (messaging.map { [$0] } ?? []) + [service]
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// The fleet agent `--fleet` asks for, attached to the broker connection; nil without one.
    private func fleetAgent(runtime: HostRuntime, messaging: HostMessaging?, logger: Logger) throws -> FleetAgent? {
        guard fleet, let messaging else {
            if fleet { logger.error("fleet: no broker connection, so no desired state: the host runs what is installed") }
            return nil
        }
        let options = registry.options
        let access = FleetAgent.RegistryAccess(authFile: registry.authfile, insecureRegistries: options.insecureRegistries,
                                               caFiles: options.caFiles, platform: registry.platform)
        let agent = FleetAgent(runtime: runtime, device: messaging.deviceID, registry: access)
        try messaging.attach(fleet: agent)
        logger.info("fleet: desired state on \(messaging.configuration.topicPrefix)\(messaging.configuration.deviceTopic("desired"))")
        return agent
    }

    /// The broker connection `--mqtt-url` asks for, with its outbox open; nil without one, or
    /// when its outbox cannot be opened (a device keeps running its modules without an uplink:
    /// they get ENOTCONN, and the log says why).
    private func openUplink(logger: Logger) async throws -> HostMessaging? {
        guard let configuration = try uplink.hostConfiguration() else { return nil }
        do {
            let messaging = try await HostMessaging(stateDirectory: stateDir, configuration: configuration, logger: logger)
            logger.info("uplink: \(configuration.mqtt.broker) as '\(configuration.mqtt.clientID)', device '\(configuration.deviceID)', status on \(configuration.statusTopic)")
            return messaging
        } catch {
            logger.error("uplink: cannot open the host outbox in \(stateDir)/uplink: \(error); running the modules without an uplink (they get ENOTCONN)")
            return nil
        }
    }
}

/// The host as a swift-service-lifecycle service: starts the runtime and its event loop (status
/// file, reconciling, the systemd watchdog), then sleeps until graceful shutdown and stops every
/// module. Nothing here polls, and nothing that blocks runs on Swift's cooperative pool.
struct HostService: Service {
    let runtime: HostRuntime
    let logger: Logger
    /// Started once the modules run (it pauses and installs them), stopped with the runtime.
    var fleet: FleetAgent? = nil

    func run() async throws {
        // A state directory made by an older host, or by hand, may be open to other users.
        do {
            if let line = try StateFiles.tightenStateDirectory(runtime.stateDirectory) { logger.notice("\(line)") }
        } catch {
            logger.warning("\(error)")
        }
        do {
            let (directory, note) = try RuntimeDirectory.prepare(stateDirectory: runtime.stateDirectory)
            if let note { logger.warning("\(note)") } else { logger.info("runtime status in \(directory)") }
        } catch {
            logger.error("cannot prepare the runtime directory: \(error)")
            throw ExitCode(error.exitCode)
        }
        // An install running at the same moment holds the state directory: wait for it.
        while true {
            // Waits (on inotify, off the cooperative pool) for the install to let go of the lock.
            let result = await offThePool { () -> Result<Void, ModuleError> in Result { () throws(ModuleError) in try runtime.start(waitingForLock: .seconds(60)) } }
            switch result {
            case .success: break
            case let .failure(error) where error.code == .busy:
                logger.info("state directory still busy after 60 s (an install is running); waiting on")
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
        let loop: HostEventLoop
        do {
            loop = try HostEventLoop(runtime: runtime, watchdog: SystemdNotify.watchdogInterval, ping: { SystemdNotify.send("WATCHDOG=1") })
        } catch {
            logger.error("\(error)")
            await offThePool { control.stop(); runtime.stop() }
            throw ExitCode(error.exitCode)
        }
        loop.start()
        fleet?.start()
        let snapshot = runtime.snapshot
        logger.info("running \(snapshot.modules.count) module(s): \(snapshot.modules.map { "\($0.id) \($0.version)" }.joined(separator: ", "))")
        SystemdNotify.send("READY=1\nSTATUS=running \(snapshot.modules.count) module(s)")
        try? await gracefulShutdown()
        SystemdNotify.send("STOPPING=1")
        await offThePool {
            loop.stop()
            control.stop()
            runtime.stop()
        }
        logger.info("stopped")
    }
}

/// Runs blocking work (stopping runners waits for them) on a thread of its own and awaits it,
/// so that Swift's cooperative pool is never held.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let created = startDetachedThread(name: "plugin-host work") { continuation.resume(returning: work()) }
        if created != 0 { continuation.resume(returning: work()) }
    }
}
