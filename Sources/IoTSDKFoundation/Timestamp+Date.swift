import Foundation
import IoTSDK

extension Date {
    /// The date of a timestamp, to within `Double` precision.
    ///
    /// `Date` holds a `Double` of seconds, which resolves a present-day instant to about 0.1 µs,
    /// while a `Timestamp` holds exact nanoseconds: converting a timestamp to a date and back may
    /// change it by a fraction of a microsecond.
    public init(_ timestamp: Timestamp) {
        let (seconds, nanoseconds) = timestamp.nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1_000_000_000)
        self.init(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
    }
}

extension Timestamp {
    /// The timestamp of a date, rounded to the nearest nanosecond.
    ///
    /// - Throws: `TimestampError` with code `TimestampError/Code/outOfRange` if the date is
    ///   not finite or lies outside 1677-09-21…2262-04-11.
    public init(_ date: Date) throws(TimestampError) {
        let interval = date.timeIntervalSince1970
        let wholeSeconds = interval.rounded(.down)
        // Int64 nanoseconds span ±9 223 372 036.854775807 s; keep a second of margin for the fraction.
        guard interval.isFinite, wholeSeconds.magnitude < 9_223_372_035 else {
            throw TimestampError(
                code: .outOfRange,
                message: "date \(interval) s since 1970 is outside the range of Timestamp "
                    + "(1677-09-21 to 2262-04-11): pass a date within it"
            )
        }
        let nanoseconds = ((interval - wholeSeconds) * 1e9).rounded()
        self.init(nanosecondsSinceEpoch: Int64(wholeSeconds) * 1_000_000_000 + Int64(nanoseconds))
    }
}
