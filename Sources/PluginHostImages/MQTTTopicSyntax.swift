import MQTTTopics

/// What a manifest filter is: a topic filter (`MQTTTopic`'s rules) that may also hold the
/// placeholders `{device}` and `{module}` (no other braces), and does not start with `$`: `$SYS/…`
/// and other `$` topics are the broker's, and a module cannot be given rights to them.
public enum MQTTTopicSyntax {
    /// The placeholders a manifest filter may hold.
    public static let placeholders = ["{device}", "{module}"]
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
        return MQTTTopic.problem(filter: template)
    }

    /// `template` with `{device}` and `{module}` replaced.
    public static func expand(_ template: String, device: String, module: String) -> String {
        template.replacing("{device}", with: device).replacing("{module}", with: module)
    }
}
