import CIoTMosquitto
import LinuxSupport
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One connection to an MQTT broker, kept up by a thread of its own: it connects, reconnects
/// after any failure with backoff and jitter (`MQTTConfiguration.Backoff`), keeps the
/// connection alive, subscribes again on every connection, and publishes the birth message.
///
/// ```swift
/// let connection = try MQTTConnection(configuration: configuration, logger: logger) { event in
///     // runs on the connection's thread: hand the event over, do not block
/// }
/// try connection.start()
/// let id = try connection.publish(topic: "sensors/pi-0042", payload: bytes)   // .published(id:…) follows
/// await connection.stop()
/// ```
///
/// Messages are not kept across connections: when a connection ends, what was in flight is
/// forgotten (its `.published` never comes) and `.disconnected` says so; the caller publishes it
/// again (the SDK's `Uplink` does so from its `Outbox`). libmosquitto is loaded at `start()`.
public final class MQTTConnection: Sendable {
    /// What happens on the connection, in order, on the connection's thread.
    public enum Event: Sendable {
        /// The broker accepted the connection; subscriptions and the birth message were sent.
        case connected(sessionPresent: Bool)
        /// A connection attempt failed (network, TLS, or the broker refused it); another follows
        /// after the backoff.
        case connectFailed(MQTTError)
        /// The connection ended: nil after `stop()`, else why. Messages in flight are forgotten.
        case disconnected(MQTTError?)
        /// The broker's PUBACK for `publish`'s `id` (QoS 1), or the message was written (QoS 0).
        /// `reason` is 0, or an MQTT 5 reason code ≥ 0x80 when the broker refused the message
        /// (0x87 not authorized, 0x97 quota exceeded…).
        case published(id: Int32, reason: Int)
        /// A message for a subscription.
        case message(MQTTMessage)
    }

    public let configuration: MQTTConfiguration
    private let logger: Logger
    private let handler: @Sendable (Event) -> Void
    private let condition = MonotonicCondition()
    private let shared = Shared()
    /// Set by the CONNACK callback, read by any thread.
    private let connected = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    /// The birth (and subscriptions) are sent by the loop after the callback that saw CONNACK.
    private let needsGreeting = Atomic<Bool>(false)
    /// The id of the `offline` status published by `stop()`, whose PUBACK ends the connection.
    private let goodbyeID = Atomic<Int32>(-1)
    private let refusal = Mutex<MQTTError?>(nil)

    /// What the lock (`condition`) guards.
    private final class Shared: @unchecked Sendable {
        var client: OpaquePointer?
        var started = false
        var finished = false
        var subscriptions: [(filter: String, qos: Int)] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        var stopDeadline: ContinuousClock.Instant?
    }

    /// - Parameters:
    ///   - configuration: the broker, identity, TLS, session, status topic and backoff.
    ///   - logger: connection attempts, failures and reconnects are logged at `.info`/`.warning`.
    ///   - handler: receives every `Event`, on the connection's thread; it must not block.
    /// - Throws: what `MQTTConfiguration.validate()` throws.
    public init(configuration: MQTTConfiguration, logger: Logger, handler: @escaping @Sendable (Event) -> Void) throws(MQTTError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
    }

    /// Whether the broker has accepted the current connection.
    public var isConnected: Bool { connected.load(ordering: .acquiring) }

    /// The version of the libmosquitto that `start()` loaded ("2.0.11"), or nil before.
    public static var libraryVersion: String? {
        let version = Int(ciot_mqtt_version())
        return version == 0 ? nil : "\(version / 1_000_000).\(version / 1000 % 1000).\(version % 1000)"
    }

    /// Loads libmosquitto (once per process) and starts the connection's thread, which connects
    /// at once and keeps reconnecting until `stop()`.
    /// - Throws: `MQTTError(.libraryUnavailable)` when libmosquitto cannot be loaded;
    ///   `.failed` when no thread can be started; `.invalidArgument` when started twice.
    public func start() throws(MQTTError) {
        var reason = [CChar](repeating: 0, count: 256)
        guard ciot_mqtt_load(&reason, reason.count) == 0 else {
            throw MQTTError(.libraryUnavailable, String(cString: reason))
        }
        let first = condition.locked { () -> Bool in
            defer { shared.started = true }
            return !shared.started
        }
        guard first else { throw MQTTError(.invalidArgument, "this connection was started already; make a new MQTTConnection to connect again") }
        let created = startDetachedThread(name: "mqtt \(configuration.broker.host)") { [self] in run() }
        guard created == 0 else {
            condition.locked { shared.finished = true }
            throw MQTTError(.failed, "cannot start the MQTT connection's thread: \(String(cString: strerror(created)))")
        }
    }

    /// Ends the connection gracefully: publishes the `offline` status (when configured) and waits
    /// up to `timeout` for its PUBACK, disconnects, and returns once the thread has ended. Safe to
    /// call more than once, and before `start()`.
    public func stop(timeout: Duration = .seconds(5)) async {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return await waitUntilFinished() }
        let deadline = ContinuousClock.now + timeout
        condition.locked {
            shared.stopDeadline = deadline
            guard let client = shared.client else { return }
            if connected.load(ordering: .acquiring), let status = configuration.status,
               let id = try? send(client, topic: status.topic, payload: status.offline, qos: 1, retain: true, expiry: nil) {
                goodbyeID.store(id, ordering: .releasing)
            } else {
                _ = ciot_mqtt_disconnect(client)
            }
            condition.broadcast()
        }
        await waitUntilFinished()
    }

    private func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = condition.locked { () -> Bool in
                if shared.finished || !shared.started { return true }
                shared.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    // MARK: - Publishing and subscribing

    /// Queues a message for the broker and returns its id; `.published(id:reason:)` follows when
    /// the broker has it (QoS 1) or it was written (QoS 0).
    ///
    /// - Parameters:
    ///   - topic: a topic name (no wildcards).
    ///   - payload: the bytes, at most `configuration.maximumPayload`.
    ///   - qos: 0 or 1.
    ///   - retain: whether the broker keeps it as the topic's last message.
    ///   - expiry: MQTT 5's message expiry interval (whole seconds, rounded up); ignored by 3.1.1.
    /// - Throws: `MQTTError`: `.notConnected` while there is no accepted connection (try again
    ///   after `.connected`); `.invalidArgument` for a bad topic or QoS; `.payloadTooLarge`.
    public func publish(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false, expiry: Duration? = nil) throws(MQTTError) -> Int32 {
        try MQTTTopic.validate(name: topic)
        guard qos == 0 || qos == 1 else {
            throw MQTTError(.invalidArgument, "QoS \(qos) is not supported: use 1 (at least once) or 0 (at most once)")
        }
        guard payload.count <= configuration.maximumPayload else {
            throw MQTTError(.payloadTooLarge, "a payload of \(payload.count) bytes for '\(topic)' is larger than the \(configuration.maximumPayload) bytes this connection allows")
        }
        let result = condition.locked { () -> Result<Int32, MQTTError> in
            guard let client = shared.client, connected.load(ordering: .acquiring), !stopping.load(ordering: .acquiring) else {
                return .failure(MQTTError(.notConnected, "not connected to \(configuration.broker)"))
            }
            do throws(MQTTError) {
                return .success(try send(client, topic: topic, payload: payload, qos: qos, retain: retain, expiry: expiry))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Subscribes to `filter` now (when connected) and on every later connection; messages
    /// arrive as `.message` events.
    /// - Throws: `MQTTError(.invalidArgument)` for an invalid filter or QoS.
    public func subscribe(_ filter: String, qos: Int = 1) throws(MQTTError) {
        try MQTTTopic.validate(filter: filter)
        guard qos == 0 || qos == 1 else {
            throw MQTTError(.invalidArgument, "QoS \(qos) is not supported for a subscription: use 1 or 0")
        }
        condition.locked {
            shared.subscriptions.removeAll { $0.filter == filter }
            shared.subscriptions.append((filter, qos))
            if let client = shared.client, connected.load(ordering: .acquiring) {
                var id: Int32 = 0
                _ = ciot_mqtt_subscribe(client, &id, filter, Int32(qos))
            }
        }
    }

    /// Ends the subscription to `filter` (now and on later connections).
    public func unsubscribe(_ filter: String) {
        condition.locked {
            shared.subscriptions.removeAll { $0.filter == filter }
            if let client = shared.client, connected.load(ordering: .acquiring) {
                var id: Int32 = 0
                _ = ciot_mqtt_unsubscribe(client, &id, filter)
            }
        }
    }

    /// ciot_mqtt_publish; call with the lock held and `client` current.
    private func send(_ client: OpaquePointer, topic: String, payload: [UInt8], qos: Int, retain: Bool, expiry: Duration?) throws(MQTTError) -> Int32 {
        var id: Int32 = 0
        var seconds: UInt32 = 0
        if let expiry, configuration.protocolVersion == .v5 {
            let (whole, fraction) = expiry.components
            seconds = UInt32(clamping: max(1, whole + (fraction > 0 ? 1 : 0)))
        }
        let code = payload.withUnsafeBytes { bytes in
            ciot_mqtt_publish(client, &id, topic, bytes.baseAddress, Int32(bytes.count), Int32(qos), retain, seconds)
        }
        if let error = Self.error(code, "publishing to '\(topic)'") { throw error }
        return id
    }

    // MARK: - The connection's thread

    private func run() {
        var failures = 0
        while !stopping.load(ordering: .acquiring) {
            let accepted = connectAndServe()
            failures = accepted ? 1 : failures + 1
            if stopping.load(ordering: .acquiring) { break }
            let wait = configuration.reconnect.delay(afterFailures: failures)
            logger.info("MQTT: reconnecting to \(configuration.broker) in \(wait)")
            let deadline = ContinuousClock.now + wait
            condition.locked {
                while !stopping.load(ordering: .acquiring) && condition.wait(until: deadline) {}
            }
        }
        let waiters = condition.locked { () -> [CheckedContinuation<Void, Never>] in
            shared.finished = true
            defer { shared.waiters = [] }
            return shared.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// One connection: connects, loops until it ends, and reports. Returns whether the broker
    /// accepted it (the backoff starts over then).
    private func connectAndServe() -> Bool {
        let config = configuration
        var callbacks = ciot_mqtt_callbacks()
        callbacks.context = Unmanaged.passUnretained(self).toOpaque()
        callbacks.connected = { context, reason, sessionPresent in
            Unmanaged<MQTTConnection>.fromOpaque(context!).takeUnretainedValue().onConnected(reason: Int(reason), sessionPresent: sessionPresent)
        }
        callbacks.published = { context, id, reason in
            Unmanaged<MQTTConnection>.fromOpaque(context!).takeUnretainedValue().onPublished(id: id, reason: Int(reason))
        }
        callbacks.message = { context, topic, payload, length, qos, retain in
            let bytes = payload.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? []
            let message = MQTTMessage(topic: String(cString: topic!), payload: bytes, qos: Int(qos), retained: retain)
            Unmanaged<MQTTConnection>.fromOpaque(context!).takeUnretainedValue().handler(.message(message))
        }
        refusal.withLock { $0 = nil }
        guard let client = ciot_mqtt_new(config.clientID, config.sessionExpiry == nil, Int32(config.protocolVersion.rawValue), &callbacks) else {
            report(connectFailure: MQTTError(.failed, "cannot create an MQTT client: \(String(cString: strerror(errno)))"))
            return false
        }
        defer { ciot_mqtt_destroy(client) }
        if let failure = configure(client) {
            report(connectFailure: failure)
            return false
        }
        let keepAlive = Int32(config.keepAlive.components.seconds)
        let expiry = config.sessionExpiry.map { UInt32(clamping: $0.components.seconds) } ?? 0
        logger.info("MQTT: connecting to \(config.broker) as '\(config.clientID)'")
        let code = ciot_mqtt_connect(client, config.broker.host, Int32(config.broker.port), keepAlive, expiry)
        if let error = Self.error(code, "connecting to \(config.broker)") {
            report(connectFailure: error)
            return false
        }
        condition.locked { shared.client = client }
        let quietMilliseconds = Int32(clamping: Int64(keepAlive) * 250)
        var ended: MQTTError?
        while true {
            let stopRequested = stopping.load(ordering: .acquiring)
            let code = ciot_mqtt_loop(client, stopRequested ? 100 : (isConnected ? quietMilliseconds : 1000))
            if code != Int32(CIOT_MQTT_ERR_SUCCESS) {
                ended = Self.error(code, "the connection to \(config.broker)")
                break
            }
            if needsGreeting.exchange(false, ordering: .acquiringAndReleasing) { greet(client) }
            if stopping.load(ordering: .acquiring) {
                let overdue = condition.locked { shared.stopDeadline.map { ContinuousClock.now >= $0 } ?? true }
                if !isConnected { break }
                if overdue { _ = ciot_mqtt_disconnect(client) }
            }
        }
        let wasConnected = connected.exchange(false, ordering: .acquiringAndReleasing)
        condition.locked { shared.client = nil }
        if let refused = refusal.withLock({ $0 }) {
            report(connectFailure: refused)
            return false
        }
        guard wasConnected else {
            report(connectFailure: ended ?? MQTTError(.failed, "the connection to \(config.broker) ended before the broker answered"))
            return false
        }
        let stopped = stopping.load(ordering: .acquiring)
        if stopped {
            logger.info("MQTT: disconnected from \(config.broker)")
        } else {
            logger.warning("MQTT: lost the connection to \(config.broker): \(ended?.message ?? "closed")")
        }
        handler(.disconnected(stopped ? nil : (ended ?? MQTTError(.notConnected, "the connection to \(config.broker) was closed"))))
        return true
    }

    /// Credentials, TLS, the will and the window; nil when all were accepted.
    private func configure(_ client: OpaquePointer) -> MQTTError? {
        let config = configuration
        if let username = config.username, let error = Self.error(ciot_mqtt_credentials(client, username, config.password), "setting the user name") {
            return error
        }
        if let tls = config.tls, let error = Self.error(ciot_mqtt_tls(client, tls.caFile, tls.certificateFile, tls.keyFile), "setting up TLS with \(tls.caFile)") {
            return error
        }
        if let status = config.status {
            let code = status.offline.withUnsafeBytes { ciot_mqtt_will(client, status.topic, $0.baseAddress, Int32($0.count), 1, true) }
            if let error = Self.error(code, "setting the last will on '\(status.topic)'") { return error }
        }
        return Self.error(ciot_mqtt_inflight(client, Int32(config.inflightWindow)), "setting the in-flight window")
    }

    private func report(connectFailure error: MQTTError) {
        logger.warning("MQTT: cannot connect to \(configuration.broker): \(error.message)")
        handler(.connectFailed(error))
    }

    /// After CONNACK: the birth message and the subscriptions, from the loop (not a callback).
    private func greet(_ client: OpaquePointer) {
        condition.locked {
            for subscription in shared.subscriptions {
                var id: Int32 = 0
                _ = ciot_mqtt_subscribe(client, &id, subscription.filter, Int32(subscription.qos))
            }
            if let status = configuration.status {
                _ = try? send(client, topic: status.topic, payload: status.online, qos: 1, retain: true, expiry: nil)
            }
        }
    }

    // MARK: - Callbacks (on the connection's thread, inside libmosquitto)

    private func onConnected(reason: Int, sessionPresent: Bool) {
        guard reason == 0 else {
            let text = String(cString: configuration.protocolVersion == .v5 ? ciot_mqtt_reason_string(Int32(reason)) : ciot_mqtt_connack_string(Int32(reason)))
            refusal.withLock { $0 = MQTTError(.refused, "\(configuration.broker) refused the connection: \(text)", reason: reason) }
            return
        }
        connected.store(true, ordering: .releasing)
        needsGreeting.store(true, ordering: .releasing)
        logger.info("MQTT: connected to \(configuration.broker)\(sessionPresent ? " (session resumed)" : "")")
        handler(.connected(sessionPresent: sessionPresent))
    }

    private func onPublished(id: Int32, reason: Int) {
        if id == goodbyeID.load(ordering: .acquiring) {
            condition.locked {
                if let client = shared.client { _ = ciot_mqtt_disconnect(client) }
            }
            return
        }
        handler(.published(id: id, reason: reason))
    }

    // MARK: - Errors

    /// The error for a libmosquitto result, nil for success.
    static func error(_ code: Int32, _ doing: String) -> MQTTError? {
        guard code != Int32(CIOT_MQTT_ERR_SUCCESS) else { return nil }
        let savedErrno = errno
        let text = code == Int32(CIOT_MQTT_ERR_ERRNO) ? String(cString: strerror(savedErrno)) : String(cString: ciot_mqtt_strerror(code))
        switch code {
        case Int32(CIOT_MQTT_ERR_NO_CONN), Int32(CIOT_MQTT_ERR_CONN_LOST):
            return MQTTError(.notConnected, "\(doing): \(text)")
        case Int32(CIOT_MQTT_ERR_PAYLOAD_SIZE), Int32(CIOT_MQTT_ERR_OVERSIZE_PACKET):
            return MQTTError(.payloadTooLarge, "\(doing): \(text)")
        case Int32(CIOT_MQTT_ERR_INVAL), Int32(CIOT_MQTT_ERR_MALFORMED_UTF8), Int32(CIOT_MQTT_ERR_QOS_NOT_SUPPORTED):
            return MQTTError(.invalidArgument, "\(doing): \(text)")
        case Int32(CIOT_MQTT_ERR_CONN_REFUSED), Int32(CIOT_MQTT_ERR_AUTH), Int32(CIOT_MQTT_ERR_ACL_DENIED):
            return MQTTError(.refused, "\(doing): \(text)")
        default:
            return MQTTError(.failed, "\(doing): \(text)")
        }
    }
}
