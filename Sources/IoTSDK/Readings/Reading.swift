/// A value measured by a sensor, with the wall-clock time at which the measurement completed.
///
/// `Reading<Temperature>`, `Reading<Vector3<Acceleration>>`, or a driver's own struct of several
/// quantities. It is `Equatable`, `Hashable` and `Codable` when its value is: encoded, it is
/// `{"value": …, "timestamp": <nanoseconds since the epoch>}`.
public struct Reading<Value: Sendable>: Sendable {
    /// The measured value.
    public let value: Value

    /// When the measurement completed.
    public let timestamp: Timestamp

    /// Creates a reading of `value` taken at `timestamp`.
    public init(value: Value, timestamp: Timestamp) {
        self.value = value
        self.timestamp = timestamp
    }

    /// Creates a reading of `value` taken now.
    /// - Throws: ``TimestampError`` if the wall clock cannot be read (see ``Timestamp/now()``).
    public init(value: Value) throws(TimestampError) {
        self.init(value: value, timestamp: try Timestamp.now())
    }

    /// A reading of the transformed value with the same timestamp, such as one axis of a vector
    /// (`reading.map(\.z)`) or a derived quantity.
    ///
    /// - Throws: Whatever `transform` throws.
    public func map<NewValue: Sendable, E: Error>(
        _ transform: (Value) throws(E) -> NewValue
    ) throws(E) -> Reading<NewValue> {
        Reading<NewValue>(value: try transform(value), timestamp: timestamp)
    }
}

extension Reading: Equatable where Value: Equatable {}

extension Reading: Hashable where Value: Hashable {}

extension Reading: Codable where Value: Codable {}

extension Reading: CustomStringConvertible {
    /// The value and the time, such as `"21.50 °C at 2023-11-14T22:13:20Z"`.
    public var description: String { "\(value) at \(timestamp)" }
}
