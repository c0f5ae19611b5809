// MARK: - ISO 8601 description

extension Timestamp: CustomStringConvertible {
    /// The instant in UTC as ISO 8601, such as `"2023-11-14T22:13:20Z"`.
    ///
    /// A fraction of a second is shown with 3, 6 or 9 digits, as few as it needs:
    /// `"2023-11-14T22:13:20.250Z"`, `"…20.000001Z"`.
    public var description: String {
        let (seconds, nanoseconds) = Self.floorDivide(nanosecondsSinceEpoch, 1_000_000_000)
        let (days, secondOfDay) = Self.floorDivide(seconds, 86_400)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let pad: (Int64, Int) -> String = { FixedPointFormat.zeroPadded($0, width: $1) }
        let date = [pad(year, 4), pad(month, 2), pad(day, 2)].joined(separator: "-")
        let time = [pad(secondOfDay / 3_600, 2), pad(secondOfDay / 60 % 60, 2), pad(secondOfDay % 60, 2)]
            .joined(separator: ":")
        var text = date + "T" + time
        if nanoseconds != 0 {
            var fraction = pad(nanoseconds, 9)
            while fraction.hasSuffix("000") { fraction.removeLast(3) }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// Division that rounds towards negative infinity, with a remainder in `0..<divisor`.
    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`, valid for the whole `Int64` nanosecond range).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let (era, dayOfEra) = floorDivide(daysSinceEpoch + 719_468, 146_097)          // 400-year eras from 0000-03-01
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from March 1
        let shiftedMonth = (5 * dayOfYear + 2) / 153                                     // 0 = March
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
