import Logging
import MQTTClient
import ServiceLifecycle
import Synchronization

/// Delivers an `Outbox` to an MQTT broker at least once, and brings subscriptions in.
///
/// ```swift
/// var mqtt = MQTTConfiguration(broker: try MQTTBroker(url: "mqtts://broker.example.com"), clientID: "pi-0042")
/// mqtt.tls = .init(caFile: "/etc/iot/ca.pem", certificateFile: "/etc/iot/device.crt", keyFile: "/etc/iot/device.key")
/// mqtt.status = .init(topic: "devices/pi-0042/status")   // retained "online", will "offline"
/// let uplink = try Uplink(outbox: outbox, mqtt: mqtt, logger: logger)
/// let commands = try uplink.subscribe("devices/pi-0042/commands/#")
/// try await ServiceGroup(services: [uplink], logger: logger).run()   // or: try await uplink.run()
/// ```
///
/// **Delivery.** `run()` takes messages from the outbox (highest priority first, then oldest),
/// publishes each at QoS 1 to its topic (`Options.topicPrefix` in front), and acknowledges it in
/// the outbox only when the broker's PUBACK arrives: a message leaves the outbox only once the
/// broker has it. At most `MQTTConfiguration.inflightWindow` messages await their PUBACK at once.
/// A message's remaining time to live goes with it as MQTT 5's message expiry interval, and an
/// expired message is never sent. Messages of one topic and priority are published in the order
/// they were enqueued, and the broker keeps that order.
///
/// **Duplicates.** When the connection ends (or the process dies) before a PUBACK arrives, the
/// message stays in the outbox and is published again after the reconnect: the broker may then
/// have it twice. At most the in-flight window is repeated per lost connection. Receivers that
/// must not act twice deduplicate, e.g. by a message id in the payload.
///
/// **Refusals.** A message the broker refuses (an MQTT 5 PUBACK reason ≥ 0x80: not authorized,
/// quota exceeded, payload format invalid) or that the connection cannot carry (too large)
/// stays in the outbox and is tried again after `Options.refusedRetry`, so that fixing an ACL
/// loses nothing; it is counted in `statistics` and logged.
///
/// One uplink drains an outbox, and nothing else takes from it: the uplink leases nothing and
/// keeps what it has in flight in memory, so a process killed mid-drain leaves every message it
/// had not seen acknowledged in the outbox, first in line for the next run.
///
/// **Inside a plugin host's module** (`ModuleHost.current` set by the runner), the uplink
/// publishes and subscribes through the host's broker connection instead of its own, within the
/// manifest's `capabilities.mqtt`; the broker settings are not used (`init(outboxes:through:…)`).
///
/// **Several outboxes.** `init(outboxes:mqtt:options:logger:)` drains several named outboxes of
/// one database through the one connection, and `add(_:)` adds one while the uplink runs (the
/// plugin host keeps one per module, each with its own quota). Each refill of the window takes
/// from them in turn, starting one further each time, so that one full outbox does not starve
/// the others; order is kept per outbox and topic.
public final class Uplink: Service, Sendable {
    public struct Options: Sendable {
        /// Prepended to every outbox topic (e.g. "devices/pi-0042/"); empty for none.
        public var topicPrefix: String
        /// When a refused message is tried again.
        public var refusedRetry: Outbox.RetryDelay
        /// How often the outbox is looked at when nothing happened, for messages that another
        /// process enqueued and for retry delays that ran out. Enqueues in this process wake the
        /// uplink at once.
        public var idleCheck: Duration
        /// How long a stopping uplink waits for the PUBACKs of messages in flight before it
        /// leaves them in the outbox for the next run.
        public var stopTimeout: Duration
        /// Messages buffered per subscription before the oldest are dropped.
        public var subscriptionBuffer: Int
        /// Called with the messages the broker acknowledged, after they were deleted from the
        /// outbox, on the uplink's task; it must not block. For a delivery log or metrics.
        public var onDelivered: (@Sendable ([OutboxMessage]) -> Void)?

        public init(topicPrefix: String = "", refusedRetry: Outbox.RetryDelay = .exponential(initial: .seconds(60), maximum: .seconds(3600)),
                    idleCheck: Duration = .seconds(60), stopTimeout: Duration = .seconds(5), subscriptionBuffer: Int = 1000,
                    onDelivered: (@Sendable ([OutboxMessage]) -> Void)? = nil) {
            self.topicPrefix = topicPrefix
            self.refusedRetry = refusedRetry
            self.idleCheck = idleCheck
            self.stopTimeout = stopTimeout
            self.subscriptionBuffer = subscriptionBuffer
            self.onDelivered = onDelivered
        }
    }

    /// The first outbox it was made with.
    public let outbox: Outbox
    public let options: Options
    /// The outboxes drained (`outbox` first), their enqueue observations while running, and
    /// where the next refill starts.
    private let sources: Mutex<Sources>
    private let connection: any UplinkTransport
    private let logger: Logger
    private let mailbox = UplinkMailbox<Event>()
    private let counters = Mutex(UplinkStatistics())
    private let subscribers = Mutex<[Int: (filter: String, continuation: AsyncStream<MQTTMessage>.Continuation)]>([:])
    private let nextSubscriber = Atomic<Int>(0)

    private struct Sources {
        var outboxes: [Outbox]
        var observations: [EnqueueObservation]?
        var next = 0
    }

    enum Event: Sendable {
        case connection(MQTTConnection.Event)
        case enqueued
        case tick
        case stop
    }

    /// - Parameters:
    ///   - outbox: the messages to deliver; topics are MQTT topic names (with `options.topicPrefix`).
    ///   - mqtt: the broker, identity, TLS, status topic and reconnect backoff.
    ///   - options: topic prefix, refusal retry, idle check, stop timeout.
    ///   - logger: connection changes and refusals.
    /// - Throws: `MQTTError` from `MQTTConfiguration.validate()`, or `.invalidArgument` for a
    ///   prefix that is not a valid start of a topic.
    public convenience init(outbox: Outbox, mqtt: MQTTConfiguration, options: Options = Options(), logger: Logger) throws(MQTTError) {
        try self.init(outboxes: [outbox], mqtt: mqtt, options: options, logger: logger)
    }

    /// An uplink that drains several named outboxes of one database through one connection.
    /// - Parameters:
    ///   - outboxes: at least one, all in one `Database`, of different names; more with `add(_:)`.
    ///   - mqtt: the broker, identity, TLS, status topic and reconnect backoff.
    ///   - options: topic prefix, refusal retry, idle check, stop timeout.
    ///   - logger: connection changes and refusals.
    /// - Throws: `MQTTError(.invalidArgument)` for no outbox, outboxes of different databases or
    ///   one name twice, and what `init(outbox:mqtt:options:logger:)` throws.
    public convenience init(outboxes: [Outbox], mqtt: MQTTConfiguration, options: Options = Options(), logger: Logger) throws(MQTTError) {
        try self.init(outboxes: outboxes, options: options, logger: logger) { handler throws(MQTTError) -> any UplinkTransport in
            if let host = ModuleHost.current, host.hasMQTTCalls {
                // Inside a plugin host's runner: the host holds the device's broker connection.
                return HostTransport(host: host, inflightWindow: mqtt.inflightWindow, logger: logger, handler: handler)
            }
            return try MQTTConnection(configuration: mqtt, logger: logger, handler: handler)
        }
    }

    /// An uplink that publishes and subscribes through the plugin host that runs this module
    /// (what `init(outboxes:mqtt:options:logger:)` does by itself inside a runner, leaving its
    /// broker settings unused): the host checks each topic against the manifest's
    /// `capabilities.mqtt`, keeps the message in its own outbox and delivers it through the
    /// device's one broker connection. A message leaves this outbox once the host has it on disk;
    /// one the host refuses (not declared, its queue full) stays and is tried again after
    /// `options.refusedRetry`; while the host has no uplink, every 30 s.
    /// - Throws: `MQTTError(.invalidArgument)` as `init(outboxes:mqtt:options:logger:)`.
    public convenience init(outboxes: [Outbox], through host: ModuleHost, inflightWindow: Int = 64, options: Options = Options(), logger: Logger) throws(MQTTError) {
        try self.init(outboxes: outboxes, options: options, logger: logger) { handler in
            HostTransport(host: host, inflightWindow: max(1, inflightWindow), logger: logger, handler: handler)
        }
    }

    private init(outboxes: [Outbox], options: Options, logger: Logger,
                 transport: (@escaping @Sendable (MQTTConnection.Event) -> Void) throws(MQTTError) -> any UplinkTransport) throws(MQTTError) {
        if !options.topicPrefix.isEmpty {
            try MQTTTopic.validate(name: options.topicPrefix + "x")
        }
        guard let outbox = outboxes.first else {
            throw MQTTError(.invalidArgument, "an uplink drains at least one outbox: give one")
        }
        for index in outboxes.indices.dropFirst() { try Self.check(outboxes[index], joining: outboxes[..<index]) }
        sources = Mutex(Sources(outboxes: outboxes))
        self.outbox = outbox
        self.options = options
        self.logger = logger
        let mailbox = self.mailbox
        connection = try transport { event in mailbox.post(.connection(event)) }
    }

    /// The outboxes this uplink drains.
    public var outboxes: [Outbox] { sources.withLock { $0.outboxes } }

    /// Adds an outbox of the same database to drain; while the uplink runs, its messages go out
    /// at once. An outbox of a name already drained is ignored. First ends the leases an earlier
    /// run left in it (as `run()` does for the others), so never add an outbox that another
    /// consumer is delivering from.
    /// - Returns: whether it was added.
    /// - Throws: `MQTTError(.invalidArgument)` for an outbox of another database; `StorageError`
    ///   when its leases cannot be ended.
    @discardableResult
    public func add(_ outbox: Outbox) async throws -> Bool {
        let current = outboxes
        if current.contains(where: { $0.name == outbox.name }) { return false }
        try Self.check(outbox, joining: current)
        try await outbox.releaseAllLeases()
        let added = sources.withLock { sources -> Bool in
            guard !sources.outboxes.contains(where: { $0.name == outbox.name }) else { return false }
            sources.outboxes.append(outbox)
            sources.observations?.append(outbox.observeEnqueues { [mailbox] in mailbox.post(.enqueued) })
            return true
        }
        if added { mailbox.post(.enqueued) }
        return added
    }

    private static func check(_ outbox: Outbox, joining others: some Collection<Outbox>) throws(MQTTError) {
        if let first = others.first, first.database.path != outbox.database.path {
            throw MQTTError(.invalidArgument, "outbox '\(outbox.name)' is in \(outbox.database.path), not in \(first.database.path): one uplink drains the outboxes of one database")
        }
        if others.contains(where: { $0.name == outbox.name }) {
            throw MQTTError(.invalidArgument, "outbox '\(outbox.name)' is given twice: give each named outbox once")
        }
    }

    /// Deletes what the broker acknowledged and reads up to `count` more messages, from the
    /// outboxes in turn (each refill starts one further): one `Outbox.deliveryStep` per outbox
    /// involved, so one transaction with one outbox.
    private func step(acknowledging delivered: [OutboxMessage], next count: Int, excluding inFlight: [OutboxMessage.ID]) async throws -> [OutboxMessage] {
        let (outboxes, start) = sources.withLock { sources in
            defer { if count > 0 { sources.next &+= 1 } }
            return (sources.outboxes, sources.next)
        }
        let acknowledged = Dictionary(grouping: delivered, by: \.outbox)
        var batch: [OutboxMessage] = []
        for index in outboxes.indices {
            let outbox = outboxes[(start + index) % outboxes.count]
            let acknowledging = acknowledged[outbox.name]?.map(\.id) ?? []
            let wanted = count - batch.count
            guard !acknowledging.isEmpty || wanted > 0 else { continue }
            batch += try await outbox.deliveryStep(acknowledging: acknowledging, next: wanted, excluding: inFlight)
        }
        return batch
    }

    private func grouped(_ messages: [OutboxMessage]) -> [(Outbox, [OutboxMessage])] {
        guard !messages.isEmpty else { return [] }
        let byName = Dictionary(grouping: messages, by: \.outbox)
        return outboxes.compactMap { outbox in byName[outbox.name].map { (outbox, $0) } }
    }

    /// Counters since this uplink was made.
    public var statistics: UplinkStatistics { counters.withLock { $0 } }

    /// Whether the broker has accepted the current connection.
    public var isConnected: Bool { connection.isConnected }

    // MARK: - Subscriptions

    /// Subscribes to `filter` (now, and on every reconnection) and returns its messages.
    /// - Throws: `MQTTError(.invalidArgument)` for an invalid filter or QoS.
    public func subscribe(_ filter: String, qos: Int = 1) throws(MQTTError) -> UplinkSubscription {
        try connection.subscribe(filter, qos: qos)
        let id = nextSubscriber.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<MQTTMessage>.makeStream(bufferingPolicy: .bufferingNewest(max(1, options.subscriptionBuffer)))
        subscribers.withLock { $0[id] = (filter, continuation) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let stillWanted = subscribers.withLock { subscribers -> Bool in
                subscribers[id] = nil
                return subscribers.values.contains { $0.filter == filter }
            }
            if !stillWanted { connection.unsubscribe(filter) }
        }
        return UplinkSubscription(filter: filter, stream: stream)
    }

    private func deliver(_ message: MQTTMessage) {
        let targets = subscribers.withLock { $0.values.filter { MQTTTopic.matches(filter: $0.filter, topic: message.topic) }.map(\.continuation) }
        var dropped = 0
        for target in targets {
            if case .dropped = target.yield(message) { dropped += 1 }
        }
        counters.withLock {
            $0.received += 1
            $0.droppedIncoming += dropped
        }
    }

    // MARK: - Running

    /// Connects and delivers the outbox until the task is cancelled or a graceful shutdown
    /// (`ServiceGroup`) begins; then waits up to `options.stopTimeout` for PUBACKs in flight,
    /// publishes the `offline` status, and disconnects.
    /// - Throws: `MQTTError(.libraryUnavailable)` when libmosquitto cannot be loaded;
    ///   `StorageError` when the outbox's database fails.
    public func run() async throws {
        for outbox in outboxes { try await outbox.releaseAllLeases() }
        try connection.start()
        sources.withLock { sources in
            sources.observations = sources.outboxes.map { $0.observeEnqueues { [mailbox] in mailbox.post(.enqueued) } }
        }
        let ticker = Task { [mailbox, options] in
            while !Task.isCancelled {
                try? await Task.sleep(for: options.idleCheck)
                mailbox.post(.tick)
            }
        }
        defer {
            ticker.cancel()
            let observations = sources.withLock { sources in
                defer { sources.observations = nil }
                return sources.observations ?? []
            }
            for observation in observations { observation.cancel() }
        }
        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await drain()
                } onCancel: { [mailbox] in
                    mailbox.post(.stop)
                }
            } onGracefulShutdown: { [mailbox] in
                mailbox.post(.stop)
            }
        } catch {
            await connection.stop(timeout: .seconds(5))
            finishSubscriptions()
            throw error
        }
        await connection.stop(timeout: .seconds(5))
        finishSubscriptions()
    }

    private func finishSubscriptions() {
        let continuations = subscribers.withLock { $0.values.map(\.continuation) }
        for continuation in continuations { continuation.finish() }
    }

    /// The drain loop: keeps the window full while connected, deletes what the broker
    /// acknowledged, forgets what was in flight when the connection ends (it is still in the
    /// outbox: nothing is leased, so it is offered again after the reconnect, first).
    private func drain() async throws {
        let window = connection.inflightWindow
        var inFlight: [Int32: OutboxMessage] = [:]
        // Acknowledged by the broker, deleted from the outbox with the next step.
        var delivered: [OutboxMessage] = []
        // Published on a connection that was lost before the PUBACK: publishing them again counts.
        var sentBefore = Set<OutboxMessage.ID>()
        var connected = false
        var outboxMayHaveMore = true
        var stopping = false
        var stopDeadline: ContinuousClock.Instant?
        while true {
            // The window is refilled once half of it is free, so that each step is one
            // transaction for many messages: the acknowledgements and the next batch together.
            let refill = connected && !stopping && outboxMayHaveMore && inFlight.count <= window / 2
            if refill || !delivered.isEmpty {
                let space = refill ? window - inFlight.count : 0
                let batch = try await step(acknowledging: delivered, next: space, excluding: inFlight.values.map(\.id))
                if !delivered.isEmpty {
                    counters.withLock { $0.published += delivered.count }
                    options.onDelivered?(delivered)
                    delivered = []
                }
                if refill {
                    outboxMayHaveMore = batch.count == space
                    var refused: [OutboxMessage] = []
                    for message in batch {
                        do throws(MQTTError) {
                            let id = try connection.publish(topic: options.topicPrefix + message.topic, payload: message.payload, qos: 1,
                                                            retain: message.retain, expiry: remainingLife(of: message))
                            inFlight[id] = message
                            if sentBefore.remove(message.id) != nil { counters.withLock { $0.republished += 1 } }
                        } catch where error.code == .notConnected {
                            // The rest stays in the outbox for the next connection.
                            connected = false
                            break
                        } catch {
                            logger.warning("uplink: message \(message.id) for '\(message.topic)' cannot be sent (\(error.message)); it stays in the outbox and is tried again later")
                            refused.append(message)
                        }
                    }
                    try await postpone(refused)
                }
            }
            if stopping && (inFlight.isEmpty || !connected || stopDeadline.map({ .now >= $0 }) == true) {
                // What is still in flight stays in the outbox for the next run.
                return
            }
            var refused: [OutboxMessage] = []
            for event in await mailbox.next() {
                switch event {
                case .connection(.connected):
                    connected = true
                    outboxMayHaveMore = true
                    counters.withLock { $0.connections += 1 }
                case .connection(.connectFailed(let error)):
                    counters.withLock { $0.lastError = error.message }
                case .connection(.disconnected(let error)):
                    connected = false
                    if let error { counters.withLock { $0.lastError = error.message } }
                    sentBefore.formUnion(inFlight.values.map(\.id))
                    inFlight = [:]
                case .connection(.published(let id, let reason)):
                    guard let message = inFlight.removeValue(forKey: id) else { continue }
                    if reason >= 0x80 {
                        logger.warning("uplink: the broker refused message \(message.id) for '\(message.topic)' (reason 0x\(String(reason, radix: 16))); it stays in the outbox and is tried again later")
                        refused.append(message)
                    } else {
                        delivered.append(message)
                    }
                case .connection(.message(let message)):
                    deliver(message)
                case .enqueued, .tick:
                    outboxMayHaveMore = true
                case .stop:
                    stopping = true
                    stopDeadline = .now + options.stopTimeout
                }
            }
            try await postpone(refused)
        }
    }

    /// Leaves refused messages in the outbox until `options.refusedRetry` has passed; counts them.
    private func postpone(_ refused: [OutboxMessage]) async throws {
        guard !refused.isEmpty else { return }
        for (outbox, messages) in grouped(refused) { try await outbox.postpone(messages, retry: options.refusedRetry) }
        counters.withLock { $0.refused += refused.count }
    }

    /// The time a message has left to live, for its MQTT 5 expiry; nil without a TTL.
    private func remainingLife(of message: OutboxMessage) -> Duration? {
        guard let expiresAt = message.expiresAt, let now = try? Timestamp.now() else { return nil }
        return max(expiresAt - now, .seconds(1))
    }
}

/// What an `Uplink` has done since it was made.
public struct UplinkStatistics: Sendable, Hashable {
    /// Messages the broker acknowledged (PUBACK), now deleted from the outbox.
    public var published = 0
    /// Publications of a message that was in flight on a connection that was lost: the broker
    /// may have these twice. (After a restart of the process the uplink cannot tell which
    /// messages went out before; those are not counted.)
    public var republished = 0
    /// Messages refused by the broker or too large for the connection, left in the outbox.
    public var refused = 0
    /// Connections the broker accepted.
    public var connections = 0
    /// Messages that arrived for subscriptions.
    public var received = 0
    /// Arrived messages dropped because a subscription's buffer was full.
    public var droppedIncoming = 0
    /// The last connection or delivery error, for status displays.
    public var lastError: String?

    public init() {}
}
