// An example module in Swift (Examples/ExampleModuleSwift), built by SwiftPM as
// libExampleModuleSwift.so. It uses IoTSDK exactly as an app does: its data goes into an IoTSDK
// database in the data directory the host gives it, migrated by its install hook, and its
// hardware is opened with GPIO.linux() and LinuxI2CBus(bus:), which inside the plugin host go
// through the host and get only what module.json declares (a heater on BCM 17, a window contact
// on BCM 27, a BME280 at 0x76 on I2C bus 1). When the host has a broker connection, it reports
// its setpoint through IoTSDK's Uplink, which inside the host publishes through the host, and
// takes a new setpoint from thermostat/<device>/setpoint (module.json's capabilities.mqtt).
import CIoTModule
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import IoTSDK
import Logging
import Synchronization

/// The update hooks: the install hook creates or migrates the module's database.
struct ThermostatHooks: ModuleUpdateHooks {
    func install(_ host: ModuleHost) throws {
        host.log(.info, "migrating \(host.dataDirectory)/thermostat.db")
        let database = try Database(path: host.dataDirectory + "/thermostat.db")
        _ = database
    }
}

/// What the module holds while it runs.
final class Hardware: Sendable {
    let gpio: Result<GPIO, HardwareError>
    let heater: Result<GPIOLineRequest, HardwareError>
    let window: Result<GPIOLineRequest, HardwareError>
    let bus: Result<LinuxI2CBus, HardwareError>
    let windowEdges = Atomic<Int>(0)
    /// Why the window's edge events stopped or never started, if they did.
    let windowEventsError = Mutex<String?>(nil)

    /// The I2C bus of the sensor: 1 on a Raspberry Pi, unless the data directory's `i2c-bus`
    /// file names another (the sandbox passes no environment; the data directory is the module's
    /// own configuration, kept across updates).
    static func busNumber(dataDirectory: String) -> Int {
        guard let file = fopen(dataDirectory + "/i2c-bus", "r") else { return 1 }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 16)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return 1 }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int(text.trimmingPrefix(" ").prefix { $0.isNumber }) ?? 1
    }

    init(dataDirectory: String) {
        gpio = Result { () throws(HardwareError) in try GPIO.linux() }
        heater = gpio.flatMap { gpio in Result { () throws(HardwareError) in try gpio.output(.bcm(17), consumer: "thermostat") } }
        window = gpio.flatMap { gpio in Result { () throws(HardwareError) in try gpio.input(.bcm(27), edge: .both, consumer: "thermostat") } }
        let busNumber = Self.busNumber(dataDirectory: dataDirectory)
        bus = Result { () throws(HardwareError) in try LinuxI2CBus(bus: busNumber) }
    }

    /// Counts the window contact's edges until the request is released. The stream is made here,
    /// before the module says ready, so that no edge after that is missed (a sysfs line, unlike
    /// a character-device request, keeps no queue of edges from before its reader waits).
    func watchWindow() {
        guard case let .success(window) = window else { return }
        let events: GPIOEdgeEvents
        do {
            events = try window.events()
        } catch {
            windowEventsError.withLock { $0 = "\(error)" }
            return
        }
        Task.detached { [self] in
            do {
                for try await _ in events { windowEdges.add(1, ordering: .relaxed) }
            } catch {
                windowEventsError.withLock { $0 = "\(error)" }
            }
        }
    }

    /// One line per part: what it is, or why it is not there.
    var report: String {
        func describe<T>(_ result: Result<T, HardwareError>, _ body: (T) -> String) -> String {
            switch result {
            case let .success(value): body(value)
            case let .failure(error): "unavailable (\(error.message))"
            }
        }
        let sensor = bus.flatMap { bus in
            Result { () throws(HardwareError) in try bus.smbusReadByteData(0x76, command: 0xD0) }
        }
        return [
            "gpio: " + describe(gpio) { $0.backend.kind.rawValue },
            "heater: " + describe(heater) { "BCM 17, " + ((try? $0.get())?.description ?? "unknown") },
            "window: " + describe(window) {
                "BCM 27, \((try? $0.get())?.description ?? "unknown"), \(windowEdges.load(ordering: .relaxed)) edges"
                    + (windowEventsError.withLock { $0 }.map { " (events ended: \($0))" } ?? "")
            },
            "sensor: " + describe(sensor) { "chip id 0x" + String($0, radix: 16) },
        ].joined(separator: "\n")
    }

    func release() {
        if case let .success(heater) = heater { heater.release() }
        if case let .success(window) = window { window.release() }
    }
}

private let setpoint = Mutex<Double>(21.0)
private let hardware = Mutex<Hardware?>(nil)

/// The module's uplink: an outbox in its database, drained through the host's broker connection.
final class Telemetry: Sendable {
    let outbox: Outbox
    let uplink: Uplink
    let device: String
    private let tasks: Mutex<[Task<Void, Never>]> = Mutex([])

    /// Nil when the host has no broker connection (`plugin-host run` without `--mqtt-url`).
    static func start(_ host: ModuleHost) async throws -> Telemetry? {
        guard host.hasMQTTCalls, !host.deviceID.isEmpty else { return nil }
        let database = try Database(path: host.dataDirectory + "/thermostat.db")
        let outbox = try await Outbox(database: database, name: "uplink", quota: .init(maxMessages: 1000, whenFull: .dropOldest))
        var logger = Logger(label: "thermostat")
        logger.logLevel = .warning
        let telemetry = Telemetry(outbox: outbox, uplink: try Uplink(outboxes: [outbox], through: host, logger: logger), device: host.deviceID)
        let setpoints = try telemetry.uplink.subscribe("thermostat/\(host.deviceID)/setpoint")
        let uplink = telemetry.uplink
        telemetry.tasks.withLock { tasks in
            tasks.append(Task { try? await uplink.run() })
            tasks.append(Task {
                for await message in setpoints {
                    guard let value = Double(String(decoding: message.payload, as: UTF8.self)), thermostatSetTarget(value) == 0 else { continue }
                    await telemetry.report()
                }
            })
        }
        await telemetry.report()
        return telemetry
    }

    private init(outbox: Outbox, uplink: Uplink, device: String) {
        self.outbox = outbox
        self.uplink = uplink
        self.device = device
    }

    /// Queues the current setpoint (retained) for thermostat/<device>/state.
    func report() async {
        let payload = "{\"setpoint\": \(setpoint.withLock { $0 })}"
        _ = try? await outbox.enqueue(topic: "thermostat/\(device)/state", payload: Array(payload.utf8), retain: true)
    }

    /// Ends the uplink (what is queued stays in the outbox for the next start).
    func stop() async {
        let running = tasks.withLock { $0 }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }
}

/// Runs async work from the module's synchronous entry points, which run on the runner's thread.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0 }!
}

@_cdecl("thermostat_start")
public func thermostatStart(_ table: UnsafePointer<iotsdk_host>?) -> Int32 {
    guard let table else { return 2 }
    let host = ModuleHost(table)
    let parts = Hardware(dataDirectory: host.dataDirectory)
    parts.watchWindow()
    hardware.withLock { $0 = parts }
    let (telemetry, failure) = blocking { () -> (Telemetry?, String?) in
        do { return (try await Telemetry.start(host), nil) } catch { return (nil, "\(error)") }
    }
    host.ready()
    host.log(.info, "thermostat \(host.moduleVersion) running, setpoint \(setpoint.withLock { $0 }) °C")
    for line in parts.report.split(separator: "\n") { host.log(.info, String(line)) }
    if let telemetry {
        host.log(.info, "uplink: reporting on thermostat/\(telemetry.device)/state, setpoint from thermostat/\(telemetry.device)/setpoint")
    } else {
        host.log(failure == nil ? .info : .warning, failure.map { "uplink: not started: \($0)" } ?? "uplink: none (the host has no broker connection)")
    }
    // A blocking start: heartbeat until the host asks us to stop.
    while !host.shouldStop {
        host.heartbeat()
        var pause = timespec(tv_sec: 0, tv_nsec: 500_000_000)
        nanosleep(&pause, nil)
    }
    // The host's table is valid until start returns: the uplink ends first.
    if let telemetry { blocking { await telemetry.stop() } }
    return 0
}

@_cdecl("thermostat_stop")
public func thermostatStop(_ table: UnsafePointer<iotsdk_host>?) -> Int32 {
    hardware.withLock { $0?.release() }
    return 0
}

@_cdecl("thermostat_install")
public func thermostatInstall(_ table: UnsafePointer<iotsdk_host>?) -> Int32 {
    ModuleHooks.call(ThermostatHooks(), table)
}

/// A typed command: `set_target(celsius: double) -> int32`.
@_cdecl("thermostat_set_target")
public func thermostatSetTarget(_ celsius: Double) -> Int32 {
    guard (5.0...35.0).contains(celsius) else { return 1 }
    setpoint.withLock { $0 = celsius }
    return 0
}

/// `heater(on: bool) -> int32`: 0, or 1 if the heater line is not available.
@_cdecl("thermostat_heater")
public func thermostatHeater(_ on: Bool) -> Int32 {
    hardware.withLock { parts in
        guard case let .success(heater)? = parts?.heater, (try? heater.set(on ? .active : .inactive)) != nil else { return 1 }
        return 0
    }
}

/// The string a command returns stays the module's until the next call (the runner copies it).
private let lastReport = Mutex<UnsafeMutablePointer<CChar>?>(nil)

/// `hardware() -> string`: what `report` says.
@_cdecl("thermostat_hardware")
public func thermostatHardware() -> UnsafePointer<CChar>? {
    let text = hardware.withLock { $0?.report } ?? "not started"
    return lastReport.withLock { last in
        free(last)
        last = strdup(text)
        return UnsafePointer(last)
    }
}

/// `read_register(address: uint32, register: uint32) -> int32`: one register of any device on
/// the sensor's bus, or the negated errno (-13: the address is not declared in module.json).
@_cdecl("thermostat_read_register")
public func thermostatReadRegister(_ address: UInt32, _ register: UInt32) -> Int32 {
    guard let bus = hardware.withLock({ try? $0?.bus.get() }) else { return -19 /* ENODEV */ }
    guard let device = UInt16(exactly: address).flatMap(I2CAddress.init(rawValue:)).map(bus.device) else { return -22 /* EINVAL */ }
    do {
        return Int32(try device.readRegister(UInt8(truncatingIfNeeded: register)))
    } catch {
        return -(error.errno ?? 5 /* EIO */)
    }
}
