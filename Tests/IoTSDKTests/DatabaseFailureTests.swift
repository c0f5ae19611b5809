import Foundation
import IoTSDK
import Testing

/// What `Database` does when the file, the disk or the schema is not what it expects (issue #4): a
/// clear `StorageError` naming the fix, and nothing already stored lost or overwritten.
@Suite("Database failures")
struct DatabaseFailureTests {
    // MARK: - A file at the path that is not ours

    /// Contents that are not an SQLite database.
    enum NotADatabase: String, CaseIterable, Sendable {
        case randomBytes, textFile, shortTextFile, damagedHeader

        func bytes() -> [UInt8] {
            var random = SeededGenerator(state: 0xF11E)
            switch self {
            case .randomBytes:
                return (0..<16_384).map { _ in UInt8.random(in: 0...255, using: &random) }
            case .textFile:
                return Array(String(repeating: "time,temperature\n2024-05-01T12:00:00Z,21.5\n", count: 200).utf8)
            case .shortTextFile:
                return Array("hello\n".utf8)
            case .damagedHeader:
                // An SQLite file whose first 16 bytes ("SQLite format 3\0") were overwritten.
                return Array("not SQLite here!".utf8) + [UInt8](repeating: 0, count: 4_096 - 16)
            }
        }
    }

    @Test("a file that is not SQLite: .notADatabase, and the file is left byte for byte", arguments: NotADatabase.allCases)
    func notADatabase(contents: NotADatabase) throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        let bytes = contents.bytes()
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let error = try #require(throws: StorageError.self) { try Database(path: path) }
        #expect(error.code == .notADatabase)
        #expect(error.path == path)
        #expect(error.message.contains(path) && error.message.contains("left untouched"))
        #expect(try Self.contents(of: path) == bytes)
        #expect(try Self.files(in: folder) == ["app.sqlite"], "no -wal, -shm or -journal file is left behind")
    }

    @Test("an SQLite database made by another program: .foreignDatabase, untouched", arguments: [false, true])
    func foreignDatabase(walMode: Bool) throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/inventory.sqlite"
        do {
            let other = try RawSQLiteFile(path: path, create: true)
            if walMode { try other.execute("PRAGMA journal_mode = WAL") }
            try other.execute("""
                CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                INSERT INTO parts (name) VALUES ('bolt'), ('nut'), ('washer');
                """)
        }
        let before = try Self.contents(of: path)

        let error = try #require(throws: StorageError.self) { try Database(path: path) }
        #expect(error.code == .foreignDatabase)
        #expect(error.message.contains(path) && error.message.contains("Choose another path"))
        #expect(try Self.contents(of: path) == before)
        #expect(try Self.files(in: folder) == ["inventory.sqlite"])
        // The other program's data is still there.
        #expect(try RawSQLiteFile(path: path, readOnly: true).integers("SELECT count(*) FROM parts") == [3])
    }

    @Test("an empty SQLite database with another program's application_id: .foreignDatabase")
    func foreignApplicationID() throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/other.sqlite"
        do {
            let other = try RawSQLiteFile(path: path, create: true)
            try other.execute("PRAGMA application_id = 1234")
        }
        let before = try Self.contents(of: path)
        let error = try #require(throws: StorageError.self) { try Database(path: path) }
        #expect(error.code == .foreignDatabase)
        #expect(error.message.contains("application_id 1234"))
        #expect(try Self.contents(of: path) == before)
    }

    @Test("an empty file at the path becomes a new database")
    func emptyFileIsAdopted() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let database = try Database(path: path)
        try await Fixture.create(in: database)
        #expect(try await database.integrityCheck() == ["ok"])
        #expect(try RawSQLiteFile(path: path, readOnly: true).integers("PRAGMA application_id") == [0x496F_5453])
    }

    @Test("an SQLite file without tables (a crash while it was created) is adopted, and stays ours")
    func interruptedCreationIsAdopted() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        // What a process killed inside `Database.init` of a new file leaves: the header written by
        // `journal_mode = WAL`, no application_id, no table.
        do {
            let interrupted = try RawSQLiteFile(path: path, create: true)
            try interrupted.execute("PRAGMA journal_mode = WAL")
        }
        do {
            let database = try Database(path: path)
            try await Fixture.create(in: database, rows: 3)
        }
        // Opened again, it is the SDK's database, with its data.
        let database = try Database(path: path)
        #expect(try Fixture.readAll(in: database) == [1, 2, 3])
        #expect(try RawSQLiteFile(path: path, readOnly: true).integers("PRAGMA application_id") == [0x496F_5453])
    }

    // MARK: - Damage

    @Test("pages overwritten in the middle of the file: .corrupt, never a silent \"ok\"")
    func corruptPages() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        do {
            let database = try Database(path: path)
            try await Fixture.create(in: database, rows: 400, payloadBytes: 500)
            try await database.checkpoint()
        }
        try Self.overwriteMiddlePages(of: path)

        let detected: Bool
        do {
            let database = try Database(path: path)
            do {
                let findings = try await database.integrityCheck()
                detected = findings != ["ok"] && !findings.isEmpty
            } catch let error as StorageError {
                #expect(error.code == .corrupt, "\(error)")
                detected = true
            }
        } catch let error as StorageError {
            #expect(error.code == .corrupt, "\(error)")
            detected = true
        }
        #expect(detected)
    }

    @Test("pages overwritten under a store: reads fail with .corrupt, never return a wrong value")
    func corruptPagesUnderAStore() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        let keys = (0..<300).map { "reading.\($0)" }
        func value(_ key: String) -> String { String(repeating: key, count: 30) }   // no overflow pages
        do {
            let database = try Database(path: path, options: .init(durability: .normal))
            let store = try await KeyValueStore(database: database)
            for key in keys { try await store.set(value(key), for: key) }
            try await database.checkpoint()
        }
        try Self.overwriteMiddlePages(of: path)

        var errors: [StorageError] = []
        var intact = 0
        do {
            let store = try await KeyValueStore(database: try Database(path: path))
            for key in keys {
                do {
                    let read = try await store.value(String.self, for: key)
                    #expect(read == value(key), "a damaged database returned a wrong value for \(key)")
                    intact += 1
                } catch let error as StorageError {
                    errors.append(error)
                }
            }
        } catch let error as StorageError {
            errors.append(error)   // damage found while opening
        }
        #expect(!errors.isEmpty, "\(intact) values read back and no error: the damage went unnoticed")
        #expect(errors.allSatisfy { $0.code == .corrupt }, "\(errors.map(\.code))")
        #expect(errors.first?.message.contains("Restore it from a backup") == true)
    }

    // MARK: - The path and the disk

    @Test("a missing folder: a clear .ioError, and nothing is created")
    func missingFolder() throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/no/such/folder/app.sqlite"
        let error = try #require(throws: StorageError.self) { try Database(path: path) }
        #expect(error.code == .ioError)
        #expect(error.path == path)
        #expect(error.message.contains(path) && error.message.contains("folder exists"))
        #expect(try Self.files(in: folder) == [])
    }

    @Test("a folder at the path: .ioError")
    func folderAtPath() throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let error = try #require(throws: StorageError.self) { try Database(path: path) }
        #expect(error.code == .ioError)
        #expect(error.message.contains(path))
    }

    @Test("below the free-space guard: writes fail with .diskFull, everything stored stays readable")
    func diskSpaceGuard() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        do {
            let database = try Database(path: path)
            try await Fixture.create(in: database, rows: 50)
        }
        // A guard above the free space of any disk this test runs on.
        let guardBytes = Int64(1) << 60
        let database = try Database(path: path, options: .init(minimumFreeDiskSpace: guardBytes))
        let usage = try await database.usage()
        #expect(usage.freeDiskBytes > 0 && usage.freeDiskBytes < guardBytes)
        #expect(usage.databaseBytes > 0)

        let error = try await #require(throws: StorageError.self) {
            try await database.migrate(schema: "app.more", to: [.sql(1, "more", "CREATE TABLE more (x)")])
        }
        #expect(error.code == .diskFull)
        #expect(error.message.contains("free") && error.message.contains("nothing stored was lost"))
        #expect(try await database.schemaVersion("app.more") == 0)
        #expect(try Fixture.readAll(in: database) == Array(1...50))
        #expect(try await database.integrityCheck() == ["ok"])
    }

    @Test("below the free-space guard, the stores: writes refused with .diskFull; reading and draining work")
    func diskSpaceGuardWithStores() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        do {
            let database = try Database(path: path)
            let settings = try await KeyValueStore(database: database, namespace: "settings")
            try await settings.set(30, for: "interval")
            try await settings.set("greenhouse 2", for: "site")
            let outbox = try await Outbox(database: database)
            for i in 1...3 { try await outbox.enqueue(topic: "telemetry", payload: [UInt8(i)]) }
            try await TimeSeriesStore(database: database).append(Self.pressures(1...100), to: "tank")
        }
        let database = try Database(path: path, options: .init(minimumFreeDiskSpace: 1 << 60))
        // Up-to-date stores open without writing.
        let settings = try await KeyValueStore(database: database, namespace: "settings")
        let outbox = try await Outbox(database: database)
        let series = try await TimeSeriesStore(database: database)

        for attempt in [
            { try await settings.set(60, for: "interval") },
            { _ = try await settings.update("interval", default: 0) { $0 += 1 } },
            { _ = try await outbox.enqueue(topic: "telemetry", payload: [9]) },
            { _ = try await series.append(Self.pressures(101...101), to: "tank") },
        ] as [@Sendable () async throws -> Void] {
            let error = try await #require(throws: StorageError.self) { try await attempt() }
            #expect(error.code == .diskFull)
            #expect(error.message.contains("nothing stored was lost"))
        }
        #expect(try await settings.value(Int.self, for: "interval") == 30)
        #expect(try await settings.value(String.self, for: "site") == "greenhouse 2")
        // Freeing space and draining do not need room.
        #expect(try await settings.remove("site"))
        let batch = try await outbox.take(batch: 10, lease: .seconds(60))
        #expect(batch.map(\.payload) == [[1], [2], [3]])
        #expect(try await outbox.acknowledge(batch) == 3)
        #expect(try await series.readings(in: "tank", as: Pressure.self) == Self.pressures(1...100))
        #expect(try await series.delete(series: "tank") == 100)
        #expect(try await database.integrityCheck() == ["ok"])
    }

    @Test("a page quota (PRAGMA max_page_count) reached: .diskFull, nothing stored is lost, deleting makes room")
    func pageQuota() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        let database = try Database(path: path, options: .init(durability: .normal))
        let store = try await KeyValueStore(database: database)
        let series = try await TimeSeriesStore(database: database)
        let block = String(repeating: "x", count: 3_000)
        for i in 0..<10 { try await store.set(block + "\(i)", for: "kept.\(i)") }

        // The limit is per connection; a migration step runs on the SDK's connection.
        let pages = try RawSQLiteFile(path: path, readOnly: true).integers("PRAGMA page_count").first ?? 0
        try await database.migrate(schema: "test.quota", to: [.sql(1, "page quota", "PRAGMA max_page_count = \(pages + 8)")])

        var stored = 0
        var refusal: StorageError?
        for i in 0..<100 {
            do {
                try await store.set(block, for: "more.\(i)")
                stored += 1
            } catch let error as StorageError {
                refusal = error
                break
            }
        }
        let error = try #require(refusal, "100 values of 3 kB fitted in \(pages + 8) pages")
        #expect(error.code == .diskFull)
        #expect(error.sqliteCode.map { $0 & 0xFF } == 13)   // SQLITE_FULL
        #expect(error.message.contains("nothing already stored was lost"))
        #expect(stored > 0 && stored < 8)

        // Everything stored before is intact; the refused value is not half there.
        for i in 0..<10 { #expect(try await store.value(String.self, for: "kept.\(i)") == block + "\(i)") }
        #expect(try await store.contains("more.\(stored)") == false)
        #expect(try await store.keys(prefix: "more.").count == stored)
        #expect(try await database.integrityCheck() == ["ok"])

        // A batch of readings that does not fit is refused whole.
        let batch = try await #require(throws: StorageError.self) { try await series.append(Self.pressures(1...5_000), to: "tank") }
        #expect(batch.code == .diskFull)
        #expect(try await series.usage().rows == 0)

        // Removing values frees pages that the next writes use.
        for i in 0..<5 { #expect(try await store.remove("kept.\(i)")) }
        try await store.set(block, for: "after removing")
        #expect(try await store.value(String.self, for: "after removing") == block)
    }

    // MARK: - Migrations

    @Test("pending migrations are applied in order, in one transaction, each once")
    func pendingMigrationsInOrder() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        let database = try Database(path: path)
        let v1: [Migration] = [Migrations.log(1, "CREATE TABLE log (step INTEGER)")]
        let first = try await database.migrate(schema: "app", to: v1)
        #expect(Self.summary(first) == "0→1 [1]")

        // An update brings three new steps, given out of order; each depends on the one before.
        let v4 = v1 + [
            Migrations.log(4, "ALTER TABLE readings ADD COLUMN unit TEXT NOT NULL DEFAULT 'degC'"),
            Migrations.log(2, "CREATE TABLE readings (t INTEGER, v REAL)"),
            Migrations.log(3, "INSERT INTO readings (t, v) VALUES (1, 21.5)"),
        ]
        let update = try await database.migrate(schema: "app", to: v4)
        #expect(Self.summary(update) == "1→4 [2, 3, 4]")
        #expect(try await database.schemaVersion("app") == 4)
        let raw = try RawSQLiteFile(path: path, readOnly: true)
        #expect(try raw.integers("SELECT step FROM log ORDER BY rowid") == [1, 2, 3, 4])
        #expect(try raw.integers("SELECT count(*) FROM readings WHERE unit = 'degC'") == [1])

        // Running them again changes nothing; other schemas keep their own versions.
        #expect(try await database.migrate(schema: "app", to: v4).applied == [])
        #expect(try await database.schemaVersion("other") == 0)
        #expect(try raw.integers("SELECT count(*) FROM log") == [4])
    }

    @Test("a failing migration: .migrationFailed naming it, schema and data unchanged")
    func failingMigration() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        let database = try Database(path: path)
        try await Fixture.create(in: database, rows: 10)

        struct Refused: Error {}
        let broken: [Migration] = Fixture.migrations + [
            .sql(2, "add sensors", "CREATE TABLE sensors (id INTEGER PRIMARY KEY); INSERT INTO fixture (id, payload) VALUES (1000, x'00')"),
            .sql(3, "typo", "ALTER TABLE fixtur ADD COLUMN unit TEXT"),
        ]
        let error = try await #require(throws: StorageError.self) { try await database.migrate(schema: Fixture.schema, to: broken) }
        #expect(error.code == .migrationFailed)
        #expect(error.message.contains("migration 3 (typo)") && error.message.contains("unchanged"))

        let throwing: [Migration] = Fixture.migrations + [
            Migration(version: 2, name: "checks the data") { context in
                try context.execute("DELETE FROM fixture")
                throw Refused()
            },
        ]
        let second = try await #require(throws: StorageError.self) { try await database.migrate(schema: Fixture.schema, to: throwing) }
        #expect(second.code == .migrationFailed)
        #expect(second.message.contains("migration 2 (checks the data)"))

        // Migration 2 of the first attempt ran, but was rolled back with 3; the second's delete too.
        #expect(try await database.schemaVersion(Fixture.schema) == 1)
        let raw = try RawSQLiteFile(path: path, readOnly: true)
        #expect(try raw.hasTable("sensors") == false)
        #expect(try Fixture.readAll(in: database) == Array(1...10))
        #expect(try await database.integrityCheck() == ["ok"])
    }

    @Test("after a rollback of the app: only additive newer migrations open with newerButCompatible")
    func rollbackAfterAdditiveMigrations() async throws {
        let folder = try ScratchDatabaseFolder()
        let database = try Database(path: folder.path + "/app.sqlite")
        let old: [Migration] = [.sql(1, "readings", "CREATE TABLE readings (t INTEGER, v REAL)")]
        let new = old + [
            .sql(2, "index on t", "CREATE INDEX readings_t ON readings (t)"),
            .sql(3, "unit column", "ALTER TABLE readings ADD COLUMN unit TEXT"),
        ]
        try await database.migrate(schema: "app", to: new)

        // The older app starts again on the database the newer one migrated.
        let report = try await database.migrate(schema: "app", to: old)
        #expect(Self.summary(report) == "3→3 [] newerButCompatible")
        #expect(try await database.schemaVersion("app") == 3)
        // And the newer app, updated again, finds nothing to do.
        #expect(Self.summary(try await database.migrate(schema: "app", to: new)) == "3→3 []")
    }

    @Test("after a rollback of the app: an incompatible newer migration throws .schemaTooNew")
    func rollbackAfterIncompatibleMigration() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/app.sqlite"
        let database = try Database(path: path)
        let old: [Migration] = [.sql(1, "readings", "CREATE TABLE readings (t INTEGER, v REAL)")]
        let new = old + [
            .sql(2, "unit column", "ALTER TABLE readings ADD COLUMN unit TEXT"),
            .sql(3, "kelvin to celsius", keepsOlderCodeWorking: false, "UPDATE readings SET v = v - 273.15"),
        ]
        try await database.migrate(schema: "app", to: new)

        for olderApp in [old, Array(new.prefix(2))] {
            let error = try await #require(throws: StorageError.self) { try await database.migrate(schema: "app", to: olderApp) }
            #expect(error.code == .schemaTooNew)
            #expect(error.message.contains("migration 3 (kelvin to celsius)") && error.message.contains("restore the database backup"))
        }
        #expect(try await database.schemaVersion("app") == 3)
    }

    @Test("migrations with duplicate or non-positive versions: .invalidArgument, nothing applied")
    func invalidMigrationVersions() async throws {
        let folder = try ScratchDatabaseFolder()
        let database = try Database(path: folder.path + "/app.sqlite")
        for migrations: [Migration] in [
            [.sql(1, "a", "CREATE TABLE a (x)"), .sql(1, "b", "CREATE TABLE b (x)")],
            [.sql(0, "zero", "CREATE TABLE z (x)")],
        ] {
            let error = try await #require(throws: StorageError.self) { try await database.migrate(schema: "app", to: migrations) }
            #expect(error.code == .invalidArgument)
        }
        #expect(try await database.schemaVersion("app") == 0)
    }

    // MARK: - Concurrency

    @Test("many tasks at once on the database and its stores: every write lands, the file stays sound")
    func concurrentTasks() async throws {
        let folder = try ScratchDatabaseFolder()
        let database = try Database(path: folder.path + "/app.sqlite", options: .init(durability: .normal))
        try await Fixture.create(in: database)
        let store = try await KeyValueStore(database: database)
        let outbox = try await Outbox(database: database)
        let series = try await TimeSeriesStore(database: database)
        let tasks = 48
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 1...tasks {
                group.addTask {
                    // A transaction of two rows, a schema, a setting, a counter and a message per task.
                    try await Fixture.insert([Int64(task), Int64(task + 1_000)], in: database, as: "task \(task)")
                    try await database.migrate(schema: "task.\(task)", to: [.sql(1, "table", "CREATE TABLE task_\(task) (x)")])
                    try await store.set(task, for: "task.\(task)")
                    try await store.update("counter", default: 0) { $0 += 1 }
                    try await outbox.enqueue(topic: "telemetry", payload: Array(String(task).utf8))
                    // Ten readings per task, interleaved in time with every other task's.
                    let t = Int64(task)
                    try await series.append(Self.pressures(stride(from: t, to: t + Int64(tasks) * 10, by: tasks)), to: "tank")
                }
                if task % 6 == 0 {
                    group.addTask {
                        // Readers in between: none sees a half-done transaction.
                        let findings = try await database.integrityCheck()
                        #expect(findings == ["ok"])
                        let stats = try await outbox.statistics()
                        #expect(stats.pending <= tasks)
                        _ = try await store.keys(prefix: "task.")
                        _ = try await series.usage()
                        _ = try await database.usage()
                    }
                }
            }
            try await group.waitForAll()
        }
        let rows = try Fixture.readAll(in: database)
        #expect(rows == Array(1...Int64(tasks)) + Array(1_001...Int64(1_000 + tasks)))
        #expect(try await store.value(Int.self, for: "counter") == tasks)
        #expect(try await store.keys(prefix: "task.").count == tasks)
        for task in [1, tasks / 2, tasks] {
            #expect(try await database.schemaVersion("task.\(task)") == 1)
            #expect(try await store.value(Int.self, for: "task.\(task)") == task)
        }
        #expect(try await series.readings(in: "tank", as: Pressure.self) == Self.pressures(1...Int64(tasks * 10)))
        #expect(try await series.usage().rows == tasks * 10)
        let messages = try await outbox.take(batch: tasks * 2, lease: .seconds(60))
        #expect(Set(messages.map { String(decoding: $0.payload, as: UTF8.self) }) == Set((1...tasks).map(String.init)))
        #expect(try await database.integrityCheck() == ["ok"])
    }

    // MARK: - Helpers

    /// "from→to [applied]", and " newerButCompatible" when set.
    static func summary(_ report: MigrationReport) -> String {
        "\(report.from)→\(report.to) \(report.applied)" + (report.newerButCompatible ? " newerButCompatible" : "")
    }

    static func contents(of path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Overwrites six pages in the middle of the file with seeded random bytes, in place. Never page
    /// 1, whose header would make the file `.notADatabase` instead.
    static func overwriteMiddlePages(of path: String, pageSize: Int = 4_096) throws {
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        let pages = size / pageSize
        try #require(pages > 20, "the database should span many pages; it has \(pages)")
        var random = SeededGenerator(state: 0xC0DE)
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? file.close() }
        try file.seek(toOffset: UInt64((pages / 2 - 3) * pageSize))
        try file.write(contentsOf: Data((0..<(6 * pageSize)).map { _ in UInt8.random(in: 0...255, using: &random) }))
        try file.synchronize()
    }

    /// Readings of n Pa at n seconds after the epoch, one per n.
    static func pressures<S: Sequence<Int64>>(_ ns: S) -> [Reading<Pressure>] {
        ns.map { Reading(value: Pressure(baseValue: Double($0)), timestamp: Timestamp(nanosecondsSinceEpoch: $0 * 1_000_000_000)) }
    }

    static func files(in folder: ScratchDatabaseFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }
}

/// Migrations that write a log of their own steps, to see their order.
private enum Migrations {
    static func log(_ version: Int, _ sql: String) -> Migration {
        Migration(version: version, name: "step \(version)") { context in
            try context.execute(sql)
            try context.execute("INSERT INTO log (step) VALUES (\(version))")
        }
    }
}

/// A table of the test's own, written through the public API: a schema (`migrate`), and rows
/// inserted by one-step schemas, each applied in one transaction of `Database`.
private enum Fixture {
    static let schema = "test.fixture"
    static let migrations: [Migration] = [
        .sql(1, "fixture table", "CREATE TABLE fixture (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)"),
    ]

    /// Creates the table and rows 1...rows.
    static func create(in database: Database, rows: Int = 0, payloadBytes: Int = 16) async throws {
        try await database.migrate(schema: schema, to: migrations)
        if rows > 0 { try await insert((1...Int64(rows)).map { $0 }, in: database, as: "initial rows", payloadBytes: payloadBytes) }
    }

    /// Inserts rows with `ids` in one transaction.
    static func insert(_ ids: [Int64], in database: Database, as name: String, payloadBytes: Int = 16) async throws {
        let step = Migration(version: 1, name: name) { context in
            for id in ids { try context.execute("INSERT INTO fixture (id, payload) VALUES (\(id), randomblob(\(payloadBytes)))") }
        }
        try await database.migrate(schema: "test.fixture.rows.\(name)", to: [step])
    }

    /// Every id, read with a plain sqlite3 connection beside the SDK's.
    static func readAll(in database: Database) throws -> [Int64] {
        try RawSQLiteFile(path: database.path, readOnly: true).integers("SELECT id FROM fixture ORDER BY id")
    }
}
