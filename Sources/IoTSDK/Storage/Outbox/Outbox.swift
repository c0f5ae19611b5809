/// Store-and-forward: messages wait on disk until a consumer has delivered them.
///
/// A producer `enqueue`s (topic, payload, priority, time to live). A consumer `take`s a batch —
/// highest priority first, then oldest — which *leases* the messages: no other taker sees them
/// until the consumer `acknowledge`s them (they are deleted) or `release`s them (they come back,
/// optionally after a delay), or the lease runs out. Leases are stored, so a crash or power cut
/// between `take` and `acknowledge` re-delivers the messages once the lease has passed: delivery
/// is at-least-once, and `OutboxMessage.attempt` tells a receiver which delivery it is.
/// `enqueue` is flushed to disk before it returns (with the database's `.full` durability); `take`,
/// `acknowledge` and `release` are not on their own (`synchronous=NORMAL` for their transaction,
/// no fsync): the next flushed commit writes them down. A power cut in between can undo the last
/// of them, so that a message comes back once more; it never loses one.
///
/// ```swift
/// let outbox = try await Outbox(database: db, quota: .init(maxBytes: 50 << 20, whenFull: .dropOldest))
/// try await outbox.enqueue(topic: "telemetry", payload: bytes, ttl: .seconds(86_400))
/// let batch = try await outbox.take(batch: 100, lease: .seconds(30))
/// try await send(batch)
/// try await outbox.acknowledge(batch.map(\.id))
/// ```
///
/// Messages whose time to live has passed are dropped when an operation meets them and counted
/// (`statistics()`); a quota on count or bytes either rejects new messages or drops the lowest
/// priority, oldest ones. Every operation is one transaction (`BEGIN IMMEDIATE`) on the database's
/// queue, in tables `iotsdk_outbox` and `iotsdk_outbox_state` (schema `iotsdk.outbox`). Several
/// named outboxes can share one database.
///
/// **Time.** Each message records the wall clock (`CLOCK_REALTIME`, which survives a reboot), the
/// boot clock (`CLOCK_BOOTTIME`, which never jumps) with the boot's id, and whether the wall clock
/// was synchronized (`SystemClock`, `adjtimex(2)`). A device without a real-time clock boots at
/// 1970 or a stale saved time and jumps hours or years when NTP synchronizes it, so:
/// - A message enqueued while the clock is not synchronized has its TTL counted on the boot
///   clock: the jump neither expires it early nor keeps it late. Every operation checks the clock
///   (one `adjtimex` call); the first one that finds it synchronized re-bases that boot's
///   messages to their true times (wall now − boot time elapsed since) and their expiry with them.
///   Until then `OutboxMessage.timeSynchronized` is false.
/// - A message enqueued unsynchronized in an earlier boot cannot be placed on the wall clock: it
///   does not expire until the clock is synchronized, then gets its whole TTL again from that
///   moment (it may live longer, never shorter), and keeps `timeSynchronized` false.
/// - Leases and retry delays stay on the wall clock: a jump forward ends a lease early (the
///   message is delivered once more, as at-least-once allows); a lease taken "in the future"
///   after the clock went back counts as ended.
public final class Outbox: Sendable {
    /// How much an outbox may hold, and what happens when a new message does not fit.
    public struct Quota: Sendable, Hashable {
        public enum Policy: Sendable, Hashable {
            /// `enqueue` throws `.quotaExceeded`; everything stored stays.
            case rejectNew
            /// The lowest-priority, oldest messages that are not leased are dropped (and counted) to
            /// make room. Never one of higher priority than the new message: when only such
            /// messages (or leased ones) are in the way, `enqueue` throws `.quotaExceeded` instead.
            case dropOldest
        }

        /// At most this many messages (leased ones included); nil for no limit.
        public var maxMessages: Int?
        /// At most this many bytes of payload and topic (SQLite's own per-row overhead is not
        /// counted; see `Database.usage()` for the file); nil for no limit.
        public var maxBytes: Int64?
        /// What `enqueue` does when a message does not fit.
        public var whenFull: Policy

        public init(maxMessages: Int? = nil, maxBytes: Int64? = nil, whenFull: Policy = .rejectNew) {
            self.maxMessages = maxMessages
            self.maxBytes = maxBytes
            self.whenFull = whenFull
        }

        /// No limit but the disk (and the database's free-space guard).
        public static let unlimited = Quota()

        var isLimited: Bool { maxMessages != nil || maxBytes != nil }
    }

    /// The database the outbox's tables are in.
    public let database: Database
    /// The outbox's name; outboxes of other names in the same database are apart.
    public var name: String { tables.name }
    /// The quota the outbox was opened with (it is not stored: each opening says it).
    public var quota: Quota { tables.quota }
    let tables: OutboxTables
    /// The wall clock, the boot clock and whether the wall clock is synchronized; tests simulate it.
    let clock: ClockSource

    /// Opens the outbox `name`, creating the tables (`migrate(schema: "iotsdk.outbox")`) when
    /// needed. Messages, leases and counters left by an earlier run are there.
    ///
    /// - Throws: `StorageError`: `.invalidArgument` for an empty name or a quota limit below 1;
    ///   what `migrate` throws (`.schemaTooNew`, `.migrationFailed`, `.diskFull`…).
    public convenience init(database: Database, name: String = "default", quota: Quota = .unlimited) async throws {
        try await self.init(database: database, name: name, quota: quota, clockSource: .system)
    }

    /// An outbox on a synchronized wall clock that `clock` gives (nanoseconds since the epoch).
    convenience init(database: Database, name: String, quota: Quota, clock: @escaping @Sendable () -> Int64) async throws {
        try await self.init(database: database, name: name, quota: quota, clockSource: .wallOnly(clock))
    }

    init(database: Database, name: String, quota: Quota, clockSource: ClockSource) async throws {
        guard !name.isEmpty else {
            throw StorageError(.invalidArgument, "an outbox name must not be empty; the default is \"default\"")
        }
        if let max = quota.maxMessages, max < 1 {
            throw StorageError(.invalidArgument, "the quota of outbox '\(name)' allows \(max) messages: allow at least 1, or nil for no limit")
        }
        if let max = quota.maxBytes, max < 1 {
            throw StorageError(.invalidArgument, "the quota of outbox '\(name)' allows \(max) bytes: allow at least 1, or nil for no limit")
        }
        try await database.migrate(schema: OutboxSchema.name, to: OutboxSchema.migrations)
        let tables = OutboxTables(name: name, quota: quota, path: database.path)
        try await database.perform { c in try tables.createState(in: c) }
        self.database = database
        self.tables = tables
        self.clock = clockSource
    }

    // MARK: - Enqueueing

    /// Stores a message until it is delivered, its `ttl` passes or the quota drops it; returns its id.
    /// One transaction, with the free-space guard of `Database.write`; expired messages met on the
    /// way are dropped first (and make room).
    ///
    /// - Parameters:
    ///   - topic: what the message is about (non-empty), kept with it for the sender.
    ///   - payload: the message's bytes, stored as they are.
    ///   - priority: higher is taken first; equal priorities go oldest first.
    ///   - ttl: how long the message is worth delivering; nil for as long as it takes.
    ///   - retain: whether an uplink publishes it as the retained message of its topic (MQTT's
    ///     retain flag); stored with it.
    ///   - replacingQueued: drop the messages of `topic` still waiting (not under a lease) in the
    ///     same transaction: for a state whose older values are worth nothing once a newer one is
    ///     queued (a retained report), so that a device offline for long keeps one, not all. They
    ///     count as `expired` in `statistics()`.
    /// - Throws: `StorageError`: `.quotaExceeded` when the quota is reached and the policy is
    ///   `.rejectNew` (or nothing may be dropped for it); nothing stored is lost. `.diskFull` below
    ///   the free-space guard; `.invalidArgument` for an empty topic or a TTL that is not positive.
    @discardableResult
    public func enqueue(topic: String, payload: [UInt8], priority: Int = 0, ttl: Duration? = nil, retain: Bool = false,
                        replacingQueued: Bool = false) async throws -> OutboxMessage.ID {
        guard !topic.isEmpty, !topic.utf8.contains(0) else {
            throw StorageError(.invalidArgument, "an outbox topic must not be empty or contain NUL characters; name where the message goes, e.g. \"telemetry\"")
        }
        if let ttl, ttl <= .zero {
            throw StorageError(.invalidArgument, "the time to live of a message for '\(topic)' is \(ttl): give a positive duration, or nil for none")
        }
        let size = Int64(payload.count) + Int64(topic.utf8.count)
        let (tables, clock) = (self.tables, self.clock)
        // A rejection is returned, not thrown, so that its counter is committed.
        let outcome: Result<OutboxMessage.ID, StorageError> = try await database.write { c in
            let now = try clock.read()
            try tables.rebase(now: now, in: c)
            try tables.dropExpired(now: now, in: c)
            if replacingQueued { try tables.supersede(topic: topic, now: now, in: c) }
            if let rejection = try tables.admit(size: size, priority: priority, topic: topic, now: now.wallNanoseconds, in: c) {
                return .failure(rejection)
            }
            return .success(try tables.insert(topic: topic, payload: payload, size: size, priority: priority, now: now,
                                              ttl: ttl, retain: retain, in: c))
        }
        let id = try outcome.get()
        notifyEnqueued()
        return id
    }

    /// `now` + `duration` in nanoseconds, saturating instead of overflowing.
    static func time(_ now: Int64, plus duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (nanoseconds, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflow2 else { return seconds < 0 ? .min : .max }
        let (sum, overflow3) = now.addingReportingOverflow(nanoseconds)
        return overflow3 ? (nanoseconds < 0 ? .min : .max) : sum
    }
}
