import Synchronization
import Testing
@testable import IoTSDK

/// A device without a real-time clock, simulated: a wall clock that starts unsynchronized near
/// 1970 and jumps when "NTP" synchronizes it, a boot clock that only moves forward, a boot id
/// that changes at a reboot. No root needed.
private final class SimulatedSystemClock: Sendable {
    private struct State {
        var wall: Int64
        var boot: Int64
        var bootID: String
        var synchronized: Bool
    }

    private let state: Mutex<State>

    /// Booted 12 s ago, the wall clock at 1970-01-01T00:00:12Z and not synchronized.
    init() {
        state = Mutex(State(wall: 12 * second, boot: 12 * second, bootID: "boot-1", synchronized: false))
    }

    var source: ClockSource {
        ClockSource { [self] in
            state.withLock {
                SystemClock.Sample(wallClock: Timestamp(nanosecondsSinceEpoch: $0.wall), bootTime: .nanoseconds($0.boot),
                                   bootID: $0.bootID, isSynchronized: $0.synchronized)
            }
        }
    }

    var wall: Timestamp { state.withLock { Timestamp(nanosecondsSinceEpoch: $0.wall) } }
    var boot: Int64 { state.withLock { $0.boot } }

    /// Time passes: both clocks move.
    func advance(_ duration: Duration) {
        let nanoseconds = duration.components.seconds * second
        state.withLock {
            $0.wall += nanoseconds
            $0.boot += nanoseconds
        }
    }

    /// NTP steps the wall clock to `wall` and clears STA_UNSYNC; the boot clock does not move.
    func synchronize(to wall: Timestamp) {
        state.withLock {
            $0.wall = wall.nanosecondsSinceEpoch
            $0.synchronized = true
        }
    }

    /// A reboot: a new boot id, the boot clock from 5 s, the wall clock back at 1970, unsynchronized.
    func reboot(_ id: String) {
        state.withLock { $0 = State(wall: 5 * second, boot: 5 * second, bootID: id, synchronized: false) }
    }
}

private let second: Int64 = 1_000_000_000
/// 2026-12-07T12:00:00Z: the time NTP brings.
private let today = Timestamp(nanosecondsSinceEpoch: 1_796_644_800 * second)

@Suite("Storage on a device without a real-time clock")
final class UnsynchronizedClockTests {
    let folder: ScratchDatabaseFolder
    let database: Database
    private let clock = SimulatedSystemClock()

    init() throws {
        folder = try ScratchDatabaseFolder()
        database = try folder.openDatabase()
    }

    private func outbox() async throws -> Outbox {
        try await Outbox(database: database, name: "default", quota: .unlimited, clockSource: clock.source)
    }

    private func store(_ retention: RetentionPolicy = .unlimited) async throws -> TimeSeriesStore {
        try await TimeSeriesStore(database: database, retention: retention, clock: clock.source)
    }

    private func readingNow(_ kelvin: Double) -> Reading<Temperature> {
        Reading(value: Temperature(baseValue: kelvin), timestamp: clock.wall)
    }

    // MARK: - Outbox

    @Test("a message queued at 1970 with a TTL of 1 h survives the jump to 2026 and is re-based")
    func outboxSurvivesTheJump() async throws {
        let outbox = try await outbox()
        let id = try await outbox.enqueue(topic: "telemetry", payload: [1], ttl: .seconds(3_600))
        let queuedAtBoot = clock.boot
        clock.advance(.seconds(600))

        let before = try #require(try await outbox.take(batch: 1, lease: .seconds(5)).first)
        #expect(before.id == id)
        #expect(!before.timeSynchronized)
        #expect(before.enqueuedAt == Timestamp(nanosecondsSinceEpoch: 12 * second))
        #expect(before.expiresAt == Timestamp(nanosecondsSinceEpoch: 12 * second) + .seconds(3_600))
        try await outbox.release([before])

        clock.synchronize(to: today)
        let after = try #require(try await outbox.take(batch: 1, lease: .seconds(5)).first)
        // True time: wall now − (boot now − boot then) = today − 10 min.
        let expected = today - .nanoseconds(clock.boot - queuedAtBoot)
        #expect(after.id == id)
        #expect(after.timeSynchronized)
        #expect(after.enqueuedAt == expected)
        #expect(after.expiresAt == expected + .seconds(3_600))
        #expect(try await outbox.statistics().expired == 0)
        try await outbox.release([after])

        // The TTL is the hour it was given: 50 more minutes, not 56 years.
        clock.advance(.seconds(49 * 60))
        #expect(try await outbox.statistics().pending == 1)
        clock.advance(.seconds(2 * 60))
        #expect(try await outbox.take(batch: 1, lease: .seconds(5)).isEmpty)
        #expect(try await outbox.statistics().expired == 1)
    }

    @Test("before the clock is synchronized, a TTL runs on the boot clock")
    func outboxTTLOnTheBootClock() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "telemetry", payload: [1], ttl: .seconds(3_600))
        try await outbox.enqueue(topic: "telemetry", payload: [2])
        clock.advance(.seconds(3_599))
        #expect(try await outbox.statistics().pending == 2)
        clock.advance(.seconds(2))
        let left = try await outbox.take(batch: 10, lease: .seconds(5))
        #expect(left.map(\.payload) == [[2]])
        #expect(left.first?.expiresAt == nil)
        #expect(try await outbox.statistics().expired == 1)
    }

    @Test("a message queued unsynchronized in an earlier boot never expires early: its TTL counts from synchronization")
    func outboxEarlierBoot() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "telemetry", payload: [1], ttl: .seconds(3_600))
        clock.advance(.seconds(7_200))
        clock.reboot("boot-2")
        clock.advance(.seconds(7_200))
        // Unsynchronized in another boot: the boot clocks cannot be compared, so it waits.
        #expect(try await outbox.statistics().pending == 1)

        clock.synchronize(to: today)
        let message = try #require(try await outbox.take(batch: 1, lease: .seconds(5)).first)
        #expect(!message.timeSynchronized)
        #expect(message.enqueuedAt == Timestamp(nanosecondsSinceEpoch: 12 * second))
        #expect(message.expiresAt == today + .seconds(3_600))
        try await outbox.release([message])
        clock.advance(.seconds(3_599))
        #expect(try await outbox.statistics().pending == 1)
        clock.advance(.seconds(2))
        #expect(try await outbox.take(batch: 1, lease: .seconds(5)).isEmpty)
    }

    @Test("an outbox database of migration 1 is migrated and its messages keep their times")
    func outboxMigratedDatabase() async throws {
        try await database.migrate(schema: OutboxSchema.name, to: [OutboxSchema.migrations[0]])
        let enqueued = today.nanosecondsSinceEpoch, expires = enqueued + 3_600 * second
        try await database.migrate(schema: "test.old-rows", to: [.sql(1, "a message of the old schema", """
            INSERT INTO iotsdk_outbox_state (outbox) VALUES ('default');
            INSERT INTO iotsdk_outbox (outbox, topic, payload, size, priority, enqueued_at_ns, expires_at_ns)
            VALUES ('default', 'old', x'01', 4, 0, \(enqueued), \(expires));
            """)])
        clock.synchronize(to: today + .seconds(60))
        let outbox = try await outbox()
        #expect(try await database.schemaVersion(OutboxSchema.name) == 3)
        let message = try #require(try await outbox.take(batch: 1, lease: .seconds(5)).first)
        #expect(message.topic == "old")
        #expect(!message.retain)   // migration 3's default
        #expect(message.timeSynchronized)
        #expect(message.enqueuedAt == today)
        #expect(message.expiresAt == today + .seconds(3_600))
    }

    // MARK: - Time series

    @Test("readings appended at 1970 are re-based to 2026 when the clock synchronizes, and none is dropped by age")
    func readingsRebased() async throws {
        let store = try await store(RetentionPolicy(maxAge: .seconds(7 * 86_400)))
        var boots: [Int64] = []
        for minute in 0..<3 {
            boots.append(clock.boot)
            try await store.append(readingNow(290 + Double(minute)), to: "room")
            clock.advance(.seconds(60))
        }
        let stored = try await store.storedReadings(in: "room", as: Temperature.self)
        #expect(stored.map(\.timeSynchronized) == [false, false, false])
        #expect(stored.first?.reading.timestamp == Timestamp(nanosecondsSinceEpoch: 12 * second))

        clock.synchronize(to: today)
        // An append after the jump: retention runs after the re-base, not on 1970 times.
        try await store.append(readingNow(300), to: "room")
        let rebased = try await store.storedReadings(in: "room", as: Temperature.self)
        #expect(rebased.count == 4)
        #expect(rebased.allSatisfy { $0.timeSynchronized })
        let expected = boots.map { today - .nanoseconds(clock.boot - $0) } + [today]
        #expect(rebased.map(\.reading.timestamp) == expected)
        #expect(rebased.map(\.reading.value.baseValue) == [290, 291, 292, 300])
        #expect(try await store.usage().droppedByAge == 0)
        let latest = try await store.latestPerSeries()
        #expect(latest.first?.timestamp == today && latest.first?.timeSynchronized == true)
    }

    @Test("a step of a few seconds (a saved time just off) moves every reading exactly, none onto another",
          arguments: [2, -2])
    func smallStepsRebaseExactly(step: Int64) async throws {
        let store = try await store()
        let start = clock.wall
        for index in 0..<5 {
            try await store.append(readingNow(290 + Double(index)), to: "room")
            clock.advance(.seconds(1))
        }
        // NTP finds the clock 2 s off: the readings move onto each other's old instants.
        clock.synchronize(to: clock.wall + .seconds(step))
        let moved = try await store.storedReadings(in: "room", as: Temperature.self)
        #expect(moved.map(\.reading.timestamp) == (0..<5).map { start + .seconds(step + $0) })
        #expect(moved.map(\.reading.value.baseValue) == [290, 291, 292, 293, 294])
        #expect(moved.allSatisfy { $0.timeSynchronized })
    }

    @Test("a query (series(), readings) re-bases by itself once the clock is synchronized")
    func queryRebases() async throws {
        let store = try await store()
        let boot = clock.boot
        try await store.append(readingNow(290), to: "room")
        clock.advance(.seconds(30))
        clock.synchronize(to: today)
        let expected = today - .nanoseconds(clock.boot - boot)
        #expect(try await store.series().first?.first == expected)
        let readings = try await store.readings(in: "room", as: Temperature.self)
        #expect(readings.map(\.timestamp) == [expected])
    }

    @Test("readings of an earlier boot keep their time, flagged, and age from when the clock is seen synchronized")
    func readingsOfAnEarlierBoot() async throws {
        let store = try await store(RetentionPolicy(maxAge: .seconds(86_400)))
        try await store.append(readingNow(290), to: "room")
        clock.advance(.seconds(2 * 86_400))
        clock.reboot("boot-2")
        clock.advance(.seconds(60))
        try await store.append(readingNow(291), to: "room")
        clock.advance(.seconds(60))
        clock.synchronize(to: today)

        try await store.append(readingNow(292), to: "room")
        let stored = try await store.storedReadings(in: "room", as: Temperature.self)
        #expect(stored.map(\.reading.value.baseValue) == [290, 291, 292])
        #expect(stored.map(\.timeSynchronized) == [false, true, true])
        #expect(stored.first?.reading.timestamp == Timestamp(nanosecondsSinceEpoch: 12 * second))
        #expect(stored[1].reading.timestamp == today - .seconds(60))

        // A day later, less 30 s: 291 is a day old; 290's day counts from the synchronization.
        clock.advance(.seconds(86_400 - 30))
        try await store.enforceRetention()
        #expect(try await store.readings(in: "room", as: Temperature.self).map(\.value.baseValue) == [290, 292])
        clock.advance(.seconds(60))
        try await store.append(readingNow(293), to: "room")
        #expect(try await store.readings(in: "room", as: Temperature.self).map(\.value.baseValue) == [293])
        #expect(try await store.usage().droppedByAge == 3)
    }

    @Test("a time-series database of migration 1 is migrated and its readings are synchronized")
    func timeSeriesMigratedDatabase() async throws {
        try await database.migrate(schema: TimeSeriesSchema.name, to: [TimeSeriesSchema.migrations[0]])
        try await database.migrate(schema: "test.old-rows", to: [.sql(1, "a reading of the old schema", """
            INSERT INTO iotsdk_ts_series (id, name, quantity, unit, created_at_ns) VALUES (1, 'room', 'Temperature', 'K', 0);
            INSERT INTO iotsdk_ts_points (series_id, t, v) VALUES (1, \(today.nanosecondsSinceEpoch), 290.5);
            """)])
        clock.synchronize(to: today + .seconds(60))
        let store = try await store()
        #expect(try await database.schemaVersion(TimeSeriesSchema.name) == 2)
        let stored = try await store.storedReadings(in: "room", as: Temperature.self)
        #expect(stored == [StoredReading(reading: Reading(value: Temperature(baseValue: 290.5), timestamp: today), timeSynchronized: true)])
        try await store.append(readingNow(291), to: "room")
        #expect(try await store.readings(in: "room", as: Temperature.self).count == 2)
    }

    // MARK: - The real clock

    @Test("the system clock reads: a boot id, a boot time that moves forward, a synchronization state")
    func systemClock() throws {
        let first = try SystemClock.sample()
        let later = try SystemClock.sample()
        #expect(first.bootID?.count == 36)
        #expect(first.bootTime > .zero && later.bootTime >= first.bootTime)
        #expect(later.wallClock >= first.wallClock || !first.isSynchronized)
        _ = try SystemClock.isSynchronized()
    }
}
