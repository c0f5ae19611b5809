import WasmKit
import CIoTLinux
import CIoTModule
import Glibc
import LinuxSupport
import ModuleProtocol
import ModuleWasm
import WasmTypes

// The imports a wasm module gets: the host calls (module "iotsdk", WasmABI.imports) and the part
// of WASI preview 1 a module of this host needs (clocks, random numbers, stdout and stderr,
// exit, sleeping); every other WASI function it imports answers ENOSYS. The WASI part is the
// runner's own rather than WasmKit's WASI library: it is small, it checks every address the
// module passes before it touches memory, and its poll_oneoff is where the module yields to the
// host (Wasm/WasmScheduler.swift).

/// WASI preview 1 errno values the runner returns.
enum WASIErrno: UInt32 {
    case success = 0, badf = 8, fault = 21, inval = 28, nosys = 52, notsup = 58, spipe = 70

    /// WASI's number (what `E…` means in wasi-libc's <errno.h>) for the Linux errno `code`, so
    /// that a wasm module compares a host call's result with -EACCES, -ENOENT… as a native one
    /// does. Codes WASI lacks become EIO (29): EREMOTEIO (an I2C device that did not acknowledge
    /// data) among them.
    static func number(ofLinux code: Int32) -> UInt32 {
        switch code {
        case EPERM: 63
        case ENOENT: 44
        case EINTR: 27
        case EIO: 29
        case ENXIO: 60
        case E2BIG: 1
        case EBADF: 8
        case EAGAIN: 6
        case ENOMEM: 48
        case EACCES: 2
        case EFAULT: 21
        case EBUSY: 10
        case EEXIST: 20
        case ENODEV: 43
        case ENOTDIR: 54
        case EISDIR: 31
        case EINVAL: 28
        case ENOTTY: 59
        case ENOSPC: 51
        case ESPIPE: 70
        case EROFS: 69
        case EPIPE: 64
        case ERANGE: 68
        case ENOSYS: 52
        case EPROTO: 65
        case EOVERFLOW: 61
        case EMSGSIZE: 35
        case EOPNOTSUPP: 58
        case ENOTCONN: 53
        case ETIMEDOUT: 73
        case EDQUOT: 19
        case ECANCELED: 11
        default: 29
        }
    }

    /// A host call's result for the module: itself when >= 0, else minus WASI's errno number.
    static func result(_ value: Int32) -> Value {
        .i32(value >= 0 ? UInt32(value) : UInt32(bitPattern: -Int32(number(ofLinux: -value))))
    }
}

/// A host call refused before it reached the host, with last_error set: thrown inside a host
/// call, which then returns `result` (a negative Linux errno, in WASI's numbering).
struct HostCallRefusal: Error {
    var result: Int32
}

final class WasmImportContext: @unchecked Sendable {
    let options: Options
    let step: String
    let scheduler: WasmScheduler
    /// Set once the instance exists (the imports are made before it).
    var module: WasmModule?
    /// The host table a native module gets: the hardware imports are its calls, made by the
    /// runner with the module's arguments copied out of (or pointing into) its memory.
    let table: UnsafePointer<iotsdk_host>
    /// The line requests the host granted to the module (descriptors of this process, which the
    /// module knows as handles); no other descriptor is reachable through the GPIO imports.
    private var lineRequests: Set<Int32> = []
    /// The module's stores (WasmStorage.swift), opened by the first storage call.
    lazy var storage = WasmStorage(dataDirectory: options.dataDirectory, quota: options.storageQuota)
    /// The MQTT message mqtt_receive announced, until mqtt_take copies it (WasmMQTT.swift).
    var heldMessage: MQTTInbox.Delivery?

    init(options: Options, step: String, scheduler: WasmScheduler) {
        self.options = options
        self.step = step
        self.scheduler = scheduler
        table = makeHostTable(options, step: step)
    }

    func instance(_ call: String) throws -> WasmModule {
        guard let module else { throw WasmHostCallError(description: "\(call) was called while the module was being instantiated (from its start function)") }
        return module
    }

    /// Every import `interface` names, from the host calls and WASI (the interface was checked:
    /// it names nothing else).
    func imports(for interface: WasmInterface, store: Store) -> Imports {
        var imports = Imports()
        let host = hostCalls(store: store)
        let wasi = wasiCalls(store: store)
        for entry in interface.imports {
            if entry.module == WasmABI.importModule, let function = host[entry.name] {
                imports.define(module: entry.module, name: entry.name, function)
            } else if entry.module == WasmABI.wasiModule, let type = entry.type {
                if let function = wasi[entry.name], function.type == type {
                    imports.define(module: entry.module, name: entry.name, function)
                } else {
                    imports.define(module: entry.module, name: entry.name, Self.enosys(entry.name, type: type, store: store))
                }
            }
        }
        return imports
    }

    /// A WASI function the runner does not offer: ENOSYS (if it returns an errno).
    private static func enosys(_ name: String, type: FunctionType, store: Store) -> Function {
        Function(store: store, type: type) { _, _ in
            guard type.results == [.i32] else { throw WasmHostCallError(description: "WASI \(name) is not available to modules") }
            return [.i32(WASIErrno.nosys.rawValue)]
        }
    }

    // MARK: Host calls

    /// Host call `name` of `WasmABI.imports`, made by `body`; a `HostCallRefusal` it throws
    /// becomes the call's result.
    func hostFunction(_ name: String, store: Store, _ body: @escaping ([Value]) throws -> [Value]) -> Function {
        Function(store: store, type: WasmABI.imports[name]!) { _, arguments in
            do {
                return try body(arguments)
            } catch let refusal as HostCallRefusal {
                return [WASIErrno.result(refusal.result)]
            }
        }
    }

    private func hostCalls(store: Store) -> [String: Function] {
        var calls = mqttCalls(store: store).merging(storageCalls(store: store)) { first, _ in first }
        func define(_ name: String, _ body: @escaping ([Value]) throws -> [Value]) {
            calls[name] = hostFunction(name, store: store, body)
        }
        define("ready") { _ in
            hostLink.load()?.send(.ready)
            return []
        }
        define("heartbeat") { _ in
            hostLink.load()?.send(.heartbeat)
            return []
        }
        define("log") { [self] arguments in
            let module = try instance("log")
            let level = Int32(bitPattern: arguments[0].i32)
            try module.withBytes(at: arguments[1].i32, count: min(arguments[2].i32, UInt32(Message.maxStringBytes)), for: "log") {
                sendLog(level: level, UnsafeRawBufferPointer($0))
            }
            return []
        }
        define("should_stop") { _ in
            [.i32(stopRequested.load(ordering: .acquiring) ? 1 : 0)]
        }
        define("module_info") { [self] arguments in
            guard let which = WasmABI.Info(rawValue: Int32(bitPattern: arguments[0].i32)) else { return [WASIErrno.result(-EINVAL)] }
            let text: String = switch which {
            case .moduleID: options.moduleID
            case .moduleVersion: options.moduleVersion
            case .moduleDirectory: options.moduleDirectory
            case .dataDirectory: options.dataDirectory
            case .step: step
            case .deviceID: options.deviceID
            case .storageQuotaBytes: String(options.storageQuota)
            }
            return [WASIErrno.result(try copyOutLength(Array(text.utf8), to: arguments[1].i32, capacity: arguments[2].i32, "module_info"))]
        }
        define("last_error") { [self] arguments in
            [WASIErrno.result(try copyOutLength(Array(String(cString: lastError()).utf8), to: arguments[0].i32, capacity: arguments[1].i32, "last_error"))]
        }
        define("i2c_transfer") { [self] arguments in
            [WASIErrno.result(try i2cTransfer(bus: arguments[0].i32, address: arguments[1].i32, count: arguments[2].i32, segments: arguments[3].i32))]
        }
        define("gpio_request") { [self] arguments in
            let chip = try text(at: arguments[0].i32, length: arguments[1].i32, "gpio_request", what: "the chip's name")
            let fd = table.pointee.gpio_request(table, chip, arguments[2].i32, Int32(bitPattern: arguments[3].i32), Int32(bitPattern: arguments[4].i32))
            if fd >= 0 { lineRequests.insert(fd) }
            return [WASIErrno.result(fd)]
        }
        define("gpio_get") { [self] arguments in
            let request = Int32(bitPattern: arguments[0].i32)
            guard lineRequests.contains(request) else { return [WASIErrno.result(notALineRequest("gpio_get", request))] }
            var bits: UInt64 = 0
            guard ciot_gpio_v2_line_get_values(request, 1, &bits) == 0 else { return [WASIErrno.result(kernelFailure("gpio_get"))] }
            setLastError("")
            return [.i32(UInt32(bits & 1))]
        }
        define("gpio_set") { [self] arguments in
            let request = Int32(bitPattern: arguments[0].i32)
            guard lineRequests.contains(request) else { return [WASIErrno.result(notALineRequest("gpio_set", request))] }
            guard ciot_gpio_v2_line_set_values(request, arguments[1].i32 != 0 ? 1 : 0, 1) == 0 else {
                return [WASIErrno.result(kernelFailure("gpio_set"))]
            }
            setLastError("")
            return [.i32(0)]
        }
        define("gpio_request_events") { [self] arguments in
            let chip = try text(at: arguments[0].i32, length: arguments[1].i32, "gpio_request_events", what: "the chip's name")
            let edges = arguments[3].i32
            guard edges != 0, edges & ~3 == 0 else {
                setLastError("gpio_request_events: edges must be 1 (rising), 2 (falling) or 3 (both), not \(edges)")
                return [WASIErrno.result(-EINVAL)]
            }
            var config = gpio_v2_line_config()
            ciot_gpio_v2_config_init(&config)
            config.flags = UInt64(CIOT_GPIO_V2_LINE_FLAG_INPUT) | (edges & 1 != 0 ? UInt64(CIOT_GPIO_V2_LINE_FLAG_EDGE_RISING) : 0)
                | (edges & 2 != 0 ? UInt64(CIOT_GPIO_V2_LINE_FLAG_EDGE_FALLING) : 0)
            var offsets = [arguments[2].i32]
            let fd = table.pointee.gpio_request_lines(table, chip, 1, &offsets, &config)
            if fd >= 0 { lineRequests.insert(fd) }
            return [WASIErrno.result(fd)]
        }
        define("gpio_wait_event") { [self] arguments in
            let module = try instance("gpio_wait_event")
            let request = Int32(bitPattern: arguments[0].i32)
            guard lineRequests.contains(request) else { return [WASIErrno.result(notALineRequest("gpio_wait_event", request))] }
            let target = arguments[2].i32
            guard module.contains(target, count: 16) else {
                setLastError("gpio_wait_event: the event at 0x\(String(target, radix: 16)) is not inside the module's memory")
                return [WASIErrno.result(-EFAULT)]
            }
            let milliseconds = Int32(bitPattern: arguments[1].i32)
            let deadline = milliseconds < 0 ? nil : nanoseconds(of: CLOCK_MONOTONIC) + UInt64(milliseconds) * 1_000_000
            defer { module.refuel() }
            switch scheduler.wait(for: request, untilMonotonic: deadline) {
            case .stopping:
                setLastError("gpio_wait_event: the host asked the module to stop")
                return [WASIErrno.result(-ECANCELED)]
            case .timedOut:
                setLastError("")
                return [.i32(0)]
            case .ready:
                var event = gpio_v2_line_event()
                let count = read(request, &event, MemoryLayout<gpio_v2_line_event>.size)
                guard count == MemoryLayout<gpio_v2_line_event>.size else {
                    return [WASIErrno.result(count < 0 ? kernelFailure("gpio_wait_event") : -EIO)]
                }
                let edge: UInt32 = event.id == UInt32(CIOT_GPIO_V2_LINE_EVENT_RISING_EDGE) ? 1 : 2
                try module.withBytes(at: target, count: 16, for: "gpio_wait_event") { raw in
                    raw.storeBytes(of: event.timestamp_ns.littleEndian, toByteOffset: 0, as: UInt64.self)
                    raw.storeBytes(of: edge.littleEndian, toByteOffset: 8, as: UInt32.self)
                    raw.storeBytes(of: event.line_seqno.littleEndian, toByteOffset: 12, as: UInt32.self)
                }
                setLastError("")
                return [.i32(1)]
            }
        }
        define("gpio_release") { [self] arguments in
            let request = Int32(bitPattern: arguments[0].i32)
            guard lineRequests.remove(request) != nil else { return [WASIErrno.result(notALineRequest("gpio_release", request))] }
            close(request)
            setLastError("")
            return [.i32(0)]
        }
        return calls
    }

    /// Copies `bytes` to `address` when they fit in `capacity`; their count either way. -EFAULT
    /// when the buffer they would go to is not inside the module's memory.
    func copyOutLength(_ bytes: [UInt8], to address: UInt32, capacity: UInt32, _ call: String) throws -> Int32 {
        guard bytes.count <= Int(Int32.max) else { throw HostCallRefusal(result: -EOVERFLOW) }
        if bytes.count <= capacity {
            let module = try instance(call)
            guard module.contains(address, count: UInt32(bytes.count)) else {
                setLastError("\(call): the buffer (\(bytes.count) bytes at 0x\(String(address, radix: 16))) is not inside the module's memory")
                throw HostCallRefusal(result: -EFAULT)
            }
            try module.withBytes(at: address, count: UInt32(bytes.count), for: call) { $0.copyBytes(from: bytes) }
        }
        return Int32(bytes.count)
    }

    /// A text argument of a host call (`what`: "the chip's name"…): UTF-8, `length` bytes at
    /// `address`. Refused (HostCallRefusal, which the call returns) with -EFAULT when it is not inside the module's memory or longer than
    /// `limit` bytes, -EINVAL when it is empty, holds a NUL or is not UTF-8 (last_error says which).
    func text(at address: UInt32, length: UInt32, limit: Int = Message.maxStringBytes, _ call: String, what: String) throws -> String {
        guard length <= UInt32(limit), let bytes = try instance(call).bytes(at: address, count: length) else {
            setLastError("\(call): \(what) is not inside the module's memory, or longer than \(limit) bytes")
            throw HostCallRefusal(result: -EFAULT)
        }
        guard !bytes.isEmpty, !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            setLastError("\(call): \(what) is empty, holds a NUL byte or is not UTF-8")
            throw HostCallRefusal(result: -EINVAL)
        }
        return text
    }

    private func notALineRequest(_ call: String, _ request: Int32) -> Int32 {
        setLastError("\(call): \(request) is not a line request of this module (gpio_request returns one)")
        return -EBADF
    }

    private func kernelFailure(_ call: String) -> Int32 {
        let code = errno
        setLastError("\(call): \(String(cString: strerror(code)))")
        return -code
    }

    /// `i2c_transfer` of the host table on segments read from the module's memory: the data of
    /// each segment is used in place, after checking it lies inside the memory (which cannot move
    /// or grow during the call: the module is not running meanwhile).
    private func i2cTransfer(bus: UInt32, address: UInt32, count: UInt32, segments: UInt32) throws -> Int32 {
        let module = try instance("i2c_transfer")
        guard (1...UInt32(Message.maxI2CSegments)).contains(count), address <= 0x7F else {
            setLastError("i2c_transfer: segment count \(count) (1 to \(Message.maxI2CSegments)) or address 0x\(String(address, radix: 16)) (7 bits) out of range")
            return -EINVAL
        }
        guard let raw = module.bytes(at: segments, count: count * 8) else {
            setLastError("i2c_transfer: the \(count) segments at 0x\(String(segments, radix: 16)) are not inside the module's memory")
            return -EFAULT
        }
        let size = UInt64(module.memory.byteCount)
        var parsed: [(read: Bool, length: UInt16, data: UInt32)] = []
        for index in 0..<Int(count) {
            let base = index * 8
            let length = UInt16(raw[base + 2]) | UInt16(raw[base + 3]) << 8
            let data = UInt32(raw[base + 4]) | UInt32(raw[base + 5]) << 8 | UInt32(raw[base + 6]) << 16 | UInt32(raw[base + 7]) << 24
            guard UInt64(data) + UInt64(length) <= size else {
                setLastError("i2c_transfer: the data of segment \(index) (\(length) bytes at 0x\(String(data, radix: 16))) is not inside the module's memory")
                return -EFAULT
            }
            parsed.append((raw[base] != 0, length, data))
        }
        return module.memory.withUnsafeMutableBufferPointer(offset: 0, count: Int(size)) { memory in
            var list = parsed.map { iotsdk_i2c_segment(read: $0.read ? 1 : 0, length: $0.length, data: $0.length == 0 ? nil : memory.baseAddress!.advanced(by: Int($0.data)).assumingMemoryBound(to: UInt8.self)) }
            return table.pointee.i2c_transfer(table, bus, UInt8(address), count, &list)
        }
    }

    // MARK: WASI

    private func wasiCalls(store: Store) -> [String: Function] {
        var calls: [String: Function] = [:]
        func define(_ name: String, _ parameters: [WasmTypes.ValueType], _ body: @escaping ([Value]) throws -> WASIErrno) {
            calls[name] = Function(store: store, type: FunctionType(parameters: parameters, results: [.i32])) { _, arguments in
                [.i32(try body(arguments).rawValue)]
            }
        }
        func store32(_ value: UInt32, at address: UInt32, _ call: String) throws {
            try instance(call).withBytes(at: address, count: 4, for: call) { $0.storeBytes(of: value.littleEndian, as: UInt32.self) }
        }
        func store64(_ value: UInt64, at address: UInt32, _ call: String) throws {
            try instance(call).withBytes(at: address, count: 8, for: call) { $0.storeBytes(of: value.littleEndian, as: UInt64.self) }
        }
        // No arguments and no environment.
        for name in ["args_sizes_get", "environ_sizes_get"] {
            define(name, [.i32, .i32]) { arguments in
                try store32(0, at: arguments[0].i32, name)
                try store32(0, at: arguments[1].i32, name)
                return .success
            }
        }
        for name in ["args_get", "environ_get"] {
            define(name, [.i32, .i32]) { _ in .success }
        }
        define("clock_res_get", [.i32, .i32]) { arguments in
            guard let clock = Self.clock(arguments[0].i32) else { return .inval }
            var resolution = timespec()
            clock_getres(clock, &resolution)
            try store64(UInt64(resolution.tv_sec) * 1_000_000_000 + UInt64(resolution.tv_nsec), at: arguments[1].i32, "clock_res_get")
            return .success
        }
        define("clock_time_get", [.i32, .i64, .i32]) { arguments in
            guard let clock = Self.clock(arguments[0].i32) else { return .inval }
            try store64(nanoseconds(of: clock), at: arguments[2].i32, "clock_time_get")
            return .success
        }
        define("random_get", [.i32, .i32]) { [self] arguments in
            try instance("random_get").withBytes(at: arguments[0].i32, count: arguments[1].i32, for: "random_get") { buffer in
                var generator = SystemRandomNumberGenerator()  // getrandom(2)
                for index in buffer.indices { buffer[index] = generator.next() }
            }
            return .success
        }
        calls["proc_exit"] = Function(store: store, parameters: [.i32]) { _, arguments in
            throw WasmExit(status: arguments[0].i32)
        }
        define("sched_yield", []) { [self] _ in
            scheduler.yield()
            return .success
        }
        // Descriptors: 0 (empty), 1 and 2 (the runner's stdout and stderr, which the host keeps as
        // the module's output). No files: fd_prestat_get says there are no preopened directories.
        define("fd_write", [.i32, .i32, .i32, .i32]) { [self] arguments in
            let fd = Int32(bitPattern: arguments[0].i32)
            guard fd == 1 || fd == 2 else { return .badf }
            let module = try instance("fd_write")
            guard arguments[2].i32 <= 1024 else { return .inval }
            var written: UInt32 = 0
            for index in 0..<arguments[2].i32 {
                let vector = try module.withBytes(at: arguments[1].i32 &+ index &* 8, count: 8, for: "fd_write") {
                    (UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)), UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
                }
                _ = try module.withBytes(at: vector.0, count: vector.1, for: "fd_write") { writeAll(fd, UnsafeRawBufferPointer($0)) }
                written &+= vector.1
            }
            try store32(written, at: arguments[3].i32, "fd_write")
            return .success
        }
        define("fd_read", [.i32, .i32, .i32, .i32]) { arguments in
            guard arguments[0].i32 == 0 else { return .badf }
            try store32(0, at: arguments[3].i32, "fd_read")
            return .success
        }
        define("fd_close", [.i32]) { arguments in arguments[0].i32 <= 2 ? .success : .badf }
        define("fd_seek", [.i32, .i64, .i32, .i32]) { arguments in arguments[0].i32 <= 2 ? .spipe : .badf }
        define("fd_fdstat_get", [.i32, .i32]) { [self] arguments in
            guard arguments[0].i32 <= 2 else { return .badf }
            try instance("fd_fdstat_get").withBytes(at: arguments[1].i32, count: 24, for: "fd_fdstat_get") { buffer in
                buffer.copyBytes(from: [UInt8](repeating: 0, count: 24))
                buffer[0] = 2 // character device
                // Every right but fd_seek (bit 2) and fd_tell (bit 5): wasi-libc's isatty() is
                // then true, so stdout is line-buffered as the native runner makes it, and a
                // module's printf lines reach the host as they are written.
                let rights = UInt64.max & ~(UInt64(1) << 2 | UInt64(1) << 5)
                buffer.storeBytes(of: rights.littleEndian, toByteOffset: 8, as: UInt64.self)
            }
            return .success
        }
        define("fd_prestat_get", [.i32, .i32]) { _ in .badf }
        define("poll_oneoff", [.i32, .i32, .i32, .i32]) { [self] arguments in
            try pollOneoff(subscriptions: arguments[0].i32, events: arguments[1].i32, count: arguments[2].i32, eventCount: arguments[3].i32)
        }
        return calls
    }

    private static func clock(_ id: UInt32) -> clockid_t? {
        switch id {
        case 0: CLOCK_REALTIME
        case 1: CLOCK_MONOTONIC
        case 2: CLOCK_PROCESS_CPUTIME_ID
        case 3: CLOCK_THREAD_CPUTIME_ID
        default: nil
        }
    }

    /// WASI poll_oneoff for clock subscriptions (what nanosleep, sleep and usleep compile to): the
    /// module sleeps until the earliest one is due, and meanwhile the runner calls its commands
    /// and, once the host asks it to stop, ends the sleep early. Subscriptions to descriptors
    /// (there are none to wait for) are refused with ENOTSUP.
    private func pollOneoff(subscriptions: UInt32, events: UInt32, count: UInt32, eventCount: UInt32) throws -> WASIErrno {
        let module = try instance("poll_oneoff")
        guard count > 0, count <= 64 else { return .inval }
        var earliest: (deadline: UInt64, userdata: UInt64)?
        for index in 0..<count {
            let (tag, userdata, clockID, timeout, flags) = try module.withBytes(at: subscriptions &+ index &* 48, count: 48, for: "poll_oneoff") { raw in
                (raw[8], UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)), UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
                 UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)), UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 40, as: UInt16.self)))
            }
            guard tag == 0 else { return .notsup }
            guard let clock = Self.clock(clockID) else { return .inval }
            // Relative to now on the monotonic clock; an absolute time (flag 1) converted to it.
            let monotonic = nanoseconds(of: CLOCK_MONOTONIC)
            let relative = flags & 1 != 0 ? timeout &- min(timeout, nanoseconds(of: clock)) : timeout
            let deadline = monotonic &+ min(relative, UInt64.max - monotonic)
            if earliest == nil || deadline < earliest!.deadline { earliest = (deadline, userdata) }
        }
        scheduler.sleep(untilMonotonic: earliest!.deadline)
        try module.withBytes(at: events, count: 32, for: "poll_oneoff") { raw in
            raw.copyBytes(from: [UInt8](repeating: 0, count: 32))
            raw.storeBytes(of: earliest!.userdata.littleEndian, as: UInt64.self)
            raw[10] = 0 // eventtype clock
        }
        try module.withBytes(at: eventCount, count: 4, for: "poll_oneoff") { $0.storeBytes(of: UInt32(1).littleEndian, as: UInt32.self) }
        // The module's next stretch of work gets a fresh budget.
        module.refuel()
        return .success
    }
}
