#if canImport(Glibc)
import Glibc
#endif
import CIoTBench
import IoTSDK

// sdk-bench storage: batched ingest of readings through TimeSeriesStore.append(batch) next to
// plain C (ciot_bench_storage_*) doing the same inserts into a file with the same schema (copied
// from the SDK's own file), pragmas and batch size, in the same run; then range-query and
// latest-value timings. Prints figures only; nothing is asserted. Runs on the host: it needs a
// file system, not the lab's devices.
//
// Wall-clock rates depend mostly on how fast the disk completes fsync (synchronous=FULL syncs
// the WAL at every commit), which varies with the machine's other load; the two sides alternate
// every few batches so that both see the same disk. The CPU-time line is the steadier measure
// of the SDK's own overhead.

/// The readings both sides insert: `seriesCount` series of one temperature per second, in
/// batches of `batchSize` that go round-robin over the series.
struct StorageWorkload {
    static let batchSize = 1_000
    static let seriesCount = 4
    /// 2023-11-14T22:13:20Z.
    static let start: Int64 = 1_700_000_000_000_000_000

    struct Batch {
        var series: String
        var seriesID: Int64
        var readings: [Reading<Temperature>]
        var t: [Int64]
        var v: [Double]
    }

    let batches: [Batch]
    let total: Int

    init(readings: Int) {
        let count = max(readings / Self.batchSize, 1)
        var batches: [Batch] = []
        for b in 0..<count {
            let series = b % Self.seriesCount
            let first = (b / Self.seriesCount) * Self.batchSize
            let t = (first..<first + Self.batchSize).map { Self.start + Int64($0) * 1_000_000_000 }
            let v = (first..<first + Self.batchSize).map { 290 + Double($0 % 100) * 0.125 }
            let readings = zip(t, v).map { Reading(value: Temperature(baseValue: $1), timestamp: Timestamp(nanosecondsSinceEpoch: $0)) }
            // Series are created in order by the first batches, so their ids are 1...seriesCount.
            batches.append(Batch(series: "bench/\(series)", seriesID: Int64(series + 1), readings: readings, t: t, v: v))
        }
        self.batches = batches
        self.total = count * Self.batchSize
    }

    /// Readings per series.
    var perSeries: Int { total / Self.seriesCount }
}

/// A temporary folder for the benchmark's files, removed afterwards.
struct StorageBenchFiles {
    let folder: String

    init() {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array((base + "/sdk-bench-storage-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fail("storage: cannot create a folder in \(base): errno \(errno)") }
        folder = String(cString: made)
    }

    func path(_ name: String) -> String { folder + "/" + name }

    func remove(_ name: String) {
        for suffix in ["", "-wal", "-shm"] { unlink(path(name) + suffix) }
    }

    func removeFolder() { rmdir(folder) }
}

/// Both sides of one ingest round: a new SDK store and a new C file, filled with the same
/// batches. Blocks of a few batches alternate between the two (and which goes first), so that
/// both see the same machine: the same disk-flush latency, the same background load.
struct IngestRound {
    let store: TimeSeriesStore
    let handle: OpaquePointer
    var sdkNanoseconds: UInt64 = 0
    var cNanoseconds: UInt64 = 0
    /// CPU time of the whole process (every thread) while each side ran.
    var sdkCPU: UInt64 = 0
    var cCPU: UInt64 = 0

    static let batchesPerBlock = 5

    init(sdkPath: String, cPath: String, schemaFrom: String) async throws {
        store = try await TimeSeriesStore(database: try Database(path: sdkPath))
        var error = [CChar](repeating: 0, count: 512)
        guard let handle = ciot_bench_storage_open(cPath, schemaFrom, 1, &error, Int32(error.count)) else {
            fail("storage: the C side could not open \(cPath): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        self.handle = handle
    }

    mutating func run(_ workload: StorageWorkload) async throws {
        let batches = workload.batches
        var block = 0
        var first = 0
        while first < batches.count {
            let range = first..<min(first + Self.batchesPerBlock, batches.count)
            if block % 2 == 0 {
                try await sdk(batches[range])
                c(batches[range])
            } else {
                c(batches[range])
                try await sdk(batches[range])
            }
            first = range.upperBound
            block += 1
        }
    }

    /// TimeSeriesStore.append(batch), as an app calls it.
    mutating func sdk(_ batches: ArraySlice<StorageWorkload.Batch>) async throws {
        let start = now()
        let cpu = cpuTime()
        for batch in batches {
            try await store.append(batch.readings, to: batch.series)
        }
        sdkCPU += cpuTime() - cpu
        sdkNanoseconds += now() - start
    }

    mutating func c(_ batches: ArraySlice<StorageWorkload.Batch>) {
        let start = now()
        let cpu = cpuTime()
        for batch in batches {
            let rc = batch.t.withUnsafeBufferPointer { t in
                batch.v.withUnsafeBufferPointer { v in
                    ciot_bench_storage_insert(handle, batch.seriesID, t.baseAddress, v.baseAddress, Int64(batch.t.count))
                }
            }
            if rc != 0 { fail("storage: C insert failed (SQLite code \(rc)): \(String(cString: ciot_bench_storage_error(handle)))") }
        }
        cCPU += cpuTime() - cpu
        cNanoseconds += now() - start
    }
}

/// CPU time of the process, all threads, in nanoseconds.
func cpuTime() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Nanoseconds per call of `body`, the median of `rounds` runs of `calls` calls.
func medianTime(rounds: Int, calls: Int, _ body: (Int) async throws -> Void) async rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<max(rounds, 1) {
        let start = now()
        for i in 0..<calls { try await body(i) }
        times.append(Double(now() - start) / Double(calls))
    }
    return median(times)
}

func formatted(_ value: Double, digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    guard digits > 0 else { return String(scaled) }
    let fraction = String(abs(scaled) % Int(scale))
    return (scaled < 0 ? "-" : "") + String(abs(scaled) / Int(scale)) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
}

/// Runs `sdk-bench storage`: `readings` per round, `rounds` rounds, SDK and C alternating first.
func runStorageBench(readings: Int, rounds: Int) async {
    let workload = StorageWorkload(readings: readings)
    let files = StorageBenchFiles()
    print("storage: \(workload.total) temperature readings per round in batches of \(StorageWorkload.batchSize) over \(StorageWorkload.seriesCount) series, median of \(rounds) rounds; WAL, synchronous=FULL (Database.Durability.full, the SDK default), default page size; files in \(files.folder)")
    do {
        // A file with the SDK's schema, for the C side to copy from.
        let schemaPath = files.path("schema.sqlite")
        _ = try await TimeSeriesStore(database: try Database(path: schemaPath))

        var sdkRates: [Double] = []
        var cRates: [Double] = []
        var sdkCPU: [Double] = []
        var cCPU: [Double] = []
        var kept: IngestRound?
        for round in 0..<max(rounds, 1) {
            let sdkName = "sdk-\(round).sqlite"
            let cName = "c-\(round).sqlite"
            var ingest = try await IngestRound(sdkPath: files.path(sdkName), cPath: files.path(cName), schemaFrom: schemaPath)
            try await ingest.run(workload)
            sdkRates.append(Double(workload.total) * 1e9 / Double(ingest.sdkNanoseconds))
            cRates.append(Double(workload.total) * 1e9 / Double(ingest.cNanoseconds))
            sdkCPU.append(Double(ingest.sdkCPU) / Double(workload.total))
            cCPU.append(Double(ingest.cCPU) / Double(workload.total))
            if round == max(rounds, 1) - 1 {
                kept = ingest
            } else {
                ciot_bench_storage_close(ingest.handle)   // the SDK's store closes when `ingest` goes
            }
        }
        let sdkRate = median(sdkRates)
        let cRate = median(cRates)
        let ratio = sdkRate / cRate
        print("storage ingest: SDK \(Int(sdkRate.rounded())) readings/s, C \(Int(cRate.rounded())) readings/s, ratio SDK/C \(formatted(ratio, digits: 3))")
        print("storage ingest per round (readings/s): SDK \(sdkRates.map { String(Int($0.rounded())) }.joined(separator: " ")); C \(cRates.map { String(Int($0.rounded())) }.joined(separator: " "))")
        let sdkPerReading = median(sdkCPU)
        let cPerReading = median(cCPU)
        print("storage ingest CPU time (all threads): SDK \(Int(sdkPerReading.rounded())) ns/reading, C \(Int(cPerReading.rounded())) ns/reading, ratio SDK/C \(formatted(cPerReading / sdkPerReading, digits: 3))")
        let met = ratio >= 0.8 && sdkRate >= 200_000
        print("storage ingest goal (ratio >= 0.8 and >= 200000 readings/s): \(met ? "met" : "NOT met")")
        if let kept {
            try await queryBench(workload, store: kept.store, handle: kept.handle, rounds: rounds)
            ciot_bench_storage_close(kept.handle)
        }
    } catch {
        fail("storage: \(error)")
    }
    for round in 0..<max(rounds, 1) {
        files.remove("sdk-\(round).sqlite")
        files.remove("c-\(round).sqlite")
    }
    files.remove("schema.sqlite")
    files.removeFolder()
}

/// Range queries, latest values and aggregates on the last round's files.
func queryBench(_ workload: StorageWorkload, store: TimeSeriesStore, handle: OpaquePointer, rounds: Int) async throws {
    let window = min(1_000, workload.perSeries)
    let windows = max(workload.perSeries / window, 1)
    func range(_ i: Int) -> (series: Int, from: Int64, to: Int64) {
        let series = i % StorageWorkload.seriesCount
        let from = StorageWorkload.start + Int64((i / StorageWorkload.seriesCount) % windows * window) * 1_000_000_000
        return (series, from, from + Int64(window) * 1_000_000_000)
    }
    let queries = 200
    var rows = 0
    let sdkRange = try await medianTime(rounds: rounds, calls: queries) { i in
        let q = range(i)
        rows += try await store.readings(in: "bench/\(q.series)", as: Temperature.self,
                                         from: Timestamp(nanosecondsSinceEpoch: q.from), to: Timestamp(nanosecondsSinceEpoch: q.to)).count
    }
    var sum = 0.0
    let cRange = await medianTime(rounds: rounds, calls: queries) { i in
        let q = range(i)
        let read = ciot_bench_storage_range(handle, Int64(q.series + 1), q.from, q.to - 1, &sum)
        if read < 0 { fail("storage: C range query failed: \(String(cString: ciot_bench_storage_error(handle)))") }
        rows += Int(read)
    }
    print("storage range query (\(window) readings of one series): SDK \(formatted(sdkRange / 1000, digits: 1)) µs/query (\(Int((Double(window) * 1e9 / sdkRange).rounded())) readings/s), C \(formatted(cRange / 1000, digits: 1)) µs/query, ratio SDK/C \(formatted(cRange / sdkRange, digits: 3))")

    let calls = 10_000
    let cpuBefore = cpuTime()
    let overhead = try await medianTime(rounds: rounds, calls: calls) { _ in
        rows += try await store.database.schemaVersion("iotsdk.timeseries")
    }
    let overheadCPU = Double(cpuTime() - cpuBefore) / Double(calls * max(rounds, 1))
    print("storage SDK call overhead (Database.schemaVersion: a small read, inline when the connection is free): \(formatted(overhead / 1000, digits: 2)) µs/call, \(formatted(overheadCPU / 1000, digits: 2)) µs CPU/call")
    var t: Int64 = 0
    let sdkLatest = try await medianTime(rounds: rounds, calls: calls) { i in
        t &+= try await store.latest(in: "bench/\(i % StorageWorkload.seriesCount)", as: Temperature.self)?.timestamp.nanosecondsSinceEpoch ?? 0
    }
    var v = 0.0
    let cLatest = await medianTime(rounds: rounds, calls: calls) { i in
        var found: Int64 = 0
        if ciot_bench_storage_latest(handle, Int64(i % StorageWorkload.seriesCount + 1), &found, &v) != 1 {
            fail("storage: C latest-value query failed: \(String(cString: ciot_bench_storage_error(handle)))")
        }
        t &+= found
    }
    print("storage latest value: SDK \(formatted(sdkLatest / 1000, digits: 2)) µs/call, C \(formatted(cLatest / 1000, digits: 2)) µs/call, ratio SDK/C \(formatted(cLatest / sdkLatest, digits: 3))")

    let perSeries = try await medianTime(rounds: rounds, calls: 1_000) { _ in
        rows += try await store.latestPerSeries().count
    }
    print("storage latest per series (\(StorageWorkload.seriesCount) series): SDK \(formatted(perSeries / 1000, digits: 2)) µs/call")

    let aggregate = try await medianTime(rounds: rounds, calls: 10) { i in
        rows += try await store.aggregate(in: "bench/\(i % StorageWorkload.seriesCount)", as: Temperature.self, bucket: .seconds(60)).count
    }
    print("storage aggregate (1-minute buckets over \(workload.perSeries) readings of one series): SDK \(formatted(aggregate / 1e6, digits: 2)) ms/call")
    if rows == -1 || sum.isNaN || t == 1 || v.isNaN { print("") }
}
