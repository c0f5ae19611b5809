/// The outbox's tables, schema `iotsdk.outbox`.
///
/// One table holds the messages of every named outbox. A message is *leased* while
/// `lease_until_ns` is in the future (and `leased_at_ns` not, which guards against the wall clock
/// going back); it is *available* when not leased and `not_before_ns` (a retry delay) has passed.
/// `iotsdk_outbox_state` keeps per-outbox totals (maintained by triggers, so that quota checks do
/// not scan the table) and the counters of `statistics()`, which survive restarts.
///
/// Migration 2 records the boot clock beside the wall clock, for devices without a real-time
/// clock: `boot_id` and `enqueued_boottime_ns` (`CLOCK_BOOTTIME`), the time to live `ttl_ns`, and
/// `time_state` (``TimeState``). A message enqueued while the wall clock is not synchronized has
/// no `expires_at_ns` until it is re-based; meanwhile its TTL runs on the boot clock.
///
/// Migration 3 adds `retain` (0 or 1): whether an uplink publishes the message as MQTT's retained
/// message of its topic (the plugin host's modules ask for it per message).
enum OutboxSchema {
    static let name = "iotsdk.outbox"

    static let migrations: [Migration] = [
        .sql(1, "outbox messages, state and counters", """
            CREATE TABLE iotsdk_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                outbox TEXT NOT NULL,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL,
                size INTEGER NOT NULL,
                priority INTEGER NOT NULL,
                enqueued_at_ns INTEGER NOT NULL,
                expires_at_ns INTEGER,
                not_before_ns INTEGER NOT NULL DEFAULT 0,
                leased_at_ns INTEGER,
                lease_until_ns INTEGER,
                attempts INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX iotsdk_outbox_order ON iotsdk_outbox (outbox, priority DESC, id);
            CREATE INDEX iotsdk_outbox_expiry ON iotsdk_outbox (outbox, expires_at_ns) WHERE expires_at_ns IS NOT NULL;
            CREATE TABLE iotsdk_outbox_state (
                outbox TEXT PRIMARY KEY,
                messages INTEGER NOT NULL DEFAULT 0,
                bytes INTEGER NOT NULL DEFAULT 0,
                delivered INTEGER NOT NULL DEFAULT 0,
                expired INTEGER NOT NULL DEFAULT 0,
                dropped_for_quota INTEGER NOT NULL DEFAULT 0,
                rejected_for_quota INTEGER NOT NULL DEFAULT 0
            ) WITHOUT ROWID;
            CREATE TRIGGER iotsdk_outbox_added AFTER INSERT ON iotsdk_outbox BEGIN
                UPDATE iotsdk_outbox_state SET messages = messages + 1, bytes = bytes + NEW.size WHERE outbox = NEW.outbox;
            END;
            CREATE TRIGGER iotsdk_outbox_removed AFTER DELETE ON iotsdk_outbox BEGIN
                UPDATE iotsdk_outbox_state SET messages = messages - 1, bytes = bytes - OLD.size WHERE outbox = OLD.outbox;
            END;
            """),
        .sql(2, "boot clock beside the wall clock, for devices without a real-time clock", """
            ALTER TABLE iotsdk_outbox ADD COLUMN boot_id TEXT;
            ALTER TABLE iotsdk_outbox ADD COLUMN enqueued_boottime_ns INTEGER;
            ALTER TABLE iotsdk_outbox ADD COLUMN ttl_ns INTEGER;
            ALTER TABLE iotsdk_outbox ADD COLUMN time_state INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX iotsdk_outbox_unsynchronized ON iotsdk_outbox (outbox, boot_id) WHERE time_state = 1;
            -- The boot-clock expiry (isExpiredByBootClock), which every operation checks: without
            -- it, on a device whose clock is not synchronized every message of this boot matched
            -- the index above, and each take scanned the whole outbox.
            CREATE INDEX iotsdk_outbox_boot_expiry ON iotsdk_outbox (outbox, boot_id, (enqueued_boottime_ns + ttl_ns))
                WHERE time_state = 1 AND ttl_ns IS NOT NULL;
            """),
        .sql(3, "the MQTT retain flag, for messages the broker is to keep for late subscribers", """
            ALTER TABLE iotsdk_outbox ADD COLUMN retain INTEGER NOT NULL DEFAULT 0;
            """),
    ]

    /// How far a message's stored times can be trusted (column `time_state`).
    enum TimeState: Int64 {
        /// Enqueued with a synchronized wall clock, or re-based since: the times are right.
        case synchronized = 0
        /// Enqueued with an unsynchronized wall clock and not re-based yet. Its TTL runs on the
        /// boot clock of its boot; a message of an earlier boot does not expire in this state.
        case pending = 1
        /// Enqueued unsynchronized in an earlier boot, which no clock can place on the wall clock
        /// now: its TTL was counted again from the moment the clock was first seen synchronized,
        /// and its `enqueued_at_ns` stays as it was stored (not synchronized).
        case unsynchronizedEarlierBoot = 2
    }

    /// The longest TTL stored, about 146 years: sums of it with times stay in `Int64` in SQL
    /// (SQLite turns an overflowing sum into a float).
    static let longestTTL: Int64 = 1 << 62

    // MARK: - SQL fragments (?1 is the outbox's name, ?2 the current time in ns, ?3 the boot id, ?4 CLOCK_BOOTTIME in ns)

    /// True for a message under a live lease (false, never NULL, for one without a lease).
    static let isLeased = "(lease_until_ns IS NOT NULL AND lease_until_ns > ?2 AND leased_at_ns <= ?2)"
    /// True for a message whose time to live has passed on the wall clock.
    static let isExpiredByWallClock = "(expires_at_ns IS NOT NULL AND expires_at_ns <= ?2)"
    /// True for a message enqueued unsynchronized in this boot whose TTL has passed on the boot clock.
    static let isExpiredByBootClock = "(time_state = 1 AND boot_id = ?3 AND ttl_ns IS NOT NULL AND enqueued_boottime_ns + ttl_ns <= ?4)"
    /// True for a message whose time to live has passed.
    static let isExpired = "(\(isExpiredByWallClock) OR \(isExpiredByBootClock))"
}
