import Foundation
import ModuleProtocol
import Synchronization
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime

/// The test's sink for what modules publish: an in-process `ModuleMessaging` that records every
/// call, standing in for the host's broker connection (written elsewhere, over libmosquitto).
final class RecordingMessagingSink: ModuleMessaging {
    struct Published: Equatable {
        var module: String, topic: String, payload: [UInt8], qos: UInt8, retain: Bool, expiry: UInt32?
    }

    let deviceID: String
    let published = Mutex<[Published]>([])
    let subscribed = Mutex<[String]>([])
    let unsubscribed = Mutex<[String]>([])
    /// What `publish` throws, if set.
    let publishFailure = Mutex<UplinkError?>(nil)

    init(deviceID: String = "pi-42") { self.deviceID = deviceID }

    func publish(module: String, topic: String, payload: [UInt8], qos: UInt8, retain: Bool, expiry: UInt32?) async throws(UplinkError) {
        if let failure = publishFailure.withLock({ $0 }) { throw failure }
        published.withLock { $0.append(Published(module: module, topic: topic, payload: payload, qos: qos, retain: retain, expiry: expiry)) }
    }

    func subscribe(module: String, filter: String) async throws(UplinkError) {
        subscribed.withLock { $0.append(module + " " + filter) }
    }

    func unsubscribe(module: String, filter: String) async throws(UplinkError) {
        unsubscribed.withLock { $0.append(module + " " + filter) }
    }
}

/// Real sandboxed runs of the test module (Tests/Fixtures/modules/mqtt.c) publishing and
/// subscribing through the host: the host's `UplinkSession` decides with the manifest's filters,
/// audits refusals, and hands what passes to the test's recording sink.
@Suite("MQTT rights: a sandboxed module publishes and subscribes through the host", .serialized, .enabled(if: SandboxEnvironment.shouldRun))
struct MQTTRightsTests {
    static let rights = ModuleManifest.MQTTRights(publish: ["sensors/{device}/{module}/#"], subscribe: ["commands/{device}/{module}/#", "fleet/+/desired"])

    /// Starts the module in the sandbox with `behavior` (`{id}`: the module's id), waits for
    /// `mq: requests done`.
    static func run(_ behavior: String, uplink: ModuleUplink) throws -> (SandboxSetup, ChildModuleInstance) {
        var setup = try SandboxSetup(uplink: uplink)
        setup.mqtt = rights
        try TestModule.directory(at: setup.moduleDirectory, behavior: behavior.replacing("{id}", with: setup.moduleID))
        let instance = try setup.start("mq_start", stop: "mq_stop")
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 30) == .ready, "\(instance.output)")
        #expect(HardwareRequestTests.waitForOutput(instance, "mq: requests done"), "\(instance.output)")
        return (setup, instance)
    }

    static func mqttAudit(_ setup: SandboxSetup) -> [AuditEntry] {
        AuditLog(stateDirectory: setup.stateDirectory).entries().filter { $0.resource == "mqtt" }
    }

    @Test("inside its filters a publish reaches the uplink; outside, or to $SYS, it is -EACCES with the reason and an audit line")
    func publish() throws {
        let sink = RecordingMessagingSink()
        let (setup, instance) = try Self.run("mq-pub sensors/pi-42/{id}/temperature mq-pub sensors/pi-43/{id}/temperature mq-pub $SYS/x mq-pub-own",
                                             uplink: ModuleUplink(messaging: sink))
        defer { setup.cleanUp() }
        let id = setup.moduleID
        let output = instance.output
        #expect(output.contains("mq: publish(sensors/pi-42/\(id)/temperature, 5) = 0 (ok): "), "\(output)")
        // The module builds its topic from the host table's device_id and module_id.
        #expect(sink.published.withLock { $0 } == [
            .init(module: id, topic: "sensors/pi-42/\(id)/temperature", payload: Array("hello".utf8), qos: 1, retain: false, expiry: 60),
            .init(module: id, topic: "sensors/pi-42/\(id)/own", payload: Array("hello".utf8), qos: 1, retain: false, expiry: nil),
        ])
        let reason = "publishing to 'sensors/pi-43/\(id)/temperature' is not allowed by capabilities.mqtt.publish (declared: sensors/pi-42/\(id)/#)"
        #expect(output.contains("mq: publish(sensors/pi-43/\(id)/temperature, 5) = -13 (Permission denied): " + reason), "\(output)")
        #expect(output.contains("mq: publish($SYS/x, 5) = -13 (Permission denied): publishing to '$SYS/x' is not allowed"), "\(output)")
        #expect(output.contains("plugin-host: denied mqtt publish: " + reason), "\(output)")
        let audit = Self.mqttAudit(setup)
        #expect(audit.map(\.request) == ["publish sensors/pi-43/\(id)/temperature", "publish $SYS/x"], "\(audit)")
        #expect(audit.allSatisfy { $0.decision == "denied" && $0.module == id })
        #expect(audit.first?.reason == reason)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("a covered subscription is made and its messages arrive; a wider one is -EACCES and audited; the run's end unsubscribes")
    func subscribe() throws {
        let sink = RecordingMessagingSink()
        let uplink = ModuleUplink(messaging: sink)
        let (setup, instance) = try Self.run("mq-sub commands/pi-42/{id}/+ mq-sub commands/# mq-sub fleet/+/desired mq-sub fleet/# mq-unsub fleet/+/desired",
                                             uplink: uplink)
        defer { setup.cleanUp() }
        let id = setup.moduleID
        let output = instance.output
        #expect(output.contains("mq: subscribe(commands/pi-42/\(id)/+) = 0 (ok): "), "\(output)")
        #expect(output.contains("mq: subscribe(commands/#) = -13 (Permission denied): subscribing to 'commands/#' is not allowed by capabilities.mqtt.subscribe (declared: commands/pi-42/\(id)/#, fleet/+/desired)"), "\(output)")
        #expect(output.contains("mq: subscribe(fleet/#) = -13 (Permission denied)"), "\(output)")
        #expect(output.contains("mq: unsubscribe(fleet/+/desired) = 0 (ok)"), "\(output)")
        #expect(sink.subscribed.withLock { $0 } == ["\(id) commands/pi-42/\(id)/+", "\(id) fleet/+/desired"])
        #expect(sink.unsubscribed.withLock { $0 } == ["\(id) fleet/+/desired"])
        let audit = Self.mqttAudit(setup)
        #expect(audit.filter { $0.decision == "denied" }.map(\.request) == ["subscribe commands/#", "subscribe fleet/#"], "\(audit)")
        #expect(audit.filter { $0.decision == "granted" }.map(\.request) == ["subscribe commands/pi-42/\(id)/+", "subscribe fleet/+/desired"], "\(audit)")

        // Delivery: only what a subscription still held matches reaches the module, once.
        #expect(uplink.deliver(topic: "commands/pi-42/\(id)/set", payload: Array("on".utf8), retain: true) == 1)
        #expect(uplink.deliver(topic: "commands/pi-42/\(id)/set/deeper", payload: Array("no".utf8), retain: false) == 0)
        #expect(uplink.deliver(topic: "fleet/eu/desired", payload: Array("no".utf8), retain: false) == 0)
        #expect(HardwareRequestTests.waitForOutput(instance, "mq: received commands/pi-42/\(id)/set retain=1: on"), "\(instance.output)")
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        // A receive waiting when the host asked the module to stop ends with -ECANCELED.
        #expect(instance.output.contains("mq: receive ended -125"), "\(instance.output)")
        #expect(!instance.output.contains("retain=0: no"), "\(instance.output)")
        // The run's end took back the subscription the module still held.
        #expect(waitUntil(seconds: 10) { sink.unsubscribed.withLock { $0 }.contains("\(id) commands/pi-42/\(id)/+") }, "\(sink.unsubscribed.withLock { $0 })")
    }

    @Test("bad input: a topic that is not UTF-8, a wildcard topic, an oversized payload: clear errors, nothing published")
    func badInput() throws {
        let sink = RecordingMessagingSink()
        let limit = 1024
        let (setup, instance) = try Self.run("""
            mq-pub-bad-utf8 mq-pub sensors/pi-42/{id}/+ mq-pub-big sensors/pi-42/{id}/blob \(limit + 1)
            mq-pub-big sensors/pi-42/{id}/blob \(Message.maxMQTTPayloadBytes + 1) mq-pub-big sensors/pi-42/{id}/blob \(limit)
            """, uplink: ModuleUplink(messaging: sink, maxPayloadBytes: limit))
        defer { setup.cleanUp() }
        let id = setup.moduleID
        let output = instance.output
        #expect(output.contains("mq: publish(sensors/<0xff>, 5) = -22 (Invalid argument): mqtt_publish: the topic is not valid UTF-8"), "\(output)")
        #expect(output.contains("mq: publish(sensors/pi-42/\(id)/+, 5) = -22 (Invalid argument): topic 'sensors/pi-42/\(id)/+': a topic to publish to has no wildcards"), "\(output)")
        #expect(output.contains("mq: publish(sensors/pi-42/\(id)/blob, \(limit + 1)) = -90 (Message too long): a payload of \(limit + 1) bytes for 'sensors/pi-42/\(id)/blob'; this host takes at most \(limit) bytes"), "\(output)")
        #expect(output.contains("mq: publish(sensors/pi-42/\(id)/blob, \(Message.maxMQTTPayloadBytes + 1)) = -90 (Message too long): mqtt_publish: a payload of \(Message.maxMQTTPayloadBytes + 1) bytes"), "\(output)")
        #expect(output.contains("mq: publish(sensors/pi-42/\(id)/blob, \(limit)) = 0 (ok)"), "\(output)")
        #expect(sink.published.withLock { $0.map(\.payload.count) } == [limit])
        // Bad input is no rights decision: nothing audited.
        #expect(Self.mqttAudit(setup).isEmpty)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("requests are answered while every thread of the cooperative pool is blocked (the uplink has a thread of its own)")
    func answeredWithThePoolBlocked() throws {
        let sink = RecordingMessagingSink()
        var setup = try SandboxSetup(uplink: ModuleUplink(messaging: sink))
        defer { setup.cleanUp() }
        setup.mqtt = Self.rights
        try TestModule.directory(at: setup.moduleDirectory, behavior: "mq-pub sensors/pi-42/\(setup.moduleID)/t mq-sub fleet/eu/desired")
        // Code that waits synchronously, as a supervisor or a test does, on every pool thread.
        let release = DispatchSemaphore(value: 0)
        let blockers = ProcessInfo.processInfo.activeProcessorCount + 1
        for _ in 0..<blockers {
            Task.detached { _ = release.wait(timeout: .now() + 60) }
        }
        defer { for _ in 0..<blockers { release.signal() } }
        Thread.sleep(forTimeInterval: 0.2)
        let instance = try setup.start("mq_start", stop: "mq_stop")
        #expect(HardwareRequestTests.waitForOutput(instance, "mq: requests done", seconds: 30), "\(instance.output)")
        #expect(instance.output.contains("mq: publish(sensors/pi-42/\(setup.moduleID)/t, 5) = 0 (ok)"), "\(instance.output)")
        #expect(instance.output.contains("mq: subscribe(fleet/eu/desired) = 0 (ok)"), "\(instance.output)")
        #expect(sink.published.withLock { $0.count } == 1)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("a host without an uplink answers -ENOTCONN and says how to configure one; the uplink's own errors reach the module")
    func noUplink() throws {
        let (setup, instance) = try Self.run("mq-pub sensors/pi-42/{id}/t mq-sub fleet/+/desired", uplink: .notConfigured)
        defer { setup.cleanUp() }
        let output = instance.output
        #expect(output.contains("mq: publish(sensors/pi-42/\(setup.moduleID)/t, 5) = -107 (Transport endpoint is not connected): this host has no uplink: start plugin-host with --mqtt-url"), "\(output)")
        #expect(output.contains("mq: subscribe(fleet/+/desired) = -107"), "\(output)")
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))

        let sink = RecordingMessagingSink()
        sink.publishFailure.withLock { $0 = UplinkError(.quotaExceeded, "the module's 1 MiB of queued messages is used up: the broker has been unreachable for a while") }
        let (full, running) = try Self.run("mq-pub sensors/pi-42/{id}/t", uplink: ModuleUplink(messaging: sink))
        defer { full.cleanUp() }
        #expect(running.output.contains("mq: publish(sensors/pi-42/\(full.moduleID)/t, 5) = -122 (Disk quota exceeded): the module's 1 MiB of queued messages is used up"), "\(running.output)")
        #expect(running.stop(timeout: .seconds(10)) == .exited(0))
    }
}
