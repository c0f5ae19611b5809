// MARK: - Readings stored before the clock was synchronized

extension TimeSeriesStore {
    /// Records the boot clock of readings appended while the wall clock is not synchronized
    /// (assuming, as for `Reading(value:)`, that their timestamps come from the system's wall
    /// clock): boot time = timestamp − (wall − boot clock now).
    static func recordUnsynchronized(_ c: SQLiteConnection, series id: Int64, timestamps: [Int64], now: SystemClock.Sample) throws(StorageError) {
        let record = try c.statement("""
            INSERT OR REPLACE INTO iotsdk_ts_unsynced (series_id, t, boot_id, boottime_ns) VALUES (?, ?, ?, ?)
            """)
        let offset = now.wallNanoseconds - now.bootNanoseconds
        let boot: SQLiteValue = now.bootID.map { .text($0) } ?? .null
        for t in timestamps {
            try record.bind(.integer(id), .integer(t), boot, .integer(t - offset))
            try record.run()
        }
    }

    /// Once the wall clock is synchronized, moves this boot's unsynchronized readings to their
    /// true time, wall now − (boot clock now − boot clock of the reading), and marks those of
    /// earlier boots as seen synchronized now (their age counts from here). Runs inside a write.
    ///
    /// A re-based instant that a reading of the series already has is moved on by a nanosecond,
    /// so that no reading is lost. Returns how many readings were re-based.
    @discardableResult
    static func rebase(_ c: SQLiteConnection, now: SystemClock.Sample) throws(StorageError) -> Int {
        guard now.isSynchronized else { return 0 }
        var moved = 0
        if let bootID = now.bootID {
            let find = try c.statement("SELECT series_id, t, boottime_ns FROM iotsdk_ts_unsynced WHERE boot_id = ?")
            try find.bind(.text(bootID))
            var rows: [(series: Int64, t: Int64, boot: Int64)] = []
            while try find.step() { rows.append((find.int64(0), find.int64(1), find.int64(2))) }
            find.reset()
            if !rows.isEmpty {
                let offset = now.wallNanoseconds - now.bootNanoseconds
                let move = try c.statement("UPDATE OR IGNORE iotsdk_ts_points SET t = ? WHERE series_id = ? AND t = ?")
                for row in rows {
                    var target = row.boot + offset
                    repeat {
                        try move.bind(.integer(target), .integer(row.series), .integer(row.t))
                        try move.run()
                        target += 1
                    } while c.changes == 0 && target - (row.boot + offset) < 1_000
                    moved += 1
                }
                let forget = try c.statement("DELETE FROM iotsdk_ts_unsynced WHERE boot_id = ?")
                try forget.bind(.text(bootID))
                try forget.run()
            }
        }
        let seen = try c.statement("UPDATE iotsdk_ts_unsynced SET seen_synchronized_at_ns = ? WHERE seen_synchronized_at_ns IS NULL")
        try seen.bind(.integer(now.wallNanoseconds))
        try seen.run()
        return moved
    }

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
