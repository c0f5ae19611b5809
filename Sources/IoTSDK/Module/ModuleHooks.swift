import CIoTLinux
import CIoTModule
import MQTTClient
import Synchronization

/// What the plugin host gives a module's code: who it is, where its files and data are, and the
/// calls that report its health. Wraps the C ABI's `iotsdk_host` table
/// (`Sources/CIoTModule/include/iotsdk_module.h`), which is valid for the duration of the call it
/// was passed to (for `start`, until `stop` returns).
public struct ModuleHost: @unchecked Sendable {
    // @unchecked: the table is immutable and its callbacks are thread-safe (the ABI says so).
    public let table: UnsafePointer<iotsdk_host>

    public init(_ table: UnsafePointer<iotsdk_host>) { self.table = table }

    private func string(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }

    /// The module id, e.g. `com.example.thermostat`.
    public var moduleID: String { string(table.pointee.module_id) }
    /// The version being run or updated, e.g. `1.2.0`.
    public var moduleVersion: String { string(table.pointee.module_version) }
    /// The module's unpacked files (read-only).
    public var moduleDirectory: String { string(table.pointee.module_dir) }
    /// The module's writable data directory, kept across updates; open its `Database` here.
    public var dataDirectory: String { string(table.pointee.data_dir) }
    /// `run` for start and stop, or the update step a hook is called for.
    public var step: String { string(table.pointee.step) }

    /// Tells the host the module is up; health is judged from here.
    public func ready() { table.pointee.ready?(table) }
    /// Tells the host the module is alive; call at least every `heartbeatIntervalSeconds`.
    public func heartbeat() { table.pointee.heartbeat?(table) }
    /// True once the host asked the module to stop.
    public var shouldStop: Bool { (table.pointee.should_stop?(table) ?? 0) != 0 }

    public enum LogLevel: Int32, Sendable { case debug = 0, info = 1, warning = 2, error = 3 }

    /// A line in the module's log, kept by the host with the step's output.
    public func log(_ level: LogLevel = .info, _ message: String) {
        message.withCString { table.pointee.log?(table, level.rawValue, $0) }
    }

    // MARK: Hardware through the host

    /// Why the host did not grant a hardware request: `code` is the errno value (`EACCES`: the
    /// manifest does not declare it; otherwise the kernel's error for a declared request, or
    /// `EINVAL` for bad arguments), `reason` the host's explanation (`last_error`).
    public struct HostRequestError: Error, Sendable, Equatable, CustomStringConvertible {
        public var code: Int32
        public var reason: String
        public init(code: Int32, reason: String) {
            self.code = code
            self.reason = reason
        }
        /// The manifest does not declare what was asked for.
        public var isDenied: Bool { code == 13 /* EACCES */ }
        public var description: String { reason.isEmpty ? "error \(code)" : reason }
    }

    /// Whether the table, as large as the host built it (`size`), reaches to `field`'s end:
    /// fields are only ever appended, so older hosts' tables end earlier.
    private func covers<Field>(_ field: KeyPath<iotsdk_host, Field>) -> Bool {
        guard let offset = MemoryLayout<iotsdk_host>.offset(of: field) else { return false }
        return Int(table.pointee.size) >= offset + MemoryLayout<Field>.size
    }

    /// Whether the host's table has `gpio_request`, `i2c_transfer` and `last_error` (hosts of
    /// the first ABI 1 release do not).
    public var hasHardwareCalls: Bool { covers(\iotsdk_host.last_error) }

    private func failure(_ result: Int32) -> HostRequestError {
        let reason = hasHardwareCalls ? table.pointee.last_error?(table).map { String(cString: $0) } ?? "" : ""
        return HostRequestError(code: -result, reason: reason)
    }

    /// Asks the host for one GPIO line the manifest declares (`capabilities.gpio`) and returns
    /// the line request's file descriptor (uAPI v2), which the caller owns and closes.
    public func requestGPIOLine(chip: String, line: UInt32, output: Bool, initialValue: Bool = false) throws(HostRequestError) -> Int32 {
        guard hasHardwareCalls, let request = table.pointee.gpio_request else {
            throw HostRequestError(code: 38 /* ENOSYS */, reason: "this host does not offer hardware requests")
        }
        let result = chip.withCString { request(table, $0, line, output ? 1 : 0, initialValue ? 1 : 0) }
        guard result >= 0 else { throw failure(result) }
        return result
    }

    /// Whether the host's table has `gpio_request_lines`, `gpio_chip_info` and `gpio_line_info`,
    /// which IoTSDK's mediated GPIO backend needs.
    public var hasGPIOLineCalls: Bool { covers(\iotsdk_host.gpio_line_info) }

    /// Asks the host for lines of `chip` with a kernel line config (uAPI v2), as
    /// GPIO_V2_GET_LINE_IOCTL does; returns the line request's descriptor, which the caller owns.
    public func requestGPIOLines(chip: String, offsets: [UInt32], config: ciot_gpio_v2_line_config) throws(HostRequestError) -> Int32 {
        guard hasGPIOLineCalls, let request = table.pointee.gpio_request_lines else { throw Self.noLineCalls }
        var config = config
        let result = chip.withCString { name in
            offsets.withUnsafeBufferPointer { request(table, name, UInt32($0.count), $0.baseAddress, &config) }
        }
        guard result >= 0 else { throw failure(result) }
        return result
    }

    /// A descriptor of `/dev/i2c-<bus>` from the host (`i2c_open`), on which the module selects
    /// its declared addresses and makes SMBus calls itself; the sandbox's syscall filter denies it
    /// other addresses and I2C_RDWR. Throws with code EOPNOTSUPP when the run has no filter
    /// (transfers then go through the host), ENOSYS from a host without the call.
    public func openI2C(bus: UInt32) throws(HostRequestError) -> Int32 {
        guard covers(\iotsdk_host.i2c_open), let call = table.pointee.i2c_open else {
            throw HostRequestError(code: 38 /* ENOSYS */, reason: "this host does not hand out I2C descriptors (a plugin host older than the module's IoTSDK)")
        }
        let result = call(table, bus)
        guard result >= 0 else { throw failure(result) }
        return result
    }

    /// Whether the host reconfigures line requests for the module (`gpio_reconfigure_lines`).
    public var hasGPIOReconfigure: Bool { covers(\iotsdk_host.gpio_reconfigure_lines) }

    /// Reconfigures the lines of a line request the host granted (`fd`), through the host, which
    /// keeps each line to its declared direction.
    public func reconfigureGPIOLines(fd: Int32, config: ciot_gpio_v2_line_config) throws(HostRequestError) {
        guard hasGPIOReconfigure, let call = table.pointee.gpio_reconfigure_lines else {
            throw HostRequestError(code: 38 /* ENOSYS */, reason: "this host does not reconfigure GPIO lines (a plugin host older than the module's IoTSDK)")
        }
        var config = config
        let result = call(table, fd, &config)
        guard result == 0 else { throw failure(result) }
    }

    /// The kernel's information on the `index`-th chip the manifest declares lines of; nil past
    /// the last one.
    public func gpioChipInfo(index: UInt32) throws(HostRequestError) -> ciot_gpiochip_info? {
        guard hasGPIOLineCalls, let call = table.pointee.gpio_chip_info else { throw Self.noLineCalls }
        var info = ciot_gpiochip_info()
        let result = call(table, index, &info)
        if result == -34 /* ERANGE */ { return nil }
        guard result == 0 else { throw failure(result) }
        return info
    }

    /// The kernel's information on a declared line (`isDenied` for other lines).
    public func gpioLineInfo(chip: String, offset: UInt32) throws(HostRequestError) -> ciot_gpio_v2_line_info {
        guard hasGPIOLineCalls, let call = table.pointee.gpio_line_info else { throw Self.noLineCalls }
        var info = ciot_gpio_v2_line_info()
        let result = chip.withCString { call(table, $0, offset, &info) }
        guard result == 0 else { throw failure(result) }
        return info
    }

    /// The manifest's `capabilities.storageQuotaBytes`, or nil when there is none (or the host
    /// predates the field). `Database` applies it to databases in `dataDirectory`.
    public var storageQuotaBytes: UInt64? {
        guard covers(\iotsdk_host.storage_quota_bytes) else { return nil }
        let quota = table.pointee.storage_quota_bytes
        return quota > 0 ? quota : nil
    }

    private static let noLineCalls = HostRequestError(code: 38 /* ENOSYS */, reason: "this host does not offer GPIO line requests (a plugin host older than the module's IoTSDK)")

    // MARK: MQTT through the host

    /// Whether the host's table has the MQTT calls (`mqtt_publish` … `device_id`).
    public var hasMQTTCalls: Bool { covers(\iotsdk_host.device_id) }

    /// The device id `{device}` stands for in the manifest's topic filters; "" when the host has
    /// no uplink or no MQTT calls.
    public var deviceID: String { hasMQTTCalls ? string(table.pointee.device_id) : "" }

    private static let noMQTTCalls = HostRequestError(code: 38 /* ENOSYS */, reason: "this host does not offer MQTT (a plugin host older than the module's IoTSDK)")

    /// Hands a message to the host's uplink (`capabilities.mqtt.publish` decides); returns once
    /// the host has it on disk. `expirySeconds` 0: it never expires.
    /// - Throws: `HostRequestError`: EACCES (not declared), EINVAL, EMSGSIZE, ENOTCONN (the host
    ///   has no uplink), EDQUOT (the module's queue in the host is full), EIO (the host is gone).
    public func mqttPublish(topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false, expirySeconds: UInt32 = 0) throws(HostRequestError) {
        guard hasMQTTCalls, let call = table.pointee.mqtt_publish else { throw Self.noMQTTCalls }
        let result = topic.withCString { name in
            payload.withUnsafeBytes { call(table, name, $0.baseAddress, UInt32($0.count), qos, retain ? 1 : 0, expirySeconds) }
        }
        guard result == 0 else { throw failure(result) }
    }

    /// Subscribes to `filter` through the host (`capabilities.mqtt.subscribe` must cover it).
    public func mqttSubscribe(_ filter: String) throws(HostRequestError) {
        guard hasMQTTCalls, let call = table.pointee.mqtt_subscribe else { throw Self.noMQTTCalls }
        let result = filter.withCString { call(table, $0) }
        guard result == 0 else { throw failure(result) }
    }

    /// Ends a subscription `mqttSubscribe` made.
    public func mqttUnsubscribe(_ filter: String) throws(HostRequestError) {
        guard hasMQTTCalls, let call = table.pointee.mqtt_unsubscribe else { throw Self.noMQTTCalls }
        let result = filter.withCString { call(table, $0) }
        guard result == 0 else { throw failure(result) }
    }

    /// The next message of the module's subscriptions, waiting up to `timeoutMilliseconds`; nil
    /// when none came.
    /// - Throws: `HostRequestError` ECANCELED once the host asked the module to stop, EIO when
    ///   the host is gone.
    public func mqttReceive(timeoutMilliseconds: Int32) throws(HostRequestError) -> MQTTMessage? {
        guard hasMQTTCalls, let call = table.pointee.mqtt_receive else { throw Self.noMQTTCalls }
        var message: UnsafeMutablePointer<iotsdk_mqtt_message>?
        let result = call(table, timeoutMilliseconds, &message)
        if result == -110 /* ETIMEDOUT */ { return nil }
        guard result == 0, let message else { throw failure(result) }
        defer { table.pointee.mqtt_message_free?(table, message) }
        let payload = message.pointee.payload.map { Array(UnsafeBufferPointer(start: $0, count: Int(message.pointee.payload_length))) } ?? []
        return MQTTMessage(topic: string(message.pointee.topic), payload: payload, qos: 1, retained: message.pointee.retain != 0)
    }

    // MARK: The runner's host

    private static let attached = Mutex<ModuleHost?>(nil)

    /// The plugin host of the module this process runs, when it runs inside a plugin-host runner
    /// (which calls `iotsdk_sdk_attach` before any entry point); nil in a standalone app.
    /// `GPIO.linux()` and `LinuxI2CBus(bus:)` use it to go through the host.
    public static var current: ModuleHost? { attached.withLock { $0 } }

    /// Sets `current` (the runner does, through `iotsdk_sdk_attach`); nil detaches.
    public static func attach(_ table: UnsafePointer<iotsdk_host>?) {
        attached.withLock { $0 = table.map(ModuleHost.init) }
    }

    /// One message of `i2cTransfer`.
    public enum I2CSegment: Sendable, Equatable {
        case write([UInt8])
        case read(count: Int)
    }

    /// Runs one combined I2C transfer on `/dev/i2c-<bus>` with a declared address
    /// (`capabilities.i2c`), performed by the host; returns the bytes of each read segment.
    public func i2cTransfer(bus: UInt32, address: UInt8, _ segments: [I2CSegment]) throws(HostRequestError) -> [[UInt8]] {
        guard hasHardwareCalls, let transfer = table.pointee.i2c_transfer else {
            throw HostRequestError(code: 38 /* ENOSYS */, reason: "this host does not offer hardware requests")
        }
        // One buffer per segment, alive for the call; reads are filled in place.
        var list: [iotsdk_i2c_segment] = []
        defer { list.forEach { $0.data?.deallocate() } }
        for segment in segments {
            let (bytes, read): ([UInt8], Bool) = switch segment {
            case let .write(bytes): (bytes, false)
            case let .read(count): ([UInt8](repeating: 0, count: max(0, count)), true)
            }
            guard bytes.count <= Int(UInt16.max) else { throw HostRequestError(code: 22 /* EINVAL */, reason: "an I2C segment of \(bytes.count) bytes") }
            let data = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            data.initialize(repeating: 0, count: max(bytes.count, 1))
            data.update(from: bytes, count: bytes.count)
            list.append(iotsdk_i2c_segment(read: read ? 1 : 0, length: UInt16(bytes.count), data: data))
        }
        let result = transfer(table, bus, address, UInt32(list.count), list)
        guard result == 0 else { throw failure(result) }
        return list.filter { $0.read != 0 }.map { Array(UnsafeBufferPointer(start: $0.data, count: Int($0.length))) }
    }
}

/// The update hooks of a Swift module, one method per step (Documentation/Updates.md). Each has a
/// default that succeeds, so a module implements only the steps it needs. A hook succeeds by
/// returning and fails by throwing; the error's description goes to the module's log.
///
///     struct Thermostat: ModuleUpdateHooks {
///         func install(_ host: ModuleHost) throws {
///             let db = try Database(path: host.dataDirectory + "/thermostat.db")
///             try db.migrate(schema: "thermostat", to: Thermostat.migrations)
///         }
///     }
///
///     @_cdecl("thermostat_install")
///     public func thermostatInstall(_ host: UnsafePointer<iotsdk_host>?) -> Int32 {
///         ModuleHooks.call(Thermostat(), host)
///     }
///
/// The manifest names `thermostat_install` as `hooks.install.symbol`. One exported function per
/// declared hook may all call `ModuleHooks.call`: it dispatches on the step the host is running.
public protocol ModuleUpdateHooks {
    /// Before anything changes: check that the device can run this version (hardware present).
    func verify(_ host: ModuleHost) throws
    /// After the data snapshot: migrate storage.
    func install(_ host: ModuleHost) throws
    /// After activation, before the module starts.
    func start(_ host: ModuleHost) throws
    /// After the stability window: a last check of the module's own view of its health.
    func health(_ host: ModuleHost) throws
    /// The update is about to be committed.
    func commit(_ host: ModuleHost) throws
    /// The update is being rolled back: undo what `install` did if the data snapshot is not enough.
    func rollback(_ host: ModuleHost) throws
    /// The rollback finished; the previous version is active again.
    func failure(_ host: ModuleHost) throws
}

extension ModuleUpdateHooks {
    public func verify(_ host: ModuleHost) throws {}
    public func install(_ host: ModuleHost) throws {}
    public func start(_ host: ModuleHost) throws {}
    public func health(_ host: ModuleHost) throws {}
    public func commit(_ host: ModuleHost) throws {}
    public func rollback(_ host: ModuleHost) throws {}
    public func failure(_ host: ModuleHost) throws {}
}

/// Adapts `ModuleUpdateHooks` to the C ABI.
public enum ModuleHooks {
    /// Runs the hook for the step in `host.step`. Returns 0 on success; 1 if the hook threw
    /// (after logging the error), 2 for a missing table, 3 for a step this SDK does not know
    /// (a newer host), so the host treats it as failed rather than silently passed.
    public static func call(_ hooks: some ModuleUpdateHooks, _ table: UnsafePointer<iotsdk_host>?) -> Int32 {
        guard let table else { return 2 }
        let host = ModuleHost(table)
        let body: ((ModuleHost) throws -> Void)? = switch host.step {
        case "verify": hooks.verify
        case "install": hooks.install
        case "start": hooks.start
        case "health": hooks.health
        case "commit": hooks.commit
        case "rollback": hooks.rollback
        case "failure": hooks.failure
        default: nil
        }
        guard let body else {
            host.log(.error, "this module's IoTSDK does not know the update step '\(host.step)'")
            return 3
        }
        do {
            try body(host)
            return 0
        } catch {
            host.log(.error, "\(host.step) hook failed: \(error)")
            return 1
        }
    }
}

/// The runner calls this export of the module's library (IOTSDK_ATTACH_SYMBOL in
/// iotsdk_module.h) with the host's table before any entry point or hook.
@_cdecl("iotsdk_sdk_attach")
public func iotsdkSDKAttach(_ table: UnsafePointer<iotsdk_host>?) {
    ModuleHost.attach(table)
}
