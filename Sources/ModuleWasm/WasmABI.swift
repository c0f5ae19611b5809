import ModuleProtocol
import WasmParser
import WasmTypes

/// The contract between the runner and a WebAssembly module (Documentation/WasmModules.md): the
/// host calls it may import, the exports the runner calls, and how a command's typed values travel.
///
/// It is ABI 1 of `iotsdk_module.h`, carried over to wasm32: entry points, hooks and commands are
/// exports of the types their C prototypes compile to, and the host table the C header builds in
/// the module's memory (`iotsdk_host`) calls the imports below.
public enum WasmABI {
    /// The import module of the host calls.
    public static let importModule = "iotsdk"
    /// WASI preview 1, of which the runner provides clocks, random numbers, stdout and stderr
    /// (to the host's log) and sleeping; the rest answer ENOSYS.
    public static let wasiModule = "wasi_snapshot_preview1"

    /// The module's linear memory, which every wasm module of this ABI exports.
    public static let memoryExport = "memory"
    /// `() -> i32`: the address of the module's `iotsdk_host` table (the C header defines it).
    public static let hostTableExport = "iotsdk_host"
    /// `(i32) -> i32`: allocates a string argument of a command in the module's memory (the C
    /// header defines it with malloc); needed only by modules with string parameters.
    public static let allocateExport = "iotsdk_alloc"
    /// `(i32) -> ()`: frees what `iotsdk_alloc` gave.
    public static let freeExport = "iotsdk_free"
    /// `() -> ()`: a WASI reactor's constructor call, run once before anything else when exported.
    public static let initializeExport = "_initialize"

    /// What `module_info` returns for each `which`.
    public enum Info: Int32, CaseIterable, Sendable {
        case moduleID = 0, moduleVersion, moduleDirectory, dataDirectory, step, deviceID
        /// The manifest's storage quota in bytes, in decimal (0: none).
        case storageQuotaBytes
    }

    /// The longest value `kv_set` stores (JSON text).
    public static let maxValueBytes = 1 << 20
    /// The most readings one `ts_query` returns.
    public static let maxQueryReadings = 65_536

    /// The host calls a module may import from `importModule`, by name.
    ///
    /// | import | type | what it does |
    /// |---|---|---|
    /// | `ready` | `() -> ()` | the module is up (`iotsdk_host.ready`) |
    /// | `heartbeat` | `() -> ()` | the module is alive |
    /// | `log` | `(level i32, text i32, length i32) -> ()` | one line of the module's log |
    /// | `should_stop` | `() -> i32` | 1 once the host asked the module to stop |
    /// | `module_info` | `(which i32, buffer i32, capacity i32) -> i32` | copies the `Info` string, returns its length (more than `capacity`: nothing copied) |
    /// | `last_error` | `(buffer i32, capacity i32) -> i32` | the reason the last hardware call failed, as `module_info` copies |
    /// | `i2c_transfer` | `(bus i32, address i32, count i32, segments i32) -> i32` | one combined transfer of `count` `iotsdk_i2c_segment`s (8 bytes each in wasm32), brokered by the host: 0 or a negative errno |
    /// | `gpio_request` | `(chip i32, length i32, line i32, output i32, initial i32) -> i32` | a line of chip `chip` (UTF-8, `length` bytes) as input or output: a request handle, or a negative errno |
    /// | `gpio_get` | `(request i32) -> i32` | 1 active, 0 inactive, or a negative errno |
    /// | `gpio_set` | `(request i32, active i32) -> i32` | 0 or a negative errno |
    /// | `gpio_release` | `(request i32) -> i32` | 0 or a negative errno; an output goes inactive |
    /// | `gpio_request_events` | `(chip i32, length i32, line i32, edges i32) -> i32` | a declared input with edge detection (`edges`: 1 rising, 2 falling, 3 both): a request handle, or a negative errno |
    /// | `gpio_wait_event` | `(request i32, timeout_ms i32, event i32) -> i32` | waits (< 0: no limit) for the next edge: 1 with the 16-byte `iotsdk_gpio_event` at `event` filled, 0 on timeout, -ECANCELED once the host asks the module to stop; commands run meanwhile |
    /// | `mqtt_publish` | `(topic i32, topic_length i32, payload i32, length i32, qos i32, retain i32, expiry_seconds i32) -> i32` | the host table's `mqtt_publish`: 0 once the host's uplink took the message |
    /// | `mqtt_subscribe`, `mqtt_unsubscribe` | `(filter i32, length i32) -> i32` | the host table's calls |
    /// | `mqtt_receive` | `(timeout_ms i32, sizes i32) -> i32` | waits (< 0: no limit, 0: just look) for the next message: 0 with its topic's and payload's byte counts (two u32) at `sizes`, the message held for `mqtt_take`; -ETIMEDOUT, -ECANCELED; commands run meanwhile |
    /// | `mqtt_take` | `(topic i32, payload i32) -> i32` | copies the held message's topic (no NUL) and payload there: 1 if retained, else 0; -ENOENT when none is held |
    /// | `kv_set` | `(key i32, key_length i32, value i32, value_length i32) -> i32` | stores JSON text under `key` in the module's key-value store: 0 |
    /// | `kv_get` | `(key i32, key_length i32, buffer i32, capacity i32) -> i32` | the value's length, copied when it fits; -ENOENT: no such key |
    /// | `kv_remove` | `(key i32, key_length i32) -> i32` | 1 if the key was there, else 0 |
    /// | `kv_keys` | `(prefix i32, prefix_length i32, buffer i32, capacity i32) -> i32` | the keys starting with the prefix, sorted, each followed by a NUL: their total length, copied when it fits |
    /// | `ts_append` | `(series i32, series_length i32, quantity i32, quantity_length i32, value f64, timestamp_ns i64) -> i32` | appends a reading (`value` in the quantity's base unit, at `timestamp_ns`, 0: now) to the module's time-series store: 0 |
    /// | `ts_query` | `(series i32, series_length i32, quantity i32, quantity_length i32, from_ns i64, to_ns i64, newest_first i32, readings i32, capacity i32) -> i32` | up to `capacity` readings with `from_ns <= t < to_ns`, each 16 bytes (i64 ns, f64 value) at `readings`: their count |
    public static let imports: [String: FunctionType] = [
        "ready": FunctionType(parameters: [], results: []),
        "heartbeat": FunctionType(parameters: [], results: []),
        "log": FunctionType(parameters: [.i32, .i32, .i32], results: []),
        "should_stop": FunctionType(parameters: [], results: [.i32]),
        "module_info": FunctionType(parameters: [.i32, .i32, .i32], results: [.i32]),
        "last_error": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "i2c_transfer": FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32]),
        "gpio_request": FunctionType(parameters: [.i32, .i32, .i32, .i32, .i32], results: [.i32]),
        "gpio_get": FunctionType(parameters: [.i32], results: [.i32]),
        "gpio_set": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "gpio_release": FunctionType(parameters: [.i32], results: [.i32]),
        "gpio_request_events": FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32]),
        "gpio_wait_event": FunctionType(parameters: [.i32, .i32, .i32], results: [.i32]),
        "mqtt_publish": FunctionType(parameters: [.i32, .i32, .i32, .i32, .i32, .i32, .i32], results: [.i32]),
        "mqtt_subscribe": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "mqtt_unsubscribe": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "mqtt_receive": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "mqtt_take": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "kv_set": FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32]),
        "kv_get": FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32]),
        "kv_remove": FunctionType(parameters: [.i32, .i32], results: [.i32]),
        "kv_keys": FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32]),
        "ts_append": FunctionType(parameters: [.i32, .i32, .i32, .i32, .f64, .i64], results: [.i32]),
        "ts_query": FunctionType(parameters: [.i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32, .i32], results: [.i32]),
    ]

    /// The WASI preview 1 functions a module may import (WasmKit's WASI implements them all;
    /// the runner links the ones named in WasmModules.md and answers ENOSYS for the others).
    public static let wasiFunctions: Set<String> = [
        "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get", "clock_time_get",
        "random_get", "proc_exit", "proc_raise", "sched_yield", "fd_write", "fd_read", "fd_close", "fd_fdstat_get",
        "fd_fdstat_set_flags", "fd_seek", "fd_tell", "fd_sync", "fd_datasync", "fd_filestat_get", "fd_advise",
        "fd_allocate", "fd_fdstat_set_rights", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
        "fd_pwrite", "fd_prestat_get", "fd_prestat_dir_name", "fd_readdir", "fd_renumber", "path_create_directory",
        "path_filestat_get", "path_filestat_set_times", "path_link", "path_open", "path_readlink",
        "path_remove_directory", "path_rename", "path_symlink", "path_unlink_file", "poll_oneoff",
        "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
    ]

    /// The type of every entry point and hook: `int32_t f(const iotsdk_host *)`.
    public static let entryType = FunctionType(parameters: [.i32], results: [.i32])

    /// The wasm32 type a command value of `type` is passed as: `bool`, `int32`, `uint32` and
    /// `string` (an address in the module's memory) as i32, the 64-bit integers as i64, `double` as f64.
    public static func wasmType(of type: ModuleProtocol.ValueType) -> WasmTypes.ValueType {
        switch type {
        case .bool, .int32, .uint32, .string: .i32
        case .int64, .uint64: .i64
        case .double: .f64
        }
    }

    /// The export type of a command with these parameter and result types.
    public static func commandType(parameters: [ModuleProtocol.ValueType], returns: ModuleProtocol.ValueType) -> FunctionType {
        FunctionType(parameters: parameters.map(wasmType(of:)), results: [wasmType(of: returns)])
    }

    /// `(f64, i32) -> i64`, as error messages show a wasm function type.
    public static func describe(_ type: FunctionType) -> String {
        func name(_ value: WasmTypes.ValueType) -> String {
            switch value {
            case .i32: "i32"
            case .i64: "i64"
            case .f32: "f32"
            case .f64: "f64"
            case .v128: "v128"
            case .ref: "ref"
            }
        }
        let results = type.results.isEmpty ? "()" : type.results.count == 1 ? name(type.results[0]) : "(" + type.results.map(name).joined(separator: ", ") + ")"
        return "(" + type.parameters.map(name).joined(separator: ", ") + ") -> " + results
    }
}
