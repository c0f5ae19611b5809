/// The rules MQTT sets for topic names (what a message is published to) and topic filters (what
/// a subscription matches): UTF-8 without NUL, 1–65,535 bytes; `+` matches one level and `#` the
/// rest, each a whole level, `#` only last; a filter starting with a wildcard never matches a
/// topic starting with `$` (`$SYS/…`, the broker's own).
public enum MQTTTopic {
    /// The longest topic or filter MQTT can carry, in UTF-8 bytes.
    public static let maximumLength = 65_535

    /// Checks a topic name to publish to.
    /// - Throws: `MQTTError(.invalidArgument)` saying which rule `topic` breaks.
    public static func validate(name topic: String) throws(MQTTError) {
        try validateCommon(topic, what: "topic")
        if topic.utf8.contains(UInt8(ascii: "+")) || topic.utf8.contains(UInt8(ascii: "#")) {
            throw MQTTError(.invalidArgument, "the topic '\(topic)' contains a wildcard (+ or #): a message goes to one topic; wildcards belong in subscriptions")
        }
    }

    /// Checks a topic filter to subscribe with.
    /// - Throws: `MQTTError(.invalidArgument)` saying which rule `filter` breaks.
    public static func validate(filter: String) throws(MQTTError) {
        try validateCommon(filter, what: "topic filter")
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#") && (level != "#" || index != levels.count - 1) {
                throw MQTTError(.invalidArgument, "the topic filter '\(filter)' has '#' where it is not the whole last level: write e.g. 'sensors/#'")
            }
            if level.contains("+") && level != "+" {
                throw MQTTError(.invalidArgument, "the topic filter '\(filter)' has '+' inside a level: '+' stands for a whole level, e.g. 'sensors/+/temperature'")
            }
        }
    }

    /// Whether `filter` (valid) matches `topic` (a valid name).
    public static func matches(filter: String, topic: String) -> Bool {
        if topic.hasPrefix("$") && (filter.hasPrefix("+") || filter.hasPrefix("#")) { return false }
        var filterLevels = filter.split(separator: "/", omittingEmptySubsequences: false)[...]
        var topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)[...]
        while let level = filterLevels.popFirst() {
            if level == "#" { return true }
            guard let name = topicLevels.popFirst() else { return false }
            if level != "+" && level != name { return false }
        }
        return topicLevels.isEmpty
    }

    private static func validateCommon(_ text: String, what: String) throws(MQTTError) {
        guard !text.isEmpty else {
            throw MQTTError(.invalidArgument, "a \(what) must not be empty")
        }
        guard text.utf8.count <= maximumLength else {
            throw MQTTError(.invalidArgument, "a \(what) is \(text.utf8.count) bytes of UTF-8; MQTT allows at most \(maximumLength)")
        }
        guard !text.utf8.contains(0) else {
            throw MQTTError(.invalidArgument, "the \(what) '\(text.replacingNUL)' contains a NUL character, which MQTT does not allow")
        }
    }
}

extension String {
    var replacingNUL: String { String(decoding: utf8.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self) }
}
