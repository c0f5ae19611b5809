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
                throw UplinkError(.invalidID, "the \(name) id '\(MQTTTopicSyntax.quoted(id))' cannot stand in MQTT topics: \(problem)")
            }
        }
        func expanded(_ list: [String], _ field: String) throws(UplinkError) -> [String] {
            var result: [String] = []
            for (index, template) in list.enumerated() {
                let filter = MQTTTopicSyntax.expand(template, device: device, module: module)
                if let problem = MQTTTopicSyntax.problem(template: template) ?? MQTTTopicSyntax.problem(filter: filter) {
                    throw UplinkError(.invalidTopic, "capabilities.mqtt.\(field)[\(index)] '\(MQTTTopicSyntax.quoted(template))' is not a valid MQTT topic filter: \(problem)")
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
        if let problem = MQTTTopicSyntax.problem(topic: topic) { return .invalid("topic '\(MQTTTopicSyntax.quoted(topic))': \(problem)") }
        if let filter = publish.first(where: { Self.matches(filter: $0, topic: topic) }) { return .allowed(by: filter) }
        return .denied("publishing to '\(MQTTTopicSyntax.quoted(topic))' is not allowed by capabilities.mqtt.publish (\(Self.list(publish)))")
    }

    /// May the module subscribe to `filter`?
    public func maySubscribe(to filter: String) -> Decision {
        if let problem = MQTTTopicSyntax.problem(filter: filter) { return .invalid("filter '\(MQTTTopicSyntax.quoted(filter))': \(problem)") }
        if let declared = subscribe.first(where: { Self.covers(declared: $0, requested: filter) }) { return .allowed(by: declared) }
        return .denied("subscribing to '\(MQTTTopicSyntax.quoted(filter))' is not allowed by capabilities.mqtt.subscribe (\(Self.list(subscribe)))")
    }

    private static func list(_ filters: [String]) -> String {
        filters.isEmpty ? "none declared" : "declared: " + filters.map(MQTTTopicSyntax.quoted).joined(separator: ", ")
    }

    // MARK: - MQTT matching

    /// Whether `filter` (a valid topic filter) matches `topic` (a valid topic name), by MQTT's
    /// rules: `+` is one level, `#` this level's parent and everything below, and a topic
    /// starting with `$` is not matched by a wildcard in the first level.
    public static func matches(filter: String, topic: String) -> Bool {
        let f = filter.split(separator: "/", omittingEmptySubsequences: false)
        let t = topic.split(separator: "/", omittingEmptySubsequences: false)
        if topic.hasPrefix("$"), f.first == "+" || f.first == "#" { return false }
        for index in f.indices {
            if f[index] == "#" { return true }
            guard index < t.count else { return false }
            if f[index] != "+", f[index] != t[index] { return false }
        }
        return f.count == t.count
    }

    /// Whether `declared` covers `requested` (both valid topic filters): every topic that
    /// `requested` matches, `declared` matches too.
    public static func covers(declared: String, requested: String) -> Bool {
        let d = declared.split(separator: "/", omittingEmptySubsequences: false)
        let r = requested.split(separator: "/", omittingEmptySubsequences: false)
        // A literal first level starting with '$' names broker topics, which a wildcard first
        // level does not match; a wildcard first level in `requested` matches none of them.
        if r[0].hasPrefix("$"), d[0] == "+" || d[0] == "#" { return false }
        for index in r.indices {
            guard index < d.count else { return false }
            if d[index] == "#" { return true }
            // '#' in `requested` matches its parent and any depth below: only '#' covers that,
            // and, for a whole `#` (one level or more: a topic has at least one), `+/#` too.
            if r[index] == "#" { return index == 0 && d.count == 2 && d[0] == "+" && d[1] == "#" }
            if d[index] == "+" { continue }
            // A literal level covers only the same literal ('+' in `requested` matches any).
            if d[index] != r[index] { return false }
        }
        // `requested` ended; `declared` matches the same topics only if it ends too, or goes on
        // with just '#', which matches its parent level (`a/#` matches `a`).
        return d.count == r.count || (d.count == r.count + 1 && d[r.count] == "#")
    }

    /// The filters of `subscriptions` that match `topic`: to which of its subscriptions a message
    /// that arrived on `topic` is delivered.
    public static func subscriptions(_ subscriptions: some Sequence<String>, matching topic: String) -> [String] {
        subscriptions.filter { matches(filter: $0, topic: topic) }
    }

    /// Why `id` cannot replace a placeholder, or nil.
    static func idProblem(_ id: String) -> String? {
        if id.isEmpty { return "it is empty" }
        if id.hasPrefix("$") { return "it starts with '$'" }
        if id.utf8.contains(where: { [0, UInt8(ascii: "/"), UInt8(ascii: "+"), UInt8(ascii: "#")].contains($0) }) {
            return "it contains '/', '+', '#' or NUL"
        }
        if id.utf8.count > 1024 { return "it is longer than 1024 bytes" }
        return nil
    }
}
