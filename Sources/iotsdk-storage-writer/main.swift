// iotsdk-storage-writer: the child process of the storage crash test (Tests/IoTSDKTests/StorageCrashTests.swift).
//
// It opens an IoTSDK `Database` and writes numbered records, one transaction at a time (some of them
// batches of several records), through the SDK's public API only. After each commit has returned it
// prints the sequence numbers that the transaction stored, one per line, with one unbuffered
// `write(2)`: a number on stdout is a promise that the record is durable. The test kills the process
// with SIGKILL at random points and checks that every promised record is still there.
//
//     iotsdk-storage-writer <database path> <full|normal> <first sequence number>
//                           [--seed <n>] [--count <n>] [--store table|outbox|timeseries]
//
// `--store table` (the default) writes rows of its own table, created with `Database.migrate`;
// `--store outbox` enqueues messages in an `Outbox`; `--store timeseries` appends readings to a
// `TimeSeriesStore`. Without `--count` it writes until it is
// killed. Exit status: 0 after `count` records, 64 for bad arguments, 70 for a storage error
// (printed on stderr).
import IoTSDK
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The schema of the writer's own table: one row per record, with a payload big enough that the
/// write-ahead log grows, checkpoints run and a kill can land in any of them.
let schema: [Migration] = [
    .sql(1, "crash records", """
        CREATE TABLE crash_records (
            seq INTEGER PRIMARY KEY,
            first_of_batch INTEGER NOT NULL,
            payload BLOB NOT NULL
        )
        """),
]

/// Where the records go.
enum Target: String {
    /// The writer's own table, `crash_records`: one transaction per record or batch.
    case table
    /// An `Outbox` named "crashtest": one `enqueue` per record, payload = the number in decimal.
    case outbox
    /// A `TimeSeriesStore`, series "crashtest": transactions of 1 to 16 readings, each a `Pressure`
    /// of n Pa at n ns after the epoch.
    case timeseries
}

/// The writer's settings, from the command line.
struct Arguments {
    var path: String
    var durability: Database.Durability
    var first: Int64
    var seed: UInt64 = 1
    var count: Int64?
    var target = Target.table

    init?(_ arguments: [String]) {
        guard arguments.count >= 4, let durability = Database.Durability(rawValue: arguments[2]),
              let first = Int64(arguments[3]), first > 0 else { return nil }
        path = arguments[1]
        self.durability = durability
        self.first = first
        var options = arguments.dropFirst(4).makeIterator()
        while let option = options.next() {
            guard let value = options.next() else { return nil }
            switch option {
            case "--seed":
                guard let seed = UInt64(value) else { return nil }
                self.seed = seed
            case "--count":
                guard let count = Int64(value), count > 0 else { return nil }
                self.count = count
            case "--store":
                guard let target = Target(rawValue: value) else { return nil }
                self.target = target
            default:
                return nil
            }
        }
    }
}

/// A small deterministic generator (SplitMix64), so that a seed reproduces the batch pattern.
struct SplitMix64 {
    var state: UInt64
    mutating func next(below bound: UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) % bound
    }
}

/// Writes `text` to a file descriptor in full, unbuffered.
func emit(_ text: String, to fd: Int32) {
    var text = text
    text.withUTF8 { bytes in
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, base + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// Stores records `first...last` in one transaction: a one-step schema per transaction whose step
/// inserts the rows, so that the commit path is `Database`'s own (free-space guard, BEGIN IMMEDIATE,
/// COMMIT with the configured `synchronous`).
func store(_ first: Int64, through last: Int64, payloadBytes: Int, in database: Database) async throws {
    let insert = Migration(version: 1, name: "records \(first)...\(last)") { context in
        for seq in first...last {
            try context.execute("INSERT INTO crash_records (seq, first_of_batch, payload) VALUES (\(seq), \(first), randomblob(\(payloadBytes)))")
        }
    }
    let report = try await database.migrate(schema: "crashtest.records.\(first)", to: [insert])
    guard report.applied == [1] else {
        throw StorageError(.invalidArgument, "records from \(first) were already stored: start the writer after the last stored record")
    }
}

func run(_ arguments: Arguments) async throws {
    let database = try Database(path: arguments.path, options: .init(durability: arguments.durability))
    var outbox: Outbox?
    var series: TimeSeriesStore?
    switch arguments.target {
    case .table: try await database.migrate(schema: "crashtest", to: schema)
    case .outbox: outbox = try await Outbox(database: database, name: "crashtest")
    case .timeseries: series = try await TimeSeriesStore(database: database)
    }
    var random = SplitMix64(state: arguments.seed)
    var seq = arguments.first
    let end = arguments.count.map { arguments.first + $0 } ?? .max
    while seq < end {
        // One transaction in four is a batch of 2...16 records (not for the outbox: one message each).
        let size = arguments.target != .outbox && random.next(below: 4) == 0 ? Int64(2 + random.next(below: 15)) : 1
        let last = min(seq + size - 1, end - 1)
        if let outbox {
            try await outbox.enqueue(topic: "crash", payload: Array(String(seq).utf8))
        } else if let series {
            let readings = (seq...last).map { Reading(value: Pressure(baseValue: Double($0)), timestamp: Timestamp(nanosecondsSinceEpoch: $0)) }
            try await series.append(readings, to: "crashtest")
        } else {
            try await store(seq, through: last, payloadBytes: 64 + Int(random.next(below: 1_500)), in: database)
        }
        emit((seq...last).map { "\($0)\n" }.joined(), to: STDOUT_FILENO)
        seq = last + 1
    }
}

guard let arguments = Arguments(CommandLine.arguments) else {
    emit("usage: iotsdk-storage-writer <database path> <full|normal> <first sequence number ≥ 1> [--seed <n>] [--count <n>] [--store table|outbox|timeseries]\n", to: STDERR_FILENO)
    exit(64)
}
do {
    try await run(arguments)
} catch {
    emit("iotsdk-storage-writer: \(error)\n", to: STDERR_FILENO)
    exit(70)
}
