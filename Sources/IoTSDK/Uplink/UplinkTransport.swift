import LinuxSupport
import Logging
import MQTTClient
import Synchronization

/// What an `Uplink` publishes and subscribes through: its own broker connection
/// (`MQTTConnection`), or, inside a plugin host's runner, the host's (`HostTransport`). Both
/// report through the same `MQTTConnection.Event`s, so the drain loop is one.
protocol UplinkTransport: AnyObject, Sendable {
    /// Messages awaiting acknowledgement at once.
    var inflightWindow: Int { get }
    var isConnected: Bool { get }
    func start() throws(MQTTError)
    func stop(timeout: Duration) async
    /// Sends a message; its acknowledgement (or refusal) comes as `.published(id:reason:)`.
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool, expiry: Duration?) throws(MQTTError) -> Int32
    func subscribe(_ filter: String, qos: Int) throws(MQTTError)
    func unsubscribe(_ filter: String)
}

extension MQTTConnection: UplinkTransport {
    var inflightWindow: Int { configuration.inflightWindow }
}

/// An `Uplink`'s transport inside a plugin host's runner: the module's messages go to the host
/// (`ModuleHost.mqttPublish`), which checks them against the manifest's `capabilities.mqtt`,
/// keeps them in its own outbox and delivers them at least once through the device's one broker
/// connection (Documentation/Runtime.md, "MQTT through the host").
///
/// The host answers a publish once the message is on its disk: that answer is this transport's
/// acknowledgement, so a message leaves the module's outbox only when the host holds it. A
/// refusal becomes an MQTT 5 reason (EACCES 0x87 not authorized, EDQUOT 0x97 quota exceeded),
/// so the uplink keeps the message and tries it again later, as for a broker's refusal. A host
/// without an uplink (ENOTCONN) counts as a lost connection, tried again every `retry`.
/// Subscriptions go through `mqttSubscribe`; one thread waits in `mqttReceive` for their
/// messages.
final class HostTransport: UplinkTransport {
    let host: ModuleHost
    let inflightWindow: Int
    private let handler: @Sendable (MQTTConnection.Event) -> Void
    private let logger: Logger
    private let retry: Duration

    private struct State {
        var started = false
        var stopping = false
        var connected = false
        var nextID: Int32 = 0
        var filters: [String: Int] = [:]
        var receiving = false
        var reconnectAt: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    private let condition = MonotonicCondition()

    init(host: ModuleHost, inflightWindow: Int, retry: Duration = .seconds(30), logger: Logger, handler: @escaping @Sendable (MQTTConnection.Event) -> Void) {
        self.host = host
        self.inflightWindow = inflightWindow
        self.retry = retry
        self.logger = logger
        self.handler = handler
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    func start() throws(MQTTError) {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard first else { throw MQTTError(.invalidArgument, "this uplink's transport was started already") }
        logger.info("MQTT: through the plugin host's broker connection as module \(host.moduleID) (device '\(host.deviceID)')")
        try startReceiving()
        connect()
    }

    private func connect() {
        let go = state.withLock { state -> Bool in
            guard !state.stopping, !state.connected else { return false }
            state.connected = true
            state.reconnectAt = nil
            return true
        }
        if go { handler(.connected(sessionPresent: true)) }
    }

    /// The host has no uplink (ENOTCONN) or is going: the uplink waits; tried again after `retry`.
    private func lost(_ error: MQTTError) {
        let was = state.withLock { state -> Bool in
            defer {
                state.connected = false
                state.reconnectAt = .now + retry
            }
            return state.connected
        }
        if was {
            handler(.disconnected(error))
            logger.warning("MQTT: \(error.message); tried again in \(retry)")
        }
    }

    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool, expiry: Duration?) throws(MQTTError) -> Int32 {
        let id = state.withLock { state -> Int32 in
            state.nextID = state.nextID == Int32.max ? 1 : state.nextID + 1
            return state.nextID
        }
        let seconds = expiry.map { UInt32(clamping: max(1, $0.components.seconds)) } ?? 0
        do throws(ModuleHost.HostRequestError) {
            try host.mqttPublish(topic: topic, payload: payload, qos: 1, retain: retain, expirySeconds: seconds)
            handler(.published(id: id, reason: 0))
        } catch {
            switch error.code {
            case 13 /* EACCES */: handler(.published(id: id, reason: 0x87))
            case 122 /* EDQUOT */: handler(.published(id: id, reason: 0x97))
            case 90 /* EMSGSIZE */: throw MQTTError(.payloadTooLarge, error.reason)
            case 22 /* EINVAL */: throw MQTTError(.invalidArgument, error.reason)
            default:
                // ENOTCONN (no uplink in the host), EIO (the host is gone), ENOSYS.
                let failure = MQTTError(.notConnected, "the plugin host cannot take messages: \(error.reason)")
                lost(failure)
                throw failure
            }
        }
        return id
    }

    func subscribe(_ filter: String, qos: Int) throws(MQTTError) {
        try MQTTTopic.validate(filter: filter)
        do throws(ModuleHost.HostRequestError) {
            try host.mqttSubscribe(filter)
        } catch {
            throw MQTTError(error.code == 13 ? .refused : .invalidArgument, "subscribing to '\(filter)' through the plugin host: \(error.reason)")
        }
        state.withLock { $0.filters[filter, default: 0] += 1 }
    }

    func unsubscribe(_ filter: String) {
        let last = state.withLock { state -> Bool in
            guard let count = state.filters[filter] else { return false }
            state.filters[filter] = count > 1 ? count - 1 : nil
            return count == 1
        }
        if last { try? host.mqttUnsubscribe(filter) }
    }

    /// One thread waits for the host's messages, 5 s at a time (the host ends the wait at once
    /// when it asks the module to stop), and makes a due retry of a host without an uplink.
    private func startReceiving() throws(MQTTError) {
        state.withLock { $0.receiving = true }
        let created = startDetachedThread(name: "uplink host") { [self] in
            defer {
                condition.locked {
                    state.withLock { $0.receiving = false }
                    condition.broadcast()
                }
            }
            while !state.withLock({ $0.stopping }) {
                if let due = state.withLock({ $0.reconnectAt }), due <= .now { connect() }
                do throws(ModuleHost.HostRequestError) {
                    if let message = try host.mqttReceive(timeoutMilliseconds: 5000) { handler(.message(message)) }
                } catch {
                    // ECANCELED: the host asked the module to stop; EIO: it is gone; ENOSYS.
                    if error.code != 125 /* ECANCELED */ { logger.warning("MQTT: receiving through the plugin host ended: \(error)") }
                    return
                }
            }
        }
        if created != 0 {
            state.withLock { $0.receiving = false }
            throw MQTTError(.failed, "cannot start the thread that receives the host's messages (errno \(created))")
        }
    }

    func stop(timeout: Duration) async {
        state.withLock { $0.stopping = true }
        // The thread ends within its receive timeout; waited for off the cooperative pool.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let created = startDetachedThread(name: "uplink stop") { [self] in
                // The host's table is valid until the module's stop returns: the thread must be
                // done with it by then. It is, at once, when the host asked the module to stop.
                let deadline = ContinuousClock.now + max(timeout, .seconds(6))
                condition.locked {
                    while state.withLock({ $0.receiving }) && ContinuousClock.now < deadline { _ = condition.wait(until: deadline) }
                }
                continuation.resume()
            }
            if created != 0 { continuation.resume() }
        }
        let was = state.withLock { state -> Bool in
            defer { state.connected = false }
            return state.connected
        }
        if was { handler(.disconnected(nil)) }
    }
}
