/// MQTT's rules for topic names and topic filters (MQTT 3.1.1 and 5, §4.7), the one home of them:
/// for the MQTT client, the manifest's `capabilities.mqtt` and the host's `TopicRights`. Portable
/// and dependency-free, so that module images (which build on macOS) can check filters too.
///
/// - A topic name (what a message is published to): 1 to 65,535 bytes of UTF-8, no NUL, no
///   wildcard.
/// - A topic filter (what a subscription names): the same, with `+` (one level) and `#` (this
///   level's parent and every level below; only as the last level) as whole levels.
/// - A filter whose first level is a wildcard never matches a topic starting with `$` (`$SYS/…`,
///   the broker's own).
public enum MQTTTopic {
    /// The longest topic name or filter MQTT allows, in bytes of UTF-8.
    public static let maximumLength = 65_535

    /// Why `topic` is not a valid topic name, or nil when it is.
    public static func problem(name topic: String) -> String? {
        if let problem = basicProblem(topic) { return problem }
        if topic.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
            return "a topic to publish to has no wildcards ('+', '#'); those are for subscriptions"
        }
        return nil
    }

    /// Why `filter` is not a valid topic filter, or nil when it is.
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

    /// Whether `filter` (a valid topic filter) matches `topic` (a valid topic name).
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

    /// `text` for an error message: at most 200 characters, the rest marked as cut.
    public static func quoted(_ text: String) -> String {
        text.count <= 200 ? text : String(text.prefix(200)) + "… (\(text.utf8.count) bytes)"
    }

    private static func basicProblem(_ text: String) -> String? {
        if text.isEmpty { return "it is empty" }
        if text.utf8.contains(0) { return "it contains NUL" }
        if text.utf8.count > maximumLength { return "it is \(text.utf8.count) bytes of UTF-8; MQTT allows at most \(maximumLength)" }
        return nil
    }
}
