import MQTTTopics
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModuleProtocol
import PluginHostImages
import Synchronization

/// One module run's MQTT through the host: decides its publish, subscribe and unsubscribe
/// requests with its `TopicRights` (refusals audited like hardware denials: resource `mqtt`),
/// hands what passes to the uplink's `ModuleMessaging`, keeps the run's subscriptions, and sends
/// the runner the messages they match (`Message.mqttMessage`). Made by `RunnerConnection` for
/// each run; `close` ends its subscriptions.
///
/// Granted subscriptions are audited too; granted publishes are not (one audit line per message
/// would wear the flash, DESIGN.md).
final class UplinkSession: Sendable {
    let moduleID: String
    let uplink: ModuleUplink
    /// The module's rights on this device; nil without a connection (every call: ENOTCONN).
    let rights: Result<TopicRights, UplinkError>?
    let audit: AuditLog
    let channel: Channel
    /// Adds a line to the run's output.
    let note: @Sendable (String) -> Void

    private struct State {
        /// The filters subscribed (or being subscribed) for the module.
        var subscriptions: Set<String> = []
        var closed = false
    }
    private let state = Mutex(State())

    init(moduleID: String, capabilities: ModuleManifest.Capabilities, uplink: ModuleUplink, audit: AuditLog, channel: Channel,
         note: @escaping @Sendable (String) -> Void) {
        self.moduleID = moduleID
        self.uplink = uplink
        self.audit = audit
        self.channel = channel
        self.note = note
        rights = uplink.messaging.map { messaging in
            Result { () throws(UplinkError) in
                try TopicRights(publish: capabilities.mqtt.publish, subscribe: capabilities.mqtt.subscribe,
                                device: messaging.deviceID, module: moduleID)
            }
        }
        uplink.register(self)
    }

    // MARK: Requests

    func publish(topic: String, payload: [UInt8], qos: UInt8, retain: Bool, expiry: UInt32?) async -> UplinkError? {
        let messaging: any ModuleMessaging
        switch admit("publish", topic, { $0.mayPublish(to: topic) }) {
        case let .success(admitted): messaging = admitted
        case let .failure(error): return error
        }
        guard payload.count <= uplink.maxPayloadBytes else {
            return UplinkError(.payloadTooLarge, "a payload of \(payload.count) bytes for '\(MQTTTopic.quoted(topic))'; this host takes at most \(uplink.maxPayloadBytes) bytes in one message: split it, or compress it")
        }
        do {
            try await messaging.publish(module: moduleID, topic: topic, payload: payload, qos: qos, retain: retain, expiry: expiry)
            return nil
        } catch {
            return error
        }
    }

    func subscribe(filter: String) async -> UplinkError? {
        let messaging: any ModuleMessaging
        switch admit("subscribe", filter, { $0.maySubscribe(to: filter) }) {
        case let .success(admitted): messaging = admitted
        case let .failure(error): return error
        }
        // Once per module and filter, as ModuleMessaging promises.
        guard state.withLock({ $0.subscriptions.insert(filter).inserted }) else { return nil }
        do {
            try await messaging.subscribe(module: moduleID, filter: filter)
        } catch {
            state.withLock { _ = $0.subscriptions.remove(filter) }
            return error
        }
        record("subscribe " + filter, denied: nil)
        // The run ended while the uplink subscribed: take it back.
        if state.withLock({ $0.closed }) { try? await messaging.unsubscribe(module: moduleID, filter: filter) }
        return nil
    }

    func unsubscribe(filter: String) async -> UplinkError? {
        guard let messaging = uplink.messaging else { return Self.notConnected }
        if let problem = MQTTTopic.problem(filter: filter) {
            return UplinkError(.invalidTopic, "filter '\(MQTTTopic.quoted(filter))': \(problem)")
        }
        // Unsubscribing from what the module is not subscribed to is no error (as in MQTT).
        guard state.withLock({ $0.subscriptions.remove(filter) != nil }) else { return nil }
        do {
            try await messaging.unsubscribe(module: moduleID, filter: filter)
            return nil
        } catch {
            return error
        }
    }

    static let notConnected = UplinkError(.notConnected, "this host has no uplink: start plugin-host with --mqtt-url (and the broker's credentials) to give modules MQTT")

    /// The checks before the uplink: a connection, the rights on this device, and the decision;
    /// a denial is audited.
    private func admit(_ action: String, _ subject: String, _ decide: (TopicRights) -> TopicRights.Decision) -> Result<any ModuleMessaging, UplinkError> {
        guard let messaging = uplink.messaging, let rights else { return .failure(Self.notConnected) }
        switch rights {
        case let .failure(error):
            return .failure(error)
        case let .success(rights):
            switch decide(rights) {
            case .allowed: return .success(messaging)
            case let .invalid(reason): return .failure(UplinkError(.invalidTopic, reason))
            case let .denied(reason):
                record(action + " " + subject, denied: reason)
                return .failure(UplinkError(.denied, reason))
            }
        }
    }

    private func record(_ request: String, denied reason: String?) {
        audit.record(AuditEntry(time: Date().timeIntervalSince1970, module: moduleID, resource: "mqtt", request: request,
                                decision: reason == nil ? "granted" : "denied", reason: reason))
    }

    // MARK: Delivery

    /// Sends the runner a message from the broker if one of the run's subscriptions matches
    /// `topic`; true if it was sent.
    func deliver(topic: String, payload: [UInt8], retain: Bool) -> Bool {
        let subscriptions = state.withLock { $0.closed ? [] : $0.subscriptions }
        guard !TopicRights.subscriptions(subscriptions, matching: topic).isEmpty else { return false }
        do {
            // Short: the uplink's thread delivers to every module; the runner's reader queues at once.
            try channel.send(.mqttMessage(topic: topic, payload: payload, retain: retain), timeout: .milliseconds(100))
            return true
        } catch .closed {
            return false
        } catch {
            note("plugin-host: mqtt message on '\(MQTTTopic.quoted(topic))' (\(payload.count) bytes) not delivered: \(error)")
            return false
        }
    }

    /// Ends the run's subscriptions at the uplink; later deliveries are dropped.
    func close() {
        uplink.unregister(self)
        let filters = state.withLock { state in
            state.closed = true
            defer { state.subscriptions.removeAll() }
            return state.subscriptions
        }
        guard let messaging = uplink.messaging, !filters.isEmpty else { return }
        let module = moduleID
        Task(executorPreference: uplink.executor) {
            for filter in filters.sorted() { try? await messaging.unsubscribe(module: module, filter: filter) }
        }
    }
}
