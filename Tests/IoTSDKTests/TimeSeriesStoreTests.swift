import Foundation
import IoTSDK
import Testing

/// 2023-11-14T22:13:20Z, a multiple of 10 s and of 1 min.
private let t0 = Timestamp(nanosecondsSinceEpoch: 1_700_000_000 * 1_000_000_000)

/// A database in a folder of its own, removed when the test ends.
private final class TimeSeriesScratch {
    let folder: URL
    var path: String { folder.appendingPathComponent("ts.sqlite").path }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("iotsdk-ts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    func store(_ retention: RetentionPolicy = .unlimited) async throws -> TimeSeriesStore {
        try await TimeSeriesStore(database: try Database(path: path), retention: retention)
    }
}

private func kelvin(_ value: Double, at seconds: Int64, from start: Timestamp = t0) -> Reading<Temperature> {
    Reading(value: Temperature(baseValue: value), timestamp: start + .seconds(seconds))
}

private func storageError(_ body: () async throws -> Void) async -> StorageError? {
    do {
        try await body()
        return nil
    } catch let error as StorageError {
        return error
    } catch {
        Issue.record("expected a StorageError, got \(error)")
        return nil
    }
}

@Suite("TimeSeriesStore")
struct TimeSeriesStoreTests {
    // MARK: - Appending and reading

    @Test func appendsAndReadsRangesInTimeOrder() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        // Out of order on purpose: the store returns time order.
        let batch = [kelvin(293.5, at: 2), kelvin(293.0, at: 0), kelvin(293.25, at: 1), kelvin(294.0, at: 3)]
        let report = try await store.append(batch, to: "room")
        #expect(report == AppendReport(inserted: 4, replaced: 0))
        try await store.append(kelvin(295.0, at: 10), to: "room")

        let all = try await store.readings(in: "room", as: Temperature.self)
        #expect(all.map(\.value.baseValue) == [293.0, 293.25, 293.5, 294.0, 295.0])
        #expect(all.map(\.timestamp) == [0, 1, 2, 3, 10].map { t0 + .seconds($0) })

        // from is included, to is excluded.
        let middle = try await store.readings(in: "room", as: Temperature.self, from: t0 + .seconds(1), to: t0 + .seconds(3))
        #expect(middle == [kelvin(293.25, at: 1), kelvin(293.5, at: 2)])
        let firstTwo = try await store.readings(in: "room", as: Temperature.self, limit: 2)
        #expect(firstTwo == [kelvin(293.0, at: 0), kelvin(293.25, at: 1)])
        let lastTwo = try await store.readings(in: "room", as: Temperature.self, limit: 2, order: .newestFirst)
        #expect(lastTwo == [kelvin(295.0, at: 10), kelvin(294.0, at: 3)])
        #expect(try await store.readings(in: "room", as: Temperature.self, from: t0 + .seconds(5), to: t0 + .seconds(5)).isEmpty)
        #expect(try await store.latest(in: "room", as: Temperature.self) == kelvin(295.0, at: 10))
        #expect(try await store.usage().rows == 5)
    }

    @Test("quantityTypes names each type as a series stores it, so a series appended by name reads back typed")
    func quantityTypesByName() async throws {
        #expect(TimeSeriesStore.quantityTypes.count == 17)
        for (name, type) in TimeSeriesStore.quantityTypes {
            #expect(String(describing: type) == name)
        }
        #expect(TimeSeriesStore.quantityTypes["Temperature"].map { $0 == Temperature.self } == true)
        #expect(TimeSeriesStore.quantityTypes["RelativeHumidity"].map { $0 == RelativeHumidity.self } == true)
        #expect(TimeSeriesStore.quantityTypes["Furlongs"] == nil)
        func append<Q: PhysicalQuantity>(_ type: Q.Type, _ value: Double, to store: TimeSeriesStore) async throws {
            try await store.append(Reading(value: Q(baseValue: value), timestamp: t0), to: "by-name")
        }
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        let pressure: any PhysicalQuantity.Type = try #require(TimeSeriesStore.quantityTypes["Pressure"])
        try await append(pressure, 101_325, to: store)
        #expect(try await store.readings(in: "by-name", as: Pressure.self).map(\.value.baseValue) == [101_325])
    }

    @Test func sameInstantReplacesTheValue() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        try await store.append([kelvin(280, at: 0), kelvin(281, at: 1)], to: "probe")
        let report = try await store.append([kelvin(290, at: 1), kelvin(282, at: 2)], to: "probe")
        #expect(report.inserted == 1)
        #expect(report.replaced == 1)
        #expect(try await store.readings(in: "probe", as: Temperature.self).map(\.value.baseValue) == [280, 290, 282])
        #expect(try await store.usage().rows == 3)
    }

    @Test func dataSurvivesReopening() async throws {
        let scratch = try TimeSeriesScratch()
        do {
            let store = try await scratch.store()
            try await store.append([kelvin(300, at: 0), kelvin(301, at: 1)], to: "kept")
        }
        let database = try Database(path: scratch.path)
        let reopened = try await TimeSeriesStore(database: database)
        #expect(try await reopened.readings(in: "kept", as: Temperature.self) == [kelvin(300, at: 0), kelvin(301, at: 1)])
        #expect(try await database.schemaVersion("iotsdk.timeseries") == 2)
        #expect(try await database.integrityCheck() == ["ok"])
    }

    // MARK: - Units and errors

    @Test func aSeriesRefusesAnotherQuantity() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        try await store.append(kelvin(293.15, at: 0), to: "boiler")

        let appendError = await storageError {
            try await store.append([Reading(value: Pressure(baseValue: 101_325), timestamp: t0 + .seconds(1))], to: "boiler")
        }
        #expect(appendError?.code == .typeMismatch)
        #expect(appendError?.message.contains("Temperature (K)") == true)
        #expect(appendError?.message.contains("Pressure (Pa)") == true)

        let readError = await storageError { _ = try await store.readings(in: "boiler", as: Pressure.self) }
        #expect(readError?.code == .typeMismatch)
        #expect(readError?.message.contains("Temperature (K)") == true)
        #expect(readError?.message.contains("Pressure (Pa)") == true)
        #expect(await storageError { _ = try await store.latest(in: "boiler", as: Pressure.self) }?.code == .typeMismatch)
        #expect(await storageError { _ = try await store.aggregate(in: "boiler", as: Pressure.self, bucket: .seconds(1)) }?.code == .typeMismatch)

        // Nothing of the refused batch was stored.
        #expect(try await store.readings(in: "boiler", as: Temperature.self) == [kelvin(293.15, at: 0)])
        #expect(try await store.usage().rows == 1)
    }

    @Test func unknownSeriesEmptyNamesAndImpossibleValuesThrow() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        #expect(await storageError { _ = try await store.readings(in: "nope", as: Temperature.self) }?.code == .notFound)
        #expect(await storageError { _ = try await store.latest(in: "nope", as: Temperature.self) }?.code == .notFound)
        #expect(await storageError { try await store.delete(series: "nope") }?.code == .notFound)
        #expect(await storageError { try await store.append(kelvin(1, at: 0), to: "") }?.code == .invalidArgument)
        #expect(await storageError { _ = try await store.readings(in: "x", as: Temperature.self, limit: -1) }?.code == .invalidArgument)

        let nan = await storageError { try await store.append([kelvin(290, at: 0), kelvin(.nan, at: 1)], to: "bad") }
        #expect(nan?.code == .invalidArgument)
        #expect(nan?.message.contains("reading 1") == true)
        // The batch was rolled back, the series was not created either.
        #expect(try await store.series().isEmpty)
        #expect(try await store.usage().rows == 0)
        #expect(try await store.append([Reading<Temperature>](), to: "empty") == AppendReport())
    }

    // MARK: - Aggregates

    @Test func aggregatesMatchHandComputedBuckets() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        // 10-second buckets starting at t0 (a multiple of 10 s since the epoch).
        // [0, 10): 1.0, 2.0, 4.5  -> min 1, max 4.5, mean 2.5, count 3
        // [10, 20): 8.0            -> 8, 8, 8, 1
        // [20, 30): empty          -> not returned
        // [30, 40): 0.5, 3.5       -> 0.5, 3.5, 2.0, 2
        let values: [(Int64, Double)] = [(0, 1.0), (4, 2.0), (9, 4.5), (10, 8.0), (31, 0.5), (39, 3.5)]
        try await store.append(values.map { kelvin($0.1, at: $0.0) }, to: "s")

        let buckets = try await store.aggregate(in: "s", as: Temperature.self, bucket: .seconds(10))
        #expect(buckets.count == 3)
        #expect(buckets.map(\.start) == [t0, t0 + .seconds(10), t0 + .seconds(30)])
        #expect(buckets.map(\.end) == [t0 + .seconds(10), t0 + .seconds(20), t0 + .seconds(40)])
        #expect(buckets.map(\.min.baseValue) == [1.0, 8.0, 0.5])
        #expect(buckets.map(\.max.baseValue) == [4.5, 8.0, 3.5])
        #expect(buckets.map(\.mean.baseValue) == [2.5, 8.0, 2.0])
        #expect(buckets.map(\.count) == [3, 1, 2])

        // A range cuts the edge buckets: [4, 31) holds 2.0, 4.5 | 8.0 | 0.5.
        let cut = try await store.aggregate(in: "s", as: Temperature.self, from: t0 + .seconds(4), to: t0 + .seconds(32), bucket: .seconds(10))
        #expect(cut.map(\.count) == [2, 1, 1])
        #expect(cut.map(\.mean.baseValue) == [3.25, 8.0, 0.5])
        #expect(cut.first?.start == t0)

        // One bucket over everything.
        let whole = try await store.aggregate(in: "s", as: Temperature.self, bucket: .seconds(3_600))
        #expect(whole.count == 1)
        #expect(whole.first?.count == 6)
        #expect(whole.first?.mean.baseValue == 19.5 / 6)
        #expect(await storageError { _ = try await store.aggregate(in: "s", as: Temperature.self, bucket: .zero) }?.code == .invalidArgument)
    }

    @Test func bucketsBeforeTheEpochRoundDown() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        // -15 s, -10 s, -1 s, 0 s, 5 s in 10-second buckets: [-20,-10) [-10,0) [0,10).
        try await store.append([-15, -10, -1, 0, 5].map { kelvin(Double($0 + 100), at: $0, from: .epoch) }, to: "old")
        let buckets = try await store.aggregate(in: "old", as: Temperature.self, bucket: .seconds(10))
        #expect(buckets.map(\.start) == [-20, -10, 0].map { Timestamp.epoch + .seconds($0) })
        #expect(buckets.map(\.count) == [1, 2, 2])
        #expect(buckets.map(\.min.baseValue) == [85, 90, 100])
    }

    // MARK: - Listing, latest values, deleting

    @Test func latestPerSeriesListingAndDeletion() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        try await store.append([kelvin(290, at: 0), kelvin(291, at: 5)], to: "b/temperature")
        try await store.append([Reading(value: Pressure(baseValue: 100_000), timestamp: t0 + .seconds(1)),
                                Reading(value: Pressure(baseValue: 100_500), timestamp: t0 + .seconds(2))], to: "a/pressure")

        let latest = try await store.latestPerSeries()
        // Stored with the real clock: flagged when this machine's clock is not synchronized.
        let synchronized = try SystemClock.isSynchronized()
        #expect(latest == [
            LatestValue(series: "a/pressure", quantity: "Pressure", unit: "Pa", timestamp: t0 + .seconds(2), baseValue: 100_500,
                        timeSynchronized: synchronized),
            LatestValue(series: "b/temperature", quantity: "Temperature", unit: "K", timestamp: t0 + .seconds(5), baseValue: 291,
                        timeSynchronized: synchronized),
        ])
        #expect(try latest[1].reading(as: Temperature.self) == kelvin(291, at: 5))
        #expect(throws: StorageError.self) { try latest[0].reading(as: Temperature.self) }

        #expect(try await store.series() == [
            SeriesInfo(name: "a/pressure", quantity: "Pressure", unit: "Pa", count: 2, first: t0 + .seconds(1), last: t0 + .seconds(2)),
            SeriesInfo(name: "b/temperature", quantity: "Temperature", unit: "K", count: 2, first: t0, last: t0 + .seconds(5)),
        ])

        #expect(try await store.delete(series: "a/pressure") == 2)
        #expect(try await store.series().map(\.name) == ["b/temperature"])
        #expect(try await store.usage().rows == 2)
        // The name is free again, for another quantity.
        try await store.append(kelvin(250, at: 0), to: "a/pressure")
        #expect(try await store.latest(in: "a/pressure", as: Temperature.self) == kelvin(250, at: 0))
    }

    // MARK: - Retention

    @Test func rejectNewRefusesAndKeepsEverything() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store(RetentionPolicy(maxRows: 10, whenFull: .rejectNew))
        try await store.append((0..<8).map { kelvin(Double(270 + $0), at: Int64($0)) }, to: "a")

        let full = await storageError { try await store.append((8..<11).map { kelvin(Double(270 + $0), at: Int64($0)) }, to: "a") }
        #expect(full?.code == .quotaExceeded)
        #expect(full?.message.contains("11 rows") == true)
        #expect(full?.message.contains("limit of 10") == true)
        // Nothing stored was lost, nothing of the refused batch was kept.
        #expect(try await store.readings(in: "a", as: Temperature.self).map(\.value.baseValue) == (0..<8).map { Double(270 + $0) })
        #expect(try await store.usage().rows == 8)

        // Up to the limit is fine, and replacing at a known instant adds no row.
        try await store.append([kelvin(280, at: 8), kelvin(281, at: 9)], to: "b")
        try await store.append(kelvin(999, at: 0), to: "a")
        let usage = try await store.usage()
        #expect(usage.rows == 10)
        #expect(usage.rowLimit == 10)
        #expect(usage.droppedByQuota == 0)
        #expect(await storageError { try await store.append(kelvin(1, at: 100), to: "b") }?.code == .quotaExceeded)
    }

    @Test func dropOldestDeletesTheOldestAcrossSeries() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store(RetentionPolicy(maxRows: 6, whenFull: .dropOldest))
        // Series a at 0, 2, 4, 6; series b at 1, 3, 5.
        try await store.append([0, 2, 4, 6].map { kelvin(Double($0), at: $0) }, to: "a")
        try await store.append([1, 3].map { kelvin(Double($0), at: $0) }, to: "b")
        #expect(try await store.usage().rows == 6)

        // Three more in b: 5, 7, 8 -> 9 rows, the 3 oldest (a@0, b@1, a@2) go.
        let report = try await store.append([5, 7, 8].map { kelvin(Double($0), at: $0) }, to: "b")
        #expect(report.inserted == 3)
        #expect(report.retention == RetentionReport(droppedByAge: 0, droppedByQuota: 3))
        #expect(try await store.readings(in: "a", as: Temperature.self).map(\.value.baseValue) == [4, 6])
        #expect(try await store.readings(in: "b", as: Temperature.self).map(\.value.baseValue) == [3, 5, 7, 8])

        // A batch larger than the limit keeps its newest rows only.
        let big = try await store.append((100..<110).map { kelvin(Double($0), at: $0) }, to: "a")
        #expect(big.retention.droppedByQuota == 10)
        #expect(try await store.readings(in: "a", as: Temperature.self).map(\.value.baseValue) == (104..<110).map(Double.init))
        #expect(try await store.readings(in: "b", as: Temperature.self).isEmpty)
        let usage = try await store.usage()
        #expect(usage.rows == 6)
        #expect(usage.droppedByQuota == 13)
        #expect(try await store.series().map(\.count).reduce(0, +) == 6)
    }

    @Test func rowCountStartsWhenALimitNeedsItAndStaysRight() async throws {
        let scratch = try TimeSeriesScratch()
        let database = try Database(path: scratch.path)
        let unlimited = try await TimeSeriesStore(database: database)
        try await unlimited.append((0..<5).map { kelvin(Double($0), at: $0) }, to: "a")
        #expect(try await unlimited.usage().rows == 5)

        // A second store on the same database, with a limit: it counts the 5 rows it did not see.
        let limited = try await TimeSeriesStore(database: database, retention: RetentionPolicy(maxRows: 6, whenFull: .dropOldest))
        let report = try await limited.append((5..<8).map { kelvin(Double($0), at: $0) }, to: "a")
        #expect(report.retention.droppedByQuota == 2)
        #expect(try await limited.usage().rows == 6)

        // From now on the unlimited store keeps the count too, so the limit stays exact.
        try await unlimited.append((8..<10).map { kelvin(Double($0), at: $0) }, to: "b")
        try await unlimited.delete(series: "b")
        try await unlimited.append(kelvin(10, at: 10), to: "a")
        #expect(try await unlimited.usage().rows == 7)
        #expect(try await limited.append(kelvin(11, at: 11), to: "a").retention.droppedByQuota == 2)
        #expect(try await limited.readings(in: "a", as: Temperature.self).map(\.value.baseValue) == [4, 5, 6, 7, 10, 11])
    }

    @Test func maxBytesLimitsRowsByTheEstimate() async throws {
        let scratch = try TimeSeriesScratch()
        let policy = RetentionPolicy(maxBytes: 5 * 27 + 10, whenFull: .dropOldest)
        #expect(policy.rowLimit(bytesPerRow: 27) == 5)
        let store = try await scratch.store(policy)
        try await store.append((0..<8).map { kelvin(Double($0), at: $0) }, to: "a")
        let usage = try await store.usage()
        #expect(usage.rows == 5)
        #expect(usage.estimatedBytes == Int64(5 * usage.bytesPerRow))
        #expect(usage.droppedByQuota == 3)
    }

    @Test func maxAgeDropsOldRowsOnAppendAndOnDemand() async throws {
        let scratch = try TimeSeriesScratch()
        let now = try Timestamp.now()
        let store = try await scratch.store(RetentionPolicy(maxAge: .seconds(3_600)))
        // Two readings older than an hour (one is in the batch itself), two recent ones.
        let report = try await store.append([kelvin(1, at: -7_200, from: now), kelvin(2, at: -60, from: now)], to: "a")
        #expect(report.inserted == 2)
        #expect(report.retention.droppedByAge == 1)
        try await store.append([kelvin(3, at: -3_000, from: now), kelvin(4, at: -30, from: now)], to: "b")
        #expect(try await store.readings(in: "a", as: Temperature.self).map(\.value.baseValue) == [2])
        #expect(try await store.usage().rows == 3)
        #expect(try await store.usage().droppedByAge == 1)
        // Nothing else is old yet.
        #expect(try await store.enforceRetention() == RetentionReport())
    }

    @Test func belowTheDiskGuardAppendsFailButDeletesWork() async throws {
        let scratch = try TimeSeriesScratch()
        do {
            let store = try await scratch.store()
            try await store.append([kelvin(1, at: 0), kelvin(2, at: 1)], to: "a")
            try await store.append(kelvin(3, at: 0), to: "b")
        }
        // A guard no file system can meet: every write that may grow the data is refused.
        let full = try Database(path: scratch.path, options: Database.Options(minimumFreeDiskSpace: .max))
        let store = try await TimeSeriesStore(database: full, retention: RetentionPolicy(maxAge: .seconds(60)))
        let refused = await storageError { try await store.append(kelvin(4, at: 2), to: "a") }
        #expect(refused?.code == .diskFull)
        #expect(try await store.readings(in: "a", as: Temperature.self).map(\.value.baseValue) == [1, 2])
        // Deleting frees space, so it still works.
        #expect(try await store.delete(series: "a") == 2)
        #expect(try await store.enforceRetention() == RetentionReport(droppedByAge: 1, droppedByQuota: 0))
        #expect(try await store.usage().rows == 0)
    }

    @Test func invalidPoliciesAreRefusedAtOpening() async throws {
        let scratch = try TimeSeriesScratch()
        for policy in [RetentionPolicy(maxAge: .zero), RetentionPolicy(maxRows: 0), RetentionPolicy(maxBytes: -1)] {
            #expect(await storageError { _ = try await scratch.store(policy) }?.code == .invalidArgument)
        }
        #expect(throws: StorageError.self) { try RetentionPolicy(maxRows: 2).excessRows(3, bytesPerRow: 27, store: "s") }
        #expect(try RetentionPolicy(maxRows: 2, whenFull: .dropOldest).excessRows(5, bytesPerRow: 27, store: "s") == 3)
        #expect(try RetentionPolicy.unlimited.excessRows(.max, bytesPerRow: 27, store: "s") == 0)
    }

    // MARK: - Concurrency

    @Test func appendsFromManyTasksAllArrive() async throws {
        let scratch = try TimeSeriesScratch()
        let store = try await scratch.store()
        let tasks = 8
        let batches = 10
        let perBatch = 20
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for b in 0..<batches {
                        let first = Int64(b * perBatch)
                        // Each task has a series of its own, and all share "shared" at distinct instants.
                        try await store.append((first..<first + Int64(perBatch)).map { kelvin(Double($0), at: $0) }, to: "task/\(task)")
                        try await store.append(kelvin(Double(task), at: Int64(task * batches + b)), to: "shared")
                        _ = try await store.latest(in: "task/\(task)", as: Temperature.self)
                    }
                }
            }
            try await group.waitForAll()
        }
        let series = try await store.series()
        #expect(series.count == tasks + 1)
        for task in 0..<tasks {
            let readings = try await store.readings(in: "task/\(task)", as: Temperature.self)
            #expect(readings.map(\.value.baseValue) == (0..<batches * perBatch).map(Double.init))
        }
        #expect(try await store.readings(in: "shared", as: Temperature.self).count == tasks * batches)
        #expect(try await store.usage().rows == tasks * batches * (perBatch + 1))
        #expect(try await store.database.integrityCheck() == ["ok"])
    }
}
