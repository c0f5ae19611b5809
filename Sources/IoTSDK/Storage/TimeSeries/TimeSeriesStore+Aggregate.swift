/// The readings of one time bucket, summarised: what ``TimeSeriesStore/aggregate(in:as:from:to:bucket:)`` returns.
public struct Bucket<Q: PhysicalQuantity>: Sendable, Hashable {
    /// The bucket's first instant (a multiple of the bucket width since the epoch).
    public var start: Timestamp
    /// The first instant after the bucket.
    public var end: Timestamp
    /// The smallest value in the bucket.
    public var min: Q
    /// The largest value in the bucket.
    public var max: Q
    /// The arithmetic mean of the base values (for a temperature, the mean in kelvin).
    public var mean: Q
    /// The number of readings in the bucket (at least 1: empty buckets are not returned).
    public var count: Int

    public init(start: Timestamp, end: Timestamp, min: Q, max: Q, mean: Q, count: Int) {
        self.start = start
        self.end = end
        self.min = min
        self.max = max
        self.mean = mean
        self.count = count
    }
}

extension TimeSeriesStore {
    /// Downsamples `series` into buckets of `bucket` width with the minimum, maximum, mean and
    /// count of each, computed in SQL (`GROUP BY` the bucket number; `min`, `max`, `avg`, `count`).
    ///
    /// Buckets are aligned to the epoch: with a width of 1 minute each starts at a whole UTC
    /// minute, whatever `from` is. Only buckets that hold readings are returned, oldest first; a
    /// bucket at the edge of `from..<to` summarises only the readings inside the range.
    ///
    /// - Parameters:
    ///   - series: The series' name.
    ///   - type: The quantity the series holds.
    ///   - from: The earliest instant included; nil for the series' start.
    ///   - to: The first instant excluded; nil for the series' end.
    ///   - bucket: The width of each bucket; at least 1 ns.
    /// - Throws: `StorageError`: `.notFound` for an unknown series; `.typeMismatch` when the
    ///   series holds another quantity than `Q`; `.invalidArgument` for a width under 1 ns.
    ///   `TimestampError` when the clocks cannot be read (to re-base readings stored before the
    ///   clock was synchronized).
    public func aggregate<Q: PhysicalQuantity>(in series: String, as type: Q.Type = Q.self,
                                               from: Timestamp? = nil, to: Timestamp? = nil,
                                               bucket: Duration) async throws -> [Bucket<Q>] {
        let width = RetentionPolicy.nanoseconds(bucket)
        guard width > 0 else {
            throw StorageError(.invalidArgument, "the bucket width must be at least 1 ns (got \(bucket))")
        }
        try await rebaseIfSynchronized()
        let range = Self.closedRange(from: from, to: to)
        return try await database.perform(inline: false) { c in
            let id = try SeriesBinding.forReading(c, name: series, Q.self)
            guard let range else { return [] }
            // floor(t / width) for negative t too, since SQLite's integer division truncates.
            let statement = try c.statement("""
                SELECT CASE WHEN t >= 0 THEN t / ?1 ELSE (t + 1) / ?1 - 1 END AS b,
                       min(v), max(v), avg(v), count(*)
                FROM iotsdk_ts_points WHERE series_id = ?2 AND t >= ?3 AND t <= ?4
                GROUP BY b ORDER BY b
                """)
            defer { statement.reset() }
            try statement.bind(.integer(width), .integer(id), .integer(range.lower), .integer(range.upper))
            var buckets: [Bucket<Q>] = []
            while try statement.step() {
                let start = Self.saturating(statement.int64(0), times: width)
                let (end, overflow) = start.addingReportingOverflow(width)
                buckets.append(Bucket(start: Timestamp(nanosecondsSinceEpoch: start),
                                      end: Timestamp(nanosecondsSinceEpoch: overflow ? .max : end),
                                      min: Q(baseValue: statement.double(1)), max: Q(baseValue: statement.double(2)),
                                      mean: Q(baseValue: statement.double(3)), count: Int(statement.int64(4))))
            }
            return buckets
        }
    }

    static func saturating(_ a: Int64, times b: Int64) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? (a < 0 ? .min : .max) : product
    }
}
