import CSQLite
import Foundation

/// A plain sqlite3 connection, opened beside (or instead of) the SDK's `Database`: to make files the
/// SDK did not make, and to read back what the SDK stored without going through the code under test.
final class RawSQLiteFile {
    private var db: OpaquePointer?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Opens `path`; `create` makes the file when it is missing.
    init(path: String, create: Bool = false, readOnly: Bool = false) throws {
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "rc \(rc)"
            sqlite3_close_v2(db)
            throw Failure(description: "cannot open \(path): \(message)")
        }
    }

    deinit { sqlite3_close_v2(db) }

    /// Runs statements that return no rows.
    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(db, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw Failure(description: "\(sql): \(text)")
        }
    }

    /// The first column of every row of `sql`, as integers.
    func integers(_ sql: String) throws -> [Int64] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        var values: [Int64] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: values.append(sqlite3_column_int64(statement, 0))
            case SQLITE_DONE: return values
            default: throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }
    }

    /// Whether a table named `name` exists.
    func hasTable(_ name: String) throws -> Bool {
        try integers("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '\(name)'") == [1]
    }
}

/// SplitMix64: a seeded generator, so that a printed seed reproduces a test's random choices.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
