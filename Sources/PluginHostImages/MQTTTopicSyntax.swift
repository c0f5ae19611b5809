/// What a valid MQTT topic name, topic filter and manifest filter are (MQTT 3.1.1 §4.7 and
/// MQTT 5 §4.7): the one home of these rules, for the manifest's `capabilities.mqtt` and the
/// runtime's `TopicRights`.
///
/// - A topic name (what a message is published to): 1 to 65535 bytes of UTF-8, no NUL, no
///   wildcard.
/// - A topic filter (what a subscription names): the same, and `+` (one level) and `#` (this
///   level and every one below; only as the last level) as whole levels.
/// - A manifest filter: a topic filter that may also hold the placeholders `{device}` and
///   `{module}` (no other braces), and does not start with `$`: `$SYS/…` and other `$` topics
///   are the broker's, and a module cannot be given rights to them.
public enum MQTTTopicSyntax {
    /// The longest topic name or filter MQTT allows, in bytes of UTF-8.
    public static let maxBytes = 65_535
    /// The placeholders a manifest filter may hold.
    public static let placeholders = ["{device}", "{module}"]

    /// Why `filter` is not a valid topic filter, or nil if it is.
    public static func problem(filter: String) -> String? {
        if let problem = basicProblem(filter) { return problem }
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#"), level != "#" || index != levels.count - 1 {
                return "'#' must be a whole level and the last one (e.g. sensors/#)"
            }
            if level.contains("+"), level != "+" {
                return "'+' must be a whole level (e.g. sensors/+/temperature)"
            }
        }
        return nil
    }

    /// Why `topic` is not a valid topic name (what a message is published to), or nil if it is.
    public static func problem(topic: String) -> String? {
        if let problem = basicProblem(topic) { return problem }
        if topic.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
            return "a topic to publish to has no wildcards ('+', '#'); those are for subscriptions"
        }
        return nil
    }

    /// Why `template` is not a valid manifest filter, or nil if it is.
    public static func problem(template: String) -> String? {
        if template.hasPrefix("$") { return "topics starting with '$' ($SYS/...) are the broker's and cannot be declared" }
        var rest = Substring(template)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            let tail = rest[open...]
            guard let placeholder = placeholders.first(where: { tail.hasPrefix($0) }) else {
                return "braces are only for the placeholders {device} and {module}"
            }
            rest = tail.dropFirst(placeholder.count)
        }
        // A placeholder stands for text without '/', '+', '#' (TopicRights refuses ids with them),
        // so the template follows the filter rules with its placeholders as they are.
        return problem(filter: template)
    }

    /// `template` with `{device}` and `{module}` replaced.
    public static func expand(_ template: String, device: String, module: String) -> String {
        template.replacing("{device}", with: device).replacing("{module}", with: module)
    }

    /// `text` for an error message: at most 200 characters, the rest marked as cut.
    public static func quoted(_ text: String) -> String {
        text.count <= 200 ? text : String(text.prefix(200)) + "… (\(text.utf8.count) bytes)"
    }

    private static func basicProblem(_ text: String) -> String? {
        if text.isEmpty { return "it is empty" }
        if text.utf8.contains(0) { return "it contains NUL" }
        if text.utf8.count > maxBytes { return "it is \(text.utf8.count) bytes of UTF-8; MQTT allows at most \(maxBytes)" }
        return nil
    }
}
