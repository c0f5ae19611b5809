extension KeyValueStore {
    /// A key that knows its value's type, so that every place reading or writing it agrees:
    ///
    /// ```swift
    /// extension KeyValueStore.Key where Value == Int { static let interval = Self("sampling.interval") }
    /// try await store.set(30, for: .interval)
    /// let interval = try await store.value(for: .interval)   // Int?
    /// ```
    public struct Key<Value: Codable & Sendable>: Sendable, Hashable, CustomStringConvertible {
        /// The key as stored.
        public let name: String

        public init(_ name: String) {
            self.name = name
        }

        public var description: String { name }
    }

    /// Stores `value` under `key`; see `set(_:for:)` with a string key.
    public func set<Value>(_ value: Value, for key: Key<Value>) async throws {
        try await set(value, for: key.name)
    }

    /// The value under `key`, or nil; see `value(_:for:)` with a string key.
    public func value<Value>(for key: Key<Value>) async throws -> Value? {
        try await value(Value.self, for: key.name)
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func remove<Value>(_ key: Key<Value>) async throws -> Bool {
        try await remove(key.name)
    }

    /// Whether `key` holds a value.
    public func contains<Value>(_ key: Key<Value>) async throws -> Bool {
        try await contains(key.name)
    }

    /// Changes the value under `key` in one transaction; see `update(_:as:_:)`.
    @discardableResult
    public func update<Value>(_ key: Key<Value>, _ body: @escaping @Sendable (inout Value?) throws -> Void) async throws -> Value? {
        try await update(key.name, as: Value.self, body)
    }

    /// Changes the value under `key` in one transaction, from `defaultValue` when there is none.
    @discardableResult
    public func update<Value>(_ key: Key<Value>, default defaultValue: Value,
                              _ body: @escaping @Sendable (inout Value) throws -> Void) async throws -> Value {
        try await update(key.name, default: defaultValue, body)
    }
}
