// A WebAssembly module in Embedded Swift (Documentation/WasmModules.md, "In Swift"): the C module
// ABI through CIoTModuleWasm, no IoTSDK (which needs the full Swift runtime). Built by
// Scripts/build-wasm-example.sh with the toolchain's Embedded Swift for wasm32 and linked with
// shim.c by clang-14 and wasi-libc.
//
// - start: takes the setpoint it kept in its key-value store, says ready and logs, then sends a
//   heartbeat every second until the host asks it to stop (a wasm module has one thread; its
//   commands run while it sleeps);
// - commands: set_setpoint(double) -> int32 (1: out of 5...35 °C, 2: not kept), setpoint() -> double.
import CIoTModuleWasm

nonisolated(unsafe) var setpoint = 21.0
/// The host's table, for the commands (which the runner calls without it).
nonisolated(unsafe) var hostTable: UnsafePointer<iotsdk_host>?

@_cdecl("thermostat_start")
public func thermostatStart(_ host: UnsafePointer<iotsdk_host>) -> Int32 {
    hostTable = host
    // The setpoint of an earlier run (or version): the store lives in the data directory.
    var text = [CChar](repeating: 0, count: 32)
    if iotsdk_kv_get(host, "setpoint", &text, 32) > 0 {
        setpoint = example_parse_double(text)
    }
    host.pointee.ready(host)
    "thermostat (Embedded Swift, wasm32) started".withCString { host.pointee.log(host, 1, $0) }
    while host.pointee.should_stop(host) == 0 {
        host.pointee.heartbeat(host)
        example_sleep_seconds(1)
    }
    return 0
}

@_cdecl("thermostat_stop")
public func thermostatStop(_ host: UnsafePointer<iotsdk_host>) -> Int32 {
    0
}

@_cdecl("thermostat_set_setpoint")
public func thermostatSetSetpoint(_ celsius: Double) -> Int32 {
    guard (5.0...35.0).contains(celsius) else { return 1 }
    setpoint = celsius
    guard let host = hostTable else { return 2 }
    var text = [CChar](repeating: 0, count: 32)
    example_format_double(celsius, &text, 32)
    return iotsdk_kv_set(host, "setpoint", text) == 0 ? 0 : 2
}

@_cdecl("thermostat_setpoint")
public func thermostatSetpoint() -> Double {
    setpoint
}
