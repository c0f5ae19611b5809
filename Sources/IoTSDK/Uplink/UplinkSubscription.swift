@_exported import MQTTClient

/// The messages of one `Uplink.subscribe(_:qos:)`, in the order they arrived, as long as the
/// sequence is iterated; ending the iteration (or dropping the subscription) unsubscribes.
/// Messages arriving faster than they are consumed wait in a buffer of `bufferSize` messages;
/// beyond it the oldest are dropped (and counted in `Uplink.statistics.droppedIncoming`).
public struct UplinkSubscription: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage

    /// The topic filter subscribed to.
    public let filter: String
    let stream: AsyncStream<MQTTMessage>

    public func makeAsyncIterator() -> AsyncStream<MQTTMessage>.Iterator {
        stream.makeAsyncIterator()
    }
}
