import IoTSDK
import SensorDrivers

/// A quantity the demo shows, stores and compares: its name in `--threshold`, in JSON and in
/// series names, the unit values are given in, and how its readings are stored and summarised.
///
/// Every behaviour is built once, generically, from the quantity's type and unit
/// (``make(_:_:fractionDigits:)``), so adding a quantity is one line in ``all``.
struct DemoQuantity: Sendable {
    /// `temperature`, `pressure`, `acceleration-x`…
    let name: String
    /// The unit of values in JSON, in `--threshold` and in the history: `°C`, `hPa`, `%RH`…
    let unit: String
    /// The quantity type's name, as the time-series store records it (`Temperature`).
    let storedType: String
    /// The value in ``unit`` of a base value (kelvin, pascal…).
    let value: @Sendable (Double) -> Double
    /// The base value of a value in ``unit``.
    let baseValue: @Sendable (Double) -> Double
    /// A base value formatted in ``unit`` with its symbol: `25.39 °C`.
    let format: @Sendable (Double) -> String
    /// Appends one reading (a base value at a time) to a series.
    let append: @Sendable (TimeSeriesStore, String, Double, Timestamp) async throws -> Void
    /// Min, max, mean and count of a series since an instant, in base values; nil when it has none.
    let summary: @Sendable (TimeSeriesStore, String, Timestamp) async throws -> (min: Double, max: Double, mean: Double, count: Int)?

    static func make<Q: PhysicalQuantity>(_ name: String, _ unit: QuantityUnit<Q>, fractionDigits: Int = Q.displayFractionDigits) -> DemoQuantity {
        DemoQuantity(
            name: name, unit: unit.symbol, storedType: String(describing: Q.self),
            value: { unit.value(fromBaseValue: $0) },
            baseValue: { unit.baseValue(fromValue: $0) },
            format: { Q(baseValue: $0).formatted(in: unit, fractionDigits: fractionDigits) },
            append: { store, series, base, time in
                try await store.append(Reading(value: Q(baseValue: base), timestamp: time), to: series)
            },
            summary: { store, series, since in
                // Epoch-aligned buckets as wide as the window: the window spans at most two.
                let buckets = try await store.aggregate(in: series, as: Q.self, from: since, bucket: .seconds(3_600))
                let count = buckets.reduce(0) { $0 + $1.count }
                guard count > 0 else { return nil }
                let weighted = buckets.reduce(0.0) { $0 + $1.mean.baseValue * Double($1.count) }
                return (buckets.map(\.min.baseValue).min() ?? 0, buckets.map(\.max.baseValue).max() ?? 0, weighted / Double(count), count)
            })
    }

    static let temperature = make("temperature", QuantityUnit<Temperature>.celsius)
    static let pressure = make("pressure", QuantityUnit<Pressure>.hectopascals)
    static let humidity = make("humidity", QuantityUnit<RelativeHumidity>.percent)
    static let illuminance = make("illuminance", QuantityUnit<Illuminance>.lux)
    static let voltage = make("voltage", QuantityUnit<Voltage>.volts)
    static let acceleration = ["x", "y", "z"].map { make("acceleration-" + $0, QuantityUnit<Acceleration>.gravities) }
    static let rotation = ["x", "y", "z"].map { make("rotation-" + $0, QuantityUnit<AngularVelocity>.degreesPerSecond) }

    /// Every quantity the demo knows, in the order the dashboard lists them.
    static let all: [DemoQuantity] = [temperature, pressure, humidity, illuminance, voltage] + acceleration + rotation

    static func named(_ name: String) -> DemoQuantity? { all.first { $0.name == name } }
}

/// One quantity of one reading: what the demo prints, stores and compares.
struct MeasuredValue: Sendable {
    let quantity: DemoQuantity
    /// The value in the quantity's base unit.
    let baseValue: Double

    init<Q: PhysicalQuantity>(_ quantity: DemoQuantity, _ value: Q) {
        self.quantity = quantity
        self.baseValue = value.baseValue
    }

    /// The value in the quantity's demo unit (°C, hPa…).
    var value: Double { quantity.value(baseValue) }
    var text: String { quantity.format(baseValue) }
}

// MARK: - What each driver's measurement holds

/// A driver's measurement, split into the demo's quantities.
protocol DemoMeasurable {
    var measuredValues: [MeasuredValue] { get }
}

extension BME280Measurement: DemoMeasurable {
    var measuredValues: [MeasuredValue] {
        [MeasuredValue(.temperature, temperature)] + [pressure.map { MeasuredValue(.pressure, $0) },
                                                      humidity.map { MeasuredValue(.humidity, $0) }].compactMap { $0 }
    }
}

extension BMP280Measurement: DemoMeasurable {
    var measuredValues: [MeasuredValue] {
        [MeasuredValue(.temperature, temperature)] + [pressure.map { MeasuredValue(.pressure, $0) }].compactMap { $0 }
    }
}

extension SensirionMeasurement: DemoMeasurable {
    var measuredValues: [MeasuredValue] { [MeasuredValue(.temperature, temperature), MeasuredValue(.humidity, humidity)] }
}

extension Illuminance: DemoMeasurable {
    var measuredValues: [MeasuredValue] { [MeasuredValue(.illuminance, self)] }
}

extension MCP9808.Measurement: DemoMeasurable {
    var measuredValues: [MeasuredValue] { [MeasuredValue(.temperature, temperature)] }
}

extension TMP102.Measurement: DemoMeasurable {
    var measuredValues: [MeasuredValue] { [MeasuredValue(.temperature, temperature)] }
}

extension ADS1x15.Sample: DemoMeasurable {
    var measuredValues: [MeasuredValue] { [MeasuredValue(.voltage, voltage)] }
}

extension MPU6050.Measurement: DemoMeasurable {
    var measuredValues: [MeasuredValue] {
        let a = DemoQuantity.acceleration, r = DemoQuantity.rotation
        return [MeasuredValue(.temperature, temperature),
                MeasuredValue(a[0], acceleration.x), MeasuredValue(a[1], acceleration.y), MeasuredValue(a[2], acceleration.z),
                MeasuredValue(r[0], angularVelocity.x), MeasuredValue(r[1], angularVelocity.y), MeasuredValue(r[2], angularVelocity.z)]
    }
}
