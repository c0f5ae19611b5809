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

    public init(series: String, quantity: String, unit: String, timestamp: Timestamp, baseValue: Double) {
        self.series = series
        self.quantity = quantity
        self.unit = unit
        self.timestamp = timestamp
        self.baseValue = baseValue
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
