/// The `iotsdk_ts_totals` row: the row count that quota checks use, and the rows dropped by
/// retention. Every function runs inside the caller's transaction.
enum TimeSeriesTotals {
    struct Row {
        /// nil while the count is not kept (no store with a row limit has needed it yet).
        var rows: Int?
        var droppedByAge: Int
        var droppedByQuota: Int
    }

    static func read(_ c: SQLiteConnection) throws(StorageError) -> Row {
        let statement = try c.statement(TimeSeriesSchema.readTotals)
        defer { statement.reset() }
        guard try statement.step() else {
            throw StorageError(.corrupt, "the totals row of \(TimeSeriesStore.storeName) in \(c.path) is missing: the database was changed outside the SDK. Restore a backup, or move the file away to start empty", path: c.path)
        }
        return Row(rows: statement.isNull(0) ? nil : Int(statement.int64(0)),
                   droppedByAge: Int(statement.int64(1)), droppedByQuota: Int(statement.int64(2)))
    }

    /// Counts the rows (reads the whole table).
    static func count(_ c: SQLiteConnection) throws(StorageError) -> Int {
        Int(try c.scalar(TimeSeriesSchema.countPoints) ?? 0)
    }

    /// The row count for a quota check: the kept one, or counted now and kept from now on.
    static func keptRowCount(_ c: SQLiteConnection) throws(StorageError) -> Int {
        if let rows = try read(c).rows { return rows }
        let rows = try count(c)
        let start = try c.statement(TimeSeriesSchema.startRowCount)
        try start.bind(.integer(Int64(rows)))
        try start.run()
        return rows
    }

    /// Adds `delta` to the kept row count; does nothing (and writes nothing) while it is not kept.
    static func adjustRows(_ c: SQLiteConnection, by delta: Int) throws(StorageError) {
        guard delta != 0 else { return }
        let adjust = try c.statement(TimeSeriesSchema.adjustRowCount)
        try adjust.bind(.integer(Int64(delta)))
        try adjust.run()
    }

    /// Counts rows that retention deleted (and takes them off the kept row count).
    static func recordDropped(_ c: SQLiteConnection, _ report: RetentionReport) throws(StorageError) {
        guard report.dropped > 0 else { return }
        try adjustRows(c, by: -report.dropped)
        let record = try c.statement(TimeSeriesSchema.recordDropped)
        try record.bind(.integer(Int64(report.droppedByAge)), .integer(Int64(report.droppedByQuota)))
        try record.run()
    }
}
