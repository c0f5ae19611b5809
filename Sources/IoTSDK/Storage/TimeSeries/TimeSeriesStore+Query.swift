extension TimeSeriesStore {
    /// The order in which ``readings(in:as:from:to:limit:order:)`` returns readings.
    public enum Order: Sendable, Hashable {
        case oldestFirst
        case newestFirst
    }

    /// The readings of `series` with `from <= timestamp < to`, in time order.
    ///
    /// One seek on the `(series_id, t)` primary key, then a sequential walk.
    ///
    /// - Parameters:
    ///   - series: The series' name.
    ///   - type: The quantity the series holds.
    ///   - from: The earliest instant included; nil for the series' start.
    ///   - to: The first instant excluded; nil for the series' end.
    ///   - limit: The most readings returned, counted from the first in `order`; nil for all.
    ///   - order: `.newestFirst` with a limit gives the last readings of the range.
    /// - Throws: `StorageError`: `.notFound` for an unknown series; `.typeMismatch` when the
    ///   series holds another quantity than `Q`; `.invalidArgument` for a negative limit.
    public func readings<Q: PhysicalQuantity>(in series: String, as type: Q.Type = Q.self,
                                              from: Timestamp? = nil, to: Timestamp? = nil,
                                              limit: Int? = nil, order: Order = .oldestFirst) async throws -> [Reading<Q>] {
        try await points(in: series, as: type, from: from, to: to, limit: limit, order: order, timeStatus: false).readings(as: Q.self)
    }

    /// The readings of `series` with `from <= timestamp < to`, in time order, each saying whether
    /// its time is synchronized; see ``readings(in:as:from:to:limit:order:)`` for the parameters.
    ///
    /// A reading's time is not synchronized when it was appended while the system clock was not
    /// (a device without a real-time clock before NTP) and could not be re-based: it was stored
    /// in an earlier boot, or the clock is still not synchronized. An uplink says so in its
    /// payload.
    ///
    /// - Throws: As ``readings(in:as:from:to:limit:order:)``; `TimestampError` when the clocks
    ///   cannot be read.
    public func storedReadings<Q: PhysicalQuantity>(in series: String, as type: Q.Type = Q.self,
                                                    from: Timestamp? = nil, to: Timestamp? = nil,
                                                    limit: Int? = nil, order: Order = .oldestFirst) async throws -> [StoredReading<Q>] {
        let points = try await points(in: series, as: type, from: from, to: to, limit: limit, order: order, timeStatus: true)
        return zip(points.readings(as: Q.self), points.unsynchronized).map { StoredReading(reading: $0, timeSynchronized: !$1) }
    }

    /// The rows behind both queries; with `timeStatus`, re-based first if the clock has become
    /// synchronized, and with each row's flag.
    private func points<Q: PhysicalQuantity>(in series: String, as type: Q.Type, from: Timestamp?, to: Timestamp?,
                                             limit: Int?, order: Order, timeStatus: Bool) async throws -> RawPoints {
        if let limit, limit < 0 {
            throw StorageError(.invalidArgument, "limit must be zero or more (got \(limit)); use nil for all readings")
        }
        try await rebaseIfSynchronized()
        guard let range = Self.closedRange(from: from, to: to), limit != 0 else {
            // An empty range still checks the series.
            try await database.perform { c in _ = try SeriesBinding.forReading(c, name: series, Q.self) }
            return RawPoints()
        }
        let sql = """
            SELECT t, v\(timeStatus ? ", " + Self.isUnsynchronized : "") FROM iotsdk_ts_points WHERE series_id = ? AND t >= ? AND t <= ?
            ORDER BY t\(order == .oldestFirst ? "" : " DESC") LIMIT ?
            """
        return try await database.perform { c in
            let id = try SeriesBinding.forReading(c, name: series, Q.self)
            let statement = try c.statement(sql)
            defer { statement.reset() }
            try statement.bind(.integer(id), .integer(range.lower), .integer(range.upper), .integer(Int64(limit ?? -1)))
            var points = RawPoints()
            if let limit { points.reserve(min(limit, 65_536)) }
            while try statement.step() {
                points.append(t: statement.int64(0), v: statement.double(1))
                if timeStatus { points.unsynchronized.append(statement.int64(2) != 0) }
            }
            return points
        }
    }

    /// The newest reading of `series`, or nil when the series has none (left) in it.
    ///
    /// One seek to the end of the series on the primary key.
    ///
    /// - Throws: `StorageError`: `.notFound` for an unknown series; `.typeMismatch` when the
    ///   series holds another quantity than `Q`.
    public func latest<Q: PhysicalQuantity>(in series: String, as type: Q.Type = Q.self) async throws -> Reading<Q>? {
        try await readings(in: series, as: type, limit: 1, order: .newestFirst).first
    }

    /// The newest reading of every series that has one, by series name.
    ///
    /// The values are base values with their quantity's name and unit, since the series hold
    /// different quantities; ``LatestValue/reading(as:)`` turns one into a typed reading.
    /// One seek per series (`max(t)` on the primary key). Each value says whether its time is
    /// synchronized (``LatestValue/timeSynchronized``).
    ///
    /// - Throws: `StorageError` when the database cannot be read; `TimestampError` when the
    ///   clocks cannot be read.
    public func latestPerSeries() async throws -> [LatestValue] {
        try await rebaseIfSynchronized()
        return try await database.perform { c in
            let statement = try c.statement("""
                SELECT s.name, s.quantity, s.unit, p.t, p.v, p.\(Self.isUnsynchronized) FROM iotsdk_ts_series s
                JOIN iotsdk_ts_points p ON p.series_id = s.id
                    AND p.t = (SELECT max(t) FROM iotsdk_ts_points WHERE series_id = s.id)
                ORDER BY s.name
                """)
            defer { statement.reset() }
            var result: [LatestValue] = []
            while try statement.step() {
                result.append(LatestValue(series: statement.text(0), quantity: statement.text(1), unit: statement.text(2),
                                          timestamp: Timestamp(nanosecondsSinceEpoch: statement.int64(3)),
                                          baseValue: statement.double(4), timeSynchronized: statement.int64(5) == 0))
            }
            return result
        }
    }

    /// Every series, by name, with its quantity, row count and time span.
    ///
    /// Counting reads every row of the store: use ``usage()`` for the total alone.
    ///
    /// - Throws: `StorageError` when the database cannot be read; `TimestampError` when the
    ///   clocks cannot be read.
    public func series() async throws -> [SeriesInfo] {
        try await rebaseIfSynchronized()
        return try await database.perform { c in
            let statement = try c.statement("""
                SELECT s.name, s.quantity, s.unit, count(p.t), min(p.t), max(p.t)
                FROM iotsdk_ts_series s LEFT JOIN iotsdk_ts_points p ON p.series_id = s.id
                GROUP BY s.id ORDER BY s.name
                """)
            defer { statement.reset() }
            var result: [SeriesInfo] = []
            while try statement.step() {
                let count = Int(statement.int64(3))
                result.append(SeriesInfo(
                    name: statement.text(0), quantity: statement.text(1), unit: statement.text(2), count: count,
                    first: count > 0 ? Timestamp(nanosecondsSinceEpoch: statement.int64(4)) : nil,
                    last: count > 0 ? Timestamp(nanosecondsSinceEpoch: statement.int64(5)) : nil))
            }
            return result
        }
    }

    /// Deletes `series` and all its readings; its name can then be bound to another quantity.
    ///
    /// - Returns: The number of readings deleted.
    /// It runs without the free-space guard, so that data can be deleted to free a nearly full disk.
    ///
    /// - Throws: `StorageError`: `.notFound` for an unknown series; `.diskFull` when the disk has
    ///   no room left at all (SQLite needs a little room in the log even to delete).
    @discardableResult
    public func delete(series: String) async throws -> Int {
        try await database.write(checkingFreeSpace: false) { c in
            guard let binding = try SeriesBinding.find(c, name: series) else {
                throw SeriesBinding.notFound(series, path: c.path)
            }
            let points = try c.statement("DELETE FROM iotsdk_ts_points WHERE series_id = ?")
            try points.bind(.integer(binding.id))
            try points.run()
            let deleted = c.changes
            let row = try c.statement("DELETE FROM iotsdk_ts_series WHERE id = ?")
            try row.bind(.integer(binding.id))
            try row.run()
            try TimeSeriesTotals.adjustRows(c, by: -deleted)
            return deleted
        }
    }

    /// `[from, to)` as an inclusive range of nanoseconds for SQL; nil when it is empty.
    static func closedRange(from: Timestamp?, to: Timestamp?) -> (lower: Int64, upper: Int64)? {
        let lower = from?.nanosecondsSinceEpoch ?? .min
        guard let to else { return (lower, .max) }
        let end = to.nanosecondsSinceEpoch
        guard end > lower else { return nil }
        return (lower, end - 1)
    }
}

/// Rows read on the database's queue, in plain arrays: generic code that is not specialised for
/// the caller's quantity pays for every generic array append, so typed readings are built once,
/// in one pass, by ``readings(as:)``.
struct RawPoints: Sendable {
    var t: [Int64] = []
    var v: [Double] = []
    /// Per row, whether its time is not synchronized; filled only when asked for.
    var unsynchronized: [Bool] = []

    mutating func reserve(_ count: Int) {
        t.reserveCapacity(count)
        v.reserveCapacity(count)
    }

    mutating func append(t time: Int64, v value: Double) {
        t.append(time)
        v.append(value)
    }

    func readings<Q: PhysicalQuantity>(as type: Q.Type) -> [Reading<Q>] {
        let count = t.count
        return [Reading<Q>](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            for i in 0..<count {
                (base + i).initialize(to: Reading(value: Q(baseValue: v[i]), timestamp: Timestamp(nanosecondsSinceEpoch: t[i])))
            }
            initialized = count
        }
    }
}
