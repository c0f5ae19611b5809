import MQTTClient
import Testing

@Suite("MQTT client: URLs, topics, backoff, configuration")
struct MQTTClientTests {
    @Test("broker URLs: schemes, default ports, IPv6, and clear errors")
    func brokerURLs() throws {
        let plain = try MQTTBroker(url: "mqtt://broker.example.com")
        #expect(plain.host == "broker.example.com" && plain.port == 1883 && !plain.usesTLS)
        let tls = try MQTTBroker(url: "mqtts://broker.example.com/")
        #expect(tls.port == 8883 && tls.usesTLS)
        let v6 = try MQTTBroker(url: "mqtt://[::1]:18830")
        #expect(v6.host == "::1" && v6.port == 18830 && v6.description == "mqtt://[::1]:18830")
        for bad in ["broker.example.com", "http://broker", "mqtt://", "mqtt://host:0", "mqtt://host:70000", "mqtt://host/path", "mqtt://user@host", "mqtt://[::1"] {
            #expect(throws: MQTTError.self, "\(bad)") { try MQTTBroker(url: bad) }
            do { _ = try MQTTBroker(url: bad) } catch { #expect(error.code == .invalidArgument) }
        }
    }

    @Test("topic names and filters are checked as MQTT defines them")
    func topicRules() throws {
        try MQTTTopic.validate(name: "devices/pi-0001/telemetry")
        try MQTTTopic.validate(filter: "devices/+/telemetry")
        try MQTTTopic.validate(filter: "#")
        for bad in ["", "a/+/b", "a/#", "nul\u{0}"] {
            #expect(throws: MQTTError.self, "\(bad)") { try MQTTTopic.validate(name: bad) }
        }
        for bad in ["a/#/b", "a/b#", "a/b+", "+a", ""] {
            #expect(throws: MQTTError.self, "\(bad)") { try MQTTTopic.validate(filter: bad) }
        }
        #expect(throws: MQTTError.self) { try MQTTTopic.validate(name: String(repeating: "a", count: 65_536)) }
    }

    @Test("filters match topics level by level; wildcards never match $ topics")
    func matching() {
        let cases: [(String, String, Bool)] = [
            ("a/+/c", "a/b/c", true), ("a/+/c", "a/b/d", false), ("a/+/c", "a/b/c/d", false),
            ("a/#", "a", true), ("a/#", "a/b/c", true), ("a/#", "b", false),
            ("#", "anything/at/all", true), ("#", "$SYS/broker/load", false), ("+/broker", "$SYS/broker", false),
            ("$SYS/#", "$SYS/broker/load", true), ("a/b", "a/b", true), ("a/b", "a/b/", false), ("a/+", "a/", true),
        ]
        for (filter, topic, expected) in cases {
            #expect(MQTTTopic.matches(filter: filter, topic: topic) == expected, "\(filter) vs \(topic)")
        }
    }

    @Test("reconnect backoff doubles to the maximum, and jitter only shortens it")
    func backoff() {
        let backoff = MQTTConfiguration.Backoff(initial: .seconds(1), maximum: .seconds(30), jitter: 0.5)
        #expect(backoff.delay(afterFailures: 1, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 2, random: 0) == .seconds(2))
        #expect(backoff.delay(afterFailures: 5, random: 0) == .seconds(16))
        #expect(backoff.delay(afterFailures: 6, random: 0) == .seconds(30))
        #expect(backoff.delay(afterFailures: 60, random: 0) == .seconds(30))
        #expect(backoff.delay(afterFailures: 6, random: 0.999) > .seconds(15))
        #expect(backoff.delay(afterFailures: 6, random: 1) == .seconds(15))
    }

    @Test("configurations that cannot work are refused before connecting")
    func configurationChecks() throws {
        func check(_ change: (inout MQTTConfiguration) -> Void, url: String = "mqtt://127.0.0.1") throws -> MQTTError.Code? {
            var configuration = MQTTConfiguration(broker: try MQTTBroker(url: url), clientID: "pi-0001")
            change(&configuration)
            do { try configuration.validate(); return nil } catch { return error.code }
        }
        #expect(try check { _ in } == nil)
        #expect(try check { $0.clientID = "" } == .invalidArgument)
        #expect(try check({ _ in }, url: "mqtts://127.0.0.1") == .invalidArgument)
        #expect(try check({ $0.tls = .init(caFile: "/nonexistent/ca.pem") }, url: "mqtts://127.0.0.1") == .fileUnreadable)
        #expect(try check { $0.tls = .init(caFile: "/etc/hostname") } == .invalidArgument)
        #expect(try check({ $0.tls = .init(caFile: "/etc/hostname", certificateFile: "/etc/hostname") }, url: "mqtts://127.0.0.1") == .invalidArgument)
        #expect(try check { $0.password = "secret" } == .invalidArgument)
        #expect(try check { $0.keepAlive = .seconds(1) } == .invalidArgument)
        #expect(try check { $0.inflightWindow = 0 } == .invalidArgument)
        #expect(try check { $0.status = .init(topic: "devices/+/status") } == .invalidArgument)
    }

    @Test("publishing before the broker accepted a connection is refused as not connected")
    func notConnected() throws {
        let connection = try MQTTConnection(configuration: MQTTConfiguration(broker: try MQTTBroker(url: "mqtt://127.0.0.1:1"), clientID: "pi-0001"),
                                            logger: .init(label: "test")) { _ in }
        do {
            _ = try connection.publish(topic: "a", payload: [1])
            Issue.record("published without a connection")
        } catch {
            #expect(error.code == .notConnected)
        }
        do {
            _ = try connection.publish(topic: "a", payload: [UInt8](repeating: 0, count: connection.configuration.maximumPayload + 1))
            Issue.record("published an oversized payload")
        } catch {
            #expect(error.code == .payloadTooLarge)
        }
    }
}
