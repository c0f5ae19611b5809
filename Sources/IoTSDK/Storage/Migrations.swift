#if canImport(Glibc)
import Glibc
#endif

/// One step of a schema's history.
public struct Migration: Sendable {
    /// 1, 2, 3…: applied in order, each once.
    public var version: Int
    public var name: String
    /// True when the change only adds (tables, columns with defaults, indexes), so that an older
    /// version of the app, after a rollback, can still use the database. A migration that renames,
    /// drops or reinterprets data must say false: the older app then refuses to open the database
    /// with `.schemaTooNew` instead of misreading it.
    public var keepsOlderCodeWorking: Bool
    public var apply: @Sendable (MigrationContext) throws -> Void

    public init(version: Int, name: String, keepsOlderCodeWorking: Bool = true,
                apply: @escaping @Sendable (MigrationContext) throws -> Void) {
        self.version = version
        self.name = name
        self.keepsOlderCodeWorking = keepsOlderCodeWorking
        self.apply = apply
    }

    /// A migration that runs SQL statements.
    public static func sql(_ version: Int, _ name: String, keepsOlderCodeWorking: Bool = true, _ sql: String) -> Migration {
        Migration(version: version, name: name, keepsOlderCodeWorking: keepsOlderCodeWorking) { try $0.execute(sql) }
    }
}

/// What a migration can do: run SQL inside the migration's transaction.
public struct MigrationContext {
    let connection: SQLiteConnection

    /// Runs one or more SQL statements.
    public func execute(_ sql: String) throws {
        try connection.execute(sql)
    }
}

/// What `migrate` did.
public struct MigrationReport: Sendable, Hashable {
    /// The schema's version before.
    public var from: Int
    /// The schema's version now.
    public var to: Int
    /// The migrations applied now, by version.
    public var applied: [Int]
    /// True when the database is at a newer version than this code knows, and every newer
    /// migration keeps older code working (the state after an app rollback).
    public var newerButCompatible: Bool
}

extension Database {
    /// Brings `schema` up to the newest of `migrations`, applying the missing ones in order in one
    /// transaction: an interrupted upgrade leaves the previous version, never a half-applied one.
    ///
    /// Each schema (the app's, each store's) has its own version. Run this from the app's start-up
    /// or its install hook.
    ///
    /// - Throws: `.schemaTooNew` when the database was migrated by a newer version of the app with
    ///   a change that older code cannot use; `.migrationFailed` naming the migration that failed
    ///   (nothing was changed); `.invalidArgument` for duplicate or non-positive versions.
    @discardableResult
    public func migrate(schema: String, to migrations: [Migration]) async throws -> MigrationReport {
        let sorted = migrations.sorted { $0.version < $1.version }
        guard sorted.allSatisfy({ $0.version > 0 }), Set(sorted.map(\.version)).count == sorted.count else {
            throw StorageError(.invalidArgument, "migrations of schema '\(schema)' need distinct versions from 1 up; got \(migrations.map(\.version))")
        }
        let known = sorted.last?.version ?? 0
        let path = self.path
        // Up to date, or newer but compatible (after a rollback): decided by a read, so that
        // opening a store works on a full disk.
        let recorded = try await perform { c in
            try Self.appliedMigrations(c, schema: schema).map { (version: $0.key, keepsOlder: $0.value.keepsOlder) }
        }
        let current = recorded.map(\.version).max() ?? 0
        if current == known {
            return MigrationReport(from: current, to: current, applied: [], newerButCompatible: false)
        }
        if current > known && recorded.allSatisfy({ $0.version <= known || $0.keepsOlder }) {
            return MigrationReport(from: current, to: current, applied: [], newerButCompatible: true)
        }
        return try await write { c in
            let applied = try Self.appliedMigrations(c, schema: schema)
            let current = applied.keys.max() ?? 0
            if current > known {
                let incompatible = applied.filter { $0.key > known && !$0.value.keepsOlder }.sorted { $0.key < $1.key }
                if let first = incompatible.first {
                    throw StorageError(.schemaTooNew, "schema '\(schema)' of \(path) is at version \(current), written by a newer version of the app; its migration \(first.key) (\(first.value.name)) changed data that this version (which knows up to \(known)) cannot read. Update the app again, or restore the database backup from before the update", path: path)
                }
                return MigrationReport(from: current, to: current, applied: [], newerButCompatible: true)
            }
            var done: [Int] = []
            for migration in sorted where migration.version > current {
                do {
                    try migration.apply(MigrationContext(connection: c))
                } catch let error as StorageError where [.diskFull, .corrupt, .busy, .quotaExceeded].contains(error.code) {
                    // What callers act on keeps its code; the message names the migration.
                    throw StorageError(error.code, "migration \(migration.version) (\(migration.name)) of schema '\(schema)' could not run: \(error.message). The database is unchanged", sqliteCode: error.sqliteCode, path: path)
                } catch {
                    throw StorageError(.migrationFailed, "migration \(migration.version) (\(migration.name)) of schema '\(schema)' failed: \(error). The database is unchanged", path: path)
                }
                let record = try c.statement("INSERT INTO iotsdk_migrations (schema, version, name, keeps_older_code_working, applied_at_ns) VALUES (?, ?, ?, ?, ?)")
                try record.bind(.text(schema), .integer(Int64(migration.version)), .text(migration.name),
                                .integer(migration.keepsOlderCodeWorking ? 1 : 0), .integer(Self.nowNanoseconds()))
                try record.run()
                done.append(migration.version)
            }
            return MigrationReport(from: current, to: max(current, known), applied: done, newerButCompatible: false)
        }
    }

    /// The version of `schema` in the database (0 when never migrated).
    public func schemaVersion(_ schema: String) async throws -> Int {
        try await perform { c in try Self.appliedMigrations(c, schema: schema).keys.max() ?? 0 }
    }

    static func appliedMigrations(_ c: SQLiteConnection, schema: String) throws(StorageError) -> [Int: (name: String, keepsOlder: Bool)] {
        let statement = try c.statement("SELECT version, name, keeps_older_code_working FROM iotsdk_migrations WHERE schema = ?")
        try statement.bind(.text(schema))
        var result: [Int: (name: String, keepsOlder: Bool)] = [:]
        while try statement.step() {
            result[Int(statement.int64(0))] = (statement.text(1), statement.int64(2) != 0)
        }
        return result
    }

    static func nowNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
