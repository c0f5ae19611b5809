/// The outbox's tables, schema `iotsdk.outbox`.
///
/// One table holds the messages of every named outbox. A message is *leased* while
/// `lease_until_ns` is in the future (and `leased_at_ns` not, which guards against the wall clock
/// going back); it is *available* when not leased and `not_before_ns` (a retry delay) has passed.
/// `iotsdk_outbox_state` keeps per-outbox totals (maintained by triggers, so that quota checks do
/// not scan the table) and the counters of `statistics()`, which survive restarts.
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
    ]

    // MARK: - SQL fragments (?1 is the outbox's name, ?2 the current time in ns)

    /// True for a message under a live lease (false, never NULL, for one without a lease).
    static let isLeased = "(lease_until_ns IS NOT NULL AND lease_until_ns > ?2 AND leased_at_ns <= ?2)"
    /// True for a message whose time to live has passed.
    static let isExpired = "(expires_at_ns IS NOT NULL AND expires_at_ns <= ?2)"
}
