/// A wall-clock instant: nanoseconds since the Unix epoch (1970-01-01T00:00:00Z), in UTC.
///
/// It covers 1677-09-21 to 2262-04-11 with nanosecond resolution, enough for kernel timestamps
/// (`CLOCK_REALTIME`, GPIO edge events) and storage. Arithmetic uses Swift's `Duration`:
///
/// ```swift
/// let start = try Timestamp.now()
/// let deadline = start + .seconds(5)
/// let elapsed = try Timestamp.now() - start      // Duration
/// ```
///
/// The wall clock can jump (NTP, a user setting the time). Measure intervals with
/// `ContinuousClock`; use a timestamp to say *when* something happened.
///
/// `Codable` encodes the single integer ``nanosecondsSinceEpoch``, lossless and unit-free.
public struct Timestamp: Sendable, Hashable, Comparable, Codable {
    /// Nanoseconds since 1970-01-01T00:00:00Z; negative before it.
    public let nanosecondsSinceEpoch: Int64

    /// Creates a timestamp from nanoseconds since the Unix epoch.
    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    /// The Unix epoch, 1970-01-01T00:00:00Z.
    public static let epoch = Timestamp(nanosecondsSinceEpoch: 0)

    /// Orders timestamps from earlier to later.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    /// Decodes a timestamp from a single integer of nanoseconds since the epoch.
    /// - Throws: `DecodingError` if the value is not an integer that fits in `Int64`.
    public init(from decoder: any Decoder) throws {
        self.init(nanosecondsSinceEpoch: try decoder.singleValueContainer().decode(Int64.self))
    }

    /// Encodes the timestamp as a single integer of nanoseconds since the epoch.
    /// - Throws: `EncodingError` if the encoder rejects the value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(nanosecondsSinceEpoch)
    }
}

// MARK: - Arithmetic with Duration

extension Timestamp: InstantProtocol {
    /// The timestamp `duration` later (earlier if negative).
    ///
    /// Parts of a nanosecond are truncated towards zero. Like integer arithmetic, it traps if the
    /// result falls outside 1677-09-21…2262-04-11.
    public func advanced(by duration: Swift.Duration) -> Timestamp {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch + nanoseconds)
    }

    /// The duration from this timestamp to `other`; negative if `other` is earlier. Never overflows.
    public func duration(to other: Timestamp) -> Swift.Duration {
        .nanoseconds(other.nanosecondsSinceEpoch) - .nanoseconds(nanosecondsSinceEpoch)
    }
}

extension Timestamp {
    /// The timestamp `rhs` later; see ``advanced(by:)`` for rounding and range.
    public static func + (lhs: Timestamp, rhs: Swift.Duration) -> Timestamp {
        lhs.advanced(by: rhs)
    }

    /// The timestamp `rhs` earlier; see ``advanced(by:)`` for rounding and range.
    public static func - (lhs: Timestamp, rhs: Swift.Duration) -> Timestamp {
        lhs.advanced(by: .zero - rhs)
    }

    /// The time from `rhs` to `lhs`: `later - earlier` is positive.
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Swift.Duration {
        rhs.duration(to: lhs)
    }

    /// Moves the timestamp `rhs` later.
    public static func += (lhs: inout Timestamp, rhs: Swift.Duration) {
        lhs = lhs + rhs
    }

    /// Moves the timestamp `rhs` earlier.
    public static func -= (lhs: inout Timestamp, rhs: Swift.Duration) {
        lhs = lhs - rhs
    }
}
