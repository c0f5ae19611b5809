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
    ///   wall clock cannot be read.
    @discardableResult
    public func enforceRetention() async throws -> RetentionReport {
        var ageAndDrop = retention
        if ageAndDrop.whenFull == .rejectNew {
            ageAndDrop.maxRows = nil
            ageAndDrop.maxBytes = nil
        }
        let policy = ageAndDrop
        guard !policy.isUnlimited else { return RetentionReport() }
        let now = try Timestamp.now()
        return try await database.write(checkingFreeSpace: false) { c in
            try Self.applyRetention(c, policy: policy, now: now, added: 0)
        }
    }

    /// Runs inside a write's transaction after `added` new rows: deletes rows older than the age
    /// limit, then checks the row limit (starting to keep the row count if it is not kept yet),
    /// and records what it dropped.
    ///
    /// - Throws: `.quotaExceeded` under `.rejectNew` when the store would exceed its limit (the
    ///   caller's transaction then rolls back).
    static func applyRetention(_ c: SQLiteConnection, policy: RetentionPolicy, now: Timestamp, added: Int) throws(StorageError) -> RetentionReport {
        guard !policy.isUnlimited else { return RetentionReport() }
        var report = RetentionReport()
        if let cutoff = policy.ageCutoff(now: now) {
            // One seek per series on the (series_id, t) key.
            let expire = try c.statement("DELETE FROM iotsdk_ts_points WHERE series_id IN (SELECT id FROM iotsdk_ts_series) AND t < ?")
            try expire.bind(.integer(cutoff.nanosecondsSinceEpoch))
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
            report.droppedByQuota = try dropOldest(c, count: excess)
            try TimeSeriesTotals.recordDropped(c, RetentionReport(droppedByQuota: report.droppedByQuota))
        }
        return report
    }

    /// Deletes the `count` oldest rows of the whole store (by timestamp; equal timestamps in
    /// order of series id), without an index on `t`: it reads the oldest `count` timestamps of
    /// each series on the primary key, merges them, and deletes each series' share up to its
    /// cutoff with one ranged `DELETE`. Large counts go in chunks to bound memory.
    static func dropOldest(_ c: SQLiteConnection, count: Int) throws(StorageError) -> Int {
        let ids = try seriesIDs(c)
        var remaining = count
        while remaining > 0 {
            let chunk = min(remaining, 8_192)
            var candidates: [(t: Int64, series: Int)] = []
            let head = try c.statement("SELECT t FROM iotsdk_ts_points WHERE series_id = ? ORDER BY t LIMIT ?")
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
            let delete = try c.statement("DELETE FROM iotsdk_ts_points WHERE series_id = ? AND t <= ?")
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
