/// What one append did.
public struct AppendReport: Sendable, Hashable {
    /// Readings stored at instants the series did not have.
    public var inserted: Int
    /// Readings that replaced the stored value at the same instant (the last write wins).
    public var replaced: Int
    /// What the store's retention policy deleted in the same transaction.
    public var retention: RetentionReport

    public init(inserted: Int = 0, replaced: Int = 0, retention: RetentionReport = RetentionReport()) {
        self.inserted = inserted
        self.replaced = replaced
        self.retention = retention
    }
}

extension TimeSeriesStore {
    /// Appends one reading to `series`, creating the series (bound to `Q`) on its first append.
    ///
    /// For many readings, appending them as one batch is much faster: one transaction, and so
    /// one disk sync, for the whole batch.
    ///
    /// - Returns: What was stored and what retention deleted.
    /// - Throws: `StorageError`: `.typeMismatch` when the series holds another quantity;
    ///   `.invalidArgument` for an empty name or a value that is NaN or infinite;
    ///   `.quotaExceeded` when the store is full and its policy is `.rejectNew`; `.diskFull`;
    ///   `TimestampError` when the clocks cannot be read (`SystemClock.sample()`). Nothing is
    ///   stored when it throws.
    @discardableResult
    public func append<Q: PhysicalQuantity>(_ reading: Reading<Q>, to series: String) async throws -> AppendReport {
        try await append([reading], to: series)
    }

    /// Appends `readings` to `series` in one transaction: all are stored, or none.
    ///
    /// The readings need not be in time order. One prepared `INSERT OR IGNORE` is reused for
    /// every row (`UPDATE` for an instant the series already has), then the retention policy runs
    /// in the same transaction (`BEGIN IMMEDIATE … COMMIT`).
    ///
    /// - Returns: What was stored and what retention deleted.
    /// - Throws: As the single-reading `append`; nothing of the batch is stored when it throws.
    @discardableResult
    public func append<Q: PhysicalQuantity>(_ readings: [Reading<Q>], to series: String) async throws -> AppendReport {
        try SeriesBinding.validate(name: series)
        guard !readings.isEmpty else { return AppendReport() }
        let policy = retention
        let clock = try self.clock.read()
        let now = clock.wallClock
        let rebase = clock.isSynchronized && unsynchronizedPending.withLock { $0 }
        let (report, created) = try await database.write { c in
            if rebase { try Self.rebase(c, now: clock) }
            let (id, created) = try SeriesBinding.forAppending(c, name: series, Q.self, now: now)
            let boot = clock.isSynchronized ? nil : try Self.unsynchronizedBoot(c, now: clock, readings.lazy.map(\.timestamp.nanosecondsSinceEpoch))
            var report = try Self.insert(c, series: id, named: series, readings, unsynchronized: boot)
            report.retention = try Self.applyRetention(c, policy: policy, now: now, added: report.inserted, bootID: clock.bootID)
            return (report, created)
        }
        if !clock.isSynchronized || rebase {
            unsynchronizedPending.withLock { $0 = !clock.isSynchronized }
        }
        if created {
            logger.debug("created series", metadata: ["series": "\(series)", "quantity": "\(SeriesBinding.quantityName(Q.self))"])
        }
        if report.retention.dropped > 0 {
            logger.debug("retention dropped rows", metadata: ["byAge": "\(report.retention.droppedByAge)", "byQuota": "\(report.retention.droppedByQuota)"])
        }
        return report
    }

    /// The hot path: binds and steps one cached statement per reading; no allocation per row.
    /// With `unsynchronized` (the clock is not synchronized), each row also gets its boot and its
    /// boot clock, the timestamp minus the boot's wall − boot clock offset; otherwise both stay NULL.
    static func insert<Q: PhysicalQuantity>(_ c: SQLiteConnection, series id: Int64, named name: String, _ readings: [Reading<Q>],
                                            unsynchronized boot: UnsynchronizedBoot? = nil) throws(StorageError) -> AppendReport {
        let insert = try c.statement(TimeSeriesSchema.insertPoint)
        var inserted = 0
        var replaced = 0
        for index in readings.indices {
            let value = readings[index].value.baseValue
            let t = readings[index].timestamp.nanosecondsSinceEpoch
            guard value.isFinite else {
                throw StorageError(.invalidArgument, "reading \(index) of the batch for series '\(name)' at \(readings[index].timestamp) is \(value), which cannot be stored; nothing of the batch was stored. Validate readings with PhysicalQuantity.validated() before appending", path: c.path)
            }
            try insert.bind(.integer(id), at: 1)
            try insert.bind(.integer(t), at: 2)
            try insert.bind(.real(value), at: 3)
            if let boot {
                try insert.bind(.integer(boot.id), at: 4)
                try insert.bind(.integer(t - boot.offset), at: 5)
            }
            try insert.run()
            if c.changes == 1 {
                inserted += 1
            } else {
                // The series already has a reading at this instant: the last write wins.
                let update = try c.statement(TimeSeriesSchema.replacePoint)
                try update.bind(.integer(id), .integer(t), .real(value), boot.map { .integer($0.id) } ?? .null,
                                boot.map { .integer(t - $0.offset) } ?? .null)
                try update.run()
                replaced += 1
            }
        }
        try TimeSeriesTotals.adjustRows(c, by: inserted)
        return AppendReport(inserted: inserted, replaced: replaced)
    }
}
