/// One series of a ``TimeSeriesStore``, as ``TimeSeriesStore/series()`` lists it.
public struct SeriesInfo: Sendable, Hashable {
    /// The series' name.
    public var name: String
    /// The quantity type it is bound to, such as `"Temperature"`.
    public var quantity: String
    /// The base unit its values are stored in, such as `"K"`.
    public var unit: String
    /// The readings it holds.
    public var count: Int
    /// Its oldest reading's time; nil when it is empty.
    public var first: Timestamp?
    /// Its newest reading's time; nil when it is empty.
    public var last: Timestamp?

    public init(name: String, quantity: String, unit: String, count: Int, first: Timestamp?, last: Timestamp?) {
        self.name = name
        self.quantity = quantity
        self.unit = unit
        self.count = count
        self.first = first
        self.last = last
    }
}

/// The newest reading of one series, as ``TimeSeriesStore/latestPerSeries()`` returns it.
public struct LatestValue: Sendable, Hashable {
    /// The series' name.
    public var series: String
    /// The quantity type the series is bound to, such as `"Temperature"`.
    public var quantity: String
    /// The base unit of ``baseValue``, such as `"K"`.
    public var unit: String
    /// When the reading was taken.
    public var timestamp: Timestamp
    /// The value in ``unit``.
    public var baseValue: Double
    /// Whether ``timestamp`` is a synchronized wall-clock time; see
    /// ``TimeSeriesStore/storedReadings(in:as:from:to:limit:order:)``.
    public var timeSynchronized: Bool

    public init(series: String, quantity: String, unit: String, timestamp: Timestamp, baseValue: Double,
                timeSynchronized: Bool = true) {
        self.series = series
        self.quantity = quantity
        self.unit = unit
        self.timestamp = timestamp
        self.baseValue = baseValue
        self.timeSynchronized = timeSynchronized
    }

    /// The reading as a `Q`.
    ///
    /// - Throws: `StorageError` `.typeMismatch` when the series holds another quantity.
    public func reading<Q: PhysicalQuantity>(as type: Q.Type) throws(StorageError) -> Reading<Q> {
        guard SeriesBinding.matches(quantity: quantity, unit: unit, type) else {
            throw SeriesBinding.readMismatch(series: series, quantity: quantity, unit: unit, type, path: nil)
        }
        return Reading(value: Q(baseValue: baseValue), timestamp: timestamp)
    }
}

/// A reading as a ``TimeSeriesStore`` holds it, with whether its time is synchronized; see
/// ``TimeSeriesStore/storedReadings(in:as:from:to:limit:order:)``.
public struct StoredReading<Q: PhysicalQuantity>: Sendable, Hashable {
    /// The value and its timestamp (re-based if it was stored before the clock was synchronized
    /// in this boot).
    public var reading: Reading<Q>
    /// False when ``reading``'s timestamp is not a synchronized wall-clock time: it was stored
    /// while the system clock was not synchronized and could not be re-based (an earlier boot,
    /// or the clock is still not synchronized).
    public var timeSynchronized: Bool

    /// Creates a stored reading.
    public init(reading: Reading<Q>, timeSynchronized: Bool) {
        self.reading = reading
        self.timeSynchronized = timeSynchronized
    }
}
