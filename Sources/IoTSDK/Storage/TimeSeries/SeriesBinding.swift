/// A series' row in `iotsdk_ts_series`: its id and the quantity it is bound to.
struct SeriesBinding {
    var id: Int64
    var quantity: String
    var unit: String

    /// The name a quantity type is stored under, such as `"Temperature"`.
    static func quantityName<Q: PhysicalQuantity>(_ type: Q.Type) -> String {
        String(describing: type)
    }

    /// True when the series holds `Q`: the same type name and base unit.
    func holds<Q: PhysicalQuantity>(_ type: Q.Type) -> Bool {
        Self.matches(quantity: quantity, unit: unit, type)
    }

    static func matches<Q: PhysicalQuantity>(quantity: String, unit: String, _ type: Q.Type) -> Bool {
        quantity == quantityName(type) && unit == Q.baseUnitSymbol
    }

    /// The error for reading a series of `quantity` as `Q`.
    static func readMismatch<Q: PhysicalQuantity>(series: String, quantity: String, unit: String, _ type: Q.Type, path: String?) -> StorageError {
        StorageError(.typeMismatch, "series '\(series)' holds \(quantity) (\(unit)), not \(quantityName(type)) (\(Q.baseUnitSymbol)): read it as \(quantity).self", path: path)
    }

    // MARK: - Looking up

    /// The series named `name`, or nil.
    static func find(_ c: SQLiteConnection, name: String) throws(StorageError) -> SeriesBinding? {
        let statement = try c.statement(TimeSeriesSchema.findSeries)
        defer { statement.reset() }
        try statement.bind(.text(name))
        guard try statement.step() else { return nil }
        return SeriesBinding(id: statement.int64(0), quantity: statement.text(1), unit: statement.text(2))
    }

    /// The id of series `name` for appending `Q`, creating the series (bound to `Q`) if it is new.
    ///
    /// - Throws: `.typeMismatch` when the series holds another quantity.
    static func forAppending<Q: PhysicalQuantity>(_ c: SQLiteConnection, name: String, _ type: Q.Type, now: Timestamp) throws(StorageError) -> (id: Int64, created: Bool) {
        if let binding = try find(c, name: name) {
            guard binding.holds(type) else {
                throw StorageError(.typeMismatch, "series '\(name)' holds \(binding.quantity) (\(binding.unit)); \(quantityName(type)) (\(Q.baseUnitSymbol)) readings cannot be appended to it. Append them to a series of their own, or delete(series:) this one first", path: c.path)
            }
            return (binding.id, false)
        }
        let insert = try c.statement(TimeSeriesSchema.createSeries)
        try insert.bind(.text(name), .text(quantityName(type)), .text(Q.baseUnitSymbol), .integer(now.nanosecondsSinceEpoch))
        try insert.run()
        return (c.lastInsertRowID, true)
    }

    /// The id of series `name` for reading it as `Q`.
    ///
    /// - Throws: `.notFound` for an unknown series; `.typeMismatch` when it holds another quantity.
    static func forReading<Q: PhysicalQuantity>(_ c: SQLiteConnection, name: String, _ type: Q.Type) throws(StorageError) -> Int64 {
        guard let binding = try find(c, name: name) else {
            throw notFound(name, path: c.path)
        }
        guard binding.holds(type) else {
            throw readMismatch(series: name, quantity: binding.quantity, unit: binding.unit, type, path: c.path)
        }
        return binding.id
    }

    static func notFound(_ name: String, path: String) -> StorageError {
        StorageError(.notFound, "there is no series named '\(name)' in \(TimeSeriesStore.storeName): a series is created by its first append; series() lists the existing ones", path: path)
    }

    /// Checks a series name before any SQL runs.
    static func validate(name: String) throws(StorageError) {
        if name.isEmpty {
            throw StorageError(.invalidArgument, "a series name must not be empty: name it after what it measures, such as \"boiler/flow\"")
        }
    }
}

extension TimeSeriesStore {
    /// This SDK's quantity types by the name a series stores them under (`"Temperature"`), for
    /// callers that name a quantity as text (a WebAssembly module's time-series imports).
    public static let quantityTypes: [String: any PhysicalQuantity.Type] = {
        let types: [any PhysicalQuantity.Type] = [
            Acceleration.self, AngularVelocity.self, Concentration.self, Distance.self, ElectricCurrent.self,
            ElectricResistance.self, Frequency.self, Illuminance.self, MagneticFluxDensity.self, MassConcentration.self,
            Power.self, Pressure.self, Ratio.self, RelativeHumidity.self, Temperature.self, TemperatureDifference.self,
            Voltage.self,
        ]
        return Dictionary(uniqueKeysWithValues: types.map { (SeriesBinding.quantityName($0), $0) })
    }()
}
