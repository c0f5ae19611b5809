/// The messages of the host–runner IPC protocol and their binary payloads.
///
/// Payload encoding: fixed-width little-endian integers; `bool` is one byte, 0 or 1; a string is
/// a u16 byte count and that many bytes of UTF-8 without NUL (at most `maxStringBytes`); bytes are
/// a u16 count and the bytes (an MQTT payload: a u32 count, at most `maxMQTTPayloadBytes`); an
/// optional u32 is a bool, then the value if it is 1; a list is a u8 count and its elements. Decoding checks every count
/// and length against the payload and against its bound before it reads or allocates anything,
/// refuses trailing bytes, and refuses non-canonical forms (a bool of 2, a request id on a message
/// that takes none), so a payload that decodes re-encodes to exactly the same bytes.
///
/// Request ids: a request (`gpioRequest`, `gpioRequestLines`, `gpioChipInfo`, `gpioLineInfo`,
/// `gpioReconfigure`, `i2cOpen`, `i2cTransfer`, `mqttPublish`, `mqttSubscribe`,
/// `mqttUnsubscribe`, `callCommand`) carries an id its sender chose; the
/// answer (`gpioGranted`, `info`, `done`, `i2cGranted`, `i2cResult`, `denied`, `failed`,
/// `commandResult`) carries the same id.
/// The id travels in the frame header; the other messages have id 0 there.
///
/// Descriptors: `gpioGranted` carries the line request's file descriptor, `i2cGranted` the
/// bus's, and `hello` the
/// runner's end of the connection (Channel.acceptRunner), as SCM_RIGHTS; no other message
/// carries one.
public enum Message: Sendable, Equatable, Hashable {
    // MARK: runner → host
    /// The first message, on the bootstrap socket, with the connection's socket attached.
    case hello(protocolVersion: UInt16, moduleID: String, pid: Int32)
    /// The module is ready (iotsdk_host.ready).
    case ready
    /// The module is alive (iotsdk_host.heartbeat).
    case heartbeat
    /// A line for the module's log (iotsdk_host.log).
    case log(level: LogLevel, text: String)
    /// Asks for one GPIO line; answered by `gpioGranted` (with the line's fd) or `denied`.
    case gpioRequest(requestID: UInt32, chip: String, line: UInt32, direction: Direction, initialValue: Bool)
    /// Asks the host to run one combined I2C transfer (I2C_RDWR); answered by `i2cResult` or `denied`.
    case i2cTransfer(requestID: UInt32, bus: UInt32, address: UInt8, segments: [I2CSegment])
    /// Asks for lines of one chip as the kernel's GPIO_V2_GET_LINE_IOCTL would: `config` holds
    /// the bytes of a `struct gpio_v2_line_config` (linux/gpio.h) for `offsets`; answered by
    /// `gpioGranted` (with the request's fd), `denied` or `failed`.
    case gpioRequestLines(requestID: UInt32, chip: String, offsets: [UInt32], config: [UInt8])
    /// Asks for the `struct gpiochip_info` of the `index`-th chip the manifest declares lines of;
    /// answered by `info`, or `failed` with ERANGE past the last one.
    case gpioChipInfo(requestID: UInt32, index: UInt32)
    /// Asks for the `struct gpio_v2_line_info` of a declared line; answered by `info` or `denied`.
    case gpioLineInfo(requestID: UInt32, chip: String, offset: UInt32)
    /// Asks the host to reconfigure the lines of the line request it granted for request `grant`,
    /// as GPIO_V2_LINE_SET_CONFIG_IOCTL would, with `config` (a `struct gpio_v2_line_config`):
    /// each line keeps its declared direction. Answered by `done`, `denied` or `failed`. (The
    /// sandbox's syscall filter denies that ioctl to the module itself.)
    case gpioReconfigure(requestID: UInt32, grant: UInt32, config: [UInt8])
    /// Asks for a descriptor of `/dev/i2c-<bus>` (a declared bus), on which the module selects
    /// declared addresses (`I2C_SLAVE`: the sandbox's syscall filter allows no other) and makes
    /// SMBus calls itself. Answered by `i2cGranted` (with the descriptor), `denied` or `failed`.
    case i2cOpen(requestID: UInt32, bus: UInt32)
    /// Asks the host to publish `payload` to MQTT topic `topic` through its uplink, at QoS 0 or 1,
    /// retained or not, expiring after `expirySeconds` (MQTT 5 message expiry; nil: never).
    /// Answered by `done` (the host's uplink took it), `denied` (the manifest's
    /// `capabilities.mqtt.publish` does not allow the topic: audited) or `failed` (ENOTCONN: the
    /// host has no uplink; EMSGSIZE: payload over the host's limit; EINVAL: not a topic name;
    /// EDQUOT: the module's queue quota is used up).
    case mqttPublish(requestID: UInt32, topic: String, payload: [UInt8], qos: UInt8, retain: Bool, expirySeconds: UInt32?)
    /// Asks the host to subscribe the module to MQTT topic filter `filter` (covered by one of
    /// `capabilities.mqtt.subscribe`); messages then arrive as `mqttMessage`. Answered like
    /// `mqttPublish`.
    case mqttSubscribe(requestID: UInt32, filter: String)
    /// Ends the module's subscription to `filter`. Answered by `done` or `failed`.
    case mqttUnsubscribe(requestID: UInt32, filter: String)
    /// The answer to `callCommand`.
    case commandResult(requestID: UInt32, result: CommandOutcome)
    /// What `probe-sandbox` found (sent on the bootstrap socket, the probe's only message).
    case sandboxProbe(SandboxProbe)
    /// What the hook returned (hook mode), or what a failing start entry point returned (start
    /// mode, sent only when it is not 0, just before the runner exits with status 3).
    case returned(value: Int32)
    /// The sandbox's syscall filter stopped `call` (e.g. `unshare(CLONE_NEWUSER)`) `count` times
    /// in this run so far: denied with EPERM if `enforced`, else let through (log-only mode).
    /// Sent by the sandbox's init, at most once a second for each call, and when the run ends.
    case syscallDenied(call: String, count: UInt32, enforced: Bool)

    // MARK: host → runner
    /// The host accepted `hello`; `sandbox` is the sandbox the runner builds before any module
    /// code runs (nil: the module runs unsandboxed).
    case welcome(sandbox: SandboxSpec?)
    /// The GPIO line was granted; its line request fd is attached.
    case gpioGranted(requestID: UInt32)
    /// The kernel structure a `gpioChipInfo` or `gpioLineInfo` asked for, as the kernel filled it.
    case info(requestID: UInt32, bytes: [UInt8])
    /// The request (`gpioReconfigure`) was carried out.
    case done(requestID: UInt32)
    /// The I2C bus was opened for the module (`i2cOpen`); its descriptor is attached.
    case i2cGranted(requestID: UInt32)
    /// The bytes of each read segment of an `i2cTransfer`, in order.
    case i2cResult(requestID: UInt32, reads: [[UInt8]])
    /// The request was refused: the manifest does not declare it (the module sees -EACCES).
    case denied(requestID: UInt32, reason: String)
    /// The request was allowed but failed: `code` is the errno value (1...`maxErrorCode`) of the
    /// kernel's refusal (no such chip, line busy, I/O error), which the module sees negated.
    case failed(requestID: UInt32, code: Int32, reason: String)
    /// A message from the broker on `topic`, which one of the module's subscriptions matches
    /// (once per message, however many of them match). `retain`: the broker sent it from its
    /// retained messages (on subscribing).
    case mqttMessage(topic: String, payload: [UInt8], retain: Bool)
    /// Calls a command the module exports.
    case callCommand(requestID: UInt32, symbol: String, arguments: [CommandValue], returns: ValueType)
    /// The module is to stop.
    case stop

    // MARK: Types

    /// The wire value of each message type: 0x01xx the runner sends, 0x02xx the host sends.
    public enum Kind: UInt16, Sendable, CaseIterable {
        case hello = 0x0101, ready = 0x0102, heartbeat = 0x0103, log = 0x0104
        case gpioRequest = 0x0105, i2cTransfer = 0x0106, commandResult = 0x0107, returned = 0x0108
        case welcome = 0x0201, gpioGranted = 0x0202, i2cResult = 0x0203, denied = 0x0204
        case callCommand = 0x0205, stop = 0x0206, failed = 0x0207
        case gpioRequestLines = 0x0109, gpioChipInfo = 0x010A, gpioLineInfo = 0x010B, info = 0x0208
        case sandboxProbe = 0x010C, syscallDenied = 0x010D, gpioReconfigure = 0x010E, done = 0x0209
        case i2cOpen = 0x010F, i2cGranted = 0x020A
        case mqttPublish = 0x0110, mqttSubscribe = 0x0111, mqttUnsubscribe = 0x0112, mqttMessage = 0x020B

        /// Who may send it.
        public var sender: Sender { rawValue >> 8 == 1 ? .runner : .host }

        /// Whether the frame's request id is meaningful (else it must be 0).
        public var carriesRequestID: Bool {
            switch self {
            case .gpioRequest, .gpioRequestLines, .gpioChipInfo, .gpioLineInfo, .gpioReconfigure, .i2cOpen, .i2cTransfer, .commandResult,
                 .mqttPublish, .mqttSubscribe, .mqttUnsubscribe,
                 .gpioGranted, .info, .done, .i2cGranted, .i2cResult, .denied, .failed, .callCommand: true
            case .hello, .ready, .heartbeat, .log, .returned, .welcome, .stop, .sandboxProbe, .syscallDenied, .mqttMessage: false
            }
        }

        /// Whether the message carries exactly one file descriptor (SCM_RIGHTS); others carry none.
        public var carriesDescriptor: Bool { self == .gpioGranted || self == .i2cGranted || self == .hello }
    }

    public enum Sender: Sendable, Equatable {
        case host, runner
    }

    /// The levels of iotsdk_host.log (enum iotsdk_log_level).
    public enum LogLevel: UInt8, Sendable, CaseIterable {
        case debug = 0, info = 1, warning = 2, error = 3
    }

    /// A GPIO line's direction (the one type the manifest and the broker use too).
    public typealias Direction = GPIODirection

    /// One message of a combined I2C transfer.
    public enum I2CSegment: Sendable, Equatable, Hashable {
        /// Writes these bytes (at most `maxI2CSegmentBytes`).
        case write([UInt8])
        /// Reads this many bytes (at most `maxI2CSegmentBytes`).
        case read(count: UInt16)
    }

    /// What a command returned, or why it could not be called.
    public enum CommandOutcome: Sendable, Equatable, Hashable {
        case value(CommandValue)
        case error(String)
    }

    // MARK: Bounds

    /// The longest string (UTF-8 bytes): module ids, chip names, symbols, log lines, reasons, string values.
    public static let maxStringBytes = 4096
    /// The most segments of one I2C transfer (the kernel's I2C_RDWR allows 42).
    public static let maxI2CSegments = 32
    /// The most bytes one I2C segment writes or reads.
    public static let maxI2CSegmentBytes = 4096
    /// The most arguments of one command call.
    public static let maxCommandValues = 16
    /// The largest 7-bit I2C address.
    public static let maxI2CAddress: UInt8 = 0x7F
    /// The most lines of one GPIO request (the kernel's GPIO_V2_LINES_MAX).
    public static let maxGPIOLines = 64
    /// The most bytes of a kernel structure in `gpioRequestLines` or `info` (the largest,
    /// `struct gpio_v2_line_config`, has 272).
    public static let maxKernelStructBytes = 1024
    /// The largest errno value `failed` may carry (the kernel's MAX_ERRNO).
    public static let maxErrorCode: Int32 = 4095
    /// The largest MQTT payload one `mqttPublish` or `mqttMessage` carries: 56 KiB, so that
    /// it fits one frame with the longest topic (MQTT itself allows 268,435,455 bytes; the
    /// host's own limit may be lower). The topic is a string: at most `maxStringBytes`.
    public static let maxMQTTPayloadBytes = 56 * 1024
    /// The highest MQTT QoS a module may ask for: 1 (at least once).
    public static let maxMQTTQoS: UInt8 = 1

    // MARK: Properties

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .ready: .ready
        case .heartbeat: .heartbeat
        case .log: .log
        case .gpioRequest: .gpioRequest
        case .gpioRequestLines: .gpioRequestLines
        case .gpioChipInfo: .gpioChipInfo
        case .gpioLineInfo: .gpioLineInfo
        case .info: .info
        case .i2cTransfer: .i2cTransfer
        case .commandResult: .commandResult
        case .returned: .returned
        case .welcome: .welcome
        case .gpioGranted: .gpioGranted
        case .i2cResult: .i2cResult
        case .denied: .denied
        case .failed: .failed
        case .callCommand: .callCommand
        case .stop: .stop
        case .sandboxProbe: .sandboxProbe
        case .syscallDenied: .syscallDenied
        case .gpioReconfigure: .gpioReconfigure
        case .done: .done
        case .i2cOpen: .i2cOpen
        case .i2cGranted: .i2cGranted
        case .mqttPublish: .mqttPublish
        case .mqttSubscribe: .mqttSubscribe
        case .mqttUnsubscribe: .mqttUnsubscribe
        case .mqttMessage: .mqttMessage
        }
    }

    /// The request id the frame header carries (0 for messages without one).
    public var requestID: UInt32 {
        switch self {
        case let .gpioRequest(id, _, _, _, _), let .i2cTransfer(id, _, _, _), let .commandResult(id, _),
             let .gpioRequestLines(id, _, _, _), let .gpioChipInfo(id, _), let .gpioLineInfo(id, _, _), let .info(id, _),
             let .gpioReconfigure(id, _, _), let .done(id), let .i2cOpen(id, _), let .i2cGranted(id),
             let .gpioGranted(id), let .i2cResult(id, _), let .denied(id, _), let .failed(id, _, _), let .callCommand(id, _, _, _),
             let .mqttPublish(id, _, _, _, _, _), let .mqttSubscribe(id, _), let .mqttUnsubscribe(id, _):
            id
        case .hello, .ready, .heartbeat, .log, .returned, .welcome, .stop, .sandboxProbe, .syscallDenied, .mqttMessage:
            0
        }
    }
}

// MARK: - Encoding

extension Message {
    /// The message as a frame.
    /// - Throws: `ProtocolError` if a field is beyond its bound (the same checks decoding makes,
    ///   so a peer never receives what it would refuse) or the payload exceeds `Frame.maxPayloadSize`.
    public func frame() throws(ProtocolError) -> Frame {
        var writer = PayloadWriter()
        switch self {
        case let .hello(protocolVersion, moduleID, pid):
            writer.u16(protocolVersion)
            try writer.string(moduleID, field: "moduleID")
            writer.u32(UInt32(bitPattern: pid))
        case .ready, .heartbeat, .stop, .gpioGranted, .done, .i2cGranted:
            break
        case let .i2cOpen(_, bus):
            writer.u32(bus)
        case let .mqttPublish(_, topic, payload, qos, retain, expirySeconds):
            try writer.string(topic, field: "topic")
            try writer.largeBytes(payload, limit: Self.maxMQTTPayloadBytes, field: "MQTT payload")
            guard qos <= Self.maxMQTTQoS else { throw .outOfBounds(field: "QoS", value: Int(qos), limit: Int(Self.maxMQTTQoS)) }
            writer.u8(qos)
            writer.bool(retain)
            writer.bool(expirySeconds != nil)
            if let expirySeconds { writer.u32(expirySeconds) }
        case let .mqttSubscribe(_, filter), let .mqttUnsubscribe(_, filter):
            try writer.string(filter, field: "topic filter")
        case let .mqttMessage(topic, payload, retain):
            try writer.string(topic, field: "topic")
            try writer.largeBytes(payload, limit: Self.maxMQTTPayloadBytes, field: "MQTT payload")
            writer.bool(retain)
        case let .gpioReconfigure(_, grant, config):
            writer.u32(grant)
            try writer.bytes(config, limit: Self.maxKernelStructBytes, field: "GPIO line config")
        case let .welcome(sandbox):
            writer.bool(sandbox != nil)
            try sandbox?.write(to: &writer)
        case let .sandboxProbe(probe):
            try probe.write(to: &writer)
        case let .syscallDenied(call, count, enforced):
            try writer.string(call, field: "syscall")
            writer.u32(count)
            writer.bool(enforced)
        case let .log(level, text):
            writer.u8(level.rawValue)
            try writer.string(text, field: "log text")
        case let .gpioRequest(_, chip, line, direction, initialValue):
            try writer.string(chip, field: "chip")
            writer.u32(line)
            writer.u8(direction.wireValue)
            writer.bool(initialValue)
        case let .gpioRequestLines(_, chip, offsets, config):
            try writer.string(chip, field: "chip")
            guard (1 ... Self.maxGPIOLines).contains(offsets.count) else {
                throw .outOfBounds(field: "GPIO line count", value: offsets.count, limit: Self.maxGPIOLines)
            }
            writer.u8(UInt8(offsets.count))
            for offset in offsets { writer.u32(offset) }
            try writer.bytes(config, limit: Self.maxKernelStructBytes, field: "GPIO line config")
        case let .gpioChipInfo(_, index):
            writer.u32(index)
        case let .gpioLineInfo(_, chip, offset):
            try writer.string(chip, field: "chip")
            writer.u32(offset)
        case let .info(_, bytes):
            try writer.bytes(bytes, limit: Self.maxKernelStructBytes, field: "info")
        case let .i2cTransfer(_, bus, address, segments):
            writer.u32(bus)
            guard address <= Self.maxI2CAddress else { throw .outOfBounds(field: "I2C address", value: Int(address), limit: Int(Self.maxI2CAddress)) }
            writer.u8(address)
            guard (1 ... Self.maxI2CSegments).contains(segments.count) else {
                throw .outOfBounds(field: "I2C segment count", value: segments.count, limit: Self.maxI2CSegments)
            }
            writer.u8(UInt8(segments.count))
            for segment in segments {
                switch segment {
                case let .write(bytes):
                    writer.u8(0)
                    try writer.bytes(bytes, limit: Self.maxI2CSegmentBytes, field: "I2C write")
                case let .read(count):
                    writer.u8(1)
                    guard count <= Self.maxI2CSegmentBytes else {
                        throw .outOfBounds(field: "I2C read count", value: Int(count), limit: Self.maxI2CSegmentBytes)
                    }
                    writer.u16(count)
                }
            }
        case let .commandResult(_, result):
            switch result {
            case let .value(value):
                writer.u8(0)
                try writer.value(value)
            case let .error(text):
                writer.u8(1)
                try writer.string(text, field: "command error")
            }
        case let .i2cResult(_, reads):
            guard reads.count <= Self.maxI2CSegments else {
                throw .outOfBounds(field: "I2C read count", value: reads.count, limit: Self.maxI2CSegments)
            }
            writer.u8(UInt8(reads.count))
            for bytes in reads { try writer.bytes(bytes, limit: Self.maxI2CSegmentBytes, field: "I2C read") }
        case let .denied(_, reason):
            try writer.string(reason, field: "reason")
        case let .failed(_, code, reason):
            guard (1 ... Self.maxErrorCode).contains(code) else {
                throw .outOfBounds(field: "error code", value: Int(code), limit: Int(Self.maxErrorCode))
            }
            writer.u32(UInt32(bitPattern: code))
            try writer.string(reason, field: "reason")
        case let .returned(value):
            writer.u32(UInt32(bitPattern: value))
        case let .callCommand(_, symbol, arguments, returns):
            try writer.string(symbol, field: "symbol")
            writer.u8(returns.wireTag)
            guard arguments.count <= Self.maxCommandValues else {
                throw .outOfBounds(field: "argument count", value: arguments.count, limit: Self.maxCommandValues)
            }
            writer.u8(UInt8(arguments.count))
            for argument in arguments { try writer.value(argument) }
        }
        return try Frame(type: kind.rawValue, requestID: requestID, payload: writer.bytes)
    }

    /// `frame().encoded()`: the bytes of one datagram.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        try frame().encoded()
    }
}

// MARK: - Decoding

extension Message {
    /// Decodes `frame`'s payload.
    /// - Parameter sender: who sent it, if known: a message only the other side sends is
    ///   refused (`.wrongDirection`).
    /// - Throws: `ProtocolError`; never anything else, and never traps, whatever the bytes.
    public init(frame: Frame, from sender: Sender? = nil) throws(ProtocolError) {
        guard let kind = Kind(rawValue: frame.type) else { throw .unknownMessageType(frame.type) }
        if let sender, kind.sender != sender { throw .wrongDirection(frame.type) }
        if !kind.carriesRequestID, frame.requestID != 0 { throw .unexpectedRequestID(frame.requestID) }
        let id = frame.requestID
        let decoded = frame.payload.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) -> Message in
                var reader = PayloadReader(raw)
                let message = try Self.decodePayload(kind, id, &reader)
                try reader.finish()
                return message
            }
        }
        self = try decoded.get()
    }

    private static func decodePayload(_ kind: Kind, _ id: UInt32, _ reader: inout PayloadReader) throws(ProtocolError) -> Message {
        switch kind {
        case .hello:
            let version = try reader.u16("protocolVersion")
            let moduleID = try reader.string("moduleID")
            let pid = Int32(bitPattern: try reader.u32("pid"))
            return .hello(protocolVersion: version, moduleID: moduleID, pid: pid)
        case .ready: return .ready
        case .heartbeat: return .heartbeat
        case .welcome:
            return .welcome(sandbox: try reader.bool("sandbox present") ? try SandboxSpec(reading: &reader) : nil)
        case .stop: return .stop
        case .sandboxProbe: return .sandboxProbe(try SandboxProbe(reading: &reader))
        case .syscallDenied:
            let call = try reader.string("syscall")
            return .syscallDenied(call: call, count: try reader.u32("count"), enforced: try reader.bool("enforced"))
        case .gpioGranted: return .gpioGranted(requestID: id)
        case .done: return .done(requestID: id)
        case .i2cGranted: return .i2cGranted(requestID: id)
        case .i2cOpen: return .i2cOpen(requestID: id, bus: try reader.u32("bus"))
        case .mqttPublish:
            let topic = try reader.string("topic")
            let payload = try reader.largeBytes(limit: maxMQTTPayloadBytes, "MQTT payload")
            let qos = try reader.u8("QoS")
            guard qos <= maxMQTTQoS else { throw .outOfBounds(field: "QoS", value: Int(qos), limit: Int(maxMQTTQoS)) }
            let retain = try reader.bool("retain")
            let expiry = try reader.bool("expiry present") ? try reader.u32("expiry seconds") : nil
            return .mqttPublish(requestID: id, topic: topic, payload: payload, qos: qos, retain: retain, expirySeconds: expiry)
        case .mqttSubscribe: return .mqttSubscribe(requestID: id, filter: try reader.string("topic filter"))
        case .mqttUnsubscribe: return .mqttUnsubscribe(requestID: id, filter: try reader.string("topic filter"))
        case .mqttMessage:
            let topic = try reader.string("topic")
            let payload = try reader.largeBytes(limit: maxMQTTPayloadBytes, "MQTT payload")
            return .mqttMessage(topic: topic, payload: payload, retain: try reader.bool("retain"))
        case .gpioReconfigure:
            let grant = try reader.u32("grant")
            return .gpioReconfigure(requestID: id, grant: grant, config: try reader.bytes(limit: maxKernelStructBytes, "GPIO line config"))
        case .log:
            let rawLevel = try reader.u8("log level")
            guard let level = LogLevel(rawValue: rawLevel) else { throw .invalidValue(field: "log level", value: UInt64(rawLevel)) }
            return .log(level: level, text: try reader.string("log text"))
        case .gpioRequest:
            let chip = try reader.string("chip")
            let line = try reader.u32("line")
            let rawDirection = try reader.u8("direction")
            guard let direction = Direction(wireValue: rawDirection) else { throw .invalidValue(field: "direction", value: UInt64(rawDirection)) }
            let initialValue = try reader.bool("initialValue")
            return .gpioRequest(requestID: id, chip: chip, line: line, direction: direction, initialValue: initialValue)
        case .gpioRequestLines:
            let chip = try reader.string("chip")
            let count = Int(try reader.u8("GPIO line count"))
            guard (1 ... maxGPIOLines).contains(count) else { throw .outOfBounds(field: "GPIO line count", value: count, limit: maxGPIOLines) }
            var offsets: [UInt32] = []
            offsets.reserveCapacity(count)
            for _ in 0 ..< count { offsets.append(try reader.u32("GPIO line offset")) }
            let config = try reader.bytes(limit: maxKernelStructBytes, "GPIO line config")
            return .gpioRequestLines(requestID: id, chip: chip, offsets: offsets, config: config)
        case .gpioChipInfo:
            return .gpioChipInfo(requestID: id, index: try reader.u32("chip index"))
        case .gpioLineInfo:
            let chip = try reader.string("chip")
            return .gpioLineInfo(requestID: id, chip: chip, offset: try reader.u32("line offset"))
        case .info:
            return .info(requestID: id, bytes: try reader.bytes(limit: maxKernelStructBytes, "info"))
        case .i2cTransfer:
            let bus = try reader.u32("bus")
            let address = try reader.u8("I2C address")
            guard address <= maxI2CAddress else { throw .outOfBounds(field: "I2C address", value: Int(address), limit: Int(maxI2CAddress)) }
            let count = Int(try reader.u8("I2C segment count"))
            guard (1 ... maxI2CSegments).contains(count) else { throw .outOfBounds(field: "I2C segment count", value: count, limit: maxI2CSegments) }
            var segments: [I2CSegment] = []
            segments.reserveCapacity(count)
            for _ in 0 ..< count {
                let tag = try reader.u8("I2C segment kind")
                switch tag {
                case 0:
                    segments.append(.write(try reader.bytes(limit: maxI2CSegmentBytes, "I2C write")))
                case 1:
                    let length = try reader.u16("I2C read count")
                    guard length <= maxI2CSegmentBytes else { throw .outOfBounds(field: "I2C read count", value: Int(length), limit: maxI2CSegmentBytes) }
                    segments.append(.read(count: length))
                default:
                    throw .invalidValue(field: "I2C segment kind", value: UInt64(tag))
                }
            }
            return .i2cTransfer(requestID: id, bus: bus, address: address, segments: segments)
        case .commandResult:
            let tag = try reader.u8("command outcome")
            switch tag {
            case 0: return .commandResult(requestID: id, result: .value(try reader.value()))
            case 1: return .commandResult(requestID: id, result: .error(try reader.string("command error")))
            default: throw .invalidValue(field: "command outcome", value: UInt64(tag))
            }
        case .i2cResult:
            let count = Int(try reader.u8("I2C read count"))
            guard count <= maxI2CSegments else { throw .outOfBounds(field: "I2C read count", value: count, limit: maxI2CSegments) }
            var reads: [[UInt8]] = []
            reads.reserveCapacity(count)
            for _ in 0 ..< count { reads.append(try reader.bytes(limit: maxI2CSegmentBytes, "I2C read")) }
            return .i2cResult(requestID: id, reads: reads)
        case .denied:
            return .denied(requestID: id, reason: try reader.string("reason"))
        case .failed:
            let code = Int32(bitPattern: try reader.u32("error code"))
            guard (1 ... maxErrorCode).contains(code) else { throw .outOfBounds(field: "error code", value: Int(code), limit: Int(maxErrorCode)) }
            return .failed(requestID: id, code: code, reason: try reader.string("reason"))
        case .returned:
            return .returned(value: Int32(bitPattern: try reader.u32("returned value")))
        case .callCommand:
            let symbol = try reader.string("symbol")
            let returns = try reader.valueType("return type")
            let count = Int(try reader.u8("argument count"))
            guard count <= maxCommandValues else { throw .outOfBounds(field: "argument count", value: count, limit: maxCommandValues) }
            var arguments: [CommandValue] = []
            arguments.reserveCapacity(count)
            for _ in 0 ..< count { arguments.append(try reader.value()) }
            return .callCommand(requestID: id, symbol: symbol, arguments: arguments, returns: returns)
        }
    }
}

// MARK: - Command values on the wire

extension ValueType {
    /// The type's byte on the wire. Explicit, not the raw value or case order, so that the
    /// encoding does not change when the enum does.
    var wireTag: UInt8 {
        switch self {
        case .bool: 0
        case .int32: 1
        case .int64: 2
        case .uint32: 3
        case .uint64: 4
        case .double: 5
        case .string: 6
        }
    }

    init?(wireTag: UInt8) {
        switch wireTag {
        case 0: self = .bool
        case 1: self = .int32
        case 2: self = .int64
        case 3: self = .uint32
        case 4: self = .uint64
        case 5: self = .double
        case 6: self = .string
        default: return nil
        }
    }
}

// MARK: - Writer and reader

/// Builds a payload. Checks what the reader checks, so that nothing is sent that would be refused.
struct PayloadWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func u16(_ value: UInt16) { Frame.appendLittleEndian(value, to: &bytes) }
    mutating func u32(_ value: UInt32) { Frame.appendLittleEndian(value, to: &bytes) }
    mutating func u64(_ value: UInt64) { Frame.appendLittleEndian(value, to: &bytes) }

    mutating func bytes(_ data: [UInt8], limit: Int, field: String) throws(ProtocolError) {
        guard data.count <= limit else { throw .outOfBounds(field: field, value: data.count, limit: limit) }
        u16(UInt16(data.count))
        bytes.append(contentsOf: data)
    }

    /// A u32 count and the bytes (for payloads that may exceed a u16 count).
    mutating func largeBytes(_ data: [UInt8], limit: Int, field: String) throws(ProtocolError) {
        guard data.count <= limit else { throw .outOfBounds(field: field, value: data.count, limit: limit) }
        u32(UInt32(data.count))
        bytes.append(contentsOf: data)
    }

    mutating func string(_ text: String, field: String) throws(ProtocolError) {
        let utf8 = Array(text.utf8)
        guard utf8.count <= Message.maxStringBytes else { throw .outOfBounds(field: field, value: utf8.count, limit: Message.maxStringBytes) }
        guard !utf8.contains(0) else { throw .invalidString(field: field) }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func value(_ value: CommandValue) throws(ProtocolError) {
        switch value {
        case let .bool(v): u8(ValueType.bool.wireTag); bool(v)
        case let .int32(v): u8(ValueType.int32.wireTag); u32(UInt32(bitPattern: v))
        case let .int64(v): u8(ValueType.int64.wireTag); u64(UInt64(bitPattern: v))
        case let .uint32(v): u8(ValueType.uint32.wireTag); u32(v)
        case let .uint64(v): u8(ValueType.uint64.wireTag); u64(v)
        // The bit pattern, so that every double (NaN payloads included) travels unchanged.
        case let .double(v): u8(ValueType.double.wireTag); u64(v.bitPattern)
        case let .string(v): u8(ValueType.string.wireTag); try string(v, field: "string value")
        }
    }
}

/// Reads a payload; every read checks the bytes left first.
struct PayloadReader {
    private let raw: UnsafeRawBufferPointer
    private var offset = 0

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    private var remaining: Int { raw.count - offset }

    private mutating func take(_ count: Int, _ field: String) throws(ProtocolError) -> UnsafeRawBufferPointer {
        guard count <= remaining else { throw .truncatedPayload(field: field) }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + count])
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(ProtocolError) -> T {
        T(littleEndian: try take(MemoryLayout<T>.size, field).loadUnaligned(as: T.self))
    }

    mutating func u8(_ field: String) throws(ProtocolError) -> UInt8 { try take(1, field)[0] }
    mutating func u16(_ field: String) throws(ProtocolError) -> UInt16 { try integer(UInt16.self, field) }
    mutating func u32(_ field: String) throws(ProtocolError) -> UInt32 { try integer(UInt32.self, field) }
    mutating func u64(_ field: String) throws(ProtocolError) -> UInt64 { try integer(UInt64.self, field) }

    mutating func bool(_ field: String) throws(ProtocolError) -> Bool {
        let byte = try u8(field)
        guard byte <= 1 else { throw .invalidValue(field: field, value: UInt64(byte)) }
        return byte == 1
    }

    /// A u16 length (checked against `limit`, then against the bytes left), then the bytes.
    mutating func bytes(limit: Int, _ field: String) throws(ProtocolError) -> [UInt8] {
        let count = Int(try u16(field))
        guard count <= limit else { throw .outOfBounds(field: field, value: count, limit: limit) }
        return Array(try take(count, field))
    }

    /// A u32 length (checked against `limit`, then against the bytes left), then the bytes.
    mutating func largeBytes(limit: Int, _ field: String) throws(ProtocolError) -> [UInt8] {
        let count = Int(try u32(field))
        guard count <= limit else { throw .outOfBounds(field: field, value: count, limit: limit) }
        return Array(try take(count, field))
    }

    mutating func string(_ field: String) throws(ProtocolError) -> String {
        let count = Int(try u16(field))
        guard count <= Message.maxStringBytes else { throw .outOfBounds(field: field, value: count, limit: Message.maxStringBytes) }
        let utf8 = try take(count, field).assumingMemoryBound(to: UInt8.self)
        guard !utf8.contains(0), let text = String(validating: utf8, as: UTF8.self) else { throw .invalidString(field: field) }
        return text
    }

    mutating func valueType(_ field: String) throws(ProtocolError) -> ValueType {
        let tag = try u8(field)
        guard let type = ValueType(wireTag: tag) else { throw .invalidValue(field: field, value: UInt64(tag)) }
        return type
    }

    mutating func value() throws(ProtocolError) -> CommandValue {
        switch try valueType("value type") {
        case .bool: .bool(try bool("bool value"))
        case .int32: .int32(Int32(bitPattern: try u32("int32 value")))
        case .int64: .int64(Int64(bitPattern: try u64("int64 value")))
        case .uint32: .uint32(try u32("uint32 value"))
        case .uint64: .uint64(try u64("uint64 value"))
        case .double: .double(Double(bitPattern: try u64("double value")))
        case .string: .string(try string("string value"))
        }
    }

    /// Refuses bytes after the last field.
    func finish() throws(ProtocolError) {
        guard remaining == 0 else { throw .trailingBytes(remaining) }
    }
}
