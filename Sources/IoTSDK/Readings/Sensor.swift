/// Something that measures a value: a chip driver, a simulated sensor, or a value derived from
/// other sensors.
///
/// ```swift
/// let reading = try await thermometer.read()     // Reading<Temperature>
/// print(reading.value, reading.timestamp)
/// ```
///
/// ``read()`` is `async` because most sensors need time between starting a conversion and having a
/// result (a BME280 in forced mode about 10 ms, a DS18B20 up to 750 ms). A driver waits for it with
/// `Task.sleep` or an edge event, never by blocking a thread of the cooperative pool.
///
/// Conforming types are `Sendable`, because the host and app tasks read the same sensor; a driver
/// that owns a bus handle is typically an actor.
public protocol Sensor<Value>: Sendable {
    /// The type of value measured, such as ``Temperature`` or a struct of several quantities.
    associatedtype Value: Sendable

    /// Performs one measurement and returns it with the time at which it completed.
    ///
    /// A driver returns a fresh value or throws; it never returns a stale or cached value in place
    /// of a failed measurement.
    ///
    /// - Throws: The driver's error for a failed bus transfer, a checksum (CRC) mismatch, a
    ///   conversion that did not finish in time, or a physically impossible value
    ///   (``QuantityError``); ``TimestampError`` if the wall clock cannot be read;
    ///   `CancellationError` if the task is cancelled while waiting.
    func read() async throws -> Reading<Value>
}
