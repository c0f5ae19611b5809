import IoTSDK

#if canImport(Glibc)
import Glibc
#endif

/// The demo's readings in an IoTSDK database: one series per sensor and quantity, named
/// `<sensor>/<quantity>` (`bme280@1:0x76/temperature`), and the history view computed from them
/// with the store's aggregate query.
struct DemoStorage: Sendable {
    let store: TimeSeriesStore
    var path: String { store.database.path }

    /// How far back the history view looks.
    static let window: Duration = .seconds(3_600)

    /// Opens (or creates) the database; the folder of the default path is created.
    ///
    /// Durability `.normal`: readings are sampled again every second, so a power cut may lose the
    /// last ones but never damages the file (Documentation/Storage.md); seven days are kept.
    static func open(path: String) async throws -> DemoStorage {
        let database = try Database(path: path, options: .init(durability: .normal))
        let store = try await TimeSeriesStore(database: database,
                                              retention: RetentionPolicy(maxAge: .seconds(7 * 86_400), whenFull: .dropOldest))
        return DemoStorage(store: store)
    }

    /// The default database: `$XDG_DATA_HOME/sdk-demo` (or `~/.local/share/sdk-demo`), with a
    /// file of its own for the simulated board so that its readings never mix with a real board's.
    static func defaultPath(simulated: Bool) -> String {
        let environment = { (name: String) -> String? in getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        let folder = environment("XDG_DATA_HOME").map { $0 + "/sdk-demo" }
            ?? (environment("HOME") ?? "/tmp") + "/.local/share/sdk-demo"
        return folder + (simulated ? "/simulated.sqlite" : "/readings.sqlite")
    }

    /// Creates the folders of `path` that are missing (mode 0700: the readings are the user's).
    static func makeFolder(of path: String) throws(StorageError) {
        var folder = ""
        for (index, part) in path.split(separator: "/").dropLast().enumerated() {
            folder += (index == 0 && !path.hasPrefix("/") ? "" : "/") + part
            if mkdir(folder, 0o700) != 0 && errno != EEXIST {
                throw StorageError(.ioError, "cannot create the folder \(folder) for \(path): \(String(cString: strerror(errno))); choose another place with --database PATH")
            }
        }
    }

    /// Stores every quantity of a sample in its series.
    func append(_ sample: DemoSample, from sensor: String) async throws {
        for value in sample.values {
            try await value.quantity.append(store, sensor + "/" + value.quantity.name, value.baseValue, sample.timestamp)
        }
    }

    /// Min, max and mean of the last hour of the given series (sensor id and quantity), or of
    /// every series the demo knows when `series` is nil; in sensor, then quantity order.
    ///
    /// Listing the series counts every row of the store, so a run names its own series and only
    /// `sdk-demo history` lists them.
    func history(now: Timestamp, of series: [(sensor: String, quantity: DemoQuantity)]? = nil) async throws -> [SeriesSummary] {
        let since = now - Self.window
        var wanted = series ?? []
        if series == nil {
            for stored in try await store.series() {
                guard let slash = stored.name.lastIndex(of: "/"),
                      let quantity = DemoQuantity.named(String(stored.name[stored.name.index(after: slash)...])),
                      quantity.storedType == stored.quantity else { continue }
                wanted.append((String(stored.name[..<slash]), quantity))
            }
        }
        var result: [SeriesSummary] = []
        for (sensor, quantity) in wanted {
            let summary: (min: Double, max: Double, mean: Double, count: Int)?
            do {
                summary = try await quantity.summary(store, sensor + "/" + quantity.name, since)
            } catch let error as StorageError where error.code == .notFound {
                continue    // nothing stored yet (a first reading failed, or a chip skipped the quantity)
            }
            guard let summary else { continue }
            result.append(SeriesSummary(sensor: sensor, quantity: quantity, min: summary.min, max: summary.max, mean: summary.mean, count: summary.count))
        }
        let order = DemoQuantity.all.map(\.name)
        return result.sorted { ($0.sensor, order.firstIndex(of: $0.quantity.name) ?? 0) < ($1.sensor, order.firstIndex(of: $1.quantity.name) ?? 0) }
    }
}

/// The history of one series: min, max and mean (base values) of its readings in the window.
struct SeriesSummary: Sendable {
    let sensor: String
    let quantity: DemoQuantity
    let min: Double
    let max: Double
    let mean: Double
    let count: Int

    var series: String { sensor + "/" + quantity.name }

    /// `bme280@1:0x76/temperature: min 24.17 °C, max 25.50 °C, mean 24.90 °C (6 readings)`.
    var text: String {
        "\(series): min \(quantity.format(min)), max \(quantity.format(max)), mean \(quantity.format(mean)) (\(count) reading\(count == 1 ? "" : "s"))"
    }
}
