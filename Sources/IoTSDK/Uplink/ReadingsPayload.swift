/// The JSON in which readings are published (schema `iotsdk.readings/1`), one series per message:
///
/// ```json
/// {"quantity":"Temperature","readings":[{"ns":1796650200250000000,"t":"2026-12-07T13:30:00.250Z","v":294.65},
///  {"ns":1796650260250000000,"synchronized":false,"t":"2026-12-07T13:31:00.250Z","v":294.7}],
///  "schema":"iotsdk.readings/1","series":"greenhouse/air","unit":"K"}
/// ```
///
/// - `series`: the time-series store's name of the series.
/// - `quantity`, `unit`: what the values are: the quantity's type and its base unit (`K`, `Pa`,
///   `%RH`, `lx`, …), the unit `Codable` writes for it; `v` is in that unit.
/// - `t`: the reading's time, ISO 8601 in UTC; `ns`: the same in nanoseconds since the epoch.
/// - `synchronized`: present, and `false`, only when the reading's time is not a synchronized
///   wall-clock time: the device took it before its clock was set (no real-time clock, no NTP
///   yet) and it could not be re-based since (see Storage.md, "Devices without a real-time
///   clock"). A back end should not trust such a time.
///
/// Keys are sorted; a reading is never split across messages.
public struct ReadingsPayload: Encodable, Sendable, Hashable {
    /// The schema's name and version.
    public static let schema = "iotsdk.readings/1"

    public struct Point: Encodable, Sendable, Hashable {
        public var t: String
        public var ns: Int64
        public var v: Double
        /// nil (left out) when synchronized.
        public var synchronized: Bool?
    }

    public var schema: String = Self.schema
    public var series: String
    public var quantity: String
    public var unit: String
    public var readings: [Point]

    /// The payload of `readings` of `series`.
    public init<Q: PhysicalQuantity>(series: String, readings: [StoredReading<Q>]) {
        self.series = series
        quantity = SeriesBinding.quantityName(Q.self)
        unit = Q.baseUnitSymbol
        self.readings = readings.map { stored in
            Point(t: stored.reading.timestamp.description, ns: stored.reading.timestamp.nanosecondsSinceEpoch,
                  v: stored.reading.value.baseValue, synchronized: stored.timeSynchronized ? nil : false)
        }
    }
}

extension Outbox {
    /// Enqueues readings of `series` as `ReadingsPayload` JSON to `topic`: `batch` readings per
    /// message (all in one message when nil), in the order given, all in one transaction per
    /// message.
    ///
    /// - Parameters:
    ///   - readings: from `TimeSeriesStore.storedReadings(in:…)`, which says for each whether its
    ///     time is synchronized.
    ///   - series: the series' name, written into each message.
    ///   - topic: the outbox topic (the uplink puts its prefix in front).
    ///   - batch: readings per message, at least 1; nil for one message.
    ///   - priority: see `enqueue(topic:payload:priority:ttl:)`.
    ///   - ttl: see `enqueue(topic:payload:priority:ttl:)`.
    /// - Returns: the ids of the messages, in order; empty for no readings.
    /// - Throws: `StorageError(.invalidArgument)` for a batch below 1, and what
    ///   `enqueue(topic:json:priority:ttl:)` throws.
    @discardableResult
    public func enqueue<Q: PhysicalQuantity>(readings: [StoredReading<Q>], series: String, topic: String, batch: Int? = nil,
                                             priority: Int = 0, ttl: Duration? = nil) async throws -> [OutboxMessage.ID] {
        if let batch, batch < 1 {
            throw StorageError(.invalidArgument, "enqueue(readings:batch: \(batch)): give at least 1 reading per message, or nil for one message")
        }
        let size = max(batch ?? readings.count, 1)
        var ids: [OutboxMessage.ID] = []
        var start = 0
        while start < readings.count {
            let slice = Array(readings[start..<min(start + size, readings.count)])
            ids.append(try await enqueue(topic: topic, json: ReadingsPayload(series: series, readings: slice), priority: priority, ttl: ttl))
            start += size
        }
        return ids
    }
}
