import Foundation
import IoTSDK
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The crash test of issue #4: a child process (`iotsdk-storage-writer`) writes records
/// continuously and prints each sequence number once its transaction has committed; the test kills it
/// with SIGKILL at a random moment, many times over the same database, and after each kill opens the
/// database and checks that `PRAGMA integrity_check` is ok and that every acknowledged record is
/// there, without gaps.
///
/// The random choices come from a printed seed; set `IOTSDK_CRASH_SEED` to replay one. (The moment the
/// kernel delivers the signal still varies from run to run.)
@Suite("Storage crash test")
struct StorageCrashTests {
    static let rounds = 20

    /// What the writer writes to (its `--store` option).
    enum Target: String, CaseIterable, Sendable {
        /// Its own table, created with `Database.migrate`: transactions of 1 to 16 records.
        case table
        /// An `Outbox`: one `enqueue` per record.
        case outbox
        /// A `TimeSeriesStore`: appends of 1 to 16 readings.
        case timeseries

        /// At most this many records can be committed but not acknowledged: one transaction's.
        var largestTransaction: Int64 { self == .outbox ? 1 : 16 }
    }

    @Test("acknowledged writes survive SIGKILL", arguments: Target.allCases, [Database.Durability.full, .normal])
    func acknowledgedWritesSurviveKill(target: Target, durability: Database.Durability) async throws {
        let seed = ProcessInfo.processInfo.environment["IOTSDK_CRASH_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0004
        let name = "\(target), \(durability)"
        print("storage crash test (\(name)): seed \(seed) (replay with IOTSDK_CRASH_SEED=\(seed)), \(Self.rounds) rounds")
        var random = SeededGenerator(state: seed ^ (durability == .full ? 1 : 2) ^ UInt64(Target.allCases.firstIndex(of: target) ?? 0) << 8)
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/crash.sqlite"
        let writer = try WriterProcess.executable()
        let options = ["--store", target.rawValue]

        var next: Int64 = 1
        var acknowledgedInTotal = 0
        var roundsWithWrites = 0
        var roundsKilledWhileStarting = 0
        var committedButUnacknowledged: Int64 = 0
        for round in 1...Self.rounds {
            // A quarter of the kills land while the writer starts (opening, WAL recovery, migrating);
            // the others while it writes.
            let duringStart = Int.random(in: 0..<4, using: &random) == 0
            let delay = Duration.microseconds(Int64.random(in: 0..<(duringStart ? 25_000 : 40_000), using: &random))
            let output = try await writer.runAndKill(arguments: [path, durability.rawValue, String(next), "--seed", String(random.next())] + options,
                                                     after: delay, countingFromFirstLine: !duringStart, stderrPath: folder.path + "/stderr-\(round)")
            let context = "round \(round), seed \(seed), \(name), killed \(delay) after \(duringStart ? "spawn" : "the first acknowledgement")"
            #expect(output.killedBySIGKILL, "the writer ended before it was killed (\(context)): \(output.stderr)")

            // Acknowledgements arrive in order, continuing from the first record this round wrote.
            let acknowledged = output.lines.compactMap { Int64($0) }
            if !duringStart && acknowledged.isEmpty {
                Issue.record("the writer acknowledged nothing within 10 s (\(context)): \(output.stderr)")
                return
            }
            #expect(acknowledged == Array(next..<(next + Int64(acknowledged.count))), "acknowledgements out of order (\(context))")

            let stored = try await Self.verify(path: path, target: target, durability: durability, context: context)
            // Every acknowledged record is there, and the rows are exactly 1...n: no gaps, no duplicates.
            let highest = stored.last ?? 0
            #expect(stored == (highest > 0 ? Array(1...highest) : []), "gaps in the stored records (\(context))")
            if let last = acknowledged.last {
                #expect(highest >= last, "acknowledged record \(last) is missing; highest stored is \(highest) (\(context))")
            }
            // Only the transaction in flight at the kill can be committed without an acknowledgement.
            let unacknowledged = highest - (acknowledged.last ?? (next - 1))
            #expect(unacknowledged >= 0 && unacknowledged <= target.largestTransaction, "\(unacknowledged) records committed beyond the last acknowledgement (\(context))")

            committedButUnacknowledged += max(unacknowledged, 0)
            acknowledgedInTotal += acknowledged.count
            roundsWithWrites += acknowledged.isEmpty ? 0 : 1
            roundsKilledWhileStarting += duringStart ? 1 : 0
            next = highest + 1
        }
        print("storage crash test (\(name)): \(acknowledgedInTotal) records acknowledged in \(roundsWithWrites) of \(Self.rounds) rounds (\(roundsKilledWhileStarting) killed while starting), all present; \(committedButUnacknowledged) committed but unacknowledged")
        // A test that can fail: most kills must have interrupted real writing.
        #expect(Self.rounds - roundsKilledWhileStarting >= Self.rounds / 2, "only \(Self.rounds - roundsKilledWhileStarting) kills while writing: choose another seed")

        // After all the kills the database still takes writes.
        let final = try await writer.runToEnd(arguments: [path, durability.rawValue, String(next), "--count", "25"] + options,
                                              stderrPath: folder.path + "/stderr-final")
        #expect(final.exitStatus == 0, "the writer failed after the crashes: \(final.stderr)")
        #expect(final.lines.compactMap { Int64($0) } == Array(next..<(next + 25)))
        let stored = try await Self.verify(path: path, target: target, durability: durability, context: "after the final run")
        #expect(stored.count == Int(next + 24) && stored.last == next + 24)
    }

    @Test("a kill while a new database is being created leaves a file the SDK opens again", arguments: [Database.Durability.full, .normal])
    func killDuringCreation(durability: Database.Durability) async throws {
        let seed = ProcessInfo.processInfo.environment["IOTSDK_CRASH_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0004
        var random = SeededGenerator(state: seed ^ (durability == .full ? 8 : 16))
        let folder = try ScratchDatabaseFolder()
        let writer = try WriterProcess.executable()
        for round in 1...12 {
            // A fresh file each round, killed within the first milliseconds: while the process
            // starts, or inside `Database.init` (WAL mode, application_id, the migrations table).
            let path = folder.path + "/new-\(round).sqlite"
            let delay = Duration.microseconds(Int64.random(in: 0..<15_000, using: &random))
            let context = "round \(round), seed \(seed), \(durability), killed \(delay) after spawn"
            let killed = try await writer.runAndKill(arguments: [path, durability.rawValue, "1"], after: delay,
                                                     countingFromFirstLine: false, stderrPath: folder.path + "/stderr-\(round)")
            #expect(killed.killedBySIGKILL, "\(context): \(killed.stderr)")
            let acknowledged = Int64(killed.lines.count)

            // Opened twice more (by the test, then by the writer), it is still the SDK's database.
            let stored = try await Self.verify(path: path, target: .table, durability: durability, context: context)
            #expect(stored.count >= acknowledged && stored == (stored.isEmpty ? [] : Array(1...Int64(stored.count))), "\(context)")
            let next = Int64(stored.count) + 1
            let more = try await writer.runToEnd(arguments: [path, durability.rawValue, String(next), "--count", "3"],
                                                 stderrPath: folder.path + "/stderr-more-\(round)")
            #expect(more.exitStatus == 0, "reopening after a kill during creation (\(context)): \(more.stderr)")
            #expect(try await Self.verify(path: path, target: .table, durability: durability, context: context).count == Int(next + 2))
        }
    }

    @Test("the writer stores and acknowledges every record when it is not killed")
    func writerRunsToCompletion() async throws {
        let folder = try ScratchDatabaseFolder()
        let path = folder.path + "/complete.sqlite"
        let writer = try WriterProcess.executable()
        let output = try await writer.runToEnd(arguments: [path, "normal", "1", "--seed", "42", "--count", "300"], stderrPath: folder.path + "/stderr")
        #expect(output.exitStatus == 0, "\(output.stderr)")
        #expect(output.lines == (1...300).map { String($0) })
        let stored = try await Self.verify(path: path, target: .table, durability: .normal, context: "complete run")
        #expect(stored == Array(1...300))

        // Started again at a record it already stored, it refuses instead of writing a duplicate.
        let again = try await writer.runToEnd(arguments: [path, "normal", "1", "--seed", "42", "--count", "5"], stderrPath: folder.path + "/stderr-again")
        #expect(again.exitStatus == 70)
        #expect(again.lines.isEmpty)
        #expect(try await Self.verify(path: path, target: .table, durability: .normal, context: "rerun") == Array(1...300))
    }

    /// Opens the database with the SDK (which recovers the WAL), checks its integrity and returns the
    /// stored sequence numbers: from the writer's table, read with a separate plain sqlite3
    /// connection; from the outbox, taken through its API and released again; or the readings'
    /// timestamps from the time-series store.
    static func verify(path: String, target: Target, durability: Database.Durability, context: String) async throws -> [Int64] {
        let database = try Database(path: path, options: .init(durability: durability))
        let findings = try await database.integrityCheck()
        #expect(findings == ["ok"], "integrity check after a kill (\(context)): \(findings)")
        switch target {
        case .table:
            let raw = try RawSQLiteFile(path: path, readOnly: true)
            guard try raw.hasTable("crash_records") else { return [] }
            return try raw.integers("SELECT seq FROM crash_records ORDER BY seq")
        case .outbox:
            let outbox = try await Outbox(database: database, name: "crashtest")
            let statistics = try await outbox.statistics()
            let messages = try await outbox.take(batch: max(statistics.pending, 1), lease: .seconds(600))
            #expect(messages.count == statistics.pending && statistics.leased == 0, "outbox statistics (\(context)): \(statistics)")
            try await outbox.release(messages)
            return messages.compactMap { Int64(String(decoding: $0.payload, as: UTF8.self)) }.sorted()
        case .timeseries:
            let store = try await TimeSeriesStore(database: database)
            let readings: [Reading<Pressure>]
            do {
                readings = try await store.readings(in: "crashtest", as: Pressure.self)
            } catch let error as StorageError where error.code == .notFound {
                return []   // killed before the first append
            }
            let seqs = readings.map(\.timestamp.nanosecondsSinceEpoch)
            #expect(readings.allSatisfy { $0.value.baseValue == Double($0.timestamp.nanosecondsSinceEpoch) }, "a reading's value does not match its time (\(context))")
            #expect(try await store.usage().rows == readings.count, "the store's row count disagrees with its rows (\(context))")
            return seqs
        }
    }
}

// MARK: - The child process

/// Runs `iotsdk-storage-writer` with posix_spawn, its stdout on a pipe.
private struct WriterProcess {
    let path: String

    struct Output {
        var lines: [String]
        /// The raw wait status.
        var status: Int32
        var stderr: String

        var killedBySIGKILL: Bool { status & 0x7F == SIGKILL }
        var exitStatus: Int32? { status & 0x7F == 0 ? (status >> 8) & 0xFF : nil }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The writer built next to the test bundle (SwiftPM builds it because the test target depends on
    /// it); `IOTSDK_STORAGE_WRITER` overrides the path.
    static func executable() throws -> WriterProcess {
        let name = "iotsdk-storage-writer"
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["IOTSDK_STORAGE_WRITER"] { candidates.append(explicit) }
        // Linux: the test binary itself (`…PackageTests.xctest`) sits in the build folder.
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent + "/" + name)
        }
        // macOS: the `.xctest` bundle sits in the build folder.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append((bundle.bundlePath as NSString).deletingLastPathComponent + "/" + name)
        }
        if let first = CommandLine.arguments.first {
            candidates.append((first as NSString).deletingLastPathComponent + "/" + name)
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "\(name) not found (looked at \(candidates)). IoTSDKTests must depend on the executable target \(name) in Package.swift, so that `swift build --build-tests` builds it; or set IOTSDK_STORAGE_WRITER to its path")
        }
        return WriterProcess(path: found)
    }

    /// Starts the writer, lets it run for `delay` (counted from its first line of output when
    /// `countingFromFirstLine`), kills it with SIGKILL and returns every line it printed.
    func runAndKill(arguments: [String], after delay: Duration, countingFromFirstLine: Bool, stderrPath: String) async throws -> Output {
        let child = try spawn(arguments: arguments, stderrPath: stderrPath)
        var reader = LineReader(fd: child.stdout)
        defer { close(child.stdout) }
        let clock = ContinuousClock()
        var deadline = clock.now + delay
        if countingFromFirstLine {
            let giveUp = clock.now + .seconds(10)
            while reader.lines.isEmpty && reader.drain() && clock.now < giveUp {
                try await Task.sleep(for: .microseconds(500))
            }
            deadline = clock.now + delay
        }
        while clock.now < deadline && reader.drain() {
            try await Task.sleep(for: .microseconds(500))
        }
        kill(child.pid, SIGKILL)
        let status = waitForExit(child.pid)
        _ = reader.drain()  // whatever the writer printed before it died
        return Output(lines: reader.lines, status: status, stderr: Self.contents(of: stderrPath))
    }

    /// Runs the writer until it exits by itself (when it was given a count).
    func runToEnd(arguments: [String], stderrPath: String) async throws -> Output {
        let child = try spawn(arguments: arguments, stderrPath: stderrPath)
        var reader = LineReader(fd: child.stdout)
        defer { close(child.stdout) }
        let giveUp = ContinuousClock.now + .seconds(60)
        var status: Int32 = 0
        while true {
            _ = reader.drain()
            let done = waitpid(child.pid, &status, WNOHANG)
            if done == child.pid { break }
            if ContinuousClock.now > giveUp {
                kill(child.pid, SIGKILL)
                status = waitForExit(child.pid)
                break
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        _ = reader.drain()
        return Output(lines: reader.lines, status: status, stderr: Self.contents(of: stderrPath))
    }

    private func spawn(arguments: [String], stderrPath: String) throws -> (pid: pid_t, stdout: Int32) {
        var fds: [Int32] = [-1, -1]
        // Close-on-exec, so that no other child inherits the pipe. (The reads never wait for the end
        // of file, so one that slipped through in the window before fcntl would not hang the test.)
        guard pipe(&fds) == 0 else { throw Failure(description: "pipe: errno \(errno)") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)

        #if os(Linux)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw Failure(description: "posix_spawn \(path): error \(rc)")
        }
        return (pid, fds[0])
    }

    private func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    private static func contents(of path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

/// Collects complete lines from a non-blocking pipe.
private struct LineReader {
    let fd: Int32
    var lines: [String] = []
    private var partial: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// Reads what is available; false once the writing end is closed.
    mutating func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                for byte in buffer[..<n] {
                    if byte == UInt8(ascii: "\n") {
                        lines.append(String(decoding: partial, as: UTF8.self))
                        partial.removeAll(keepingCapacity: true)
                    } else {
                        partial.append(byte)
                    }
                }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return n < 0  // EAGAIN: open but empty; 0: closed
        }
    }
}
