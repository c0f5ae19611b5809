import LinuxSupport
import CIoTModule
import Glibc
import ModuleProtocol
import Synchronization

// The host table's callbacks are `@convention(c)` functions: they cannot capture, so what they
// need lives in globals. All of it is atomic (lock-free loads and stores) or set once
// (`hostLink`) rather than `nonisolated(unsafe)`, because the module calls the callbacks from any
// of its threads and the SIGTERM handler reads `wakeWriteFD` on whichever thread the signal lands.

/// Set once the host asked the module to stop (SIGTERM, or `stop` on the channel); the module
/// reads it via `should_stop`.
let stopRequested = Atomic<Bool>(false)
/// The write end of the self-pipe that wakes the main thread (start mode): the signal handler
/// writes `T`, the start thread writes `R` after start() returned.
let wakeWriteFD = Atomic<Int32>(-1)
/// What start() returned, stored before the start thread writes `R`.
let startResult = Atomic<Int32>(0)

// Diagnostics and replies go out with LinuxSupport's writeAll: async-signal-safe (no allocation,
// no locks), and a line shorter than PIPE_BUF (every diagnostic line) in one write(2), so lines
// from different threads never interleave. Its errors (the host went away: EPIPE, SIGPIPE is
// ignored) are dropped; nothing can be done about them.

/// A diagnostic line of the runner itself, on stderr (which the host merges into the output).
func diagnose(_ message: String) {
    writeAll(2, Array("plugin-host-runner: \(message)\n".utf8))
}

/// Ends the process now: flushes stdio (the module's printf output) and calls _exit, which skips
/// atexit handlers and C++ static destructors that could race with threads the module left running.
func finish(_ status: RunnerExitStatus) -> Never {
    finish(status.rawValue)
}

/// `finish` with a status the module chose (passed on from the sandbox's module process).
func finish(_ status: Int32) -> Never {
    fflush(nil)
    _exit(status)
}

/// The host table the module receives. It and its strings live until the process ends.
func makeHostTable(_ options: Options, step: String) -> UnsafePointer<iotsdk_host> {
    var host = iotsdk_host()
    host.abi = UInt32(IOTSDK_MODULE_ABI)
    host.size = UInt32(MemoryLayout<iotsdk_host>.size)
    host.context = nil
    host.module_id = UnsafePointer(strdup(options.moduleID))
    host.module_version = UnsafePointer(strdup(options.moduleVersion))
    host.module_dir = UnsafePointer(strdup(options.moduleDirectory))
    host.data_dir = UnsafePointer(strdup(options.dataDirectory))
    host.step = UnsafePointer(strdup(step))
    host.ready = { _ in hostLink.load()?.send(.ready) }
    host.heartbeat = { _ in hostLink.load()?.send(.heartbeat) }
    host.log = { _, level, message in
        sendLog(level: level, message.map { UnsafeRawBufferPointer(start: $0, count: strlen($0)) } ?? UnsafeRawBufferPointer(start: nil, count: 0),
                null: message == nil)
    }
    host.should_stop = { _ in stopRequested.load(ordering: .acquiring) ? 1 : 0 }
    host.gpio_request = { _, chip, line, output, initialValue in
        let (name, link, failure) = gpioCall("gpio_request", chip: chip)
        guard let name, let link else { return failure }
        let reply = link.requestLines { id in
            .gpioRequest(requestID: id, chip: name, line: line, direction: output != 0 ? .output : .input, initialValue: initialValue != 0)
        }
        return hardwareResult(reply, call: "gpio_request")
    }
    host.gpio_request_lines = { _, chip, count, offsets, config in
        let (name, link, failure) = gpioCall("gpio_request_lines", chip: chip)
        guard let name, let link else { return failure }
        guard (1...UInt32(Message.maxGPIOLines)).contains(count), let offsets, let config else {
            setLastError("gpio_request_lines: count must be 1 to \(Message.maxGPIOLines), with offsets and config not NULL")
            return -EINVAL
        }
        let list = Array(UnsafeBufferPointer(start: offsets, count: Int(count)))
        let bytes = Array(UnsafeRawBufferPointer(start: config, count: MemoryLayout<gpio_v2_line_config>.size))
        return hardwareResult(link.requestLines { id in .gpioRequestLines(requestID: id, chip: name, offsets: list, config: bytes) },
                              call: "gpio_request_lines")
    }
    host.i2c_open = { _, bus in
        guard let link = connectedLink("i2c_open") else { return -EIO }
        return hardwareResult(link.request { id in .i2cOpen(requestID: id, bus: bus) }, call: "i2c_open")
    }
    host.gpio_reconfigure_lines = { _, fd, config in
        guard let config else {
            setLastError("gpio_reconfigure_lines: config is NULL")
            return -EINVAL
        }
        guard let link = connectedLink("gpio_reconfigure_lines") else { return -EIO }
        guard let grant = link.grantRequest(of: fd) else {
            setLastError("gpio_reconfigure_lines: descriptor \(fd) is not a line request the host granted")
            return -EBADF
        }
        let bytes = Array(UnsafeRawBufferPointer(start: config, count: MemoryLayout<gpio_v2_line_config>.size))
        return hardwareResult(link.request { id in .gpioReconfigure(requestID: id, grant: grant, config: bytes) }, call: "gpio_reconfigure_lines")
    }
    host.gpio_chip_info = { _, index, info in
        guard let info else {
            setLastError("gpio_chip_info: info is NULL")
            return -EINVAL
        }
        guard let link = connectedLink("gpio_chip_info") else { return -EIO }
        return copyInfo(link.request { id in .gpioChipInfo(requestID: id, index: index) }, into: info, call: "gpio_chip_info")
    }
    host.gpio_line_info = { _, chip, offset, info in
        let (name, link, failure) = gpioCall("gpio_line_info", chip: chip)
        guard let name, let link else { return failure }
        guard let info else {
            setLastError("gpio_line_info: info is NULL")
            return -EINVAL
        }
        return copyInfo(link.request { id in .gpioLineInfo(requestID: id, chip: name, offset: offset) }, into: info, call: "gpio_line_info")
    }
    host.i2c_transfer = { _, bus, address, count, segments in
        guard address <= Message.maxI2CAddress else {
            setLastError("i2c_transfer: address 0x\(String(address, radix: 16)) is not a 7-bit address")
            return -EINVAL
        }
        guard (1...UInt32(Message.maxI2CSegments)).contains(count), let segments else {
            setLastError("i2c_transfer: segment_count must be 1 to \(Message.maxI2CSegments), with segments not NULL")
            return -EINVAL
        }
        let list = UnsafeBufferPointer(start: segments, count: Int(count))
        var request: [Message.I2CSegment] = []
        var readBytes = 0
        for (index, segment) in list.enumerated() {
            let length = Int(segment.length)
            guard length <= Message.maxI2CSegmentBytes, length == 0 || segment.data != nil else {
                setLastError("i2c_transfer: segment \(index) has length \(length) (at most \(Message.maxI2CSegmentBytes)) or no data")
                return -EINVAL
            }
            if segment.read != 0 {
                request.append(.read(count: UInt16(length)))
                readBytes += length
            } else {
                request.append(.write(length == 0 ? [] : Array(UnsafeBufferPointer(start: segment.data, count: length))))
            }
        }
        // The answer must fit one frame too.
        guard readBytes + 2 * list.count + 1 <= Frame.maxPayloadSize else {
            setLastError("i2c_transfer: \(readBytes) bytes to read in one transfer; at most about \(Frame.maxPayloadSize - 2 * list.count - 1)")
            return -EMSGSIZE
        }
        guard let link = connectedLink("i2c_transfer") else { return -EIO }
        let reply = link.request { id in .i2cTransfer(requestID: id, bus: bus, address: address, segments: request) }
        guard case let .i2c(reads) = reply else { return hardwareResult(reply, call: "i2c_transfer") }
        // One read per read segment, of the length asked for.
        let readSegments = list.filter { $0.read != 0 }
        guard reads.count == readSegments.count, zip(reads, readSegments).allSatisfy({ $0.count == Int($1.length) }) else {
            setLastError("i2c_transfer: the host returned \(reads.map(\.count)) bytes for reads of \(readSegments.map(\.length))")
            return -EIO
        }
        for (bytes, segment) in zip(reads, readSegments) where !bytes.isEmpty {
            bytes.withUnsafeBufferPointer { segment.data!.update(from: $0.baseAddress!, count: bytes.count) }
        }
        setLastError("")
        return 0
    }
    host.mqtt_publish = { _, topic, payload, length, qos, retain, expiry in
        let (name, link, failure) = mqttCall("mqtt_publish", topic, what: "topic")
        guard let name, let link else { return failure }
        guard qos == 0 || qos == 1 else {
            setLastError("mqtt_publish: qos must be 0 or 1, not \(qos)")
            return -EINVAL
        }
        guard Int(length) <= Message.maxMQTTPayloadBytes else {
            setLastError("mqtt_publish: a payload of \(length) bytes; the host takes at most \(Message.maxMQTTPayloadBytes) in one message")
            return -EMSGSIZE
        }
        guard length == 0 || payload != nil else {
            setLastError("mqtt_publish: payload is NULL")
            return -EINVAL
        }
        let bytes = length == 0 ? [] : Array(UnsafeRawBufferPointer(start: payload, count: Int(length)))
        let reply = link.request { id in
            .mqttPublish(requestID: id, topic: name, payload: bytes, qos: UInt8(qos), retain: retain != 0, expirySeconds: expiry == 0 ? nil : expiry)
        }
        return hardwareResult(reply, call: "mqtt_publish")
    }
    host.mqtt_subscribe = { _, filter in
        let (name, link, failure) = mqttCall("mqtt_subscribe", filter, what: "filter")
        guard let name, let link else { return failure }
        return hardwareResult(link.request { id in .mqttSubscribe(requestID: id, filter: name) }, call: "mqtt_subscribe")
    }
    host.mqtt_unsubscribe = { _, filter in
        let (name, link, failure) = mqttCall("mqtt_unsubscribe", filter, what: "filter")
        guard let name, let link else { return failure }
        return hardwareResult(link.request { id in .mqttUnsubscribe(requestID: id, filter: name) }, call: "mqtt_unsubscribe")
    }
    host.mqtt_receive = { _, timeout, message in
        guard let message else {
            setLastError("mqtt_receive: message is NULL")
            return -EINVAL
        }
        message.pointee = nil
        guard let link = connectedLink("mqtt_receive") else { return -EIO }
        switch link.inbox.take(waiting: timeout) {
        case let .message(delivery):
            guard let allocated = allocateMessage(delivery) else {
                setLastError("mqtt_receive: out of memory for a message of \(delivery.payload.count) bytes")
                return -ENOMEM
            }
            message.pointee = allocated
            setLastError("")
            return 0
        case let ending:
            return noMessage(ending, timeout: timeout)
        }
    }
    host.mqtt_message_free = { _, message in free(message) }
    host.last_error = { _ in lastError() }
    host.storage_quota_bytes = options.storageQuota
    host.device_id = UnsafePointer(strdup(options.deviceID))
    let table = UnsafeMutablePointer<iotsdk_host>.allocate(capacity: 1)
    table.initialize(to: host)
    return UnsafePointer(table)
}

/// One line of the module's log (`log` of the host table, and of a wasm module's imports): bytes
/// that are not UTF-8 become U+FFFD; the host keeps one line per call.
func sendLog(level: Int32, _ bytes: UnsafeRawBufferPointer, null: Bool = false) {
    let text = clipped(null ? "(null)" : String(decoding: bytes, as: UTF8.self), toBytes: Message.maxStringBytes)
    let wireLevel = Message.LogLevel(rawValue: UInt8(clamping: min(max(level, 0), 3)))!
    if hostLink.load()?.send(.log(level: wireLevel, text: text)) != true {
        // No host to tell: stderr, which is the output the host keeps, if anyone still reads it.
        writeAll(2, Array("log \(level) \(text.replacing("\n", with: " "))\n".utf8))
    }
}

/// Loads the module's library; on failure explains why on stderr and exits with status 2.
/// `hostPath`: where the library is on the host, when `path` is its path inside the sandbox.
func loadLibrary(_ path: String, for symbol: String, hostPath: String? = nil) -> UnsafeMutableRawPointer {
    if let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) { return handle }
    let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
    let host = hostPath ?? path
    let sandboxed = hostPath.map { " (\($0) on the host; the sandbox holds the module directory, /usr and /lib*: libraries from elsewhere belong in the module, linked with an rpath of $ORIGIN)" } ?? ""
    diagnose("cannot load the module library '\(path)'\(sandboxed) (to call '\(symbol)'): \(reason). Check that the file exists, is a shared library built for this machine, and that the libraries it needs are installed (ldd '\(host)').")
    finish(.moduleUnusable)
}

/// Gives the host table to the IoTSDK linked into the module (its optional export
/// `iotsdk_sdk_attach`), before any entry point or hook runs, so that the SDK's hardware calls go
/// through the host. C modules without IoTSDK do not export it.
func attachSDK(_ handle: UnsafeMutableRawPointer, _ host: UnsafePointer<iotsdk_host>) {
    guard let address = dlsym(handle, IOTSDK_ATTACH_SYMBOL) else { return }
    unsafeBitCast(address, to: iotsdk_attach_fn.self)(host)
}

/// Looks up an entry point or hook; on failure explains why on stderr and exits with status 2.
func lookUp(_ symbol: String, in handle: UnsafeMutableRawPointer, library: String, hostPath: String? = nil) -> iotsdk_entry_fn {
    _ = dlerror()
    if let address = dlsym(handle, symbol) {
        return unsafeBitCast(address, to: iotsdk_entry_fn.self)
    }
    let reason = dlerror().map { String(cString: $0) } ?? "the symbol's address is null"
    let host = hostPath ?? library
    diagnose("symbol '\(symbol)' not found in the module library '\(host)': \(reason). Is the symbol exported? For C, give it default visibility and no static; for Swift use @_cdecl(\"\(symbol)\"). Check with: nm -D --defined-only '\(host)' | grep \(symbol)")
    finish(.moduleUnusable)
}

/// The module process's connection to the host; nil, with the thread's last error saying so, if
/// there is none (the call then returns -EIO).
func connectedLink(_ call: String) -> HostLink? {
    guard let link = hostLink.load() else {
        setLastError("\(call): not connected to the host")
        return nil
    }
    return link
}

/// The checks every GPIO call makes first: a chip name of 1 to `maxStringBytes` bytes and a
/// connection. On failure the name or link is nil and `failure` the value to return.
func gpioCall(_ call: String, chip: UnsafePointer<CChar>?) -> (name: String?, link: HostLink?, failure: Int32) {
    guard let chip else {
        setLastError("\(call): chip is NULL")
        return (nil, nil, -EINVAL)
    }
    let name = String(decoding: UnsafeRawBufferPointer(start: chip, count: strlen(chip)), as: UTF8.self)
    guard !name.isEmpty, name.utf8.count <= Message.maxStringBytes else {
        setLastError("\(call): the chip name must be 1 to \(Message.maxStringBytes) bytes")
        return (nil, nil, -EINVAL)
    }
    guard let link = connectedLink(call) else { return (nil, nil, -EIO) }
    return (name, link, 0)
}

/// The checks every MQTT call makes first: a topic or filter of UTF-8 (strictly: the host
/// decides rights on exactly these bytes) of 1 to `maxStringBytes` bytes, and a connection. On
/// failure the name or link is nil, the thread's last error says why and `failure` is the value
/// to return (-EINVAL, or -EIO without a connection).
func mqttCall(_ call: String, _ text: UnsafePointer<CChar>?, what: String) -> (name: String?, link: HostLink?, failure: Int32) {
    func fail(_ reason: String) -> (name: String?, link: HostLink?, failure: Int32) {
        setLastError("\(call): \(reason)")
        return (nil, nil, -EINVAL)
    }
    guard let text else { return fail("\(what) is NULL") }
    let bytes = UnsafeRawBufferPointer(start: text, count: strlen(text))
    guard !bytes.isEmpty, bytes.count <= Message.maxStringBytes else {
        return fail("the \(what) must be 1 to \(Message.maxStringBytes) bytes, not \(bytes.count)")
    }
    guard let name = String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
        return fail("the \(what) is not valid UTF-8")
    }
    guard let link = connectedLink(call) else { return (nil, nil, -EIO) }
    return (name, link, 0)
}

/// Copies the kernel structure of an `info` reply into the caller's `T`; 0 or a negative errno.
func copyInfo<T>(_ reply: ReplyTable.Reply, into destination: UnsafeMutablePointer<T>, call: String) -> Int32 {
    guard case let .info(bytes) = reply else { return hardwareResult(reply, call: call) }
    guard bytes.count == MemoryLayout<T>.size else {
        setLastError("\(call): the host answered with \(bytes.count) bytes, not the \(MemoryLayout<T>.size) of the kernel's structure")
        return -EPROTO
    }
    bytes.withUnsafeBytes { UnsafeMutableRawPointer(destination).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    setLastError("")
    return 0
}

/// What a hardware call returns for `reply` (other than a successful I2C transfer), with the
/// thread's last error set.
func hardwareResult(_ reply: ReplyTable.Reply, call: String) -> Int32 {
    switch reply {
    case let .granted(fd):
        setLastError("")
        return fd
    case .done:
        setLastError("")
        return 0
    case .i2c, .info:
        setLastError("\(call): the host answered with the result of another kind of request")
        return -EPROTO
    case let .denied(reason):
        setLastError(reason)
        return -EACCES
    case let .failed(code, reason):
        setLastError(reason)
        return -code
    case let .lost(reason):
        setLastError("\(call): \(reason)")
        return -EIO
    case let .invalid(reason):
        setLastError("\(call): \(reason)")
        return -EINVAL
    }
}

/// `text` cut to at most `limit` bytes of UTF-8, at a character boundary.
func clipped(_ text: String, toBytes limit: Int) -> String {
    guard text.utf8.count > limit else { return text }
    var result = ""
    for character in text {
        if result.utf8.count + character.utf8.count > limit { break }
        result.append(character)
    }
    return result
}
