/// The SQL of one named outbox, run inside transactions on the database's queue.
///
/// A plain value: the closures that `Outbox` hands to the database's queue capture this, never the
/// `Outbox`, so that the last reference to a `Database` is never dropped on its own queue.
struct OutboxTables: Sendable {
    let name: String
    let quota: Outbox.Quota
    /// The database's path, for error messages.
    let path: String

    // MARK: - Messages

    /// Stores a message with the clocks read at `now`: with a synchronized wall clock its expiry
    /// is wall-clock; without one it has none until it is re-based (its TTL runs on the boot clock).
    func insert(topic: String, payload: [UInt8], size: Int64, priority: Int, now: SystemClock.Sample, ttl: Duration?,
                retain: Bool = false, in c: SQLiteConnection) throws -> OutboxMessage.ID {
        let insert = try c.statement("""
            INSERT INTO iotsdk_outbox (outbox, topic, payload, size, priority, enqueued_at_ns, expires_at_ns,
                                       boot_id, enqueued_boottime_ns, ttl_ns, time_state, retain)
            VALUES (?, ?, coalesce(?, zeroblob(0)), ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let ttl = ttl.map { min(Outbox.time(0, plus: $0), OutboxSchema.longestTTL) }
        let state: OutboxSchema.TimeState = now.isSynchronized ? .synchronized : .pending
        let expiresAt = now.isSynchronized ? ttl.map { now.wallNanoseconds + $0 } : nil
        try insert.bind(.text(name), .text(topic), .blob(payload), .integer(size), .integer(Int64(priority)),
                        .integer(now.wallNanoseconds), expiresAt.map { .integer($0) } ?? .null,
                        now.bootID.map { .text($0) } ?? .null, .integer(now.bootNanoseconds),
                        ttl.map { .integer($0) } ?? .null, .integer(state.rawValue), .integer(retain ? 1 : 0))
        try insert.run()
        return OutboxMessage.ID(rawValue: c.lastInsertRowID)
    }

    /// Once the wall clock is synchronized, gives the messages enqueued without it their true
    /// times: for this boot, wall time = now − (boot clock now − boot clock then), and the expiry
    /// that follows from the TTL; messages of earlier boots, which no clock can place, keep their
    /// enqueue time (marked not synchronized) and count their whole TTL from now.
    /// One probe of a partial index when there is nothing to do.
    func rebase(now: SystemClock.Sample, in c: SQLiteConnection) throws {
        guard now.isSynchronized else { return }
        if let bootID = now.bootID {
            let thisBoot = try c.statement("""
                UPDATE iotsdk_outbox SET
                    enqueued_at_ns = enqueued_boottime_ns + ?3,
                    expires_at_ns = enqueued_boottime_ns + ?3 + ttl_ns,
                    time_state = 0
                WHERE outbox = ?1 AND time_state = 1 AND boot_id = ?2
                """)
            try thisBoot.bind(.text(name), .text(bootID), .integer(now.wallNanoseconds - now.bootNanoseconds))
            try thisBoot.run()
        }
        let earlierBoots = try c.statement("""
            UPDATE iotsdk_outbox SET expires_at_ns = ?2 + ttl_ns, time_state = 2
            WHERE outbox = ?1 AND time_state = 1
            """)
        try earlierBoots.bind(.text(name), .integer(now.wallNanoseconds))
        try earlierBoots.run()
    }

    /// Selects up to `batch` available messages in delivery order and leases them until `leaseEnd`.
    /// A message not re-based yet shows the expiry its TTL gives on the same unsynchronized clock
    /// as its enqueue time.
    func lease(batch: Int, topic: String?, now: Int64, leaseEnd: Int64, in c: SQLiteConnection) throws -> [OutboxMessage] {
        let messages = try available(batch: batch, topic: topic, excluding: nil, now: now, leaseEnd: leaseEnd, in: c)
        let update = try c.statement("UPDATE iotsdk_outbox SET leased_at_ns = ?, lease_until_ns = ?, attempts = attempts + 1 WHERE id = ?")
        for message in messages {
            try update.bind(.integer(now), .integer(leaseEnd), .integer(message.id.rawValue))
            try update.run()
        }
        return messages
    }

    /// Up to `batch` available messages in delivery order, none of `excluding` (ids), each shown
    /// with the attempt it would be and a lease until `leaseEnd`; changes nothing.
    func available(batch: Int, topic: String?, excluding: [Int64]?, now: Int64, leaseEnd: Int64, in c: SQLiteConnection) throws -> [OutboxMessage] {
        let select = try c.statement("""
            SELECT id, topic, payload, priority, enqueued_at_ns,
                   CASE WHEN time_state = 1 THEN enqueued_at_ns + ttl_ns ELSE expires_at_ns END, attempts, time_state, retain
            FROM iotsdk_outbox
            WHERE outbox = ?1 AND not_before_ns <= ?2 AND NOT \(OutboxSchema.isLeased) AND (?3 IS NULL OR topic = ?3)
                AND (?5 IS NULL OR id NOT IN (SELECT value FROM json_each(?5)))
            ORDER BY priority DESC, id
            LIMIT ?4
            """)
        defer { select.reset() }
        let skipped: SQLiteValue = excluding.map { .text("[" + $0.map(String.init).joined(separator: ",") + "]") } ?? .null
        try select.bind(.text(name), .integer(now), topic.map { .text($0) } ?? .null, .integer(Int64(batch)), skipped)
        var messages: [OutboxMessage] = []
        while try select.step() {
            messages.append(OutboxMessage(
                id: OutboxMessage.ID(rawValue: select.int64(0)), outbox: name, topic: select.text(1), payload: select.blob(2),
                priority: Int(select.int64(3)), enqueuedAt: Timestamp(nanosecondsSinceEpoch: select.int64(4)),
                expiresAt: select.isNull(5) ? nil : Timestamp(nanosecondsSinceEpoch: select.int64(5)),
                attempt: Int(select.int64(6)) + 1, leaseExpiresAt: Timestamp(nanosecondsSinceEpoch: leaseEnd),
                timeSynchronized: select.int64(7) == OutboxSchema.TimeState.synchronized.rawValue, retain: select.int64(8) != 0))
        }
        return messages
    }

    /// Makes messages wait `retry`'s delay (after their next attempt) before they are available
    /// again, and counts that attempt; returns how many there were.
    func postpone(_ ids: [Int64], retry: Outbox.RetryDelay, now: Int64, in c: SQLiteConnection) throws -> Int {
        let find = try c.statement("SELECT attempts FROM iotsdk_outbox WHERE id = ? AND outbox = ?")
        let update = try c.statement("UPDATE iotsdk_outbox SET not_before_ns = ?, attempts = attempts + 1 WHERE id = ?")
        var postponed = 0
        for id in ids {
            try find.bind(.integer(id), .text(name))
            let found = try find.step()
            let attempts = found ? Int(find.int64(0)) : 0
            find.reset()
            guard found else { continue }
            try update.bind(.integer(Outbox.time(now, plus: retry.delay(afterAttempt: attempts + 1))), .integer(id))
            try update.run()
            postponed += 1
        }
        return postponed
    }

    /// Deletes the messages and counts them delivered; returns how many there were.
    func acknowledge(_ ids: [Int64], in c: SQLiteConnection) throws -> Int {
        let delete = try c.statement("DELETE FROM iotsdk_outbox WHERE id = ? AND outbox = ?")
        var deleted = 0
        for id in ids {
            try delete.bind(.integer(id), .text(name))
            try delete.run()
            deleted += c.changes
        }
        try count(.delivered, deleted, in: c)
        return deleted
    }

    /// Ends the leases of these deliveries (any delivery when `attempt` is nil); the messages are
    /// available again after `retry`'s delay. Returns how many were released.
    func release(_ deliveries: [(id: Int64, attempt: Int64?)], retry: Outbox.RetryDelay, now: Int64, in c: SQLiteConnection) throws -> Int {
        let find = try c.statement("""
            SELECT attempts FROM iotsdk_outbox
            WHERE id = ? AND outbox = ? AND lease_until_ns IS NOT NULL AND (?3 IS NULL OR attempts = ?3)
            """)
        let update = try c.statement("UPDATE iotsdk_outbox SET leased_at_ns = NULL, lease_until_ns = NULL, not_before_ns = ? WHERE id = ?")
        var released = 0
        for delivery in deliveries {
            try find.bind(.integer(delivery.id), .text(name), delivery.attempt.map { .integer($0) } ?? .null)
            let found = try find.step()
            let attempts = found ? Int(find.int64(0)) : 0
            find.reset()
            guard found else { continue }
            try update.bind(.integer(Outbox.time(now, plus: retry.delay(afterAttempt: attempts))), .integer(delivery.id))
            try update.run()
            released += 1
        }
        return released
    }

    /// Drops the messages whose TTL has passed and that are not leased; counts them. Two
    /// statements, so that each reads its own index: expiry on the wall clock, and on the boot
    /// clock for messages enqueued unsynchronized in this boot.
    func dropExpired(now: SystemClock.Sample, in c: SQLiteConnection) throws {
        var dropped = 0
        for (expired, bootClock) in [(OutboxSchema.isExpiredByWallClock, false), (OutboxSchema.isExpiredByBootClock, true)] {
            let delete = try c.statement("DELETE FROM iotsdk_outbox WHERE outbox = ?1 AND \(expired) AND NOT \(OutboxSchema.isLeased)")
            try bindClock(delete, now, bootClock: bootClock)
            try delete.run()
            dropped += c.changes
        }
        try count(.expired, dropped, in: c)
    }

    /// Drops the messages of `topic` that are not leased (a newer one replaces them); they count
    /// as expired.
    func supersede(topic: String, now: SystemClock.Sample, in c: SQLiteConnection) throws {
        let delete = try c.statement("DELETE FROM iotsdk_outbox WHERE outbox = ?1 AND topic = ?5 AND NOT \(OutboxSchema.isLeased)")
        try bindClock(delete, now, bootClock: false)
        try delete.bind(.text(topic), at: 5)
        try delete.run()
        try count(.expired, c.changes, in: c)
    }

    /// Binds ?1 to ?4 of the SQL fragments: the name, the wall clock, and with `bootClock` (for
    /// a statement that uses them) the boot id and the boot clock.
    private func bindClock(_ statement: SQLiteStatement, _ now: SystemClock.Sample, bootClock: Bool = true) throws {
        try statement.bind(.text(name), .integer(now.wallNanoseconds))
        guard bootClock else { return }
        try statement.bind(now.bootID.map { .text($0) } ?? .null, at: 3)
        try statement.bind(.integer(now.bootNanoseconds), at: 4)
    }

    // MARK: - State

    /// Creates the outbox's row of totals and counters if it has none yet.
    func createState(in c: SQLiteConnection) throws {
        let exists = try c.statement("SELECT 1 FROM iotsdk_outbox_state WHERE outbox = ?")
        try exists.bind(.text(name))
        let found = try exists.step()
        exists.reset()
        guard !found else { return }
        let insert = try c.statement("INSERT INTO iotsdk_outbox_state (outbox) VALUES (?)")
        try insert.bind(.text(name))
        try insert.run()
    }

    enum Counter: String {
        case delivered, expired
        case droppedForQuota = "dropped_for_quota"
        case rejectedForQuota = "rejected_for_quota"
    }

    /// Adds `amount` to one of the stored counters of `statistics()`.
    func count(_ counter: Counter, _ amount: Int, in c: SQLiteConnection) throws {
        guard amount != 0 else { return }
        let column = counter.rawValue
        let update = try c.statement("UPDATE iotsdk_outbox_state SET \(column) = \(column) + ? WHERE outbox = ?")
        try update.bind(.integer(Int64(amount)), .text(name))
        try update.run()
    }

    func statistics(now: SystemClock.Sample, in c: SQLiteConnection) throws -> OutboxStatistics {
        let leased = OutboxSchema.isLeased, expired = OutboxSchema.isExpired
        let query = try c.statement("""
            SELECT
                (SELECT count(*) FROM iotsdk_outbox WHERE outbox = ?1 AND NOT \(leased) AND NOT \(expired)),
                (SELECT count(*) FROM iotsdk_outbox WHERE outbox = ?1 AND \(leased)),
                (SELECT count(*) FROM iotsdk_outbox WHERE outbox = ?1 AND NOT \(leased) AND \(expired)),
                bytes, delivered, expired, dropped_for_quota, rejected_for_quota
            FROM iotsdk_outbox_state WHERE outbox = ?1
            """)
        defer { query.reset() }
        try bindClock(query, now)
        guard try query.step() else {
            throw StorageError(.notFound, "outbox '\(name)' has no state row in \(path); open it with Outbox(database:name:) first", path: path)
        }
        return OutboxStatistics(
            pending: Int(query.int64(0)), leased: Int(query.int64(1)), storedBytes: query.int64(3),
            delivered: Int(query.int64(4)), expired: Int(query.int64(5) + query.int64(2)),
            droppedForQuota: Int(query.int64(6)), rejectedForQuota: Int(query.int64(7)))
    }
}
