extension OutboxTables {
    /// Makes room for a new message of `size` bytes as the quota's policy says, inside the
    /// enqueue's transaction. Returns nil when the message may be stored, or the error to throw
    /// (the rejection is already counted).
    func admit(size: Int64, priority: Int, topic: String, now: Int64, in c: SQLiteConnection) throws -> StorageError? {
        guard quota.isLimited else { return nil }
        if let maxBytes = quota.maxBytes, size > maxBytes {
            return try reject("a message of \(size) bytes for '\(topic)' is larger than the whole quota of outbox '\(name)' (\(maxBytes) bytes). Split the payload, or raise the quota", in: c)
        }
        let totals = try c.statement("SELECT messages, bytes FROM iotsdk_outbox_state WHERE outbox = ?")
        try totals.bind(.text(name))
        let stored = try totals.step() ? (messages: totals.int64(0), bytes: totals.int64(1)) : (messages: 0, bytes: 0)
        totals.reset()
        if fits(size: size, messages: stored.messages, bytes: stored.bytes) { return nil }

        let full = "outbox '\(name)' is full (messages: \(stored.messages), bytes: \(stored.bytes); quota: \(limits))"
        switch quota.whenFull {
        case .rejectNew:
            return try reject("\(full); the message for '\(topic)' was rejected and nothing stored was lost. Deliver and acknowledge messages, raise the quota, or choose the policy .dropOldest", in: c)
        case .dropOldest:
            guard let victims = try dropCandidates(size: size, priority: priority, stored: stored, now: now, in: c) else {
                return try reject("\(full) and too few of its messages are of priority \(priority) or lower and not leased to make room; the message for '\(topic)' was rejected and nothing stored was lost. Deliver and acknowledge messages, or raise the quota", in: c)
            }
            let delete = try c.statement("DELETE FROM iotsdk_outbox WHERE id = ?")
            for id in victims {
                try delete.bind(.integer(id))
                try delete.run()
            }
            try count(.droppedForQuota, victims.count, in: c)
            return nil
        }
    }

    /// The ids to drop, lowest priority then oldest, among messages of at most `priority` that are
    /// not leased, so that the new message fits; nil when dropping all of them would not do.
    ///
    /// Walks one priority at a time (the lowest first, found with `min`), each in id order, so that
    /// both steps read the index `(outbox, priority DESC, id)` in order and stop as soon as there is
    /// room; one `ORDER BY priority, id` would sort a whole priority's messages on every enqueue.
    private func dropCandidates(size: Int64, priority: Int, stored: (messages: Int64, bytes: Int64),
                                now: Int64, in c: SQLiteConnection) throws -> [Int64]? {
        let lowest = try c.statement("SELECT min(priority) FROM iotsdk_outbox WHERE outbox = ? AND priority >= ? AND priority <= ?")
        let group = try c.statement("""
            SELECT id, size FROM iotsdk_outbox
            WHERE outbox = ?1 AND priority = ?3 AND NOT \(OutboxSchema.isLeased)
            ORDER BY id
            """)
        var messages = stored.messages
        var bytes = stored.bytes
        var victims: [Int64] = []
        var floor = Int64.min
        while true {
            try lowest.bind(.text(name), .integer(floor), .integer(Int64(priority)))
            let found = try lowest.step() && !lowest.isNull(0)
            let current = found ? lowest.int64(0) : 0
            lowest.reset()
            guard found else { return nil }
            try group.bind(.text(name), .integer(now), .integer(current))
            defer { group.reset() }
            while try group.step() {
                victims.append(group.int64(0))
                messages -= 1
                bytes -= group.int64(1)
                if fits(size: size, messages: messages, bytes: bytes) { return victims }
            }
            guard current < Int64(priority) else { return nil }
            floor = current + 1
        }
    }

    private func fits(size: Int64, messages: Int64, bytes: Int64) -> Bool {
        if let max = quota.maxMessages, messages + 1 > Int64(max) { return false }
        if let max = quota.maxBytes, bytes + size > max { return false }
        return true
    }

    private var limits: String {
        [quota.maxMessages.map { "messages ≤ \($0)" }, quota.maxBytes.map { "bytes ≤ \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
    }

    private func reject(_ message: String, in c: SQLiteConnection) throws -> StorageError {
        try count(.rejectedForQuota, 1, in: c)
        return StorageError(.quotaExceeded, message, path: path)
    }
}
