extension TimeSeriesStore {
    /// Applies the retention policy now, without appending: deletes rows older than `maxAge` and,
    /// under `.dropOldest`, the oldest rows above the row or byte limit (after the policy was
    /// lowered, say). Appends do this themselves; call it when a store is read more than written.
    ///
    /// Under `.rejectNew` a store above its limit is left as it is (only new data is refused).
    /// It runs without the free-space guard, since it only deletes.
    ///
    /// - Returns: The rows deleted, by reason.
    /// - Throws: `StorageError` when the database cannot be written; `TimestampError` when the
    ///   clocks cannot be read (`SystemClock.sample()`).
    @discardableResult
    public func enforceRetention() async throws -> RetentionReport {
        var ageAndDrop = retention
        if ageAndDrop.whenFull == .rejectNew {
            ageAndDrop.maxRows = nil
            ageAndDrop.maxBytes = nil
        }
        let policy = ageAndDrop
        guard !policy.isUnlimited else { return RetentionReport() }
        let clock = try self.clock.read()
        let report = try await database.write(checkingFreeSpace: false) { c in
            try Self.rebase(c, now: clock)
            return try Self.applyRetention(c, policy: policy, now: clock.wallClock, added: 0, bootID: clock.bootID)
        }
        if clock.isSynchronized { unsynchronizedPending.withLock { $0 = false } }
        return report
    }

    /// Runs inside a write's transaction after `added` new rows: deletes rows older than the age
    /// limit, then checks the row limit (starting to keep the row count if it is not kept yet),
    /// and records what it dropped.
    ///
    /// Readings stored unsynchronized in another boot than `bootID` are not dropped by age while
    /// the clock has not been seen synchronized since, and then only `maxAge` after that moment:
    /// their timestamps say nothing of their age. Under a row limit, readings not re-based yet are
    /// dropped only when the others do not make enough room.
    ///
    /// - Throws: `.quotaExceeded` under `.rejectNew` when the store would exceed its limit (the
    ///   caller's transaction then rolls back).
    static func applyRetention(_ c: SQLiteConnection, policy: RetentionPolicy, now: Timestamp, added: Int,
                               bootID: String?) throws(StorageError) -> RetentionReport {
        guard !policy.isUnlimited else { return RetentionReport() }
        var report = RetentionReport()
        if let cutoff = policy.ageCutoff(now: now) {
            // One seek per series on the (series_id, t) key; the boots' list is read once.
            let expire = try c.statement("""
                DELETE FROM iotsdk_ts_points WHERE series_id IN (SELECT id FROM iotsdk_ts_series) AND t < ?1
                AND (boot_ref IS NULL OR boot_ref NOT IN (SELECT id FROM iotsdk_ts_boots
                     WHERE (seen_synchronized_at_ns IS NULL AND boot_id IS NOT ?2) OR seen_synchronized_at_ns >= ?1))
                """)
            try expire.bind(.integer(cutoff.nanosecondsSinceEpoch), bootID.map { .text($0) } ?? .null)
            try expire.run()
            report.droppedByAge = c.changes
            try TimeSeriesTotals.recordDropped(c, report)
        }
        // A write that adds no row (replacements only) is never refused.
        guard policy.rowLimit(bytesPerRow: TimeSeriesSchema.bytesPerRow) != nil,
              added > 0 || policy.whenFull == .dropOldest else { return report }
        let rows = try TimeSeriesTotals.keptRowCount(c)
        let excess = try policy.excessRows(rows, bytesPerRow: TimeSeriesSchema.bytesPerRow, store: storeName)
        if excess > 0 {
            report.droppedByQuota = try dropOldest(c, count: excess, keepingPending: true)
            if report.droppedByQuota < excess {
                report.droppedByQuota += try dropOldest(c, count: excess - report.droppedByQuota, keepingPending: false)
            }
            try TimeSeriesTotals.recordDropped(c, RetentionReport(droppedByQuota: report.droppedByQuota))
        }
        return report
    }

    /// Deletes the `count` oldest rows of the whole store (by timestamp; equal timestamps in
    /// order of series id), without an index on `t`: it reads the oldest `count` timestamps of
    /// each series on the primary key, merges them, and deletes each series' share up to its
    /// cutoff with one ranged `DELETE`. Large counts go in chunks to bound memory.
    ///
    /// With `keepingPending`, readings stored unsynchronized and not re-based yet are passed over:
    /// at 1970 they would look the oldest of all.
    static func dropOldest(_ c: SQLiteConnection, count: Int, keepingPending: Bool) throws(StorageError) -> Int {
        let passOver = keepingPending
            ? " AND (boot_ref IS NULL OR boot_ref NOT IN (SELECT id FROM iotsdk_ts_boots WHERE seen_synchronized_at_ns IS NULL))"
            : ""
        if keepingPending, try c.scalar("SELECT count(*) FROM iotsdk_ts_boots WHERE seen_synchronized_at_ns IS NULL") == 0 {
            return try dropOldest(c, count: count, keepingPending: false)
        }
        let ids = try seriesIDs(c)
        var remaining = count
        while remaining > 0 {
            let chunk = min(remaining, 8_192)
            var candidates: [(t: Int64, series: Int)] = []
            let head = try c.statement("SELECT t FROM iotsdk_ts_points WHERE series_id = ?1\(passOver) ORDER BY t LIMIT ?2")
            for (index, id) in ids.enumerated() {
                try head.bind(.integer(id), .integer(Int64(chunk)))
                while try head.step() { candidates.append((head.int64(0), index)) }
                head.reset()
            }
            if candidates.isEmpty { break }
            candidates.sort { $0.t != $1.t ? $0.t < $1.t : $0.series < $1.series }
            // The oldest `chunk` overall are a prefix of each series' own oldest: cut each there.
            var cutoff = [Int64?](repeating: nil, count: ids.count)
            for candidate in candidates.prefix(chunk) { cutoff[candidate.series] = candidate.t }
            let delete = try c.statement("DELETE FROM iotsdk_ts_points WHERE series_id = ?1 AND t <= ?2\(passOver)")
            for (index, t) in cutoff.enumerated() {
                guard let t else { continue }
                try delete.bind(.integer(ids[index]), .integer(t))
                try delete.run()
                remaining -= c.changes
            }
        }
        return count - remaining
    }

    static func seriesIDs(_ c: SQLiteConnection) throws(StorageError) -> [Int64] {
        let statement = try c.statement("SELECT id FROM iotsdk_ts_series ORDER BY id")
        defer { statement.reset() }
        var ids: [Int64] = []
        while try statement.step() { ids.append(statement.int64(0)) }
        return ids
    }
}
