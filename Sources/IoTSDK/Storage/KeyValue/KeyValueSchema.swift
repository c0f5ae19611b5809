/// The key-value store's tables, schema `iotsdk.kv`.
enum KeyValueSchema {
    static let name = "iotsdk.kv"

    /// Values are JSON text, so that `sqlite3 app.db "SELECT * FROM iotsdk_kv"` shows them as
    /// they are; `type` is the Swift type that wrote the value, for error messages.
    static let migrations: [Migration] = [
        .sql(1, "key-value table", """
            CREATE TABLE iotsdk_kv (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                type TEXT NOT NULL,
                updated_at_ns INTEGER NOT NULL,
                PRIMARY KEY (namespace, key)
            ) WITHOUT ROWID;
            """),
    ]
}
