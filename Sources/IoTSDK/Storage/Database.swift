import LinuxSupport
import CSQLite
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One app's (or module's) local database: an SQLite file in WAL mode, used from any number of
/// tasks. Every operation runs on the database's own serial queue, so callers never block the
/// cooperative thread pool on disk I/O and never interleave inside a transaction.
///
/// The stores built on it (`TimeSeriesStore`, `KeyValueStore`, `Outbox`) share the file; each
/// keeps its own schema version (`migrate(schema:to:)`).
public final class Database: @unchecked Sendable {
    // `connection` is only touched on `queue`.
    private let connection: SQLiteConnection
    private let queue: DispatchQueue
    /// Held by whoever uses the connection: an inline read, or a block on the queue.
    private let connectionLock = LockBox()
    public let path: String
    public let options: Options

    /// SQLite `application_id` of databases this SDK made ("IoTS").
    static let applicationID: Int64 = 0x496F_5453

    /// How much a commit survives.
    public enum Durability: String, Sendable, Hashable {
        /// `synchronous=FULL`: a commit is on disk when it returns; it survives a power cut.
        case full
        /// `synchronous=NORMAL`: a commit survives the process being killed, but the last commits
        /// before a power cut may be lost (never corrupting the database). Faster on SD cards.
        case normal
    }

    public struct Options: Sendable, Hashable {
        public var durability: Durability
        /// Writes fail with `.diskFull` while the file system has less free space than this.
        public var minimumFreeDiskSpace: Int64
        /// How long to wait for another process's lock before `.busy`.
        public var busyTimeout: Duration
        /// The most bytes the database file may grow to (rounded down to whole pages); writes
        /// beyond fail with `.diskFull` and change nothing. nil: no limit. Inside the plugin host
        /// a database in the module's data directory is also held to the module's
        /// `storageQuotaBytes`, whichever is lower.
        public var maximumBytes: Int64?

        public init(durability: Durability = .full, minimumFreeDiskSpace: Int64 = 16 << 20, busyTimeout: Duration = .seconds(5),
                    maximumBytes: Int64? = nil) {
            self.durability = durability
            self.minimumFreeDiskSpace = minimumFreeDiskSpace
            self.busyTimeout = busyTimeout
            self.maximumBytes = maximumBytes
        }
    }

    /// Opens the database at `path`, creating it if the file does not exist (or is empty).
    ///
    /// - Throws: `.notADatabase` for a file that is not SQLite and `.foreignDatabase` for an SQLite
    ///   database this SDK did not make (neither is modified); `.corrupt`; `.ioError` when the
    ///   folder is missing or not writable.
    public init(path: String, options: Options = Options()) throws(StorageError) {
        var options = options
        if let host = ModuleHost.current, let quota = host.storageQuotaBytes, Self.isInside(path, directory: host.dataDirectory) {
            let limit = Int64(clamping: quota)
            options.maximumBytes = min(options.maximumBytes ?? limit, limit)
        }
        self.path = path
        self.options = options
        self.queue = DispatchQueue(label: "iotsdk.storage:" + path)
        queue.setSpecific(key: Self.onQueueKey, value: ObjectIdentifier(queue))
        var info = stat()
        let exists = stat(path, &info) == 0
        let connection = try SQLiteConnection(path: path, create: !exists)
        do {
            try connection.execute("PRAGMA busy_timeout = \(Self.milliseconds(options.busyTimeout))")
            let setUp = try Self.checkIdentity(connection)
            try Self.configure(connection, options: options, isNew: setUp)
            try Self.createMigrationTable(connection)
        } catch {
            connection.close()
            throw error
        }
        self.connection = connection
    }

    deinit {
        // Closed when deinit returns, so that the file can be reopened at once. The last reference
        // may be dropped on the queue itself (a closure holding a store), where `queue.sync` would
        // trap: there the connection is closed directly, as nothing else can be running on it.
        let connection = self.connection
        if DispatchQueue.getSpecific(key: Self.onQueueKey) == ObjectIdentifier(queue) {
            connection.close()
        } else {
            queue.sync { connection.close() }
        }
    }

    /// A lock that can be shared with the queue's blocks.
    final class LockBox: Sendable {
        private let mutex = Mutex<Void>(())
        func withLock<R: Sendable>(_ body: () -> R) -> R { mutex.withLock { _ in body() } }
        func withLockIfAvailable<R: Sendable>(_ body: () -> R) -> R? { mutex.withLockIfAvailable { _ in body() } }
    }

    /// Marks each database's queue, so deinit can tell whether it runs on it.
    private static let onQueueKey = DispatchSpecificKey<ObjectIdentifier>()

    // MARK: - Opening

    /// Returns true when the file is still to be set up: new, or an SQLite file with no tables and
    /// no application_id, as a crash during the very first opening leaves it. Such a file must get
    /// the application_id too, or the next opening would find tables without it and call it foreign
    /// (the storage crash test found exactly that).
    private static func checkIdentity(_ c: SQLiteConnection) throws(StorageError) -> Bool {
        // Reading the header fails with SQLITE_NOTADB for a file that is not SQLite.
        let id = try c.scalar("PRAGMA application_id") ?? 0
        if id == applicationID { return false }
        let objects = try c.scalar("SELECT count(*) FROM sqlite_master") ?? 0
        if id == 0 && objects == 0 { return true }
        throw StorageError(.foreignDatabase, "\(c.path) is an SQLite database that this SDK did not create (application_id \(id), \(objects) schema objects); it was left untouched. Choose another path for the app's storage", path: c.path)
    }

    private static func configure(_ c: SQLiteConnection, options: Options, isNew: Bool) throws(StorageError) {
        let mode = try c.statement("PRAGMA journal_mode = WAL")
        let journal = try mode.step() ? mode.text(0) : ""
        mode.reset()
        guard journal.lowercased() == "wal" else {
            throw StorageError(.ioError, "\(c.path): SQLite refused WAL mode (journal_mode is \(journal)); the file system may not support shared memory (a network mount?)", path: c.path)
        }
        try c.execute("PRAGMA synchronous = \(options.durability == .full ? "FULL" : "NORMAL")")
        try c.execute("PRAGMA foreign_keys = ON")
        if let maximum = options.maximumBytes {
            let size = try c.statement("PRAGMA page_size")
            let pageSize = try size.step() ? max(size.int64(0), 512) : 4096
            size.reset()
            try c.execute("PRAGMA max_page_count = \(max(maximum / pageSize, 1))")
        }
        if isNew {
            try c.execute("PRAGMA application_id = \(applicationID)")
        }
    }

    /// Whether `path`'s folder is `directory` or inside it (both resolved through symlinks).
    static func isInside(_ path: String, directory: String) -> Bool {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        guard let inner = Files.realPath(folder.isEmpty ? "/" : folder), let outer = Files.realPath(directory) else { return false }
        return inner == outer || inner.hasPrefix(outer == "/" ? "/" : outer + "/")
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    private static func createMigrationTable(_ c: SQLiteConnection) throws(StorageError) {
        try c.execute("""
            CREATE TABLE IF NOT EXISTS iotsdk_migrations (
                schema TEXT NOT NULL,
                version INTEGER NOT NULL,
                name TEXT NOT NULL,
                keeps_older_code_working INTEGER NOT NULL,
                applied_at_ns INTEGER NOT NULL,
                PRIMARY KEY (schema, version)
            )
            """)
    }

    // MARK: - Running work

    /// Runs a short read with the connection. When nobody else is using the connection it runs at
    /// once on the calling thread (a few microseconds: a hop to the queue and back costs about ten
    /// times that); otherwise, and always with `inline: false` (long scans), it runs on the
    /// database's queue, off the cooperative pool. The connection lock keeps every use serial.
    func perform<T: Sendable>(inline: Bool = true, _ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        if inline, let result = connectionLock.withLockIfAvailable({ Result { try body(connection) } }) {
            return try result.get()
        }
        return try await queued(body)
    }

    /// Runs `body` with the connection on the database's queue, off the cooperative pool: for
    /// writes (a commit may wait for fsync) and long reads.
    func queued<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let connection = self.connection
        let lock = self.connectionLock
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let result = lock.withLock { Result { try body(connection) } }
                continuation.resume(with: result)
            }
        }
    }

    /// Runs `body` in one transaction on the database's queue; rolled back if it throws.
    ///
    /// With `checkingFreeSpace` (the default) the write is refused with `.diskFull` below the
    /// free-space guard. Writes that do not grow the data (deleting, acknowledging, releasing)
    /// pass false, so that a store can still be drained on a nearly full disk.
    ///
    /// With `flushed: false` a database opened with `.full` durability commits this transaction
    /// with `synchronous=NORMAL`: it survives the process being killed, and a power cut can undo
    /// it until the next flushed commit (or checkpoint) writes it down with everything before it.
    /// For bookkeeping whose loss repeats work but loses nothing (an outbox's leases and
    /// acknowledgements), so that it costs no fsync.
    func write<T: Sendable>(checkingFreeSpace: Bool = true, flushed: Bool = true, _ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let guardSpace = checkingFreeSpace ? options.minimumFreeDiskSpace : 0
        let path = self.path
        let relax = !flushed && options.durability == .full
        return try await queued { c in
            try Self.checkFreeSpace(path: path, minimum: guardSpace)
            guard relax else { return try c.transaction { try body(c) } }
            try c.execute("PRAGMA synchronous = NORMAL")
            defer { try? c.execute("PRAGMA synchronous = FULL") }
            return try c.transaction { try body(c) }
        }
    }

    // MARK: - Space

    /// What the database occupies and what is left on its file system.
    public struct Usage: Sendable, Hashable {
        /// Bytes in use in the database file (pages in use × page size).
        public var databaseBytes: Int64
        /// Bytes of the write-ahead log on disk.
        public var walBytes: Int64
        /// Free bytes on the file system for unprivileged users.
        public var freeDiskBytes: Int64
    }

    /// The current usage.
    public func usage() async throws -> Usage {
        let path = self.path
        return try await perform { c in
            let pages = try c.scalar("PRAGMA page_count") ?? 0
            let free = try c.scalar("PRAGMA freelist_count") ?? 0
            let size = try c.scalar("PRAGMA page_size") ?? 4096
            var wal = stat()
            let walBytes = stat(path + "-wal", &wal) == 0 ? Int64(wal.st_size) : 0
            return Usage(databaseBytes: (pages - free) * size, walBytes: walBytes, freeDiskBytes: Self.freeSpace(path: path) ?? -1)
        }
    }

    static func freeSpace(path: String) -> Int64? {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        return Int64(fs.f_bavail) * Int64(fs.f_frsize)
    }

    static func checkFreeSpace(path: String, minimum: Int64) throws(StorageError) {
        guard minimum > 0, let free = freeSpace(path: path), free < minimum else { return }
        throw StorageError(.diskFull, "only \(free / 1024) KiB free on the file system of \(path), below the guard of \(minimum / 1024) KiB: the write was refused and nothing stored was lost. Free space, or lower the retention", path: path)
    }

    /// Checks the whole file (`PRAGMA integrity_check`); returns SQLite's findings, `["ok"]` when sound.
    public func integrityCheck() async throws -> [String] {
        try await queued { c in
            let statement = try c.statement("PRAGMA integrity_check")
            var rows: [String] = []
            while try statement.step() { rows.append(statement.text(0)) }
            return rows
        }
    }

    /// Writes the WAL back into the database file (a checkpoint); for backups and shutdown.
    public func checkpoint() async throws {
        try await queued { c in try c.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}
