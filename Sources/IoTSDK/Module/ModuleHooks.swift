import CIoTModule

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
