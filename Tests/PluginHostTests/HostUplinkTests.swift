import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime

/// The host's uplink with real parts: a real mosquitto on 127.0.0.1, a real `plugin-host run
/// --mqtt-url …` (sandboxed, as root) running the test module (Tests/Fixtures/modules/mqtt.c),
/// and `mosquitto_sub`/`mosquitto_pub` as the back end.
@Suite("Host uplink: modules publish and subscribe through plugin-host run's broker connection", .serialized,
       .enabled(if: SandboxEnvironment.shouldRun && MosquittoProcess.executable != nil && Tool.onPath("mosquitto_sub") != nil))
struct HostUplinkTests {
    static let device = "pi-42"

    /// The test module's manifest: start mq_start, publish to sensors/{device}/#, subscribe to commands/{device}/#.
    static func manifest() -> ModuleManifest {
        var manifest = UpdateFixture.manifest("1.0.0", hooks: ModuleManifest.Hooks(),
                                              health: .init(readyTimeoutSeconds: 10, heartbeatIntervalSeconds: 30, stabilityWindowSeconds: 0.5,
                                                            maxRestarts: 3, restartWindowSeconds: 60))
        manifest.library = .init(path: "lib/libtestmodule.so", entryPoints: .init(start: "mq_start", stop: "mq_stop"))
        manifest.capabilities.mqtt = .init(publish: ["sensors/{device}/#"], subscribe: ["commands/{device}/#"])
        return manifest
    }

    /// The running module's output, from the host's control socket.
    static func output(_ f: UpdateFixture, module: String = UpdateFixture.id) -> String {
        guard let response = try? ControlServer.send(.init("output", module: module), stateDirectory: f.state),
              case let .string(text)? = response.result else { return "" }
        return text
    }

    @Test("published while the broker is down, queued and delivered once it is up; outside the rights refused; the quota is EDQUOT; the back end's messages reach the module; status online then offline")
    func endToEnd() throws {
        let f = try UpdateFixture()
        let broker = try MosquittoProcess(directory: f.base.path("broker"))
        defer { broker.stop() }
        // The back end's persistent session, made while the broker is up, receives what comes while it was down:
        // once the broker has its subscription (its connection alone is not enough: the broker, stopped
        // before the SUBSCRIBE arrives, would keep a session without it).
        let backend = try broker.subscriber("#", clientID: "backend")
        defer { backend.signal(SIGKILL) }
        #expect(waitUntil(seconds: 10) { broker.hasSubscription("backend", filter: "#") })
        broker.stop()

        let big = 3000, quota = 4096
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: """
            mq-pub sensors/\(Self.device)/t1 mq-pub other/x mq-sub commands/\(Self.device)/#
            mq-pub-big sensors/\(Self.device)/big \(big) mq-pub-big sensors/\(Self.device)/big \(big)
            """, manifest: Self.manifest()))
        let host = try HostRuntimeTests.startHost(f, arguments: ["--mqtt-url", broker.url, "--device-id", Self.device,
                                                                 "--mqtt-module-quota", "\(quota)"])
        defer { HostRuntimeTests.stop(host) }

        // The broker is down: the host acknowledges what is within the rights (queued), refuses the rest.
        #expect(waitUntil(seconds: 30) { Self.output(f).contains("mq: requests done") }, "\(Self.output(f))")
        let output = Self.output(f)
        #expect(output.contains("mq: publish(sensors/\(Self.device)/t1, 5) = 0 (ok)"), "\(output)")
        #expect(output.contains("mq: publish(other/x, 5) = -13 (Permission denied)"), "\(output)")
        #expect(output.contains("mq: subscribe(commands/\(Self.device)/#) = 0 (ok)"), "\(output)")
        #expect(output.contains("mq: publish(sensors/\(Self.device)/big, \(big)) = 0 (ok)"), "\(output)")
        #expect(output.contains("mq: publish(sensors/\(Self.device)/big, \(big)) = -122 (Disk quota exceeded): module \(UpdateFixture.id) has \(quota) bytes"), "\(output)")
        let audit = AuditLog(stateDirectory: f.state).entries().filter { $0.resource == "mqtt" && $0.decision == "denied" }
        #expect(audit.map(\.request) == ["publish other/x"], "\(audit)")

        // The broker starts: what was queued arrives, with the retained status.
        try broker.start()
        let t1 = "sensors/\(Self.device)/t1 hello", bigLine = "sensors/\(Self.device)/big " + String(repeating: "x", count: big)
        #expect(waitUntil(seconds: 20) { backend.stdout.contains(t1) && backend.stdout.contains(bigLine) }, "\(backend.stdout.prefix(400))")
        #expect(!backend.stdout.contains("other/x"))
        #expect(waitUntil(seconds: 10) { backend.stdout.contains("devices/\(Self.device)/status online") })

        // The back end publishes (retained, so that it does not race the host's subscription): the module receives it.
        try broker.publish(topic: "commands/\(Self.device)/set", payload: "on", retain: true)
        #expect(waitUntil(seconds: 20) {
            let text = Self.output(f), received = "mq: received commands/\(Self.device)/set retain="
            return text.contains(received + "0: on") || text.contains(received + "1: on")
        }, "\(Self.output(f))")

        // A graceful stop says offline.
        HostRuntimeTests.stop(host)
        #expect(host.terminationStatus == 0)
        #expect(try broker.retained(topic: "devices/\(Self.device)/status") == "offline")
    }

    @Test("IoTSDK's Uplink inside a runner goes through the host: the Swift example's outbox reaches the broker (also what it queued while the broker was down), and its subscription receives the back end's setpoint",
          .enabled(if: ExampleModules.built || ExampleModules.required, "the examples are not built (swift build --product ExampleModuleSwift)"))
    func sdkUplinkInRunner() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let broker = try MosquittoProcess(directory: f.base.path("broker"))
        defer { broker.stop() }
        let (image, manifest) = try ExampleModulesTests.pack("ExampleModuleSwift", f)
        try f.engine().install(imageAt: image)
        broker.stop()
        let host = try HostRuntimeTests.startHost(f, arguments: ["--mqtt-url", broker.url, "--device-id", "pi-7"])
        defer { HostRuntimeTests.stop(host) }
        let running = { HostRuntime.runningSnapshot(stateDirectory: f.state)?.modules.first { $0.id == manifest.id }?.state == .running }
        #expect(waitUntil(seconds: 30, running))
        // Its first report was queued while the broker was down; it arrives once the broker is up.
        Thread.sleep(forTimeInterval: 1)
        try broker.start()
        #expect(waitUntil(seconds: 20) { (try? broker.retained(topic: "thermostat/pi-7/state")) == #"{"setpoint": 21.0}"# },
                "\(String(describing: try? broker.retained(topic: "thermostat/pi-7/state")))")
        // The back end sets a new setpoint: the module's subscription gets it, and it reports it.
        try broker.publish(topic: "thermostat/pi-7/setpoint", payload: "23.5", retain: true)
        #expect(waitUntil(seconds: 20) { (try? broker.retained(topic: "thermostat/pi-7/state")) == #"{"setpoint": 23.5}"# },
                "\(String(describing: try? broker.retained(topic: "thermostat/pi-7/state")))")
        let output = Self.output(f, module: manifest.id)
        #expect(output.contains("uplink: reporting on thermostat/pi-7/state"), "\(output)")
    }

    @Test("a host outbox that cannot be opened leaves the modules running without an uplink (ENOTCONN)")
    func outboxUnavailable() throws {
        let f = try UpdateFixture()
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "mq-pub sensors/\(Self.device)/t1", manifest: Self.manifest()))
        // A file where the uplink's directory goes.
        FileManager.default.createFile(atPath: f.state + "/uplink", contents: Data("not a directory".utf8))
        let host = try HostRuntimeTests.startHost(f, arguments: ["--mqtt-url", "mqtt://127.0.0.1:1", "--device-id", Self.device])
        defer { HostRuntimeTests.stop(host) }
        #expect(waitUntil(seconds: 30) { Self.output(f).contains("mq: requests done") }, "\(Self.output(f))")
        #expect(Self.output(f).contains("mq: publish(sensors/\(Self.device)/t1, 5) = -107"), "\(Self.output(f))")
    }

    @Test("run refuses MQTT options that cannot work before anything starts", arguments: [
        (["--mqtt-ca", "/etc/ca.pem"], "--mqtt-ca needs --mqtt-url"),
        (["--mqtt-url", "http://broker"], "--mqtt-url http://broker"),
        (["--mqtt-url", "mqtt://127.0.0.1", "--device-id", "a/b"], "--device-id 'a/b' cannot stand for {device}"),
        (["--mqtt-url", "mqtt://127.0.0.1", "--mqtt-password-file", "/nonexistent"], "--mqtt-password-file /nonexistent needs --mqtt-username"),
        (["--mqtt-url", "mqtts://127.0.0.1", "--device-id", "d"], "mqtts://"),
        (["--mqtt-url", "mqtt://127.0.0.1", "--device-id", "d", "--mqtt-module-quota", "0"], "--mqtt-module-quota 0"),
        (["--mqtt-url", "mqtt://127.0.0.1", "--device-id", "d", "--mqtt-cert", "/d.crt", "--mqtt-key", "/d.key"], "--mqtt-cert and --mqtt-key need --mqtt-ca"),
        (["--fleet"], "--fleet needs --mqtt-url"),
    ])
    func validation(arguments: [String], message: String) throws {
        guard let binary = Tool.pluginHost else { throw ModuleError(.io, "plugin-host was not built next to the tests") }
        let f = try Fixture()
        let run = try Tool.run(binary, ["run", "--state-dir", f.path("state")] + arguments)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
