// MARK: - Readings stored before the clock was synchronized

extension TimeSeriesStore {
    /// The boot that unsynchronized readings are appended in: its row in `iotsdk_ts_boots`, and
    /// wall − boot clock at the append.
    struct UnsynchronizedBoot {
        var id: Int64
        var offset: Int64
    }

    /// The row of this boot in `iotsdk_ts_boots` (created on its first unsynchronized append),
    /// widened to cover `timestamps`. Readings are assumed to carry the system's wall clock, as
    /// `Reading(value:)` does: a reading's boot clock is its timestamp − (wall − boot clock now).
    static func unsynchronizedBoot(_ c: SQLiteConnection, now: SystemClock.Sample,
                                   _ timestamps: some Sequence<Int64>) throws(StorageError) -> UnsynchronizedBoot {
        var first = Int64.max, last = Int64.min
        for t in timestamps {
            first = min(first, t)
            last = max(last, t)
        }
        let boot: SQLiteValue = now.bootID.map { .text($0) } ?? .null
        let find = try c.statement("SELECT id FROM iotsdk_ts_boots WHERE boot_id IS ? AND seen_synchronized_at_ns IS NULL ORDER BY id DESC LIMIT 1")
        try find.bind(boot)
        let found = try find.step() ? find.int64(0) : nil
        find.reset()
        let id: Int64
        if let found {
            let widen = try c.statement("UPDATE iotsdk_ts_boots SET first_t = min(first_t, ?2), last_t = max(last_t, ?3) WHERE id = ?1")
            try widen.bind(.integer(found), .integer(first), .integer(last))
            try widen.run()
            id = found
        } else {
            let create = try c.statement("INSERT INTO iotsdk_ts_boots (boot_id, first_t, last_t) VALUES (?, ?, ?)")
            try create.bind(boot, .integer(first), .integer(last))
            try create.run()
            id = c.lastInsertRowID
        }
        return UnsynchronizedBoot(id: id, offset: now.wallNanoseconds - now.bootNanoseconds)
    }

    /// Once the wall clock is synchronized, moves this boot's unsynchronized readings to their
    /// true time, wall now − (boot clock now − boot clock of the reading), and marks earlier boots
    /// as seen synchronized now (their readings' age counts from here). Runs inside a write; walks
    /// the boot's range of `t` series by series on the primary key.
    ///
    /// Readings are moved latest first when the clock went forward (earliest first when it went
    /// back), so that none lands on one not moved yet; one that lands on an instant the series
    /// already has moves on by a nanosecond, so that no reading is lost. Returns how many moved.
    @discardableResult
    static func rebase(_ c: SQLiteConnection, now: SystemClock.Sample) throws(StorageError) -> Int {
        guard now.isSynchronized else { return 0 }
        var moved = 0
        if let bootID = now.bootID {
            let boots = try c.statement("SELECT id, first_t, last_t FROM iotsdk_ts_boots WHERE boot_id = ? AND seen_synchronized_at_ns IS NULL")
            try boots.bind(.text(bootID))
            var ranges: [(id: Int64, first: Int64, last: Int64)] = []
            while try boots.step() { ranges.append((boots.int64(0), boots.int64(1), boots.int64(2))) }
            boots.reset()
            let offset = now.wallNanoseconds - now.bootNanoseconds
            for range in ranges {
                moved += try rebase(c, boot: range.id, from: range.first, to: range.last, offset: offset)
                let forget = try c.statement("DELETE FROM iotsdk_ts_boots WHERE id = ?")
                try forget.bind(.integer(range.id))
                try forget.run()
            }
        }
        let seen = try c.statement("UPDATE iotsdk_ts_boots SET seen_synchronized_at_ns = ? WHERE seen_synchronized_at_ns IS NULL")
        try seen.bind(.integer(now.wallNanoseconds))
        try seen.run()
        return moved
    }

    private static func rebase(_ c: SQLiteConnection, boot: Int64, from first: Int64, to last: Int64, offset: Int64) throws(StorageError) -> Int {
        let find = try c.statement("""
            SELECT series_id, t, boottime_ns FROM iotsdk_ts_points
            WHERE series_id IN (SELECT id FROM iotsdk_ts_series) AND t >= ?1 AND t <= ?2 AND boot_ref = ?3
            """)
        try find.bind(.integer(first), .integer(last), .integer(boot))
        var rows: [(series: Int64, t: Int64, target: Int64)] = []
        while try find.step() { rows.append((find.int64(0), find.int64(1), find.int64(2) + offset)) }
        find.reset()
        let forward = rows.first.map { $0.target >= $0.t } ?? true
        rows.sort { forward ? $0.t > $1.t : $0.t < $1.t }
        let move = try c.statement("""
            UPDATE OR IGNORE iotsdk_ts_points SET t = ?1, boot_ref = NULL, boottime_ns = NULL WHERE series_id = ?2 AND t = ?3
            """)
        for row in rows {
            var target = row.target
            repeat {
                try move.bind(.integer(target), .integer(row.series), .integer(row.t))
                try move.run()
                target += 1
            } while c.changes == 0 && target - row.target < 1_000
        }
        return rows.count
    }

    /// SQL that is true for a point (of `iotsdk_ts_points`) whose time is not synchronized.
    static let isUnsynchronized = "boot_ref IS NOT NULL"

    /// Reads the clocks and, when the wall clock has become synchronized since readings were
    /// stored without it, re-bases them before a query. No write, and only the clock read, once
    /// there is nothing left to re-base.
    func rebaseIfSynchronized() async throws {
        guard unsynchronizedPending.withLock({ $0 }) else { return }
        let now = try clock.read()
        guard now.isSynchronized else { return }
        _ = try await database.write(checkingFreeSpace: false) { c in try Self.rebase(c, now: now) }
        unsynchronizedPending.withLock { $0 = false }
    }
}
