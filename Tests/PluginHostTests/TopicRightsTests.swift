import MQTTTopics
import Testing
@testable import PluginHostRuntime

@Suite("TopicRights: per-topic MQTT rights of a module")
struct TopicRightsTests {
    static func rights(publish: [String] = [], subscribe: [String] = [], device: String = "pi-42", module: String = "com.example.probe") throws(UplinkError) -> TopicRights {
        try TopicRights(publish: publish, subscribe: subscribe, device: device, module: module)
    }

    @Test("placeholders expand to the device and module ids")
    func expansion() throws {
        let rights = try Self.rights(publish: ["sensors/{device}/{module}/#"], subscribe: ["cmd/{device}-{module}/+"])
        #expect(rights.publish == ["sensors/pi-42/com.example.probe/#"])
        #expect(rights.subscribe == ["cmd/pi-42-com.example.probe/+"])
    }

    @Test("MQTT matching of a topic by a filter", arguments: [
        ("a/b/c", "a/b/c", true), ("a/b/c", "a/b", false), ("a/b", "a/b/c", false),
        ("a/+/c", "a/b/c", true), ("a/+/c", "a//c", true), ("a/+/c", "a/b/d", false), ("a/+", "a", false),
        ("a/#", "a", true), ("a/#", "a/b/c/d", true), ("a/#", "ab", false), ("#", "x", true), ("#", "/", true),
        ("+/+", "/finance", true), ("+", "/finance", false), ("/+", "/finance", true),
        ("#", "$SYS/broker/uptime", false), ("+/broker/uptime", "$SYS/broker/uptime", false),
        ("$SYS/#", "$SYS/broker/uptime", true), ("$SYS/+/uptime", "$SYS/broker/uptime", true),
        ("a/b", "A/b", false),
    ])
    func matching(_ filter: String, _ topic: String, _ expected: Bool) {
        #expect(MQTTTopic.matches(filter: filter, topic: topic) == expected)
    }

    @Test("a declared filter covers a requested one only if it matches every topic the requested one can", arguments: [
        ("a/#", "a/+/c", true), ("a/+/c", "a/#", false), ("a/+/+", "a/+/c", true), ("a/+/c", "a/+/+", false),
        ("#", "a/#", true), ("#", "#", true), ("#", "+/+", true), ("a/#", "#", false), ("+/#", "#", true), ("+/+/#", "#", false),
        ("#", "$SYS/#", false), ("+/#", "$SYS/broker", false), ("#", "$share/group/a", false),
        ("a/#", "a", true), ("a/#", "a/#", true), ("a/+/#", "a/#", false), ("a/+/#", "a/b", true), ("a/+/#", "a", false), ("a/+/#", "a/b/#", true),
        ("a/b", "a/b", true), ("a/b", "a/+", false), ("a/+", "a/b/c", false), ("a/b/c", "a/b", false), ("a/b", "a/b/c", false),
        ("+", "a", true), ("+", "+", true), ("+", "#", false), ("a/+", "a/#", false),
    ])
    func covering(_ declared: String, _ requested: String, _ expected: Bool) {
        #expect(MQTTTopic.covers(declared: declared, requested: requested) == expected, "\(declared) covers \(requested)")
    }

    @Test("covering agrees with matching on every topic of a small universe")
    func coverageAgreesWithMatching() {
        // Every topic of up to three levels over {a, b, $x, ""}, and every filter of up to three
        // levels over {a, +, #, $x}: declared covers requested ⇔ no topic matched by requested
        // is missed by declared.
        let words = ["a", "b", "$x", ""]
        var topics: [String] = words.filter { !$0.isEmpty }
        for _ in 0..<2 { topics += topics.flatMap { t in words.map { t + "/" + $0 } } }
        topics = Array(Set(topics + ["/", "/a", "//"]))
        let levels = ["a", "+", "#", "$x"]
        var filters = levels
        for _ in 0..<2 { filters += filters.flatMap { f in levels.map { f + "/" + $0 } } }
        filters = Array(Set(filters)).filter { TopicRightsTests.isFilter($0) }
        for declared in filters {
            for requested in filters {
                let truth = topics.allSatisfy { !MQTTTopic.matches(filter: requested, topic: $0) || MQTTTopic.matches(filter: declared, topic: $0) }
                let covered = MQTTTopic.covers(declared: declared, requested: requested)
                // covered ⇒ truth always; truth ⇒ covered holds on this universe because it has
                // a second literal ('b') at every level for '+' to differ on.
                #expect(covered == truth, "\(declared) covers \(requested): \(covered), by enumeration \(truth)")
            }
        }
    }

    static func isFilter(_ filter: String) -> Bool {
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        return levels.dropLast().allSatisfy { $0 != "#" }
    }

    @Test("publish: allowed inside a filter, denied outside, invalid with wildcards or empty")
    func publish() throws {
        let rights = try Self.rights(publish: ["sensors/{device}/{module}/#", "status/{device}"])
        #expect(rights.mayPublish(to: "sensors/pi-42/com.example.probe/temperature") == .allowed(by: "sensors/pi-42/com.example.probe/#"))
        #expect(rights.mayPublish(to: "sensors/pi-42/com.example.probe") == .allowed(by: "sensors/pi-42/com.example.probe/#"))
        #expect(rights.mayPublish(to: "status/pi-42") == .allowed(by: "status/pi-42"))
        guard case let .denied(reason) = rights.mayPublish(to: "sensors/pi-43/com.example.probe/t") else { Issue.record("not denied"); return }
        #expect(reason.contains("not allowed by capabilities.mqtt.publish (declared: sensors/pi-42/com.example.probe/#, status/pi-42)"), "\(reason)")
        if case .invalid = rights.mayPublish(to: "sensors/pi-42/com.example.probe/+") {} else { Issue.record("a wildcard topic is not invalid") }
        if case .invalid = rights.mayPublish(to: "") {} else { Issue.record("an empty topic is not invalid") }
        if case .denied = rights.mayPublish(to: "$SYS/x") {} else { Issue.record("$SYS is not denied") }
        if case let .denied(none) = try Self.rights().mayPublish(to: "a") { #expect(none.contains("none declared")) } else { Issue.record("no rights, not denied") }
    }

    @Test("subscribe: covered filters allowed, wider ones denied, '#' never reaches $SYS")
    func subscribe() throws {
        let rights = try Self.rights(subscribe: ["commands/{device}/{module}/#", "fleet/+/desired"])
        #expect(rights.maySubscribe(to: "commands/pi-42/com.example.probe/set/+") == .allowed(by: "commands/pi-42/com.example.probe/#"))
        #expect(rights.maySubscribe(to: "fleet/eu/desired") == .allowed(by: "fleet/+/desired"))
        #expect(rights.maySubscribe(to: "fleet/+/desired") == .allowed(by: "fleet/+/desired"))
        if case .denied = rights.maySubscribe(to: "fleet/#") {} else { Issue.record("fleet/# allowed") }
        if case .denied = rights.maySubscribe(to: "commands/+/com.example.probe/#") {} else { Issue.record("other devices allowed") }
        if case .invalid = rights.maySubscribe(to: "commands/#/x") {} else { Issue.record("an invalid filter is not invalid") }
        let everything = try Self.rights(subscribe: ["#"])
        #expect(everything.maySubscribe(to: "#") == .allowed(by: "#"))
        if case .denied = everything.maySubscribe(to: "$SYS/#") {} else { Issue.record("# covers $SYS/#") }
        if case .denied = everything.maySubscribe(to: "$SYS/broker/clients") {} else { Issue.record("# covers a $SYS topic") }
    }

    @Test("an id with '+', '#', '/', NUL or a leading '$' is refused: it would widen the rights", arguments: [
        ("pi/42", "com.example.probe"), ("pi+", "com.example.probe"), ("#", "com.example.probe"), ("$SYS", "com.example.probe"),
        ("", "com.example.probe"), ("pi-42", "com.example/+"), ("pi-42", "a\u{0}b"),
    ])
    func widening(_ device: String, _ module: String) {
        #expect(throws: UplinkError.self) { try Self.rights(publish: ["sensors/{device}/{module}"], device: device, module: module) }
        do {
            _ = try Self.rights(publish: ["x/{module}"], device: device, module: module)
            Issue.record("accepted \(device) \(module)")
        } catch {
            #expect(error.code == .invalidID)
        }
    }

    @Test("delivery: the subscriptions a message's topic matches")
    func delivery() {
        let subscriptions = ["commands/pi-42/m/#", "commands/pi-42/m/set", "fleet/+/desired", "#"]
        #expect(TopicRights.subscriptions(subscriptions, matching: "commands/pi-42/m/set") == ["commands/pi-42/m/#", "commands/pi-42/m/set", "#"])
        #expect(TopicRights.subscriptions(subscriptions, matching: "fleet/eu/desired") == ["fleet/+/desired", "#"])
        #expect(TopicRights.subscriptions(subscriptions, matching: "$SYS/broker/uptime") == [])
    }
}
