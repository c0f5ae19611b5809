import ModuleProtocol
import Synchronization

/// The seam where the host's one broker connection plugs in: what the host hands on once a
/// module's publish, subscribe or unsubscribe has passed its checks (`TopicRights`, the payload
/// limit). The implementation owns the connection, the host's outbox and the per-module quota.
///
/// The host calls it from its own tasks, for several modules at once. Each call returns when the
/// implementation has taken the request (a publish: queued durably in the host's outbox, so a
/// module crash or a broker outage loses nothing acknowledged; not when the broker's PUBACK
/// came); the module's call blocks until then. Messages that arrive from the broker go to
/// `ModuleUplink.deliver(topic:payload:retain:)`, which finds the modules they are for.
public protocol ModuleMessaging: Sendable {
    /// The device's id, which `{device}` in the manifests' filters stands for: one topic level
    /// without wildcards, not starting with `$` (`TopicRights` refuses others).
    var deviceID: String { get }

    /// Publishes for a module to a topic its rights allow.
    /// - Parameters:
    ///   - module: the module's manifest id.
    ///   - topic: a topic name (no wildcards) one of the module's publish filters matches.
    ///   - payload: at most `ModuleUplink.maxPayloadBytes`.
    ///   - qos: 0 or 1.
    ///   - retain: whether the broker is to retain it.
    ///   - expiry: the MQTT 5 message expiry in seconds; nil: never.
    /// - Throws: `UplinkError` (`.quotaExceeded`, `.unavailable`, ...), which the module sees as
    ///   its errno.
    func publish(module: String, topic: String, payload: [UInt8], qos: UInt8, retain: Bool, expiry: UInt32?) async throws(UplinkError)

    /// Subscribes for `module` to `filter`, which its rights cover. The implementation keeps one
    /// broker subscription per filter however many modules ask for it (the host calls this once
    /// per module and filter) and passes what arrives to `ModuleUplink.deliver`.
    func subscribe(module: String, filter: String) async throws(UplinkError)

    /// Ends `module`'s subscription to `filter` (also when its run ends).
    func unsubscribe(module: String, filter: String) async throws(UplinkError)
}

/// The host's uplink as modules see it: the `ModuleMessaging` connection (nil: this host has
/// none, and every call answers ENOTCONN), the largest payload the host accepts from a module,
/// and the delivery of the broker's messages to the runners whose subscriptions match.
public final class ModuleUplink: Sendable {
    public let messaging: (any ModuleMessaging)?
    /// The largest payload a module may publish (1 to `Message.maxMQTTPayloadBytes`, what one
    /// message to the host carries).
    public let maxPayloadBytes: Int
    /// Where the modules' requests run (not the cooperative pool).
    let executor = UplinkExecutor()
    private let sessions = Mutex<[ObjectIdentifier: UplinkSession]>([:])

    /// - Parameters:
    ///   - messaging: the broker connection; nil: none (modules get ENOTCONN).
    ///   - maxPayloadBytes: clamped to 1...`Message.maxMQTTPayloadBytes` (56 KiB; MQTT allows
    ///     268,435,455, brokers less: AWS IoT Core 128 KB, mosquitto's default no limit).
    public init(messaging: (any ModuleMessaging)?, maxPayloadBytes: Int = Message.maxMQTTPayloadBytes) {
        self.messaging = messaging
        self.maxPayloadBytes = min(max(maxPayloadBytes, 1), Message.maxMQTTPayloadBytes)
    }

    /// An uplink without a connection: modules get ENOTCONN.
    public static let notConfigured = ModuleUplink(messaging: nil)

    /// Hands a message that arrived from the broker to every running module with a subscription
    /// that matches `topic` (once per module). A message that does not fit the host–runner
    /// protocol (a topic over 4096 bytes, a payload over 56 KiB) is not delivered, with a line in
    /// the module's output.
    /// - Parameters:
    ///   - topic: the topic the broker sent it on.
    ///   - payload: its bytes.
    ///   - retain: whether the broker sent it from its retained messages.
    /// - Returns: how many modules it was delivered to.
    @discardableResult
    public func deliver(topic: String, payload: [UInt8], retain: Bool) -> Int {
        let targets = sessions.withLock { Array($0.values) }
        return targets.reduce(0) { $0 + ($1.deliver(topic: topic, payload: payload, retain: retain) ? 1 : 0) }
    }

    func register(_ session: UplinkSession) { sessions.withLock { $0[ObjectIdentifier(session)] = session } }
    func unregister(_ session: UplinkSession) { sessions.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(session)) } }
}
