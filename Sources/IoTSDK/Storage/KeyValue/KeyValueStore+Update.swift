extension KeyValueStore {
    /// Reads, changes and writes back the value under `key` in one transaction (`BEGIN IMMEDIATE`),
    /// so that concurrent updates never lose one another (a counter, a list to append to).
    ///
    /// `body` gets the current value (nil when there is none) and may change it; setting it to nil
    /// removes the key. It runs on the database's queue inside the transaction: keep it short and
    /// synchronous. Returns the value as stored afterwards.
    ///
    /// - Throws: `StorageError(.typeMismatch)` when the stored value does not decode as `type`
    ///   (nothing is changed); whatever `body` throws (the transaction is rolled back);
    ///   `.invalidArgument` for an empty key or a value that does not encode; `.diskFull`.
    @discardableResult
    public func update<Value: Codable & Sendable>(
        _ key: String, as type: Value.Type = Value.self,
        _ body: @escaping @Sendable (inout Value?) throws -> Void
    ) async throws -> Value? {
        try Self.validate(key: key)
        let namespace = self.namespace
        let path = database.path
        let typeName = StorageJSON.typeName(type)
        return try await database.write { c in
            var value = try Self.load(key, namespace: namespace, in: c).map { stored in
                try Self.decode(stored, as: type, key: key, namespace: namespace, path: path)
            }
            try body(&value)
            if let value {
                let json = try Self.encode(value, for: key, namespace: namespace, path: path)
                try Self.store(json, type: typeName, key: key, namespace: namespace, in: c)
            } else {
                let statement = try c.statement("DELETE FROM iotsdk_kv WHERE namespace = ? AND key = ?")
                try statement.bind(.text(namespace), .text(key))
                try statement.run()
            }
            return value
        }
    }

    /// Like `update(_:as:_:)`, starting from `defaultValue` when the key holds nothing; the result
    /// is always stored. `try await store.update("boots", default: 0) { $0 += 1 }`.
    ///
    /// - Throws: as `update(_:as:_:)`.
    @discardableResult
    public func update<Value: Codable & Sendable>(
        _ key: String, default defaultValue: Value,
        _ body: @escaping @Sendable (inout Value) throws -> Void
    ) async throws -> Value {
        let result = try await update(key, as: Value.self) { (value: inout Value?) in
            var current = value ?? defaultValue
            try body(&current)
            value = current
        }
        return result ?? defaultValue
    }
}
