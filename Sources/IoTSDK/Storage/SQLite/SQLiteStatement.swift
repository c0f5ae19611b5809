import CSQLite

/// A prepared statement, owned by its connection's cache.
final class SQLiteStatement {
    private var raw: OpaquePointer?
    private unowned let connection: SQLiteConnection

    init(_ raw: OpaquePointer, connection: SQLiteConnection) {
        self.raw = raw
        self.connection = connection
    }

    func finalize() {
        sqlite3_finalize(raw)
        raw = nil
    }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    // MARK: - Binding (1-based indexes, as SQLite counts)

    @discardableResult
    func bind(_ values: SQLiteValue...) throws(StorageError) -> SQLiteStatement {
        try bind(values)
    }

    @discardableResult
    func bind(_ values: [SQLiteValue]) throws(StorageError) -> SQLiteStatement {
        for (i, value) in values.enumerated() {
            try bind(value, at: Int32(i + 1))
        }
        return self
    }

    func bind(_ value: SQLiteValue, at index: Int32) throws(StorageError) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(raw, index)
        case .integer(let v): rc = sqlite3_bind_int64(raw, index, v)
        case .real(let v): rc = sqlite3_bind_double(raw, index, v)
        case .text(let v):
            var text = v
            rc = text.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    ciot_sqlite3_bind_text(raw, index, chars.baseAddress, Int32(chars.count))
                }
            }
        case .blob(let bytes):
            rc = bytes.withUnsafeBytes { ciot_sqlite3_bind_blob(raw, index, $0.baseAddress, Int32($0.count)) }
        }
        if rc != SQLITE_OK {
            throw connection.error(rc, "binding parameter \(index)")
        }
    }

    // MARK: - Stepping

    /// Advances to the next row; false when done.
    func step() throws(StorageError) -> Bool {
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let message = connection.db.map { String(cString: sqlite3_errmsg($0)) } ?? ""
            sqlite3_reset(raw)
            throw connection.error(rc, message, sql: sqlite3_sql(raw).map { String(cString: $0) })
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(StorageError) {
        while try step() {}
        reset()
    }

    // MARK: - Columns (0-based)

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(raw, column) }

    func text(_ column: Int32) -> String {
        guard let chars = sqlite3_column_text(raw, column) else { return "" }
        return String(cString: chars)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let bytes = sqlite3_column_blob(raw, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}
