import Foundation
import Synchronization
import Testing
@testable import IoTSDK

/// A wall clock that tests move by hand (nanoseconds since the epoch).
private final class TestClock: Sendable {
    private let nanoseconds = Mutex<Int64>(1_700_000_000_000_000_000)

    var now: Int64 { nanoseconds.withLock { $0 } }

    func advance(_ duration: Duration) {
        nanoseconds.withLock { $0 = Outbox.time($0, plus: duration) }
    }

    var read: @Sendable () -> Int64 { { self.now } }
}

private struct Telemetry: Codable, Sendable, Equatable {
    var device: String
    var celsius: Double
}

@Suite("Outbox")
final class OutboxTests {
    let folder: ScratchDatabaseFolder
    let database: Database
    private let clock = TestClock()

    init() throws {
        folder = try ScratchDatabaseFolder()
        database = try folder.openDatabase()
    }

    private func outbox(_ name: String = "default", quota: Outbox.Quota = .unlimited, on database: Database? = nil) async throws -> Outbox {
        try await Outbox(database: database ?? self.database, name: name, quota: quota, clock: clock.read)
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: - Enqueue and take

    @Test("a taken message carries exactly what was enqueued")
    func roundTrip() async throws {
        let outbox = try await outbox()
        let payload: [UInt8] = [0, 1, 2, 0xFF, 0x80]
        let id = try await outbox.enqueue(topic: "telemetry/room1", payload: payload, priority: 3, ttl: .seconds(60))
        let empty = try await outbox.enqueue(topic: "heartbeat", payload: [])
        let taken = try await outbox.take(batch: 10, lease: .seconds(30))
        #expect(taken.count == 2)
        let first = try #require(taken.first)
        #expect(first.id == id)
        #expect(first.topic == "telemetry/room1")
        #expect(first.payload == payload)
        #expect(first.priority == 3)
        #expect(first.attempt == 1)
        #expect(first.enqueuedAt == Timestamp(nanosecondsSinceEpoch: clock.now))
        #expect(first.expiresAt == Timestamp(nanosecondsSinceEpoch: clock.now) + .seconds(60))
        #expect(first.leaseExpiresAt == Timestamp(nanosecondsSinceEpoch: clock.now) + .seconds(30))
        #expect(taken.last?.id == empty)
        #expect(taken.last?.payload == [])
        #expect(taken.last?.expiresAt == nil)
    }

    @Test("replacingQueued drops the waiting messages of its topic (counted as expired), not those of other topics or under a lease")
    func replacingQueued() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "report", payload: bytes("r1"), retain: true, replacingQueued: true)
        let leased = try await outbox.take(batch: 1, lease: .seconds(30))
        try await outbox.enqueue(topic: "report", payload: bytes("r2"), retain: true, replacingQueued: true)
        try await outbox.enqueue(topic: "event", payload: bytes("e1"))
        try await outbox.enqueue(topic: "report", payload: bytes("r3"), retain: true, replacingQueued: true)
        try await outbox.enqueue(topic: "event", payload: bytes("e2"))
        try await outbox.enqueue(topic: "report", payload: bytes("r4"), retain: true, replacingQueued: true)
        #expect(leased.map(\.payload) == [bytes("r1")])
        let waiting = try await outbox.take(batch: 10, lease: .seconds(30))
        #expect(waiting.map { String(decoding: $0.payload, as: UTF8.self) } == ["e1", "e2", "r4"])
        #expect(waiting.last?.retain == true)
        let statistics = try await outbox.statistics()
        #expect(statistics.expired == 2 && statistics.leased == 4 && statistics.pending == 0, "\(statistics)")
    }

    @Test("take returns the highest priority first, then the oldest")
    func priorityOrder() async throws {
        let outbox = try await outbox()
        for (name, priority) in [("low-1", 0), ("high-1", 5), ("mid-1", 2), ("high-2", 5), ("low-2", 0), ("urgent", 9), ("neg", -1)] {
            try await outbox.enqueue(topic: "t", payload: bytes(name), priority: priority)
        }
        let first = try await outbox.take(batch: 4, lease: .seconds(10))
        #expect(first.map { String(decoding: $0.payload, as: UTF8.self) } == ["urgent", "high-1", "high-2", "mid-1"])
        let rest = try await outbox.take(batch: 10, lease: .seconds(10))
        #expect(rest.map { String(decoding: $0.payload, as: UTF8.self) } == ["low-1", "low-2", "neg"])
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).isEmpty)
    }

    @Test("take(topic:) leases only that topic's messages")
    func topicFilter() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "a", payload: [1])
        try await outbox.enqueue(topic: "b", payload: [2], priority: 9)
        try await outbox.enqueue(topic: "a", payload: [3])
        let taken = try await outbox.take(batch: 10, lease: .seconds(10), topic: "a")
        #expect(taken.map(\.payload) == [[1], [3]])
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).map(\.payload) == [[2]])
    }

    // MARK: - Leases, acknowledgement, release

    @Test("acknowledged messages are deleted and counted; acknowledging again changes nothing")
    func acknowledge() async throws {
        let outbox = try await outbox()
        for i in 0..<3 { try await outbox.enqueue(topic: "t", payload: [UInt8(i)]) }
        let taken = try await outbox.take(batch: 2, lease: .seconds(10))
        #expect(try await outbox.statistics() == OutboxStatistics(pending: 1, leased: 2, storedBytes: 6, delivered: 0, expired: 0, droppedForQuota: 0, rejectedForQuota: 0))
        #expect(try await outbox.acknowledge(taken) == 2)
        #expect(try await outbox.acknowledge(taken.map(\.id)) == 0)
        #expect(try await outbox.statistics() == OutboxStatistics(pending: 1, leased: 0, storedBytes: 2, delivered: 2, expired: 0, droppedForQuota: 0, rejectedForQuota: 0))
        clock.advance(.seconds(11))
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).map(\.payload) == [[2]])
    }

    @Test("a lease that runs out re-delivers the message with the next attempt number")
    func leaseExpiry() async throws {
        let outbox = try await outbox()
        let id = try await outbox.enqueue(topic: "t", payload: [7])
        #expect(try await outbox.take(batch: 1, lease: .seconds(30)).map(\.attempt) == [1])
        clock.advance(.seconds(29))
        #expect(try await outbox.take(batch: 1, lease: .seconds(30)).isEmpty)
        clock.advance(.seconds(1))
        let again = try await outbox.take(batch: 1, lease: .seconds(30))
        #expect(again.map(\.id) == [id])
        #expect(again.map(\.attempt) == [2])
    }

    @Test("with the real clock, a short lease runs out and the message comes back")
    func leaseExpiryRealClock() async throws {
        let outbox = try await Outbox(database: database, name: "real")
        let id = try await outbox.enqueue(topic: "t", payload: [1])
        // The lease is long enough that the second take, right after, still sees it held even on
        // a loaded machine (150 ms was not), and short enough to run out within the test.
        let first = try await outbox.take(batch: 1, lease: .seconds(1))
        #expect(first.map(\.id) == [id])
        #expect(try await outbox.take(batch: 1, lease: .seconds(1)).isEmpty)
        let deadline = ContinuousClock.now + .seconds(10)
        var again: [OutboxMessage] = []
        while again.isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            again = try await outbox.take(batch: 1, lease: .seconds(60))
        }
        #expect(again.map(\.id) == [id])
        #expect(again.map(\.attempt) == [2])
        #expect(try await outbox.statistics().leased == 1)
    }

    @Test("release gives messages back at once or after the retry delay")
    func release() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "t", payload: [1])
        try await outbox.enqueue(topic: "t", payload: [2])
        let taken = try await outbox.take(batch: 2, lease: .seconds(60))
        try #require(taken.count == 2)
        #expect(try await outbox.release([taken[0]]) == 1)
        #expect(try await outbox.release([taken[1].id], retry: .after(.seconds(10))) == 1)
        #expect(try await outbox.statistics().pending == 2)
        let now = try await outbox.take(batch: 10, lease: .seconds(60))
        #expect(now.map(\.payload) == [[1]])
        #expect(now.map(\.attempt) == [2])
        clock.advance(.seconds(10))
        let later = try await outbox.take(batch: 10, lease: .seconds(60))
        #expect(later.map(\.payload) == [[2]])
        #expect(later.map(\.attempt) == [2])
    }

    @Test("releasing a delivery whose lease ran out does not take the message from its new taker")
    func staleRelease() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "t", payload: [1])
        let old = try await outbox.take(batch: 1, lease: .seconds(5))
        clock.advance(.seconds(6))
        let current = try await outbox.take(batch: 1, lease: .seconds(60))
        #expect(current.map(\.attempt) == [2])
        #expect(try await outbox.release(old) == 0)
        #expect(try await outbox.take(batch: 1, lease: .seconds(60)).isEmpty)
        #expect(try await outbox.statistics().leased == 1)
    }

    @Test("exponential retry delay doubles per attempt up to the maximum")
    func exponentialDelay() {
        let retry = Outbox.RetryDelay.exponential(initial: .seconds(1), maximum: .seconds(10))
        #expect((1...6).map { retry.delay(afterAttempt: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        #expect(Outbox.RetryDelay.immediately.delay(afterAttempt: 3) == .zero)
        #expect(Outbox.RetryDelay.after(.seconds(3)).delay(afterAttempt: 9) == .seconds(3))
    }

    @Test("a lease taken before the wall clock went back counts as ended")
    func clockWentBack() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "t", payload: [1])
        _ = try await outbox.take(batch: 1, lease: .seconds(3600))
        clock.advance(.seconds(-60))
        #expect(try await outbox.take(batch: 1, lease: .seconds(60)).map(\.attempt) == [2])
    }

    @Test("concurrent takers never get the same message while it is leased")
    func concurrentTakers() async throws {
        let outbox = try await outbox()
        var enqueued: Set<OutboxMessage.ID> = []
        for i in 0..<300 {
            enqueued.insert(try await outbox.enqueue(topic: "t", payload: [UInt8(i % 256)], priority: i % 4))
        }
        let taken = try await withThrowingTaskGroup(of: [OutboxMessage.ID].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var mine: [OutboxMessage.ID] = []
                    while true {
                        let batch = try await outbox.take(batch: 7, lease: .seconds(600))
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            var all: [OutboxMessage.ID] = []
            for try await ids in group { all += ids }
            return all
        }
        #expect(taken.count == 300)
        #expect(Set(taken) == enqueued)
        #expect(try await outbox.statistics().leased == 300)
    }

    // MARK: - Time to live

    @Test("expired messages are dropped when met and counted")
    func ttl() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "t", payload: [1], ttl: .seconds(10))
        try await outbox.enqueue(topic: "t", payload: [2], ttl: .seconds(100))
        try await outbox.enqueue(topic: "t", payload: [3], ttl: .seconds(5))
        try await outbox.enqueue(topic: "t", payload: [4])
        clock.advance(.seconds(10))
        let before = try await outbox.statistics()
        #expect(before.pending == 2)
        #expect(before.expired == 2)
        #expect(before.storedBytes == 8)
        let taken = try await outbox.take(batch: 10, lease: .seconds(10))
        #expect(taken.map(\.payload) == [[2], [4]])
        let after = try await outbox.statistics()
        #expect(after == OutboxStatistics(pending: 0, leased: 2, storedBytes: 4, delivered: 0, expired: 2, droppedForQuota: 0, rejectedForQuota: 0))
    }

    @Test("a message that expires while leased is not dropped under the lease, but after it")
    func ttlUnderLease() async throws {
        let outbox = try await outbox()
        try await outbox.enqueue(topic: "t", payload: [1], ttl: .seconds(5))
        let taken = try await outbox.take(batch: 1, lease: .seconds(30))
        clock.advance(.seconds(10))
        try await outbox.enqueue(topic: "t", payload: [2])   // meets expired messages on the way
        #expect(try await outbox.statistics().leased == 1)
        #expect(try await outbox.acknowledge(taken) == 1)

        try await outbox.enqueue(topic: "t", payload: [3], ttl: .seconds(5))
        _ = try await outbox.take(batch: 1, lease: .seconds(30), topic: "t")   // takes [2]
        _ = try await outbox.take(batch: 1, lease: .seconds(30))               // takes [3]
        clock.advance(.seconds(31))
        #expect(try await outbox.take(batch: 10, lease: .seconds(30)).map(\.payload) == [[2]])
        #expect(try await outbox.statistics().expired == 1)
    }

    // MARK: - Quota

    @Test("rejectNew by count: the new message is refused and every stored one is kept")
    func rejectNewByCount() async throws {
        let outbox = try await outbox(quota: .init(maxMessages: 3, whenFull: .rejectNew))
        for i in 1...3 { try await outbox.enqueue(topic: "t", payload: [UInt8(i)], priority: i) }
        let error = await #expect(throws: StorageError.self) {
            try await outbox.enqueue(topic: "t", payload: [9], priority: 100)
        }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.message.contains("nothing stored was lost") == true)
        let stats = try await outbox.statistics()
        #expect(stats.pending == 3)
        #expect(stats.rejectedForQuota == 1)
        #expect(stats.droppedForQuota == 0)
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).map(\.payload) == [[3], [2], [1]])
    }

    @Test("rejectNew by bytes; room made by acknowledging is used again")
    func rejectNewByBytes() async throws {
        let outbox = try await outbox(quota: .init(maxBytes: 30, whenFull: .rejectNew))
        let first = try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: 1, count: 14))   // 15 bytes
        try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: 2, count: 14))               // 30 bytes
        await #expect(throws: StorageError.self) { try await outbox.enqueue(topic: "t", payload: [3]) }
        #expect(try await outbox.statistics().storedBytes == 30)
        _ = try await outbox.take(batch: 1, lease: .seconds(10))
        try await outbox.acknowledge([first])
        try await outbox.enqueue(topic: "t", payload: [3])
        let stats = try await outbox.statistics()
        #expect(stats.storedBytes == 17)
        #expect(stats.rejectedForQuota == 1)
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).map(\.payload) == [[UInt8](repeating: 2, count: 14), [3]])
    }

    @Test("dropOldest drops the lowest priority, then the oldest, and counts them")
    func dropOldest() async throws {
        let outbox = try await outbox(quota: .init(maxMessages: 4, whenFull: .dropOldest))
        try await outbox.enqueue(topic: "t", payload: [1], priority: 1)
        try await outbox.enqueue(topic: "t", payload: [2], priority: 0)
        try await outbox.enqueue(topic: "t", payload: [3], priority: 1)
        try await outbox.enqueue(topic: "t", payload: [4], priority: 0)
        try await outbox.enqueue(topic: "t", payload: [5], priority: 1)   // drops [2]
        try await outbox.enqueue(topic: "t", payload: [6], priority: 1)   // drops [4]
        try await outbox.enqueue(topic: "t", payload: [7], priority: 2)   // drops [1]
        let stats = try await outbox.statistics()
        #expect(stats.droppedForQuota == 3)
        #expect(stats.pending == 4)
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).map(\.payload) == [[7], [3], [5], [6]])
    }

    @Test("dropOldest never drops higher-priority or leased messages for a new one")
    func dropOldestLimits() async throws {
        let outbox = try await outbox(quota: .init(maxMessages: 2, whenFull: .dropOldest))
        try await outbox.enqueue(topic: "t", payload: [1], priority: 5)
        try await outbox.enqueue(topic: "t", payload: [2], priority: 5)
        let error = await #expect(throws: StorageError.self) { try await outbox.enqueue(topic: "t", payload: [3], priority: 1) }
        #expect(error?.code == .quotaExceeded)
        let leased = try await outbox.take(batch: 2, lease: .seconds(10))
        await #expect(throws: StorageError.self) { try await outbox.enqueue(topic: "t", payload: [4], priority: 9) }
        #expect(try await outbox.statistics() == OutboxStatistics(pending: 0, leased: 2, storedBytes: 4, delivered: 0, expired: 0, droppedForQuota: 0, rejectedForQuota: 2))
        #expect(leased.map(\.payload) == [[1], [2]])
    }

    @Test("dropOldest passes over a priority whose messages are all leased")
    func dropOldestSkipsLeased() async throws {
        let outbox = try await outbox(quota: .init(maxMessages: 3, whenFull: .dropOldest))
        try await outbox.enqueue(topic: "low", payload: [1], priority: 0)
        try await outbox.enqueue(topic: "t", payload: [2], priority: 1)
        try await outbox.enqueue(topic: "t", payload: [3], priority: 1)
        let leased = try await outbox.take(batch: 1, lease: .seconds(60), topic: "low")
        try await outbox.enqueue(topic: "t", payload: [4], priority: 1)   // drops [2], not the leased [1]
        #expect(try await outbox.statistics().droppedForQuota == 1)
        #expect(try await outbox.take(batch: 10, lease: .seconds(60)).map(\.payload) == [[3], [4]])
        #expect(try await outbox.acknowledge(leased) == 1)
    }

    @Test("a message larger than the whole byte quota is refused under either policy")
    func oversized() async throws {
        let outbox = try await outbox(quota: .init(maxBytes: 10, whenFull: .dropOldest))
        try await outbox.enqueue(topic: "t", payload: [1])
        let error = await #expect(throws: StorageError.self) { try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: 0, count: 10)) }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.message.contains("larger than the whole quota") == true)
        #expect(try await outbox.statistics().pending == 1)
    }

    @Test("expired messages make room before the quota policy is applied")
    func expiredFreeRoom() async throws {
        let outbox = try await outbox(quota: .init(maxMessages: 1, whenFull: .rejectNew))
        try await outbox.enqueue(topic: "t", payload: [1], ttl: .seconds(1))
        clock.advance(.seconds(2))
        try await outbox.enqueue(topic: "t", payload: [2])
        let stats = try await outbox.statistics()
        #expect(stats.expired == 1)
        #expect(stats.rejectedForQuota == 0)
        #expect(try await outbox.take(batch: 10, lease: .seconds(10)).map(\.payload) == [[2]])
    }

    // MARK: - Persistence, names, JSON, arguments

    @Test("messages, leases and counters survive closing and reopening the database file")
    func reopen() async throws {
        var leasedID: OutboxMessage.ID?
        weak var closed: Database?
        do {
            let first = try folder.openDatabase("reopen.db")
            closed = first
            let outbox = try await outbox(on: first)
            for i in 1...4 { try await outbox.enqueue(topic: "t", payload: [UInt8(i)], priority: i == 1 ? 9 : 0) }
            let taken = try await outbox.take(batch: 2, lease: .seconds(60))
            try #require(taken.count == 2)
            try await outbox.acknowledge([taken[1].id])
            leasedID = taken[0].id
        }
        #expect(closed == nil)
        let reopened = try folder.openDatabase("reopen.db")
        let outbox = try await outbox(on: reopened)
        #expect(try await outbox.statistics() == OutboxStatistics(pending: 2, leased: 1, storedBytes: 6, delivered: 1, expired: 0, droppedForQuota: 0, rejectedForQuota: 0))
        #expect(try await outbox.take(batch: 10, lease: .seconds(120)).map(\.payload) == [[3], [4]])
        clock.advance(.seconds(60))
        let redelivered = try await outbox.take(batch: 10, lease: .seconds(60))
        #expect(redelivered.map(\.id) == [leasedID].compactMap { $0 })
        #expect(redelivered.map(\.attempt) == [2])
        #expect(redelivered.map(\.payload) == [[1]])
        #expect(try await reopened.schemaVersion("iotsdk.outbox") == 3)
    }

    @Test("outboxes of different names in one database are apart")
    func names() async throws {
        let a = try await outbox("a")
        let b = try await outbox("b", quota: .init(maxMessages: 1))
        try await a.enqueue(topic: "t", payload: [1])
        try await a.enqueue(topic: "t", payload: [2])
        try await b.enqueue(topic: "t", payload: [3])
        #expect(try await b.take(batch: 10, lease: .seconds(5)).map(\.payload) == [[3]])
        #expect(try await a.take(batch: 10, lease: .seconds(5)).map(\.payload) == [[1], [2]])
        #expect(try await a.statistics().leased == 2)
        #expect(try await b.statistics().leased == 1)
    }

    @Test("Codable payloads round-trip as JSON; decoding as another type throws typeMismatch")
    func json() async throws {
        let outbox = try await outbox()
        let value = Telemetry(device: "node-7", celsius: 21.5)
        try await outbox.enqueue(topic: "telemetry", json: value)
        let message = try #require(try await outbox.take(batch: 1, lease: .seconds(5)).first)
        #expect(String(decoding: message.payload, as: UTF8.self) == #"{"celsius":21.5,"device":"node-7"}"#)
        #expect(try message.decode(Telemetry.self) == value)
        let error = #expect(throws: StorageError.self) { try message.decode([Int].self) }
        #expect(error?.code == .typeMismatch)
    }

    @Test("invalid arguments are refused with invalidArgument")
    func invalidArguments() async throws {
        let outbox = try await outbox()
        let database = self.database
        let cases: [@Sendable () async throws -> Void] = [
            { _ = try await outbox.take(batch: 0, lease: .seconds(1)) },
            { _ = try await outbox.take(batch: 1, lease: .zero) },
            { try await outbox.enqueue(topic: "", payload: [1]) },
            { try await outbox.enqueue(topic: "t", payload: [1], ttl: .zero) },
            { _ = try await Outbox(database: database, name: "") },
            { _ = try await Outbox(database: database, name: "q", quota: .init(maxMessages: 0)) },
        ]
        for run in cases {
            let error = await #expect(throws: StorageError.self) { try await run() }
            #expect(error?.code == .invalidArgument)
        }
        #expect(try await outbox.statistics().pending == 0)
    }
}
