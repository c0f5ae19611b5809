import Logging
import Synchronization

/// Readings of physical quantities over time, kept in the app's `Database`.
///
/// A **series** is a name (`"boiler/flow"`) bound, by its first append, to one quantity type and
/// that type's base unit (`Temperature`, `K`). Values are stored as the quantity's base value with
/// the reading's timestamp in nanoseconds; a series refuses readings of another quantity, and
/// reading it as another type fails, with `StorageError` code `.typeMismatch` naming both types.
///
/// ```swift
/// let db = try Database(path: "/var/lib/myapp/data.sqlite")
/// let store = try await TimeSeriesStore(database: db,
///     retention: RetentionPolicy(maxAge: .seconds(7 * 86_400), maxRows: 5_000_000, whenFull: .dropOldest))
/// try await store.append(try await thermometer.read(), to: "boiler/flow")
/// let lastHour = try await store.readings(in: "boiler/flow", as: Temperature.self,
///                                         from: try Timestamp.now() - .seconds(3_600))
/// let perMinute = try await store.aggregate(in: "boiler/flow", as: Temperature.self, bucket: .seconds(60))
/// ```
///
/// **Timestamps are unique per series**: appending a reading at an instant the series already has
/// replaces the stored value (the last write wins), so re-sending a batch after a crash or a
/// retry never duplicates readings.
///
/// **Durability** is the database's (`Database.Durability`): each `append` is one transaction,
/// and with the default `.full` a reading is on disk when `append` returns.
///
/// **Concurrency**: the store is `Sendable`; use it from any number of tasks. All SQL runs on the
/// database's serial queue, one call at a time, never on the cooperative thread pool.
///
/// **Cost**: appends, range queries and latest values use the `(series_id, t)` primary key;
/// ``series()`` counts each series' rows, so it takes time proportional to the store's size.
///
/// **Time on a device without a real-time clock**: each append reads whether the wall clock is
/// synchronized (`SystemClock`, one `adjtimex(2)` call). Readings appended while it is not are
/// recorded with the boot id and their `CLOCK_BOOTTIME`; the first operation that finds the clock
/// synchronized moves this boot's readings to their true time (wall now − boot time elapsed
/// since), and ``storedReadings(in:as:from:to:limit:order:)`` says which readings' times are not
/// synchronized. Readings stored unsynchronized in an earlier boot cannot be re-based: they keep
/// their time, flagged, and their age for `maxAge` counts from when the clock was first seen
/// synchronized. Readings are assumed to carry the system's wall clock (as `Reading(value:)` does).
public final class TimeSeriesStore: Sendable {
    /// The database that holds the store's tables.
    public let database: Database
    /// The retention policy applied by every append and by ``enforceRetention()``.
    public let retention: RetentionPolicy
    let logger: Logger
    /// The wall clock, the boot clock and whether the wall clock is synchronized; tests simulate it.
    let clock: ClockSource
    /// True while readings stored without a synchronized clock may wait to be re-based (also at
    /// opening: an earlier run may have left some), so that queries skip the check once done.
    let unsynchronizedPending = Mutex<Bool>(true)

    /// The name used in messages.
    static let storeName = "the time-series store"

    /// Opens the time-series store in `database`, creating or migrating its tables (schema
    /// `iotsdk.timeseries`, see `Database.migrate(schema:to:)`).
    ///
    /// - Parameters:
    ///   - database: The database that holds the store's tables (with whatever else it holds).
    ///   - retention: Applied inside every append's transaction; see ``RetentionPolicy``.
    ///   - logger: Receives debug messages about new series and retention deletions.
    /// - Throws: `StorageError`: `.invalidArgument` for a retention limit that is not positive;
    ///   `.schemaTooNew` when a newer app changed the store's tables incompatibly; the errors of
    ///   `Database.migrate(schema:to:)`.
    public convenience init(database: Database, retention: RetentionPolicy = .unlimited,
                            logger: Logger = Logger(label: "iotsdk.storage.timeseries")) async throws {
        try await self.init(database: database, retention: retention, logger: logger, clock: .system)
    }

    init(database: Database, retention: RetentionPolicy, logger: Logger = Logger(label: "iotsdk.storage.timeseries"),
         clock: ClockSource) async throws {
        try retention.validate()
        self.database = database
        self.retention = retention
        self.logger = logger
        self.clock = clock
        try await database.migrate(schema: TimeSeriesSchema.name, to: TimeSeriesSchema.migrations)
    }

    // MARK: - Usage

    /// The rows the store holds, their estimated size and what retention has dropped so far.
    ///
    /// Reads one row (`iotsdk_ts_totals`) when the row count is kept (once a store with a row or
    /// byte limit has been used); otherwise counts the rows, in time proportional to their number.
    ///
    /// - Throws: `StorageError` when the database cannot be read.
    public func usage() async throws -> StoreUsage {
        let limit = retention.rowLimit(bytesPerRow: TimeSeriesSchema.bytesPerRow)
        return try await database.perform { c in
            let totals = try TimeSeriesTotals.read(c)
            let rows = try totals.rows ?? TimeSeriesTotals.count(c)
            return StoreUsage(rows: rows, bytesPerRow: TimeSeriesSchema.bytesPerRow,
                              droppedByAge: totals.droppedByAge, droppedByQuota: totals.droppedByQuota, rowLimit: limit)
        }
    }
}
