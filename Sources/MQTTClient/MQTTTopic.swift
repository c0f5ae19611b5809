@_exported import MQTTTopics

extension MQTTTopic {
    /// Checks a topic name to publish to.
    /// - Throws: `MQTTError(.invalidArgument)` saying which rule `topic` breaks.
    public static func validate(name topic: String) throws(MQTTError) {
        if let problem = problem(name: topic) {
            throw MQTTError(.invalidArgument, "the topic '\(quoted(topic.replacingNUL))' cannot be published to: \(problem)")
        }
    }

    /// Checks a topic filter to subscribe with.
    /// - Throws: `MQTTError(.invalidArgument)` saying which rule `filter` breaks.
    public static func validate(filter: String) throws(MQTTError) {
        if let problem = problem(filter: filter) {
            throw MQTTError(.invalidArgument, "the topic filter '\(quoted(filter.replacingNUL))' cannot be subscribed to: \(problem)")
        }
    }
}

extension String {
    var replacingNUL: String { String(decoding: utf8.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self) }
}
