/// How long a store keeps data and how much of it, and what happens when it is full.
///
/// A store applies its policy inside the transaction of every write, so a limit is never exceeded
/// after a write returns:
/// - ``maxAge``: rows older than `now − maxAge` (by their own timestamp, against the wall clock)
///   are deleted, including rows of the write itself that are already too old.
/// - ``maxRows`` and ``maxBytes``: once the store would hold more, ``whenFull`` decides.
///   ``WhenFull/rejectNew`` fails the write with `StorageError` code `.quotaExceeded` and rolls
///   it back, so nothing already stored is lost; ``WhenFull/dropOldest`` deletes the oldest rows
///   (by timestamp, across the whole store) until the write fits, and reports how many.
///
/// Byte limits are checked against an estimate (rows × the store's bytes per row), so that a
/// write never has to measure the file; `Database.usage()` reports the file's real size. The
/// free-disk-space guard (`Database.Options.minimumFreeDiskSpace`) applies on top of any policy.
///
/// ```swift
/// // Keep 30 days, at most 50 MB; when full, make room by dropping the oldest readings.
/// let policy = RetentionPolicy(maxAge: .seconds(30 * 86_400), maxBytes: 50_000_000, whenFull: .dropOldest)
/// ```
public struct RetentionPolicy: Sendable, Hashable {
    /// What a write does when the store is at its row or byte limit.
    public enum WhenFull: String, Sendable, Hashable {
        /// The write fails with `.quotaExceeded`; the store keeps what it has.
        case rejectNew
        /// The oldest rows are deleted to make room; the write succeeds and reports the count.
        case dropOldest
    }

    /// Rows older than this (relative to the wall clock at the time of a write) are deleted; nil
    /// keeps rows of any age.
    public var maxAge: Duration?
    /// The most rows the store holds; nil for no row limit.
    public var maxRows: Int?
    /// The most bytes the store's rows may take, estimated; nil for no byte limit.
    public var maxBytes: Int64?
    /// What happens when a write would exceed ``maxRows`` or ``maxBytes``.
    public var whenFull: WhenFull

    /// Creates a policy; every limit is optional.
    public init(maxAge: Duration? = nil, maxRows: Int? = nil, maxBytes: Int64? = nil, whenFull: WhenFull = .rejectNew) {
        self.maxAge = maxAge
        self.maxRows = maxRows
        self.maxBytes = maxBytes
        self.whenFull = whenFull
    }

    /// No limits: data is kept until it is deleted (the disk-space guard still applies).
    public static let unlimited = RetentionPolicy()

    /// True when the policy sets no limit at all.
    public var isUnlimited: Bool { maxAge == nil && maxRows == nil && maxBytes == nil }

    /// The most rows a store may hold under ``maxRows`` and ``maxBytes`` together, when each row
    /// takes about `bytesPerRow` bytes; nil when neither is set.
    public func rowLimit(bytesPerRow: Int) -> Int? {
        let byBytes = maxBytes.map { Int($0 / Int64(max(bytesPerRow, 1))) }
        switch (maxRows, byBytes) {
        case let (rows?, bytes?): return min(rows, bytes)
        case let (rows?, nil): return rows
        case let (nil, bytes?): return bytes
        case (nil, nil): return nil
        }
    }

    /// The wall-clock instant before which rows are too old at `now`; nil without ``maxAge``.
    public func ageCutoff(now: Timestamp) -> Timestamp? {
        guard let maxAge else { return nil }
        let nanoseconds = Self.nanoseconds(maxAge)
        // A limit longer than the representable past keeps everything.
        let (cutoff, overflow) = now.nanosecondsSinceEpoch.subtractingReportingOverflow(nanoseconds)
        return overflow ? nil : Timestamp(nanosecondsSinceEpoch: cutoff)
    }

    /// Checks that the limits make sense.
    ///
    /// - Throws: `StorageError` `.invalidArgument` for a limit that is zero or negative.
    public func validate() throws(StorageError) {
        if let maxAge, maxAge <= .zero {
            throw StorageError(.invalidArgument, "RetentionPolicy.maxAge must be positive (got \(maxAge)); use nil to keep rows of any age")
        }
        if let maxRows, maxRows <= 0 {
            throw StorageError(.invalidArgument, "RetentionPolicy.maxRows must be positive (got \(maxRows)); use nil for no row limit")
        }
        if let maxBytes, maxBytes <= 0 {
            throw StorageError(.invalidArgument, "RetentionPolicy.maxBytes must be positive (got \(maxBytes)); use nil for no byte limit")
        }
    }

    /// How many of the oldest rows a store must delete to hold `rows`, under this policy.
    ///
    /// For stores that implement their own quota: call it inside the write's transaction with
    /// the row count the write would leave, and delete the returned number of oldest rows.
    ///
    /// - Returns: 0 when `rows` fits (or there is no limit); otherwise the excess, with
    ///   ``WhenFull/dropOldest``.
    /// - Throws: `StorageError` `.quotaExceeded` with ``WhenFull/rejectNew`` when `rows` exceeds
    ///   the limit; the caller's transaction must then roll back.
    public func excessRows(_ rows: Int, bytesPerRow: Int, store: String) throws(StorageError) -> Int {
        guard let limit = rowLimit(bytesPerRow: bytesPerRow), rows > limit else { return 0 }
        switch whenFull {
        case .dropOldest:
            return rows - limit
        case .rejectNew:
            throw StorageError(.quotaExceeded, "\(store) is full: the write would make \(rows) rows, above its limit of \(limit) (\(describeLimits(bytesPerRow: bytesPerRow))). It was rejected and nothing stored was lost. Delete data, raise the limit, or choose whenFull: .dropOldest")
        }
    }

    func describeLimits(bytesPerRow: Int) -> String {
        var parts: [String] = []
        if let maxRows { parts.append("maxRows \(maxRows)") }
        if let maxBytes { parts.append("maxBytes \(maxBytes) at about \(bytesPerRow) bytes per row") }
        return parts.joined(separator: ", ")
    }

    /// Whole nanoseconds of `duration`, saturating at `Int64.max`.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? (seconds < 0 ? .min : .max) : sum
    }
}
