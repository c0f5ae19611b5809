extension Outbox {
    /// Enqueues `value` encoded as JSON (sorted keys); see `enqueue(topic:payload:priority:ttl:)`.
    ///
    /// - Throws: `StorageError(.invalidArgument)` when `value` does not encode, and what
    ///   `enqueue(topic:payload:priority:ttl:)` throws.
    @discardableResult
    public func enqueue<Value: Encodable & Sendable>(topic: String, json value: Value, priority: Int = 0, ttl: Duration? = nil) async throws -> OutboxMessage.ID {
        let payload: [UInt8]
        do {
            payload = try StorageJSON.encode(value)
        } catch {
            throw StorageError(.invalidArgument, "a message for '\(topic)' of type \(StorageJSON.typeName(Value.self)) does not encode as JSON: \(StorageJSON.reason(error)). Nothing was enqueued; check the type's encode(to:)", path: database.path)
        }
        return try await enqueue(topic: topic, payload: payload, priority: priority, ttl: ttl)
    }
}

extension OutboxMessage {
    /// The payload decoded from JSON as `type` (a message enqueued with `enqueue(topic:json:)`).
    ///
    /// - Throws: `StorageError(.typeMismatch)` naming the message and `type` when the payload does
    ///   not decode as it.
    public func decode<Value: Decodable>(_ type: Value.Type = Value.self) throws(StorageError) -> Value {
        do {
            return try StorageJSON.decode(type, from: payload)
        } catch {
            throw StorageError(.typeMismatch, "message \(id) for '\(topic)' does not decode as \(StorageJSON.typeName(type)): \(StorageJSON.reason(error)). Decode it as the type it was enqueued with")
        }
    }
}
