/// The tables of the time-series store (schema `iotsdk.timeseries`).
///
/// - `iotsdk_ts_series`: one row per series: its name and the quantity type and base unit it is
///   bound to on its first append.
/// - `iotsdk_ts_points`: one row per reading, `(series_id, t, v)` with `t` the timestamp in
///   nanoseconds since the epoch and `v` the quantity's base value. Its primary key
///   `(series_id, t)` in a `WITHOUT ROWID` table makes the table itself the index: a range query
///   or the latest value is one B-tree seek followed by a sequential walk, and an append writes
///   one B-tree instead of a table plus an index. Measured on this project's benchmark machine
///   (`sdk-bench storage`'s workload): about 27 bytes per row, where a rowid table with the same
///   key took 48 and was slower to fill. There is deliberately no index on `t` alone: every append
///   would write a second B-tree (ingest fell by up to half when measured); age and quota
///   retention work series by series on the primary key instead.
/// - `iotsdk_ts_totals`: a single row with the rows that retention has dropped, and the store's
///   row count for quota checks, kept in the same transactions as the rows. The count is NULL
///   (not kept) until a store with a row or byte limit needs it; it is then counted once and
///   kept by every append from then on. Until then an append transaction writes only the pages
///   of its points, and no totals page.
/// - Migration 2, for devices without a real-time clock: a reading appended while the wall clock
///   was not synchronized keeps its `CLOCK_BOOTTIME` in `boottime_ns` and its boot in `boot_ref`
///   (a row of `iotsdk_ts_boots`: the kernel's boot id, the range of `t` of its unsynchronized
///   readings, and for an earlier boot when the clock was first seen synchronized, from which
///   their age counts). Both are NULL for a synchronized reading: 2 bytes of record header, and no
///   second B-tree on any append. Re-basing a boot walks its `t` range series by series on the
///   primary key, once, when the clock is first seen synchronized.
enum TimeSeriesSchema {
    static let name = "iotsdk.timeseries"

    /// Bytes one row takes in the file, measured with `dbstat` after batched appends of
    /// interleaved series (`sdk-bench storage` builds the same table): the key, the value, the
    /// record header and the B-tree's cell overhead and fill.
    static let bytesPerRow = 27

    static let migrations: [Migration] = [
        .sql(1, "series, points and totals", """
            CREATE TABLE iotsdk_ts_series (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                quantity TEXT NOT NULL,
                unit TEXT NOT NULL,
                created_at_ns INTEGER NOT NULL
            );
            CREATE TABLE iotsdk_ts_points (
                series_id INTEGER NOT NULL,
                t INTEGER NOT NULL,
                v REAL NOT NULL,
                PRIMARY KEY (series_id, t)
            ) WITHOUT ROWID;
            CREATE TABLE iotsdk_ts_totals (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                row_count INTEGER,
                dropped_by_age INTEGER NOT NULL,
                dropped_by_quota INTEGER NOT NULL
            );
            INSERT INTO iotsdk_ts_totals VALUES (1, NULL, 0, 0);
            """),
        .sql(2, "boot clock of readings stored before the clock was synchronized", """
            ALTER TABLE iotsdk_ts_points ADD COLUMN boot_ref INTEGER;
            ALTER TABLE iotsdk_ts_points ADD COLUMN boottime_ns INTEGER;
            CREATE TABLE iotsdk_ts_boots (
                id INTEGER PRIMARY KEY,
                boot_id TEXT,
                first_t INTEGER NOT NULL,
                last_t INTEGER NOT NULL,
                seen_synchronized_at_ns INTEGER
            );
            """),
    ]

    // MARK: - Statements shared by several files

    static let insertPoint = "INSERT OR IGNORE INTO iotsdk_ts_points (series_id, t, v, boot_ref, boottime_ns) VALUES (?, ?, ?, ?, ?)"
    static let replacePoint = "UPDATE iotsdk_ts_points SET v = ?3, boot_ref = ?4, boottime_ns = ?5 WHERE series_id = ?1 AND t = ?2"
    static let findSeries = "SELECT id, quantity, unit FROM iotsdk_ts_series WHERE name = ?"
    static let createSeries = "INSERT INTO iotsdk_ts_series (name, quantity, unit, created_at_ns) VALUES (?, ?, ?, ?)"
    static let readTotals = "SELECT row_count, dropped_by_age, dropped_by_quota FROM iotsdk_ts_totals WHERE id = 1"
    static let countPoints = "SELECT count(*) FROM iotsdk_ts_points"
    /// Matches no row (and so writes no page) while the count is not kept.
    static let adjustRowCount = "UPDATE iotsdk_ts_totals SET row_count = row_count + ? WHERE id = 1 AND row_count IS NOT NULL"
    static let startRowCount = "UPDATE iotsdk_ts_totals SET row_count = ? WHERE id = 1"
    static let recordDropped = "UPDATE iotsdk_ts_totals SET dropped_by_age = dropped_by_age + ?, dropped_by_quota = dropped_by_quota + ? WHERE id = 1"
}
