import IoTSDK
import LinuxSupport
import Logging
import MQTTClient
import PluginHostRuntime
import ServiceLifecycle
import Synchronization

/// The plugin host's broker connection: the `ModuleMessaging` that modules publish and subscribe
/// through (Documentation/Runtime.md, "MQTT through the host").
///
/// - **Publishing.** A module's message is enqueued in the host's outbox,
///   `<state>/uplink/outbox.sqlite`, in a named outbox of its own (`module/<id>`) held to
///   `Configuration.moduleQuotaBytes` (`.rejectNew`: the module gets -EDQUOT); `publish` returns
///   once it is on disk, so a module crash, a host restart or a broker outage loses nothing the
///   host acknowledged. One SDK `Uplink` drains every module's outbox through the one
///   connection at QoS 1 (QoS 0 publishes too: they are queued like the rest), with the retain
///   flag and the expiry as MQTT 5 message expiry.
/// - **Subscribing.** One broker subscription per filter however many modules hold it; what
///   arrives goes to `ModuleUplink.deliver(topic:payload:retain:)` once per message (not once
///   per overlapping filter; the broker itself may still send overlapping subscriptions a copy each).
/// - **Topics.** `Configuration.topicPrefix` goes in front of every topic and filter of a module
///   on the broker and is taken off what arrives, so manifests name topics without it. The
///   retained status topic `<prefix>devices/<device>/status` says `online`, and `offline` as the
///   last will or when the host stops.
///
/// Run it as a `Service` beside the host's (`run()` drains until a graceful shutdown); give the
/// `ModuleUplink` made with it to `attach(_:)` so that messages from the broker reach modules.
public final class HostMessaging: ModuleMessaging, FleetLink, Service {
    public struct Configuration: Sendable {
        /// The broker, the client id, TLS and credentials. Its `status` is set to `statusTopic`.
        public var mqtt: MQTTConfiguration
        /// What `{device}` stands for in manifests (one topic level, not starting with `$`).
        public var deviceID: String
        /// In front of every module topic on the broker, e.g. "fleet-a/"; empty for none.
        public var topicPrefix: String
        /// The bytes (payload and topic) one module may have queued.
        public var moduleQuotaBytes: Int64

        public init(mqtt: MQTTConfiguration, deviceID: String, topicPrefix: String = "", moduleQuotaBytes: Int64 = 1 << 20) {
            self.mqtt = mqtt
            self.deviceID = deviceID
            self.topicPrefix = topicPrefix
            self.moduleQuotaBytes = moduleQuotaBytes
        }

        /// The retained status topic: `<prefix>devices/<device>/status`.
        public var statusTopic: String { topicPrefix + deviceTopic("status") }

        /// The device's own topic `leaf` without the prefix: `devices/<device>/<leaf>` (`desired`,
        /// `reported`, `events`; Documentation/Fleet.md).
        public func deviceTopic(_ leaf: String) -> String { "devices/\(deviceID)/\(leaf)" }
    }

    public let deviceID: String
    public let configuration: Configuration
    /// The SDK uplink that drains the host outbox.
    public let uplink: Uplink
    private let database: Database
    private let logger: Logger
    private let outboxes = Mutex<[String: Outbox]>([:])
    private let subscriptions = Mutex<[String: (holders: Set<String>, task: Task<Void, Never>)]>([:])
    private let receiver = Mutex<ModuleUplink?>(nil)
    /// The host's own messages: the fleet's reports and events.
    private let hostOutbox: Outbox
    private let fleetTask = Mutex<Task<Void, Never>?>(nil)
    /// What the host itself may have queued; the oldest go first when it is full (a newer report
    /// supersedes them).
    public static let hostQuotaBytes: Int64 = 1 << 20

    /// Opens (or creates) the host outbox in `<stateDirectory>/uplink/outbox.sqlite` and makes the
    /// connection; nothing connects before `run()`.
    /// - Throws: `UplinkError(.invalidID)` for a device id that cannot stand in a topic level;
    ///   `MQTTError` for a configuration that cannot work (`MQTTConfiguration.validate()`, a bad
    ///   prefix); `StorageError` or `FileFailure` when the outbox cannot be opened.
    public init(stateDirectory: String, configuration: Configuration, logger: Logger) async throws {
        if let problem = TopicRights.idProblem(configuration.deviceID) {
            throw UplinkError(.invalidID, "the device id '\(configuration.deviceID)' cannot stand for {device} in a topic: \(problem); give --device-id")
        }
        var configuration = configuration
        configuration.mqtt.status = .init(topic: configuration.statusTopic)
        let directory = stateDirectory + "/uplink"
        try DurableFiles.makeOwnerOnlyDirectory(directory)
        database = try Database(path: directory + "/outbox.sqlite")
        // The host's own messages (the fleet's); modules' outboxes are added as they publish.
        hostOutbox = try await Outbox(database: database, name: "host", quota: .init(maxBytes: Self.hostQuotaBytes, whenFull: .dropOldest))
        uplink = try Uplink(outboxes: [hostOutbox], mqtt: configuration.mqtt, options: .init(topicPrefix: configuration.topicPrefix), logger: logger)
        self.configuration = configuration
        self.deviceID = configuration.deviceID
        self.logger = logger
        // Messages a module queued before the host stopped go out whether or not it publishes again.
        for name in try await Outbox.names(in: database) where name.hasPrefix(Self.outboxName("")) {
            _ = try await outbox(named: name)
        }
    }

    /// Where messages from the broker go: the `ModuleUplink` the runner was given.
    public func attach(_ modules: ModuleUplink) {
        receiver.withLock { $0 = modules }
    }

    // MARK: - Service

    /// Connects and drains until a graceful shutdown or cancellation. When the connection cannot
    /// run at all (libmosquitto missing, the outbox failing), it logs why and waits for the
    /// shutdown: modules keep running, and what they publish stays queued.
    public func run() async throws {
        do {
            try await uplink.run()
        } catch is CancellationError {
            return
        } catch {
            logger.error("uplink: stopped: \(error); modules' messages stay queued in the host outbox until the host runs with a working uplink")
            try? await gracefulShutdown()
        }
    }

    // MARK: - Fleet desired state

    /// Gives `fleet` the desired state retained on `<prefix>devices/<device>/desired` (again on
    /// every connection, so a device that was offline converges when it is back) and carries its
    /// reports (retained) and events through the host outbox.
    /// - Throws: `MQTTError` if the topic cannot be subscribed to.
    public func attach(fleet: FleetAgent) throws(MQTTError) {
        fleet.attach(self)
        let stream = try uplink.subscribe(configuration.topicPrefix + configuration.deviceTopic("desired"))
        let task = Task {
            for await message in stream { fleet.receive(desired: message.payload) }
        }
        fleetTask.withLock { $0 = task }
    }

    // MARK: - ModuleMessaging

    public func publish(module: String, topic: String, payload: [UInt8], qos: UInt8, retain: Bool, expiry: UInt32?) async throws(UplinkError) {
        do {
            let outbox = try await outbox(named: Self.outboxName(module))
            try await outbox.enqueue(topic: topic, payload: payload, ttl: expiry.flatMap { $0 > 0 ? .seconds(Int64($0)) : nil }, retain: retain)
        } catch let error as StorageError where error.code == .quotaExceeded {
            throw UplinkError(.quotaExceeded, "module \(module) has \(configuration.moduleQuotaBytes) bytes of messages queued for the broker (it is unreachable or slower than the module): publish again once some are delivered, or start the host with a larger --mqtt-module-quota")
        } catch {
            throw UplinkError(.unavailable, "the host's outbox cannot take the message: \(error)")
        }
    }

    public func subscribe(module: String, filter: String) async throws(UplinkError) {
        let result = subscriptions.withLock { subscriptions -> Result<Void, UplinkError> in
            if subscriptions[filter] != nil {
                subscriptions[filter]?.holders.insert(module)
                return .success(())
            }
            let stream: UplinkSubscription
            do throws(MQTTError) {
                stream = try uplink.subscribe(configuration.topicPrefix + filter)
            } catch {
                return .failure(UplinkError(.invalidTopic, "cannot subscribe to '\(filter)': \(error.message)"))
            }
            let task = Task { [weak self] in
                for await message in stream { self?.received(message, on: filter) }
            }
            subscriptions[filter] = ([module], task)
            return .success(())
        }
        try result.get()
    }

    public func unsubscribe(module: String, filter: String) async throws(UplinkError) {
        let ended = subscriptions.withLock { subscriptions -> Task<Void, Never>? in
            guard var subscription = subscriptions[filter] else { return nil }
            subscription.holders.remove(module)
            guard subscription.holders.isEmpty else {
                subscriptions[filter] = subscription
                return nil
            }
            subscriptions[filter] = nil
            return subscription.task
        }
        // Ending the iteration ends the broker subscription (UplinkSubscription).
        ended?.cancel()
    }

    /// The filters held, and by how many modules (for status and tests).
    public var subscriptionHolders: [String: Int] { subscriptions.withLock { $0.mapValues(\.holders.count) } }

    // MARK: - Internals

    /// Hands a message to the modules, once: of the held filters that match it, only the
    /// subscription of the first (in sort order) passes it on.
    private func received(_ message: MQTTMessage, on filter: String) {
        let prefix = configuration.topicPrefix
        guard message.topic.hasPrefix(prefix) else { return }
        let topic = String(message.topic.dropFirst(prefix.count))
        let first = subscriptions.withLock { TopicRights.subscriptions($0.keys, matching: topic).min() }
        guard first == filter else { return }
        receiver.withLock { $0 }?.deliver(topic: topic, payload: message.payload, retain: message.retained)
    }

    static func outboxName(_ module: String) -> String { "module/" + module }

    /// Queues a host message and waits until it is on disk (called on the fleet agent's thread,
    /// never on Swift's pool).
    private func enqueueAndWait(topic: String, payload: [UInt8], retain: Bool, replacingQueued: Bool = false) {
        let done = MonotonicCondition()
        let finished = Mutex(false)
        let outbox = hostOutbox, logger = logger
        Task {
            do {
                try await outbox.enqueue(topic: topic, payload: payload, retain: retain, replacingQueued: replacingQueued)
            } catch {
                logger.warning("uplink: cannot queue the host's message for \(topic): \(error)")
            }
            done.locked {
                finished.withLock { $0 = true }
                done.broadcast()
            }
        }
        done.locked {
            while !finished.withLock({ $0 }) { _ = done.wait(until: nil) }
        }
    }

    /// The module outbox `name`, opened and added to the uplink on first use.
    private func outbox(named name: String) async throws -> Outbox {
        if let outbox = outboxes.withLock({ $0[name] }) { return outbox }
        let opened = try await Outbox(database: database, name: name,
                                      quota: .init(maxBytes: configuration.moduleQuotaBytes, whenFull: .rejectNew))
        let outbox = outboxes.withLock { outboxes in
            if let existing = outboxes[name] { return existing }
            outboxes[name] = opened
            return opened
        }
        try await uplink.add(outbox)
        return outbox
    }
}

extension HostMessaging {
    public func sendReport(_ payload: [UInt8]) {
        // Only the newest report is worth sending: one still queued (the broker is unreachable) is replaced.
        enqueueAndWait(topic: configuration.deviceTopic("reported"), payload: payload, retain: true, replacingQueued: true)
    }

    public func sendEvent(_ payload: [UInt8]) {
        enqueueAndWait(topic: configuration.deviceTopic("events"), payload: payload, retain: false)
    }
}
