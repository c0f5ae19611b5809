/// A relative humidity, stored in percent (%RH); shown as `"45.0 %RH"`.
///
/// ## Values outside 0…100 %RH
/// Values are stored as given, because relative humidity is a linear quantity: a difference or a
/// tolerance (±2 %RH, the hysteresis of a fan controller) is a `RelativeHumidity` too, and may be
/// negative. A converted reading can overshoot 0…100 %RH within the sensor's tolerance; datasheets
/// that allow this (Sensirion SHT4x: "crop to 0…100 %RH") tell the driver to call ``clamped()``.
/// A driver that wants a far-off value to be an error instead checks ``isWithinPhysicalRange``.
public struct RelativeHumidity: LinearQuantity {
    /// The base unit, percent relative humidity.
    public static let baseUnitSymbol = "%RH"

    /// The relative humidity in percent.
    public let baseValue: Double

    /// Creates a relative humidity from percent.
    public init(baseValue: Double) {
        self.baseValue = baseValue
    }

    /// One digit after the point.
    public static var displayFractionDigits: Int { 1 }

    /// The range a relative-humidity reading can take, 0…100 %RH.
    public static let physicalRange: ClosedRange<Double> = 0...100
}

// MARK: - Units

extension QuantityUnit where Quantity == RelativeHumidity {
    /// Percent relative humidity (%RH), the base unit.
    public static var percent: Self { Self(symbol: "%RH", coefficient: 1) }
}

// MARK: - Constructors, accessors and range

extension RelativeHumidity {
    /// A relative humidity in percent, as given (see "Values outside 0…100 %RH").
    public static func percent(_ value: Double) -> RelativeHumidity { RelativeHumidity(value, in: .percent) }

    /// The relative humidity in percent.
    public var percent: Double { value(in: .percent) }

    /// The relative humidity as a fraction (0.45 for 45 %RH).
    public var fraction: Double { baseValue / 100 }

    /// Whether the value lies within 0…100 %RH; `false` for NaN.
    public var isWithinPhysicalRange: Bool { Self.physicalRange.contains(baseValue) }

    /// The value limited to 0…100 %RH, as datasheets prescribe for converted readings.
    ///
    /// NaN stays NaN, so that ``PhysicalQuantity/validated()`` still catches it.
    public func clamped() -> RelativeHumidity {
        guard !baseValue.isNaN else { return self }
        return RelativeHumidity(baseValue: min(max(baseValue, Self.physicalRange.lowerBound), Self.physicalRange.upperBound))
    }
}
