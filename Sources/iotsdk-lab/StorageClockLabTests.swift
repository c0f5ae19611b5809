import CIoTLinux
import IoTSDK
#if canImport(Glibc)
import Glibc
#endif

/// A Raspberry Pi without a real-time clock, on the real kernel: the guest's clock goes to 1970
/// and is marked unsynchronized (`adjtimex` STA_UNSYNC), messages and readings are stored, then
/// "NTP" steps the clock to today and clears STA_UNSYNC. Nothing may expire early, and the stored
/// times must come out as the true ones. The test puts back the time and the status it found, and
/// runs last, so that no other test sees 1970.
let storageClockLabTests: [LabTest] = [
    LabTest(name: "storage.clock-at-1970-unsynchronized-then-ntp-steps-to-today") {
        try await storageAcrossAnNTPStep()
    },
]

func storageAcrossAnNTPStep() async throws {
    // QEMU starts the guest's clock at the host's time: that is "today" for this test.
    let today = try Timestamp.now()
    try expect(today > Timestamp(nanosecondsSinceEpoch: 1_735_689_600 * 1_000_000_000),
               "the guest clock reads \(today) at the start: QEMU's RTC should give it the host's time")
    let wasSynchronized = try SystemClock.isSynchronized()
    let wall = WallClock()
    defer {
        wall.restore()
        _ = ciot_clock_set_unsynchronized(wasSynchronized ? 0 : 1)
    }

    // Boot at 1970, unsynchronized. clock_settime itself sets STA_UNSYNC; set it again anyway.
    var early = timespec(tv_sec: 3_600, tv_nsec: 0)
    try expect(clock_settime(CLOCK_REALTIME, &early) == 0, "clock_settime(1970): errno \(errno)")
    try expect(ciot_clock_set_unsynchronized(1) != -1, "adjtimex(ADJ_STATUS, STA_UNSYNC): errno \(errno)")
    try expect(try SystemClock.isSynchronized() == false, "adjtimex says synchronized after STA_UNSYNC was set")

    let root = "/tmp/storage-clock-lab"
    _ = mkdir(root, 0o755)
    unlink(root + "/data.sqlite")
    let database = try Database(path: root + "/data.sqlite")
    let outbox = try await Outbox(database: database)
    let store = try await TimeSeriesStore(database: database, retention: RetentionPolicy(maxAge: .seconds(86_400)))
    let queuedAt = try SystemClock.bootTime()
    let id = try await outbox.enqueue(topic: "telemetry", payload: [1, 2, 3], ttl: .seconds(3_600))
    var readingBootTimes: [Duration] = []
    for step in 0..<3 {
        readingBootTimes.append(try SystemClock.bootTime())
        try await store.append(try Reading(value: Temperature(baseValue: 290 + Double(step))), to: "room")
        usleep(200_000)
    }
    let before = try await store.storedReadings(in: "room", as: Temperature.self)
    let year1971 = Timestamp(nanosecondsSinceEpoch: 365 * 86_400 * 1_000_000_000)
    try expect(before.count == 3 && before.allSatisfy { !$0.timeSynchronized && $0.reading.timestamp < year1971 },
               "before the step: \(before)")

    // NTP: step to today (plus the time the test has run) and clear STA_UNSYNC.
    var target = timespec()
    let elapsed = ContinuousClock.now - wall.started
    let targetTime = today + elapsed
    target.tv_sec = Int(targetTime.nanosecondsSinceEpoch / 1_000_000_000)
    target.tv_nsec = Int(targetTime.nanosecondsSinceEpoch % 1_000_000_000)
    try expect(clock_settime(CLOCK_REALTIME, &target) == 0, "clock_settime(today): errno \(errno)")
    try expect(ciot_clock_set_unsynchronized(0) != -1, "adjtimex(ADJ_STATUS) clearing STA_UNSYNC: errno \(errno)")
    try expect(try SystemClock.isSynchronized(), "adjtimex says unsynchronized after STA_UNSYNC was cleared")

    // Nothing expired: the message's hour is counted from when it was queued, on the boot clock.
    let statistics = try await outbox.statistics()
    try expect(statistics.pending == 1 && statistics.expired == 0, "after the step: \(statistics)")
    let taken = try await outbox.take(batch: 10, lease: .seconds(30))
    let now = try SystemClock.sample()
    try expect(taken.count == 1 && taken[0].id == id, "after the step, taken: \(taken)")
    let message = taken[0]
    let expectedQueued = now.wallClock - (now.bootTime - queuedAt)
    let tolerance = Duration.milliseconds(100)
    try expect(message.timeSynchronized, "the message is not marked synchronized: \(message)")
    try expect(apart(message.enqueuedAt, expectedQueued) < tolerance,
               "enqueued at \(message.enqueuedAt), expected \(expectedQueued) (now \(now.wallClock))")
    try expect(message.expiresAt == message.enqueuedAt + .seconds(3_600), "expires at \(String(describing: message.expiresAt))")
    try await outbox.acknowledge(taken)

    // The readings moved to their true times, and retention (one day) dropped none of them.
    let after = try await store.storedReadings(in: "room", as: Temperature.self)
    try expect(after.count == 3 && after.allSatisfy(\.timeSynchronized), "after the step: \(after)")
    for (reading, bootTime) in zip(after, readingBootTimes) {
        let expected = now.wallClock - (now.bootTime - bootTime)
        try expect(apart(reading.reading.timestamp, expected) < tolerance,
                   "reading \(reading.reading.value) at \(reading.reading.timestamp), expected \(expected)")
    }
    try await store.append(try Reading(value: Temperature(baseValue: 300)), to: "room")
    try expectEqual(try await store.usage().droppedByAge, 0, "readings dropped by age")
    print("  1970 → \(now.wallClock): message re-based to \(message.enqueuedAt), readings \(after.map(\.reading.timestamp))")
}

/// How far apart two instants are.
private func apart(_ a: Timestamp, _ b: Timestamp) -> Duration { a > b ? a - b : b - a }
