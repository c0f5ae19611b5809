/// Every error local storage throws. The message says what happened and what to do.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The file at the database path is not an SQLite database. It was left untouched.
        case notADatabase
        /// The file is an SQLite database, but not one this SDK made. It was left untouched.
        case foreignDatabase
        /// SQLite found the database damaged.
        case corrupt
        /// The database was written by a newer schema that this code cannot read safely.
        case schemaTooNew
        /// A migration failed; the database is as it was before it.
        case migrationFailed
        /// The store's quota is reached and its policy is to reject new data.
        case quotaExceeded
        /// The file system is full (or below the configured free-space guard).
        case diskFull
        /// A series, key or message does not exist.
        case notFound
        /// The data does not fit the store: another unit in a series, a value that does not decode.
        case typeMismatch
        /// Invalid arguments (an empty topic, a negative TTL, a batch size of zero…).
        case invalidArgument
        /// Another process holds the database locked for longer than the busy timeout.
        case busy
        /// The database was closed.
        case closed
        /// Any other SQLite or I/O failure.
        case ioError
    }

    public var code: Code
    public var message: String
    /// The SQLite result code (extended), when SQLite reported one.
    public var sqliteCode: Int32?
    /// The database path, when known.
    public var path: String?

    public init(_ code: Code, _ message: String, sqliteCode: Int32? = nil, path: String? = nil) {
        self.code = code
        self.message = message
        self.sqliteCode = sqliteCode
        self.path = path
    }

    public var description: String {
        var text = message
        if let sqliteCode { text += " (SQLite code \(sqliteCode))" }
        return text
    }
}
