/// What one store holds, and what its retention policy has deleted; for the whole file, see
/// `Database.usage()`.
public struct StoreUsage: Sendable, Hashable {
    /// Rows the store holds now.
    public var rows: Int
    /// The bytes those rows take in the file, estimated as rows × ``bytesPerRow``.
    public var estimatedBytes: Int64
    /// The per-row estimate used for ``estimatedBytes`` and for `RetentionPolicy.maxBytes`.
    public var bytesPerRow: Int
    /// Rows deleted because they were older than the policy's `maxAge`, since the store was created.
    public var droppedByAge: Int
    /// Rows deleted to make room under `.dropOldest`, since the store was created.
    public var droppedByQuota: Int
    /// The row limit that `maxRows` and `maxBytes` set together; nil when neither is set.
    public var rowLimit: Int?

    public init(rows: Int, bytesPerRow: Int, droppedByAge: Int, droppedByQuota: Int, rowLimit: Int?) {
        self.rows = rows
        self.bytesPerRow = bytesPerRow
        self.estimatedBytes = Int64(rows) * Int64(bytesPerRow)
        self.droppedByAge = droppedByAge
        self.droppedByQuota = droppedByQuota
        self.rowLimit = rowLimit
    }
}

/// What a store's retention policy deleted in one write or one explicit run.
public struct RetentionReport: Sendable, Hashable {
    /// Rows deleted for being older than `maxAge`.
    public var droppedByAge: Int
    /// Oldest rows deleted to make room under `.dropOldest`.
    public var droppedByQuota: Int

    public init(droppedByAge: Int = 0, droppedByQuota: Int = 0) {
        self.droppedByAge = droppedByAge
        self.droppedByQuota = droppedByQuota
    }

    /// Rows deleted in all.
    public var dropped: Int { droppedByAge + droppedByQuota }
}
