import MQTTTopics
import PluginHostImages

/// One module's MQTT rights on one device: its manifest's `capabilities.mqtt` filters with
/// `{device}` and `{module}` expanded, and the decisions the host makes with them. Pure: no I/O.
///
/// - Publish: a topic name (no wildcards) the module may publish to matches one of its publish
///   filters by MQTT's rules.
/// - Subscribe: a filter the module may subscribe to is *covered* by one of its subscribe
///   filters: every topic the requested filter can match, the declared one matches too. So
///   `a/+/c` is covered by `a/#` and by `a/+/+`, but `a/#` is not covered by `a/+/#` (which does
///   not match `a`), and `#` is covered only by `#`.
/// - Topics starting with `$` (`$SYS/…`) are never matched by a filter whose first level is a
///   wildcard (MQTT 5 §4.7.2), and manifests cannot declare `$` filters, so no module reaches them.
///
/// The ids that replace the placeholders must be one topic level without wildcards (no `/`,
/// `+`, `#`, NUL) and must not start with `$`; anything else is refused (`init` throws), so an
/// id can never widen a module's rights. Module ids are lowercase letters, digits, `-`, `_` and
/// `.` (`ModuleManifest.isModuleID`) and always qualify.
public struct TopicRights: Sendable, Equatable {
    /// The publish filters, expanded.
    public let publish: [String]
    /// The subscribe filters, expanded.
    public let subscribe: [String]

    /// The decision on one request.
    public enum Decision: Sendable, Equatable {
        /// Allowed by this expanded filter of the manifest.
        case allowed(by: String)
        /// Valid, but no declared filter allows it (the module sees -EACCES; audited).
        case denied(String)
        /// Not a valid topic name or filter (the module sees -EINVAL).
        case invalid(String)
    }

    /// Expands `publish` and `subscribe` (manifest filters) for `device` and `module`.
    /// - Throws: `UplinkError` `.invalidID` if an id is not one topic level without wildcards, or
    ///   `.invalidTopic` if a filter is not valid (also after expansion).
    public init(publish: [String], subscribe: [String], device: String, module: String) throws(UplinkError) {
        for (name, id) in [("device", device), ("module", module)] {
            if let problem = Self.idProblem(id) {
                throw UplinkError(.invalidID, "the \(name) id '\(MQTTTopic.quoted(id))' cannot stand in MQTT topics: \(problem)")
            }
        }
        func expanded(_ list: [String], _ field: String) throws(UplinkError) -> [String] {
            var result: [String] = []
            for (index, template) in list.enumerated() {
                let filter = MQTTTopicSyntax.expand(template, device: device, module: module)
                if let problem = MQTTTopicSyntax.problem(template: template) ?? MQTTTopic.problem(filter: filter) {
                    throw UplinkError(.invalidTopic, "capabilities.mqtt.\(field)[\(index)] '\(MQTTTopic.quoted(template))' is not a valid MQTT topic filter: \(problem)")
                }
                result.append(filter)
            }
            return result
        }
        self.publish = try expanded(publish, "publish")
        self.subscribe = try expanded(subscribe, "subscribe")
    }

    /// The rights `manifest` declares, on `device`.
    public init(manifest: ModuleManifest, device: String) throws(UplinkError) {
        try self.init(publish: manifest.capabilities.mqtt.publish, subscribe: manifest.capabilities.mqtt.subscribe,
                      device: device, module: manifest.id)
    }

    // MARK: - Decisions

    /// May the module publish to `topic`?
    public func mayPublish(to topic: String) -> Decision {
        if let problem = MQTTTopic.problem(name: topic) { return .invalid("topic '\(MQTTTopic.quoted(topic))': \(problem)") }
        if let filter = publish.first(where: { MQTTTopic.matches(filter: $0, topic: topic) }) { return .allowed(by: filter) }
        return .denied("publishing to '\(MQTTTopic.quoted(topic))' is not allowed by capabilities.mqtt.publish (\(Self.list(publish)))")
    }

    /// May the module subscribe to `filter`?
    public func maySubscribe(to filter: String) -> Decision {
        if let problem = MQTTTopic.problem(filter: filter) { return .invalid("filter '\(MQTTTopic.quoted(filter))': \(problem)") }
        if let declared = subscribe.first(where: { MQTTTopic.covers(declared: $0, requested: filter) }) { return .allowed(by: declared) }
        return .denied("subscribing to '\(MQTTTopic.quoted(filter))' is not allowed by capabilities.mqtt.subscribe (\(Self.list(subscribe)))")
    }

    private static func list(_ filters: [String]) -> String {
        filters.isEmpty ? "none declared" : "declared: " + filters.map(MQTTTopic.quoted).joined(separator: ", ")
    }

    /// The filters of `subscriptions` that match `topic`: to which of its subscriptions a message
    /// that arrived on `topic` is delivered.
    public static func subscriptions(_ subscriptions: some Sequence<String>, matching topic: String) -> [String] {
        subscriptions.filter { MQTTTopic.matches(filter: $0, topic: topic) }
    }

    /// Why `id` cannot replace a placeholder (a device or module id), or nil.
    public static func idProblem(_ id: String) -> String? {
        if id.isEmpty { return "it is empty" }
        if id.hasPrefix("$") { return "it starts with '$'" }
        if id.utf8.contains(where: { [0, UInt8(ascii: "/"), UInt8(ascii: "+"), UInt8(ascii: "#")].contains($0) }) {
            return "it contains '/', '+', '#' or NUL"
        }
        if id.utf8.count > 1024 { return "it is longer than 1024 bytes" }
        return nil
    }
}
