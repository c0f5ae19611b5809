import Foundation
import Synchronization
import IoTSDK
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Uplink against a real mosquitto", .serialized, .enabled(if: mosquittoAvailable || mosquittoRequired))
struct UplinkTests {
    @Test("messages reach subscribers once acknowledged, subscriptions arrive, and the status is online then offline")
    func plainBroker() async throws {
        let fixture = try await UplinkFixture("uplink-plain")
        let subscriber = try fixture.broker.subscriber("devices/#", clientID: "back-end")
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "devices/#") })
        try await fixture.outbox.enqueue(topic: "telemetry", payload: Array("21.5".utf8), ttl: .seconds(3600))
        try await fixture.outbox.enqueue(topic: "telemetry", payload: Array("21.6".utf8))
        try await fixture.outbox.enqueue(topic: "alarms", payload: Array("door".utf8), priority: 5)

        var mqtt = try fixture.mqtt("pi-0001")
        mqtt.status = .init(topic: "devices/pi-0001/status")
        let uplink = try Uplink(outbox: fixture.outbox, mqtt: mqtt, options: .init(topicPrefix: "devices/pi-0001/"), logger: testLogger)
        let commands = try uplink.subscribe("devices/pi-0001/commands/+")
        let running = fixture.start(uplink)

        #expect(await eventually(seconds: 10) { payloads(subscriber, topic: "devices/pi-0001/telemetry").count == 2 })
        #expect(payloads(subscriber, topic: "devices/pi-0001/telemetry") == ["21.5", "21.6"])
        #expect(payloads(subscriber, topic: "devices/pi-0001/alarms") == ["door"])
        #expect(payloads(subscriber, topic: "devices/pi-0001/status").first == "online")
        #expect(await eventually(seconds: 5) { (try? await fixture.outbox.statistics().stored) == 0 })
        #expect(await eventually(seconds: 5) { uplink.statistics.published == 3 })

        // A command from the back end arrives through the subscription; one outside it does not.
        try fixture.broker.publish(topic: "devices/pi-0001/other", payload: "ignored")
        try fixture.broker.publish(topic: "devices/pi-0001/commands/reboot", payload: "now")
        var iterator = commands.makeAsyncIterator()
        let command = await iterator.next()
        #expect(command?.topic == "devices/pi-0001/commands/reboot")
        #expect(command.map { String(decoding: $0.payload, as: UTF8.self) } == "now")

        running.cancel()
        _ = await running.result
        #expect(await eventually(seconds: 5) { payloads(subscriber, topic: "devices/pi-0001/status").last == "offline" })
        #expect(try fixture.broker.retained(topic: "devices/pi-0001/status") == "offline")
        subscriber.signal(SIGKILL)
    }

    @Test("several outboxes of one database through one connection: each in order, one added while running, the retain flag kept")
    func severalOutboxes() async throws {
        let fixture = try await UplinkFixture("uplink-several")
        let subscriber = try fixture.broker.subscriber("devices/#", clientID: "back-end")
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "devices/#") })
        let first = try await Outbox(database: fixture.database, name: "module/a")
        let other = try await Database(path: fixture.directory.path("other.sqlite"))
        let mqtt = try fixture.mqtt("pi-0009")
        #expect(throws: MQTTError.self) { _ = try Uplink(outboxes: [fixture.outbox, first, first], mqtt: mqtt, logger: testLogger) }
        #expect(throws: MQTTError.self) { _ = try Uplink(outboxes: [], mqtt: mqtt, logger: testLogger) }
        try await fixture.enqueue(3, topic: "a")
        for number in 0..<3 { try await first.enqueue(topic: "b", payload: Array(String(number).utf8)) }

        let uplink = try Uplink(outboxes: [fixture.outbox, first], mqtt: mqtt, options: .init(topicPrefix: "devices/pi-0009/"), logger: testLogger)
        let running = fixture.start(uplink)
        #expect(await eventually(seconds: 10) { payloads(subscriber, topic: "devices/pi-0009/a").count == 3 && payloads(subscriber, topic: "devices/pi-0009/b").count == 3 })
        #expect(payloads(subscriber, topic: "devices/pi-0009/a") == ["0", "1", "2"])
        #expect(payloads(subscriber, topic: "devices/pi-0009/b") == ["0", "1", "2"])

        // Added while running: its messages go out at once, a retained one retained.
        let second = try await Outbox(database: fixture.database, name: "module/b")
        try await second.enqueue(topic: "c", payload: Array("kept".utf8), retain: true)
        #expect(try await uplink.add(second))
        #expect(try await !uplink.add(second))
        await #expect(throws: MQTTError.self) { try await uplink.add(try await Outbox(database: other, name: "module/c")) }
        #expect(await eventually(seconds: 10) { payloads(subscriber, topic: "devices/pi-0009/c") == ["kept"] })
        #expect(try fixture.broker.retained(topic: "devices/pi-0009/c") == "kept")
        #expect(await eventually(seconds: 5) { (try? await second.statistics().stored) == 0 })
        #expect(try await Outbox.names(in: fixture.database) == ["default", "module/a", "module/b"])
        #expect(uplink.outboxes.map(\.name) == ["default", "module/a", "module/b"])
        running.cancel()
        _ = await running.result
        subscriber.signal(SIGKILL)
    }

    @Test("TLS with passwords and per-client ACLs: allowed topics arrive, a refused message stays in the outbox, mutual TLS")
    func tlsPasswordsAndACLs() async throws {
        let directory = try TemporaryDirectory("uplink-certificates")
        defer { directory.cleanUp() }
        let certificates = try TestCertificates(directory: directory.path)
        let acl = """
            user back-end
            topic read devices/#

            pattern readwrite devices/%c/#
            """
        let fixture = try await UplinkFixture("uplink-tls", security: .init(certificates: certificates, users: ["pi-0002": "field-secret", "back-end": "office-secret"], acl: acl))
        let subscriber = try fixture.broker.subscriber("devices/#", clientID: "back-end", user: ("back-end", "office-secret"), ca: certificates.ca)
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "devices/#") })
        try await fixture.outbox.enqueue(topic: "devices/pi-0002/telemetry", payload: Array("1".utf8))
        try await fixture.outbox.enqueue(topic: "devices/pi-0003/telemetry", payload: Array("not mine".utf8))
        try await fixture.outbox.enqueue(topic: "devices/pi-0002/telemetry", payload: Array("2".utf8))

        var mqtt = try fixture.mqtt("pi-0002")
        mqtt.tls = .init(caFile: certificates.ca)
        mqtt.username = "pi-0002"
        mqtt.password = "field-secret"
        let uplink = try Uplink(outbox: fixture.outbox, mqtt: mqtt, logger: testLogger)
        let running = fixture.start(uplink)
        #expect(await eventually(seconds: 10) { payloads(subscriber, topic: "devices/pi-0002/telemetry").count == 2 })
        #expect(await eventually(seconds: 5) { uplink.statistics.refused == 1 && uplink.statistics.published == 2 })
        #expect(payloads(subscriber, topic: "devices/pi-0002/telemetry") == ["1", "2"])
        #expect(payloads(subscriber, topic: "devices/pi-0003/telemetry").isEmpty)
        // The refused message is kept for a retry (an ACL may be fixed), not lost.
        let kept = try await fixture.outbox.statistics()
        #expect(kept.stored == 1, "\(kept)")
        running.cancel()
        _ = await running.result

        // A wrong password is refused at CONNACK and said so.
        var wrong = mqtt
        wrong.password = "guess"
        let refused = try Uplink(outbox: fixture.outbox, mqtt: wrong, logger: testLogger)
        let refusedRun = fixture.start(refused)
        #expect(await eventually(seconds: 10) { refused.statistics.lastError?.contains("refused the connection") == true })
        #expect(refused.statistics.connections == 0)
        refusedRun.cancel()
        _ = await refusedRun.result
        subscriber.signal(SIGKILL)
    }

    @Test("mutual TLS: a device with a certificate from the CA connects, one without is refused")
    func mutualTLS() async throws {
        let directory = try TemporaryDirectory("uplink-mtls-certificates")
        defer { directory.cleanUp() }
        let certificates = try TestCertificates(directory: directory.path)
        let device = try certificates.client("pi-0004")
        let fixture = try await UplinkFixture("uplink-mtls", security: .init(certificates: certificates, requireClientCertificate: true))
        let subscriber = try fixture.broker.subscriber("devices/#", clientID: "back-end", clientCertificate: try certificates.client("back-end"), ca: certificates.ca)
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "devices/#") })
        try await fixture.outbox.enqueue(topic: "devices/pi-0004/telemetry", payload: Array("7".utf8))

        var without = try fixture.mqtt("pi-0004")
        without.tls = .init(caFile: certificates.ca)
        let anonymous = try Uplink(outbox: fixture.outbox, mqtt: without, logger: testLogger)
        let anonymousRun = fixture.start(anonymous)
        #expect(await eventually(seconds: 10) { anonymous.statistics.lastError != nil })
        #expect(anonymous.statistics.connections == 0)
        anonymousRun.cancel()
        _ = await anonymousRun.result

        var mqtt = without
        mqtt.tls = .init(caFile: certificates.ca, certificateFile: device.certificate, keyFile: device.key)
        let uplink = try Uplink(outbox: fixture.outbox, mqtt: mqtt, logger: testLogger)
        let running = fixture.start(uplink)
        #expect(await eventually(seconds: 10) { payloads(subscriber, topic: "devices/pi-0004/telemetry") == ["7"] })
        running.cancel()
        _ = await running.result
        subscriber.signal(SIGKILL)
    }

    @Test("10,000 readings queued while the broker is down all arrive once it starts")
    func queuedWhileBrokerDown() async throws {
        let fixture = try await UplinkFixture("uplink-down")
        let subscriber = try fixture.broker.subscriber("queued/#", clientID: "back-end")
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "queued/#") })
        fixture.broker.stop()
        try await fixture.enqueue(10_000, topic: "queued/readings")
        let uplink = try Uplink(outbox: fixture.outbox, mqtt: try fixture.mqtt("pi-0005"), logger: testLogger)
        let running = fixture.start(uplink)
        try await Task.sleep(for: .seconds(2))
        #expect(uplink.statistics.published == 0)
        #expect(try await fixture.outbox.statistics().stored == 10_000)
        try fixture.broker.start()
        #expect(await eventually(seconds: 120) { (try? await fixture.outbox.statistics().stored) == 0 })
        #expect(await eventually(seconds: 30) { Set(payloads(subscriber, topic: "queued/readings")).count == 10_000 })
        _ = expectAllArrived(payloads(subscriber, topic: "queued/readings"), count: 10_000, label: "queued while the broker was down")
        running.cancel()
        _ = await running.result
        subscriber.signal(SIGKILL)
    }

    @Test("the broker killed with SIGKILL 5 times during a 5,000-message drain: the device loses nothing")
    func brokerKilled() async throws {
        let fixture = try await UplinkFixture("uplink-broker-killed")
        let subscriber = try fixture.broker.subscriber("drain/#", clientID: "back-end")
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "drain/#") })
        try await fixture.enqueue(5_000, topic: "drain/readings")
        // Which broker process (0 before the first kill, 1 after it…) acknowledged each message, or
        // a later one. `onDelivered` comes after the outbox's commit, which can be after the test
        // killed that broker and counted the next (`instance`): a message lost in that kill would be
        // put on a broker that never had it. The uplink's count of connections bounds it as well:
        // broker k is its (k+1)-th connection at the earliest (each broker drained some before it
        // was killed), counted before the uplink takes any PUBACK of that connection.
        let instance = Mutex(0)
        let acknowledgedBy = Mutex<[Int: Int]>([:])
        let connections = Mutex<(@Sendable () -> Int)?>(nil)
        let options = Uplink.Options(onDelivered: { messages in
            let broker = min(instance.withLock { $0 }, (connections.withLock { $0 }?() ?? .max) - 1)
            acknowledgedBy.withLock { for message in messages { $0[Int(String(decoding: message.payload, as: UTF8.self))!] = broker } }
        })
        let uplink = try Uplink(outbox: fixture.outbox, mqtt: try fixture.mqtt("pi-0006"), options: options, logger: testLogger)
        connections.withLock { $0 = { [weak uplink] in uplink?.statistics.connections ?? .max } }
        let running = fixture.start(uplink)
        for round in 1...5 {
            // Kill once a further slice of the outbox has gone, so that every kill hits a drain.
            #expect(await eventually(seconds: 60) { uplink.statistics.published >= round * 700 })
            fixture.broker.kill()
            instance.withLock { $0 = round }
            try await Task.sleep(for: .milliseconds(200))
            try fixture.broker.start()
        }
        #expect(await eventually(seconds: 120) { (try? await fixture.outbox.statistics().stored) == 0 })
        #expect(acknowledgedBy.withLock { $0.count } == 5_000, "every message was acknowledged by a broker before it left the outbox")
        _ = await eventually(seconds: 15) { Set(payloads(subscriber, topic: "drain/readings")).count == 5_000 }
        // mosquitto acknowledges a message before it has saved it (its persistence is a periodic
        // snapshot, not a log): a broker killed right after a PUBACK can lose that message, which
        // the device had every right to delete. The device's own guarantee is that a message
        // leaves the outbox only after a PUBACK: every message missing at the subscriber must
        // have been acknowledged by a broker process that was then killed.
        let received = Set(payloads(subscriber, topic: "drain/readings").compactMap { Int($0) })
        let missing = (0..<5_000).filter { !received.contains($0) }
        let acknowledged = acknowledgedBy.withLock { $0 }
        let lostByBroker = missing.filter { (acknowledged[$0] ?? 5) < 5 }
        print("broker killed 5 times: 5000 messages, \(payloads(subscriber, topic: "drain/readings").count) received, \(missing.count) missing "
            + "(all acknowledged by a broker that was then killed: \(lostByBroker.count == missing.count)), "
            + "\(uplink.statistics.connections) connections, \(uplink.statistics.republished) messages published again")
        #expect(lostByBroker == missing, "missing messages not acknowledged by a killed broker: \(Set(missing).subtracting(lostByBroker).sorted().prefix(20))")
        #expect(missing.count < 50, "\(missing.count) messages lost by the killed brokers")
        running.cancel()
        _ = await running.result
        subscriber.signal(SIGKILL)
    }

    @Test("the device killed with SIGKILL mid-drain and started again: nothing lost")
    func deviceKilled() async throws {
        let device = try #require(Tool.built("iotsdk-uplink-device"), "iotsdk-uplink-device is not built: swift build --build-tests")
        let fixture = try await UplinkFixture("uplink-device-killed")
        let subscriber = try fixture.broker.subscriber("drain/#", clientID: "back-end")
        #expect(await eventually(seconds: 5) { fixture.broker.hasSubscription("back-end", filter: "drain/#") })
        try await fixture.enqueue(5_000, topic: "drain/readings")
        let arguments = [fixture.directory.path("device.sqlite"), fixture.broker.url, "pi-0007"]
        let first = try RunningTool(device, arguments)
        #expect(await eventually(seconds: 60) { payloads(subscriber, topic: "drain/readings").count >= 1_500 })
        first.signal(SIGKILL)
        let killed = first.finish()
        #expect(killed.status != 0)
        let left = try await fixture.outbox.statistics().stored
        #expect(left > 0, "the device finished before it was killed; kill it earlier")
        let second = try RunningTool(device, arguments)
        #expect(await eventually(seconds: 120) { (try? await fixture.outbox.statistics().stored) == 0 })
        #expect(await eventually(seconds: 30) { Set(payloads(subscriber, topic: "drain/readings")).count == 5_000 })
        _ = expectAllArrived(payloads(subscriber, topic: "drain/readings"), count: 5_000, label: "device killed mid-drain")
        second.signal(SIGTERM)
        #expect(second.finish().stdout.contains("stopped, published"))
        subscriber.signal(SIGKILL)
    }
}
