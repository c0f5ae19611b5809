/// Settings and state as typed values under string keys, in the app's `Database`.
///
/// Values are any `Codable` type, stored as JSON text (table `iotsdk_kv`, schema `iotsdk.kv`).
/// Reading a value as another type than it decodes as throws `.typeMismatch` and leaves the stored
/// value as it was. Each store works in one namespace, so that parts of an app (or modules) that
/// share the database never see each other's keys:
///
/// ```swift
/// let settings = try await KeyValueStore(database: db, namespace: "settings")
/// try await settings.set(30, for: "interval")
/// let interval = try await settings.value(Int.self, for: "interval")     // 30
/// let boots = try await settings.update("boots", default: 0) { $0 += 1 }  // atomic
/// ```
///
/// Every call is one SQL statement or one transaction (`BEGIN IMMEDIATE`) on the database's queue,
/// durable as the database's `Durability` says once it returns. Safe from any number of tasks.
public final class KeyValueStore: Sendable {
    /// The database the values are in (table `iotsdk_kv`).
    public let database: Database
    /// Keys of one namespace are apart from every other's.
    public let namespace: String

    /// Opens the store, creating its table (`migrate(schema: "iotsdk.kv")`) when needed.
    ///
    /// - Throws: `StorageError`: `.invalidArgument` for an empty namespace; what `migrate` throws
    ///   (`.schemaTooNew`, `.migrationFailed`, `.diskFull`…).
    public init(database: Database, namespace: String = "default") async throws {
        try Self.validate(namespace: namespace)
        try await database.migrate(schema: KeyValueSchema.name, to: KeyValueSchema.migrations)
        self.database = database
        self.namespace = namespace
    }

    private init(opened database: Database, namespace: String) {
        self.database = database
        self.namespace = namespace
    }

    /// The store of another namespace in the same database (the table exists already).
    ///
    /// - Throws: `StorageError(.invalidArgument)` for an empty namespace.
    public func namespace(_ name: String) throws -> KeyValueStore {
        try Self.validate(namespace: name)
        return KeyValueStore(opened: database, namespace: name)
    }

    // MARK: - Writing

    /// Stores `value` under `key`, replacing what was there (of any type). One statement
    /// (`INSERT … ON CONFLICT DO UPDATE`) with the free-space guard of `Database.write`.
    ///
    /// - Throws: `StorageError`: `.invalidArgument` for an empty key or a value that does not
    ///   encode as JSON; `.diskFull`; other SQLite failures.
    public func set<Value: Codable & Sendable>(_ value: Value, for key: String) async throws {
        try Self.validate(key: key)
        let json = try Self.encode(value, for: key, namespace: namespace, path: database.path)
        let type = StorageJSON.typeName(Value.self)
        let namespace = self.namespace
        try await database.write { c in
            try Self.store(json, type: type, key: key, namespace: namespace, in: c)
        }
    }

    /// Removes `key`; returns whether it was there. No free-space guard: removing never needs room.
    ///
    /// - Throws: `StorageError` for SQLite failures.
    @discardableResult
    public func remove(_ key: String) async throws -> Bool {
        let namespace = self.namespace
        return try await database.perform { c in
            let statement = try c.statement("DELETE FROM iotsdk_kv WHERE namespace = ? AND key = ?")
            try statement.bind(.text(namespace), .text(key))
            try statement.run()
            return c.changes > 0
        }
    }

    /// Removes every key of this namespace; returns how many there were.
    ///
    /// - Throws: `StorageError` for SQLite failures.
    @discardableResult
    public func removeAll() async throws -> Int {
        let namespace = self.namespace
        return try await database.perform { c in
            let statement = try c.statement("DELETE FROM iotsdk_kv WHERE namespace = ?")
            try statement.bind(.text(namespace))
            try statement.run()
            return c.changes
        }
    }

    // MARK: - Reading

    /// The value under `key` decoded as `type`, or nil when there is none.
    ///
    /// - Throws: `StorageError(.typeMismatch)` naming the key, the type it was stored as and
    ///   `type`, when the stored JSON does not decode as `type` (it is left as it is); other
    ///   `StorageError`s for SQLite failures.
    public func value<Value: Codable & Sendable>(_ type: Value.Type = Value.self, for key: String) async throws -> Value? {
        let namespace = self.namespace
        guard let stored = try await database.perform({ c in try Self.load(key, namespace: namespace, in: c) }) else {
            return nil
        }
        return try Self.decode(stored, as: type, key: key, namespace: namespace, path: database.path)
    }

    /// Whether `key` holds a value (of any type).
    ///
    /// - Throws: `StorageError` for SQLite failures.
    public func contains(_ key: String) async throws -> Bool {
        let namespace = self.namespace
        return try await database.perform { c in
            let statement = try c.statement("SELECT 1 FROM iotsdk_kv WHERE namespace = ? AND key = ?")
            defer { statement.reset() }
            try statement.bind(.text(namespace), .text(key))
            return try statement.step()
        }
    }

    /// The keys of this namespace that start with `prefix` (case-sensitive), sorted by their
    /// UTF-8 bytes; all of them for the empty prefix.
    ///
    /// - Throws: `StorageError` for SQLite failures.
    public func keys(prefix: String = "") async throws -> [String] {
        let namespace = self.namespace
        return try await database.perform { c in
            let statement = try c.statement("""
                SELECT key FROM iotsdk_kv
                WHERE namespace = ?1 AND key >= ?2 AND substr(key, 1, length(?2)) = ?2
                ORDER BY key
                """)
            defer { statement.reset() }
            try statement.bind(.text(namespace), .text(prefix))
            var keys: [String] = []
            while try statement.step() { keys.append(statement.text(0)) }
            return keys
        }
    }

    // MARK: - JSON text

    /// Stores `json`, JSON text as it is, under `key`: for callers that hold a value as JSON
    /// already (a WebAssembly module's key-value imports), so that a Swift reader of the same key
    /// decodes it as its own type. Recorded as type `JSON`.
    ///
    /// - Throws: `StorageError`: `.invalidArgument` for an empty key or text that is not one JSON
    ///   value (nothing is stored); `.diskFull`; other SQLite failures.
    public func setJSON(_ json: String, for key: String) async throws {
        try Self.validate(key: key)
        guard StorageJSON.isJSON(Array(json.utf8)) else {
            throw StorageError(.invalidArgument, "the value for key '\(key)' (namespace '\(namespace)') is not JSON text: store a number, string (in quotes), true, false, null, array or object. Nothing was stored", path: database.path)
        }
        let namespace = self.namespace
        try await database.write { c in
            try Self.store(Array(json.utf8), type: "JSON", key: key, namespace: namespace, in: c)
        }
    }

    /// The JSON text stored under `key`, as it is, or nil when there is none.
    ///
    /// - Throws: `StorageError` for SQLite failures.
    public func json(for key: String) async throws -> String? {
        let namespace = self.namespace
        return try await database.perform { c in try Self.load(key, namespace: namespace, in: c) }
            .map { String(decoding: $0.json, as: UTF8.self) }
    }

    // MARK: - Rows and coding (shared with `update`)

    // These are static and take plain values: a closure run on the database's queue must not hold
    // the store, or dropping the last reference there would deinitialise the `Database` on its own
    // queue.

    struct StoredValue: Sendable {
        var json: [UInt8]
        var type: String
    }

    static func load(_ key: String, namespace: String, in c: SQLiteConnection) throws -> StoredValue? {
        let statement = try c.statement("SELECT value, type FROM iotsdk_kv WHERE namespace = ? AND key = ?")
        defer { statement.reset() }
        try statement.bind(.text(namespace), .text(key))
        guard try statement.step() else { return nil }
        return StoredValue(json: Array(statement.text(0).utf8), type: statement.text(1))
    }

    static func store(_ json: [UInt8], type: String, key: String, namespace: String, in c: SQLiteConnection) throws {
        let statement = try c.statement("""
            INSERT INTO iotsdk_kv (namespace, key, value, type, updated_at_ns) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (namespace, key) DO UPDATE SET
                value = excluded.value, type = excluded.type, updated_at_ns = excluded.updated_at_ns
            """)
        try statement.bind(.text(namespace), .text(key), .text(String(decoding: json, as: UTF8.self)),
                           .text(type), .integer(Database.nowNanoseconds()))
        try statement.run()
    }

    static func encode<Value: Encodable>(_ value: Value, for key: String, namespace: String, path: String) throws(StorageError) -> [UInt8] {
        do {
            return try StorageJSON.encode(value)
        } catch {
            throw StorageError(.invalidArgument, "the value for key '\(key)' (namespace '\(namespace)') of type \(StorageJSON.typeName(Value.self)) does not encode as JSON: \(StorageJSON.reason(error)). Nothing was stored; check the type's encode(to:)", path: path)
        }
    }

    static func decode<Value: Decodable>(_ stored: StoredValue, as type: Value.Type, key: String, namespace: String, path: String) throws(StorageError) -> Value {
        do {
            return try StorageJSON.decode(type, from: stored.json)
        } catch {
            let wanted = StorageJSON.typeName(type)
            throw StorageError(.typeMismatch, "key '\(key)' (namespace '\(namespace)') holds a value stored as \(stored.type) that does not decode as \(wanted): \(StorageJSON.reason(error)). The stored value was left as it is; read it as \(stored.type), or replace it with set(_:for:)", path: path)
        }
    }

    static func validate(key: String) throws(StorageError) {
        guard !key.isEmpty, !key.utf8.contains(0) else {
            throw StorageError(.invalidArgument, "a key-value key must not be empty or contain NUL characters: name the setting, e.g. \"sampling.interval\"")
        }
    }

    private static func validate(namespace: String) throws(StorageError) {
        guard !namespace.isEmpty else {
            throw StorageError(.invalidArgument, "a key-value namespace must not be empty: name the part of the app, e.g. \"settings\"")
        }
    }
}
