/// A message taken from an `Outbox`, leased to the taker until `leaseExpiresAt`.
public struct OutboxMessage: Sendable, Hashable, Identifiable {
    /// A message's id in its database: assigned at `enqueue`, never reused (also after deletion).
    public struct ID: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The row id in table `iotsdk_outbox`.
        public let rawValue: Int64

        public init(rawValue: Int64) {
            self.rawValue = rawValue
        }

        public static func < (lhs: ID, rhs: ID) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String { "#\(rawValue)" }
    }

    /// Acknowledge or release the message by it.
    public let id: ID
    /// The name of the outbox it was taken from (`Outbox.name`).
    public let outbox: String
    /// Where the message goes, as given to `enqueue`.
    public let topic: String
    /// The bytes given to `enqueue`, exactly.
    public let payload: [UInt8]
    /// Higher is taken first.
    public let priority: Int
    /// When `enqueue` stored the message (wall clock). For a message enqueued before the clock
    /// was synchronized, re-based once it was (see ``timeSynchronized``).
    public let enqueuedAt: Timestamp
    /// When the message stops being deliverable; nil when it has no time to live.
    public let expiresAt: Timestamp?
    /// Which delivery this is: 1 the first time the message is taken, 2 after one lease expired or
    /// one `release`, and so on. Receivers that must not act twice deduplicate by `id`.
    public let attempt: Int
    /// Until when no other taker gets the message. Acknowledge it (or release it) before then.
    public let leaseExpiresAt: Timestamp
    /// Whether ``enqueuedAt`` and ``expiresAt`` are true wall-clock times. False for a message
    /// enqueued while the system clock was not synchronized (a device without a real-time clock
    /// before NTP) and not re-based yet, or enqueued so in an earlier boot, which no clock can
    /// re-base. A sender should say so in its payload rather than send a wrong time as right.
    public let timeSynchronized: Bool
    /// Whether an uplink publishes it as the retained message of its topic (MQTT's retain flag),
    /// as given to `enqueue`.
    public let retain: Bool
}
