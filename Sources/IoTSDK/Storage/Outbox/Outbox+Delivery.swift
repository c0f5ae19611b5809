extension Outbox {
    /// When a released message may be taken again.
    public enum RetryDelay: Sendable, Hashable {
        /// At once.
        case immediately
        /// After a fixed delay.
        case after(Duration)
        /// `initial` after the first delivery, doubling with each further one, at most `maximum`.
        case exponential(initial: Duration, maximum: Duration)

        /// The delay after delivery number `attempt` (1 for the first).
        public func delay(afterAttempt attempt: Int) -> Duration {
            switch self {
            case .immediately:
                return .zero
            case .after(let delay):
                return max(delay, .zero)
            case .exponential(let initial, let maximum):
                var delay = max(initial, .zero)
                var step = 1
                while step < attempt && delay < maximum {
                    delay *= 2
                    step += 1
                }
                return min(delay, maximum)
            }
        }
    }

    // MARK: - Taking

    /// Leases up to `batch` available messages — highest priority first, then oldest — to the
    /// caller for `lease`; only messages of `topic` when given. Each message's `attempt` goes up by
    /// one. Expired messages met on the way are dropped and counted. One transaction, without the
    /// free-space guard (it grows nothing), so an outbox drains even on a full disk.
    ///
    /// - Returns: the messages, in that order; empty when none is available.
    /// - Throws: `StorageError(.invalidArgument)` for a batch below 1 or a lease that is not
    ///   positive; other `StorageError`s for SQLite failures (nothing is leased then).
    public func take(batch: Int, lease: Duration, topic: String? = nil) async throws -> [OutboxMessage] {
        guard batch >= 1 else {
            throw StorageError(.invalidArgument, "take(batch: \(batch)) from outbox '\(name)': ask for at least 1 message")
        }
        guard lease > .zero else {
            throw StorageError(.invalidArgument, "take(lease: \(lease)) from outbox '\(name)': a lease must be positive; make it longer than sending a batch takes")
        }
        let (tables, clock) = (self.tables, self.clock)
        return try await database.write(checkingFreeSpace: false, flushed: false) { c in
            let now = try clock.read()
            try tables.rebase(now: now, in: c)
            try tables.dropExpired(now: now, in: c)
            let wall = now.wallNanoseconds
            return try tables.lease(batch: batch, topic: topic, now: wall, leaseEnd: Self.time(wall, plus: lease), in: c)
        }
    }

    // MARK: - Acknowledging

    /// Marks messages delivered: deletes them and counts them (`statistics().delivered`). Ids that
    /// are not (any longer) in this outbox are ignored, so acknowledging twice is harmless. A
    /// message is deleted even when its lease ran out and another taker has it now: it was
    /// delivered. One transaction, without the free-space guard.
    ///
    /// - Returns: how many messages were deleted.
    /// - Throws: `StorageError` for SQLite failures (nothing is deleted then).
    @discardableResult
    public func acknowledge(_ ids: [OutboxMessage.ID]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let tables = self.tables
        let ids = ids.map(\.rawValue)
        return try await database.write(checkingFreeSpace: false, flushed: false) { c in try tables.acknowledge(ids, in: c) }
    }

    /// Marks the taken messages delivered; see `acknowledge(_:)` with ids.
    @discardableResult
    public func acknowledge(_ messages: [OutboxMessage]) async throws -> Int {
        try await acknowledge(messages.map(\.id))
    }

    // MARK: - Releasing

    /// Gives taken messages back for another delivery, available again after `retry`'s delay.
    ///
    /// Only the lease of these very deliveries is ended: a message whose lease ran out and that
    /// another taker has taken since (its attempt is higher) stays with that taker. One
    /// transaction, without the free-space guard.
    ///
    /// - Returns: how many messages were released.
    /// - Throws: `StorageError` for SQLite failures (nothing is released then).
    @discardableResult
    public func release(_ messages: [OutboxMessage], retry: RetryDelay = .immediately) async throws -> Int {
        try await release(messages.map { ($0.id, $0.attempt) }, retry: retry)
    }

    /// Gives messages back by id, ending whatever lease they are under; see `release(_:retry:)`
    /// with messages, which is safer when leases may run out before the release.
    @discardableResult
    public func release(_ ids: [OutboxMessage.ID], retry: RetryDelay = .immediately) async throws -> Int {
        try await release(ids.map { ($0, nil) }, retry: retry)
    }

    private func release(_ deliveries: [(id: OutboxMessage.ID, attempt: Int?)], retry: RetryDelay) async throws -> Int {
        guard !deliveries.isEmpty else { return 0 }
        let deliveries = deliveries.map { (id: $0.id.rawValue, attempt: $0.attempt.map(Int64.init)) }
        let (tables, clock) = (self.tables, self.clock)
        return try await database.write(checkingFreeSpace: false, flushed: false) { c in
            try tables.release(deliveries, retry: retry, now: try clock.read().wallNanoseconds, in: c)
        }
    }
}
