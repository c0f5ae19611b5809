import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

@Suite("Fleet desired state: the document")
struct DesiredStateTests {
    static let registry = "registry.example.com:5000/acme/thermostat"
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    @Test("images, pinned digests, channels and enabled read as written; the revision is the back end's or the document's digest")
    func parses() throws {
        let text = """
        {"revision": "r7", "modules": {
          "com.example.a": {"image": "\(Self.registry):1.2.0"},
          "com.example.b": {"image": "\(Self.registry):1.2.0", "digest": "\(Self.digest)", "enabled": false},
          "com.example.c": {"channel": "\(Self.registry):stable", "every": "1h30m"},
          "com.example.d": {"channel": "\(Self.registry):stable"},
          "com.example.e": {"enabled": false}}}
        """
        let desired = try DesiredState(parsing: Array(text.utf8))
        #expect(desired.revision == "r7")
        #expect(desired.modules["com.example.a"] == .init(source: .image(try ImageReference(parsing: "\(Self.registry):1.2.0")), enabled: true))
        guard case let .image(pinned)? = desired.modules["com.example.b"]?.source else { Issue.record("b is not an image"); return }
        #expect(pinned.digest?.description == Self.digest && pinned.tag == "1.2.0" && desired.modules["com.example.b"]?.enabled == false)
        #expect(desired.modules["com.example.c"]?.source == .channel(try ImageReference(parsing: "\(Self.registry):stable"), every: 5400))
        #expect(desired.modules["com.example.d"]?.source == .channel(try ImageReference(parsing: "\(Self.registry):stable"), every: DesiredState.defaultChannelInterval))
        #expect(desired.modules["com.example.e"] == .init(source: .installed, enabled: false))
        let bytes = Array(#"{"modules": {}}"#.utf8)
        #expect(try DesiredState(parsing: bytes).revision == Digest(of: Data(bytes)).description)
    }

    @Test("every problem of a bad document is reported at once, each saying what to write", arguments: [
        ("not json", ["is not JSON"]),
        ("[1, 2]", ["not a JSON object"]),
        (#"{"module": {}}"#, ["unknown field 'module'", "'modules' is missing"]),
        (#"{"modules": {"Thermostat": {}}}"#, ["'Thermostat' is not a module id"]),
        (#"{"modules": {"com.example.a": {"image": "Registry/Bad Name"}, "com.example.b": {"image": "r.example/x:1", "channel": "r.example/x:2"}}}"#,
         ["com.example.a: 'image'", "com.example.b: give 'image' (installed once) or 'channel' (followed), not both"]),
        (#"{"modules": {"com.example.a": {"image": "r.example/x:1", "digest": "sha256:12"}}}"#, ["'digest' 'sha256:12' is not a digest"]),
        (#"{"modules": {"com.example.a": {"channel": "r.example/x:stable", "every": "soon", "enabled": "yes"}}}"#,
         ["'enabled' must be true or false", "'every' 'soon' is not an interval"]),
        (#"{"modules": {"com.example.a": {"channel": "r.example/x@sha256:abababababababababababababababababababababababababababababababab"}}}"#,
         ["names a digest, which never moves"]),
        (#"{"modules": {"com.example.a": {"imag": "r.example/x:1"}}}"#, ["com.example.a: unknown field 'imag'"]),
    ])
    func problems(text: String, expected: [String]) {
        do {
            _ = try DesiredState(parsing: Array(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.problems.count == expected.count, "\(error.problems)")
            for fragment in expected {
                #expect(error.problems.contains { $0.contains(fragment) }, "\(fragment) not in \(error.problems)")
            }
        }
    }

    @Test("invalid UTF-8 and oversized documents are refused")
    func bytes() {
        #expect(throws: DesiredStateError.self) { try DesiredState(parsing: [0x7B, 0xFF, 0xFE, 0x7D]) }
        let big = Array(("{\"revision\": \"" + String(repeating: "x", count: DesiredState.maximumSize) + "\", \"modules\": {}}").utf8)
        #expect { try DesiredState(parsing: big) } throws: { ($0 as? DesiredStateError)?.problems.first?.contains("at most") == true }
    }

    @Test("events say what changed between two reports: installed, updated, rolled back, state, removed, the desired state's status")
    func events() {
        func module(_ version: String?, _ state: String, failed: FleetReport.Failure? = nil) -> FleetReport.Module {
            .init(version: version, state: state, image: nil, managed: true, enabled: true, source: nil, lastTransaction: nil, failed: failed)
        }
        let old = FleetReport(device: "pi-1", at: "t0", desired: .init(revision: "r1", status: .applied),
                              modules: ["com.example.a": module("1.0.0", "running"), "com.example.b": module("1.0.0", "running"),
                                        "com.example.c": module("1.0.0", "running")])
        let failure = FleetReport.Failure(result: "rolled-back", version: "2.0.0", digest: Self.digest, reason: "never ready")
        let new = FleetReport(device: "pi-1", at: "t1", desired: .init(revision: "r2", status: .failed, errors: ["com.example.a: rolled back"]),
                              modules: ["com.example.a": module("1.0.0", "running", failed: failure), "com.example.b": module("1.1.0", "running"),
                                        "com.example.d": module("1.0.0", "starting")])
        let events = FleetEvent.changes(from: old, to: new).map { "\($0.event) \($0.module ?? "-") \($0.from ?? "-") \($0.to ?? "-")" }
        #expect(events == ["desired - applied failed", "rolled-back com.example.a - -", "updated com.example.b 1.0.0 1.1.0",
                           "removed com.example.c 1.0.0 -", "installed com.example.d - -"], "\(events)")
        #expect(FleetEvent.changes(from: new, to: new).isEmpty)
        #expect(old.content == FleetReport(device: "pi-1", at: "later", desired: old.desired, modules: old.modules).content)
    }
}

/// A fleet of three real `plugin-host run --fleet` hosts (own state directories and client ids)
/// on one real mosquitto and one real registry, driven as a back end drives it: by retaining a
/// desired state per device, reading the retained reports and the events.
@Suite("Fleet desired state: three hosts, one broker, one registry", .serialized,
       .enabled(if: SandboxEnvironment.shouldRun && MosquittoProcess.executable != nil && Tool.onPath("mosquitto_sub") != nil
                && LocalRegistry.available && TestModule.runnerExecutable != nil))
struct FleetTests {
    static let repository = "acme/testmodule"

    final class Device {
        let name: String
        let fixture: UpdateFixture
        var process: Process?
        init(_ name: String, fixture: UpdateFixture) {
            self.name = name
            self.fixture = fixture
        }
        var state: String { fixture.state }
    }

    /// The retained report of `device`, decoded; nil when there is none yet.
    static func reported(_ broker: MosquittoProcess, _ device: String) -> FleetReport? {
        guard let text = try? broker.retained(topic: "devices/\(device)/reported") else { return nil }
        return try? JSONDecoder().decode(FleetReport.self, from: Data(text.utf8))
    }

    static func start(_ device: Device, _ broker: MosquittoProcess, _ registry: LocalRegistry) throws {
        device.process = try HostRuntimeTests.startHost(device.fixture, arguments: [
            "--mqtt-url", broker.url, "--device-id", device.name, "--mqtt-client-id", "host-\(device.name)", "--fleet",
            "--insecure-registry", registry.address,
        ])
    }

    static func desire(_ broker: MosquittoProcess, _ device: Device, _ json: String) throws {
        try broker.publish(topic: "devices/\(device.name)/desired", payload: json, retain: true)
    }

    static func transactions(_ device: Device) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: device.state + "/modules/\(UpdateFixture.id)/logs"))?.count ?? 0
    }

    @Test("desired v1: every host reports v1 running; v2 never ready: every host rolls back, says why and does not retry; a host stopped while the desired state changed converges when it starts; bad desired states change nothing and say why")
    func threeHosts() throws {
        let registry = try LocalRegistry()
        let images = try UpdateFixture()
        defer { images.base.cleanUp() }
        let broker = try MosquittoProcess(directory: images.base.path("broker"))
        defer { broker.stop() }
        func release(_ version: String, behavior: String = "heartbeat") throws {
            try registry.push(layout: try images.image(version, behavior: behavior), tag: version, to: Self.repository, as: version)
        }
        try release("1.0.0")
        try release("2.0.0", behavior: "never-ready")
        try release("2.1.0")

        // Three devices, each trusting the publisher's key, none running anything yet.
        var devices: [Device] = []
        for index in 1...3 {
            let fixture = try UpdateFixture()
            try TrustStore(stateDirectory: fixture.state).add(images.base.key.publicKey, modules: [try ModulePattern("com.example.*")])
            devices.append(Device("pi-\(index)", fixture: fixture))
        }
        defer {
            for device in devices {
                if let process = device.process, process.isRunning { HostRuntimeTests.stop(process) }
                device.fixture.base.cleanUp()
            }
        }
        let events = try broker.subscriber("devices/+/events", clientID: "backend-events")
        defer { events.signal(SIGKILL) }
        #expect(waitUntil(seconds: 10) { broker.hasSubscription("backend-events", filter: "devices/+/events") })
        for device in devices { try Self.start(device, broker, registry) }
        #expect(waitUntil(seconds: 20) { devices.allSatisfy { broker.hasClient("host-\($0.name)") } })

        func image(_ version: String) -> String {
            #"{"modules": {"\#(UpdateFixture.id)": {"image": "\#(registry.address)/\#(Self.repository):\#(version)"}}}"#
        }
        func describe() -> String { devices.map { "\($0.name): \(String(describing: Self.reported(broker, $0.name)))" }.joined(separator: "\n") }
        func converged(_ device: Device, _ version: String, _ status: FleetReport.Desired.Status) -> Bool {
            guard let report = Self.reported(broker, device.name), let module = report.modules[UpdateFixture.id] else { return false }
            return module.version == version && module.state == "running" && report.desired?.status == status
        }

        // v1 for every device: all report it running, the desired state applied.
        for device in devices { try Self.desire(broker, device, image("1.0.0")) }
        #expect(waitUntil(seconds: 120) { devices.allSatisfy { converged($0, "1.0.0", .applied) } }, "\(describe())")
        for device in devices {
            let module = try #require(Self.reported(broker, device.name)?.modules[UpdateFixture.id])
            #expect(module.managed && module.enabled && module.lastTransaction?.result == "committed" && module.image?.hasPrefix("sha256:") == true)
        }

        // v2 never calls ready(): every device's engine rolls it back, reports why, runs v1 on.
        for device in devices { try Self.desire(broker, device, image("2.0.0")) }
        #expect(waitUntil(seconds: 120) { devices.allSatisfy { converged($0, "1.0.0", .failed) } }, "\(describe())")
        for device in devices {
            let report = try #require(Self.reported(broker, device.name))
            let failed = report.modules[UpdateFixture.id]?.failed
            #expect(failed?.result == "rolled-back" && failed?.version == "2.0.0", "\(report)")
            #expect(failed?.reason?.contains("ready") == true, "\(String(describing: failed?.reason))")
            #expect(report.desired?.errors?.first?.contains("2.0.0 rolled back") == true, "\(String(describing: report.desired))")
            #expect(report.modules[UpdateFixture.id]?.lastTransaction?.result == "rolled-back")
        }
        // Not retried: the same desired state again (as a reconnect delivers it) installs nothing.
        let counts = devices.map(Self.transactions)
        try Self.desire(broker, devices[0], image("2.0.0"))
        Thread.sleep(forTimeInterval: 3)
        #expect(devices.map(Self.transactions) == counts, "v2 was installed again")

        // pi-3 is stopped; the desired state moves to v2.1; pi-1 and pi-2 follow at once, pi-3 when it starts.
        HostRuntimeTests.stop(devices[2].process!)
        for device in devices { try Self.desire(broker, device, image("2.1.0")) }
        #expect(waitUntil(seconds: 120) { devices[0...1].allSatisfy { converged($0, "2.1.0", .applied) } }, "\(describe())")
        #expect(Self.reported(broker, "pi-3")?.modules[UpdateFixture.id]?.version == "1.0.0")
        try Self.start(devices[2], broker, registry)
        #expect(waitUntil(seconds: 120) { converged(devices[2], "2.1.0", .applied) }, "\(describe())")

        // Bad desired states: each reported with its reasons; nothing changes.
        let pi1 = devices[0]
        let before = Self.transactions(pi1)
        let untrusted = try UpdateFixture()   // another publisher's key, which pi-1 does not trust
        defer { untrusted.base.cleanUp() }
        try registry.push(layout: try untrusted.image("3.0.0"), tag: "3.0.0", to: Self.repository, as: "3.0.0")
        for (json, reasons) in [
            (#"{"modules": {"\#(UpdateFixture.id)": {"image": "\#(registry.address)/\#(Self.repository):2.1.0"}, "com.example.nowhere": {"enabled": true}}}"#,
             ["com.example.nowhere: unknown module"]),
            (#"{"modules": {"\#(UpdateFixture.id)": {"image": "\#(registry.address)/Acme/Bad Name"}}}"#, ["\(UpdateFixture.id): 'image'"]),
            (image("3.0.0"), ["which this host does not trust"]),
            ("{not json", ["is not JSON"]),
        ] {
            try Self.desire(broker, pi1, json)
            #expect(waitUntil(seconds: 60) {
                guard let desired = Self.reported(broker, pi1.name)?.desired, desired.status == .rejected else { return false }
                let errors = desired.errors?.joined(separator: "\n") ?? ""
                return reasons.allSatisfy { errors.contains($0) }
            }, "\(json): \(String(describing: Self.reported(broker, pi1.name)?.desired))")
            #expect(converged(pi1, "2.1.0", .rejected))
        }
        #expect(Self.transactions(pi1) == before, "a rejected desired state changed the device")

        // The events: each device's install of v1, its rollback of v2 and its update to v2.1.
        let lines = events.stdout.split(separator: "\n")
        print("fleet of 3: \(lines.count) events; pi-1 reports \(try broker.retained(topic: "devices/pi-1/reported") ?? "nothing")")
        for device in devices {
            let mine = lines.filter { $0.hasPrefix("devices/\(device.name)/events ") }
            #expect(mine.contains { $0.contains(#""event":"rolled-back""#) && $0.contains(#""version":"2.0.0""#) }, "\(device.name): \(mine)")
            #expect(mine.contains { $0.contains(#""event":"updated""#) && $0.contains(#""to":"2.1.0""#) }, "\(device.name): \(mine)")
        }
        #expect(lines.contains { $0.hasPrefix("devices/pi-1/events ") && $0.contains(#""event":"desired""#) && $0.contains(#""to":"rejected""#) })
    }

    @Test("one host: a channel is followed, enabled false stops the module, a module the fleet no longer names is removed with its data kept, one installed by hand is left alone; a registry that is down leaves the desired state waiting until it is back")
    func lifecycle() throws {
        let registry = try LocalRegistry()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let broker = try MosquittoProcess(directory: f.base.path("broker"))
        defer { broker.stop() }
        try registry.push(layout: try f.image("1.0.0"), tag: "1.0.0", to: Self.repository, as: "stable")
        try registry.push(layout: try f.image("1.1.0"), tag: "1.1.0", to: Self.repository, as: "1.1.0")
        // A module installed by hand, which no desired state names.
        var other = UpdateFixture.manifest("1.0.0")
        other.id = "com.example.bystander"
        try f.engine().install(imageAt: try f.image("1.0.0", manifest: other, name: "bystander"))

        let device = Device("pi-9", fixture: f)
        try Self.start(device, broker, registry)
        defer { if let process = device.process, process.isRunning { HostRuntimeTests.stop(process) } }
        let events = try broker.subscriber("devices/pi-9/events", clientID: "backend-events-9")
        defer { events.signal(SIGKILL) }
        #expect(waitUntil(seconds: 10) { broker.hasSubscription("backend-events-9", filter: "devices/pi-9/events") })
        func report() -> FleetReport? { Self.reported(broker, "pi-9") }
        func module(_ id: String = UpdateFixture.id) -> FleetReport.Module? { report()?.modules[id] }

        // A channel: the host follows the tag, as `plugin-host follow` would have it.
        try Self.desire(broker, device, #"{"revision": "c1", "modules": {"\#(UpdateFixture.id)": {"channel": "\#(registry.address)/\#(Self.repository):stable", "every": "1h"}}}"#)
        #expect(waitUntil(seconds: 60) { module()?.version == "1.0.0" && module()?.state == "running" && report()?.desired?.status == .applied }, "\(String(describing: report()))")
        #expect(module()?.source == "channel \(registry.address)/\(Self.repository):stable every 1h")
        #expect(try FollowedChannel.load(stateDirectory: f.state, module: UpdateFixture.id)?.everySeconds == 3600)
        let bystander = try #require(report()?.modules["com.example.bystander"])
        #expect(!bystander.managed && bystander.state == "running" && bystander.version == "1.0.0")

        // Disabled: no version runs; the report says so.
        try Self.desire(broker, device, #"{"revision": "c2", "modules": {"\#(UpdateFixture.id)": {"enabled": false}}}"#)
        #expect(waitUntil(seconds: 30) { module()?.state == "disabled" && !(module()?.enabled ?? true) && report()?.desired?.revision == "c2" }, "\(String(describing: report()))")
        #expect(HostRuntime.runningSnapshot(stateDirectory: f.state)?.modules.contains { $0.id == UpdateFixture.id } == false)
        let list = try Tool.run(try #require(Tool.pluginHost), ["list", "--state-dir", f.state])
        #expect(list.stdout.contains("disabled: the fleet's desired state says enabled: false"), "\(list.stdout)")

        // The registry is down when an image is desired: the desired state waits, nothing changes, and
        // it is applied once the registry is back.
        registry.stop()
        try Self.desire(broker, device, #"{"revision": "c3", "modules": {"\#(UpdateFixture.id)": {"image": "\#(registry.address)/\#(Self.repository):1.1.0"}}}"#)
        #expect(waitUntil(seconds: 30) { report()?.desired?.status == .waiting && report()?.desired?.revision == "c3" }, "\(String(describing: report()))")
        #expect(module()?.version == "1.0.0")
        try registry.start()
        #expect(waitUntil(seconds: 60) { module()?.version == "1.1.0" && module()?.state == "running" && report()?.desired?.status == .applied }, "\(String(describing: report()))")
        #expect(try FollowedChannel.load(stateDirectory: f.state, module: UpdateFixture.id) == nil, "the channel is still followed")

        // An image that passes the health gate and breaks right after: the running host rolls it
        // back, the report says why, and the same desired state does not install it again.
        let flaky = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.5, stabilityWindowSeconds: 0.6,
                                                maxRestarts: 1, restartWindowSeconds: 60)
        try registry.push(layout: try f.image("1.2.0", behavior: "heartbeat crash-after-ms 1500", manifest: UpdateFixture.manifest("1.2.0", health: flaky)),
                          tag: "1.2.0", to: Self.repository, as: "1.2.0")
        try Self.desire(broker, device, #"{"revision": "c3b", "modules": {"\#(UpdateFixture.id)": {"image": "\#(registry.address)/\#(Self.repository):1.2.0"}}}"#)
        #expect(waitUntil(seconds: 90) {
            module()?.failed?.version == "1.2.0" && module()?.version == "1.1.0" && module()?.state == "running" && report()?.desired?.status == .failed
        }, "\(String(describing: report()))")
        #expect(module()?.failed?.reason?.contains("broke") == true, "\(String(describing: module()?.failed))")
        let transactions = Self.transactions(device)
        try Self.desire(broker, device, #"{"revision": "c3b", "modules": {"\#(UpdateFixture.id)": {"image": "\#(registry.address)/\#(Self.repository):1.2.0"}}}"#)
        Thread.sleep(forTimeInterval: 3)
        #expect(Self.transactions(device) == transactions, "1.2.0 was installed again")

        // No longer named: removed, its data kept; the module installed by hand stays.
        let data = f.state + "/modules/\(UpdateFixture.id)/data"
        #expect(FileManager.default.fileExists(atPath: data))
        try Self.desire(broker, device, #"{"revision": "c4", "modules": {}}"#)
        #expect(waitUntil(seconds: 30) { report()?.desired?.revision == "c4" && module() == nil }, "\(String(describing: report()))")
        #expect(FileManager.default.fileExists(atPath: data), "the removed module's data is gone")
        #expect(module("com.example.bystander")?.state == "running")
        let lines = events.stdout.split(separator: "\n")
        #expect(lines.contains { $0.contains(#""event":"removed""#) && $0.contains(UpdateFixture.id) }, "\(lines)")
        #expect(lines.contains { $0.contains(#""event":"state""#) && $0.contains(#""to":"disabled""#) }, "\(lines)")
    }
}
