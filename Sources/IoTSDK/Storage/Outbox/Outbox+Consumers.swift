import Synchronization

// What a long-running consumer of an outbox (the uplink) needs beyond take/acknowledge/release:
// to be told when a message is enqueued in this process, instead of polling the database, and to
// end the leases a consumer that died (SIGKILL, power cut) left behind.

extension Outbox {
    /// Calls `body` after every `enqueue` into this outbox (same database file, same name) in
    /// this process, on the enqueuing task, until the returned token is cancelled. Messages that
    /// another process enqueues are not seen: such consumers also poll now and then.
    public func observeEnqueues(_ body: @escaping @Sendable () -> Void) -> EnqueueObservation {
        EnqueueObservation.register(key: "\(database.path)\u{0}\(name)", body)
    }

    /// Ends every lease in this outbox, so that its messages can be taken at once: for the one
    /// consumer of an outbox starting after an earlier run of it ended without releasing what it
    /// had taken. Those messages are delivered again (at least once). Never call it while
    /// another consumer is delivering from the same outbox.
    /// - Returns: how many leases were ended.
    /// - Throws: `StorageError` for SQLite failures (nothing changes then).
    @discardableResult
    public func releaseAllLeases() async throws -> Int {
        let name = self.name
        return try await database.write(checkingFreeSpace: false) { c in
            let update = try c.statement("""
                UPDATE iotsdk_outbox SET leased_at_ns = NULL, lease_until_ns = NULL
                WHERE outbox = ? AND lease_until_ns IS NOT NULL
                """)
            try update.bind(.text(name))
            try update.run()
            return c.changes
        }
    }

    /// One step of the one consumer that delivers continuously (the uplink): deletes `delivered`
    /// (counted as delivered), then returns up to `batch` messages available now, in delivery
    /// order, none of `inFlight`: one transaction, without the free-space guard or an fsync, and
    /// without leasing anything. The consumer keeps what it has in flight in memory, so a process
    /// that dies leaves nothing to clean up, and each message costs its SELECT and its DELETE.
    /// Expired messages are dropped on the way. Never beside other takers of the same outbox:
    /// they would get the same messages.
    func deliveryStep(acknowledging delivered: [OutboxMessage.ID], next batch: Int, excluding inFlight: [OutboxMessage.ID]) async throws -> [OutboxMessage] {
        let (tables, clock) = (self.tables, self.clock)
        let delivered = delivered.map(\.rawValue)
        let inFlight = inFlight.map(\.rawValue)
        return try await database.write(checkingFreeSpace: false, flushed: false) { c in
            if !delivered.isEmpty { _ = try tables.acknowledge(delivered, in: c) }
            guard batch > 0 else { return [] }
            let now = try clock.read()
            try tables.rebase(now: now, in: c)
            try tables.dropExpired(now: now, in: c)
            return try tables.available(batch: batch, topic: nil, excluding: inFlight, now: now.wallNanoseconds, leaseEnd: now.wallNanoseconds, in: c)
        }
    }

    /// Makes messages the consumer could not deliver (refused by the broker) wait `retry`'s delay
    /// before `deliveryStep` offers them again; their attempt counts.
    func postpone(_ messages: [OutboxMessage], retry: RetryDelay) async throws {
        guard !messages.isEmpty else { return }
        let (tables, clock) = (self.tables, self.clock)
        let ids = messages.map(\.id.rawValue)
        _ = try await database.write(checkingFreeSpace: false, flushed: false) { c in
            try tables.postpone(ids, retry: retry, now: try clock.read().wallNanoseconds, in: c)
        }
    }

    func notifyEnqueued() {
        EnqueueObservation.notify(key: "\(database.path)\u{0}\(name)")
    }
}

/// An observation made with `Outbox.observeEnqueues(_:)`; `cancel()` (or deinit) ends it.
public final class EnqueueObservation: Sendable {
    private static let observers = Mutex<[String: [Int: @Sendable () -> Void]]>([:])
    private static let nextID = Atomic<Int>(0)
    private let key: String
    private let id: Int

    private init(key: String, id: Int) {
        self.key = key
        self.id = id
    }

    static func register(key: String, _ body: @escaping @Sendable () -> Void) -> EnqueueObservation {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        observers.withLock { $0[key, default: [:]][id] = body }
        return EnqueueObservation(key: key, id: id)
    }

    static func notify(key: String) {
        let bodies = observers.withLock { $0[key].map { Array($0.values) } ?? [] }
        for body in bodies { body() }
    }

    /// Ends the observation.
    public func cancel() {
        let (key, id) = (self.key, self.id)
        Self.observers.withLock {
            $0[key]?[id] = nil
            if $0[key]?.isEmpty == true { $0[key] = nil }
        }
    }

    deinit { cancel() }
}

extension Outbox {
    /// The names of the outboxes that were ever opened in `database` (each has its state row),
    /// sorted; empty when the database has no outbox tables. For a consumer that drains every
    /// outbox of a database (the plugin host's one per module) after a restart.
    /// - Throws: `StorageError` for SQLite failures.
    public static func names(in database: Database) async throws -> [String] {
        try await database.perform { c in
            let exists = try c.statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'iotsdk_outbox_state'")
            let found = try exists.step()
            exists.reset()
            guard found else { return [] }
            let select = try c.statement("SELECT outbox FROM iotsdk_outbox_state ORDER BY outbox")
            var names: [String] = []
            while try select.step() { names.append(select.text(0)) }
            select.reset()
            return names
        }
    }
}
