/// A message that arrived for a subscription.
public struct MQTTMessage: Sendable, Hashable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    /// True when the broker sent a retained message (the last one kept for the topic) because
    /// of a new subscription.
    public var retained: Bool

    public init(topic: String, payload: [UInt8], qos: Int = 1, retained: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retained = retained
    }
}
