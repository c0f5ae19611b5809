import CSQLite

/// One SQLite connection. Not thread-safe: `Database` confines it to its own serial queue, which is
/// what makes handing it to the queue's closures sound.
final class SQLiteConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    let path: String
    private var cache: [String: SQLiteStatement] = [:]

    /// Opens (or, with `create`, creates) the database at `path`.
    init(path: String, create: Bool) throws(StorageError) {
        self.path = path
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        if create { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw StorageError(.ioError,
                               "cannot open the database at \(path): \(message). Check that its folder exists and is writable",
                               sqliteCode: rc, path: path)
        }
        sqlite3_extended_result_codes(db, 1)
        handle = db
    }

    deinit { close() }

    func close() {
        cache.values.forEach { $0.finalize() }
        cache.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    var db: OpaquePointer? { handle }

    // MARK: - Running SQL

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(StorageError) {
        guard let handle else { throw closedError }
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw error(rc, text, sql: sql)
        }
    }

    /// A prepared statement for `sql`, cached for reuse; reset and with bindings cleared.
    func statement(_ sql: String) throws(StorageError) -> SQLiteStatement {
        if let cached = cache[sql] {
            cached.reset()
            return cached
        }
        guard let handle else { throw closedError }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else {
            throw error(rc, String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        let statement = SQLiteStatement(raw, connection: self)
        cache[sql] = statement
        return statement
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT), rolled back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The single integer a query returns (a pragma, a count), or nil for no row.
    func scalar(_ sql: String) throws(StorageError) -> Int64? {
        let statement = try self.statement(sql)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.int64(0)
    }

    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    // MARK: - Errors

    var closedError: StorageError { StorageError(.closed, "the database at \(path) was closed", path: path) }

    /// Maps an SQLite result code to a typed error that says what to do.
    func error(_ rc: Int32, _ message: String, sql: String? = nil) -> StorageError {
        let primary = rc & 0xFF
        let context = sql.map { " while running \($0.prefix(80))" } ?? ""
        switch primary {
        case SQLITE_NOTADB:
            return StorageError(.notADatabase, "\(path) is not an SQLite database; it was left untouched. Move it away or choose another path", sqliteCode: rc, path: path)
        case SQLITE_CORRUPT:
            return StorageError(.corrupt, "the database at \(path) is damaged (\(message))\(context). Restore it from a backup or move it away to start empty", sqliteCode: rc, path: path)
        case SQLITE_FULL:
            return StorageError(.diskFull, "the disk holding \(path) is full, or the database reached its size limit (Options.maximumBytes; inside the plugin host, the module's storageQuotaBytes)\(context); nothing already stored was lost. Free space, lower the retention or raise the limit", sqliteCode: rc, path: path)
        case SQLITE_BUSY, SQLITE_LOCKED:
            return StorageError(.busy, "the database at \(path) is locked by another connection\(context)", sqliteCode: rc, path: path)
        case SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM:
            return StorageError(.ioError, "cannot write the database at \(path) (\(message)): check the permissions of the file and its folder", sqliteCode: rc, path: path)
        default:
            return StorageError(.ioError, "SQLite error on \(path): \(message)\(context)", sqliteCode: rc, path: path)
        }
    }
}
