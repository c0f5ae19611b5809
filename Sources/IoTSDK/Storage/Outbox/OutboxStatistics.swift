/// What an outbox holds now, and what became of its messages since it was created.
public struct OutboxStatistics: Sendable, Hashable {
    /// Messages waiting to be taken (including those waiting out a retry delay), not expired.
    public var pending: Int
    /// Messages taken and under a lease that has not run out.
    public var leased: Int
    /// Bytes of payload and topic of every stored message (what `Quota.maxBytes` limits).
    public var storedBytes: Int64
    /// Messages acknowledged.
    public var delivered: Int
    /// Messages whose time to live passed before they were acknowledged: those dropped, and those
    /// still stored that the next operation will drop; and those a newer message of their topic
    /// replaced (`enqueue(…, replacingQueued: true)`).
    public var expired: Int
    /// Messages dropped to make room under `Quota.Policy.dropOldest`.
    public var droppedForQuota: Int
    /// New messages refused because the quota was reached.
    public var rejectedForQuota: Int
}

extension Outbox {
    /// The outbox's statistics. Read-only (one `SELECT`), so it works on a full disk too; the
    /// counters are stored and survive restarts.
    ///
    /// - Throws: `StorageError` for SQLite failures.
    public func statistics() async throws -> OutboxStatistics {
        let (tables, clock) = (self.tables, self.clock)
        return try await database.perform { c in try tables.statistics(now: try clock.read(), in: c) }
    }
}
