// An example module in Swift (Examples/ExampleModuleSwift), built by SwiftPM as
// libExampleModuleSwift.so. It uses IoTSDK as an app does: its data goes into an IoTSDK
// database in the data directory the host gives it, migrated by its install hook.
import CIoTModule
#if canImport(Glibc)
import Glibc
#endif
import IoTSDK
import Synchronization

/// The update hooks: the install hook creates or migrates the module's database.
struct ThermostatHooks: ModuleUpdateHooks {
    func install(_ host: ModuleHost) throws {
        host.log(.info, "migrating \(host.dataDirectory)/thermostat.db")
        let database = try Database(path: host.dataDirectory + "/thermostat.db")
        _ = database
    }
}

private let setpoint = Mutex<Double>(21.0)
private let running = Atomic<Bool>(false)

@_cdecl("thermostat_start")
public func thermostatStart(_ table: UnsafePointer<iotsdk_host>?) -> Int32 {
    guard let table else { return 2 }
    let host = ModuleHost(table)
    running.store(true, ordering: .relaxed)
    host.ready()
    host.log(.info, "thermostat \(host.moduleVersion) running, setpoint \(setpoint.withLock { $0 }) °C")
    // A blocking start: heartbeat until the host asks us to stop.
    while !host.shouldStop {
        host.heartbeat()
        var pause = timespec(tv_sec: 0, tv_nsec: 500_000_000)
        nanosleep(&pause, nil)
    }
    running.store(false, ordering: .relaxed)
    return 0
}

@_cdecl("thermostat_stop")
public func thermostatStop(_ table: UnsafePointer<iotsdk_host>?) -> Int32 { 0 }

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
