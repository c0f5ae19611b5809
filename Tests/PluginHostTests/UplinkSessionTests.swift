import Foundation
import ModuleProtocol
import Testing
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime

/// `UplinkSession` and `ModuleUplink` without processes: a socketpair stands for the runner.
@Suite("Uplink sessions: decisions, subscriptions, delivery")
struct UplinkSessionTests {
    struct Run {
        let session: UplinkSession
        let runner: Channel
        let host: Channel
    }

    static func run(_ module: String, uplink: ModuleUplink, subscribe: [String] = ["commands/{device}/{module}/#"]) throws -> Run {
        let (host, runner) = try Channel.pair()
        let capabilities = ModuleManifest.Capabilities(mqtt: .init(publish: ["sensors/{device}/{module}/#"], subscribe: subscribe))
        let session = UplinkSession(moduleID: module, capabilities: capabilities, uplink: uplink, audit: .discarding, channel: host) { _ in }
        return Run(session: session, runner: runner, host: host)
    }

    @Test("a message goes to each module whose subscriptions match, once however many match; not after the run ends")
    func delivery() async throws {
        let sink = RecordingMessagingSink()
        let uplink = ModuleUplink(messaging: sink)
        let a = try Self.run("com.example.a", uplink: uplink, subscribe: ["commands/{device}/#", "commands/{device}/+/set"])
        let b = try Self.run("com.example.b", uplink: uplink)
        #expect(await a.session.subscribe(filter: "commands/pi-42/#") == nil)
        #expect(await a.session.subscribe(filter: "commands/pi-42/+/set") == nil)
        // Again: no second subscription at the uplink.
        #expect(await a.session.subscribe(filter: "commands/pi-42/#") == nil)
        #expect(await b.session.subscribe(filter: "commands/pi-42/com.example.b/set") == nil)
        #expect(sink.subscribed.withLock { $0 } == ["com.example.a commands/pi-42/#", "com.example.a commands/pi-42/+/set", "com.example.b commands/pi-42/com.example.b/set"])

        #expect(uplink.deliver(topic: "commands/pi-42/com.example.b/set", payload: [1], retain: false) == 2)
        #expect(uplink.deliver(topic: "commands/pi-42/com.example.a/get", payload: [2], retain: true) == 1)
        #expect(try a.runner.receiveMessage(from: .host, timeout: .seconds(5)).message == .mqttMessage(topic: "commands/pi-42/com.example.b/set", payload: [1], retain: false))
        #expect(try a.runner.receiveMessage(from: .host, timeout: .seconds(5)).message == .mqttMessage(topic: "commands/pi-42/com.example.a/get", payload: [2], retain: true))
        #expect(try b.runner.receiveMessage(from: .host, timeout: .seconds(5)).message == .mqttMessage(topic: "commands/pi-42/com.example.b/set", payload: [1], retain: false))

        a.session.close()
        #expect(uplink.deliver(topic: "commands/pi-42/com.example.b/set", payload: [3], retain: false) == 1)
        let deadline = ContinuousClock.now + .seconds(10)
        while sink.unsubscribed.withLock({ $0.count }) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(Set(sink.unsubscribed.withLock { $0 }) == ["com.example.a commands/pi-42/#", "com.example.a commands/pi-42/+/set"])
        b.session.close()
        #expect(uplink.deliver(topic: "commands/pi-42/com.example.b/set", payload: [4], retain: false) == 0)
    }

    @Test("unsubscribing what the module does not hold is no error and reaches no uplink; an invalid filter is EINVAL")
    func unsubscribe() async throws {
        let sink = RecordingMessagingSink()
        let run = try Self.run("com.example.a", uplink: ModuleUplink(messaging: sink))
        #expect(await run.session.unsubscribe(filter: "commands/pi-42/com.example.a/x") == nil)
        #expect(await run.session.unsubscribe(filter: "a/#/b")?.code == .invalidTopic)
        #expect(sink.unsubscribed.withLock { $0 }.isEmpty)
        run.session.close()
    }

    @Test("a device id that would widen the rights: every request fails with EINVAL and says why")
    func badDeviceID() async throws {
        let sink = RecordingMessagingSink(deviceID: "+")
        let run = try Self.run("com.example.a", uplink: ModuleUplink(messaging: sink))
        let error = await run.session.publish(topic: "sensors/x/com.example.a/t", payload: [], qos: 0, retain: false, expiry: nil)
        #expect(error?.code == .invalidID)
        #expect(error?.errno == EINVAL)
        #expect(error?.message.contains("the device id '+' cannot stand in MQTT topics") == true, "\(String(describing: error))")
        #expect(sink.published.withLock { $0 }.isEmpty)
        run.session.close()
    }
}
