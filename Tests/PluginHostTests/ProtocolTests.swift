import CIoTLinux
import Foundation
import Glibc
import ModuleProtocol
import Testing

/// The host–runner IPC protocol (Sources/ModuleProtocol): frames, messages, the SEQPACKET channel.
@Suite("IPC protocol")
struct ProtocolTests {
    // MARK: - Samples

    /// 4096 bytes of UTF-8: the longest string allowed.
    static let longestString = String(repeating: "é", count: Message.maxStringBytes / 2)

    /// At least one of every message, with edge values of every field.
    static let samples: [Message] = {
        var samples: [Message] = [
            .hello(protocolVersion: 1, moduleID: "com.example.thermostat", pid: 4242),
            .hello(protocolVersion: .max, moduleID: "", pid: -1),
            .ready,
            .heartbeat,
            .log(level: .debug, text: ""),
            .log(level: .info, text: "started"),
            .log(level: .warning, text: "temperature ≥ 30 °C 🌡\nsecond line"),
            .log(level: .error, text: longestString),
            .gpioRequest(requestID: 1, chip: "gpiochip0", line: 17, direction: .output, initialValue: true),
            .gpioRequest(requestID: .max, chip: "gpiochip4", line: .max, direction: .input, initialValue: false),
            .gpioRequestLines(requestID: 20, chip: "gpiochip0", offsets: [17], config: [UInt8](repeating: 0, count: 272)),
            .gpioRequestLines(requestID: .max, chip: longestString, offsets: (0 ..< UInt32(Message.maxGPIOLines)).map { $0 * 3 },
                              config: [UInt8](repeating: 0xFF, count: Message.maxKernelStructBytes)),
            .gpioRequestLines(requestID: 0, chip: "", offsets: [.max], config: []),
            .gpioChipInfo(requestID: 21, index: 0),
            .gpioChipInfo(requestID: 0, index: .max),
            .gpioLineInfo(requestID: 22, chip: "gpiochip4", offset: 27),
            .gpioLineInfo(requestID: .max, chip: "", offset: .max),
            .info(requestID: 23, bytes: [UInt8](repeating: 0x61, count: 68)),
            .info(requestID: 0, bytes: []),
            .info(requestID: .max, bytes: [UInt8](repeating: 0xFE, count: Message.maxKernelStructBytes)),
            .i2cTransfer(requestID: 2, bus: 1, address: 0x76, segments: [.write([0xF7]), .read(count: 8)]),
            .i2cTransfer(requestID: 0, bus: .max, address: Message.maxI2CAddress, segments: [.write([])]),
            .i2cTransfer(requestID: 4, bus: 0, address: 0, segments: (0 ..< Message.maxI2CSegments).map {
                $0 % 2 == 0 ? .write([UInt8](repeating: UInt8($0), count: $0)) : .read(count: UInt16($0))
            }),
            .i2cTransfer(requestID: 5, bus: 2, address: 0x40, segments: [
                .write([UInt8](repeating: 0xAA, count: Message.maxI2CSegmentBytes)), .read(count: UInt16(Message.maxI2CSegmentBytes)), .read(count: 0),
            ]),
            .commandResult(requestID: 6, result: .error("symbol 'set_target' returned no value")),
            .commandResult(requestID: 6, result: .error("")),
            .returned(value: 0),
            .returned(value: -1),
            .returned(value: .max),
            .welcome(sandbox: nil),
            .welcome(sandbox: SandboxSpec(moduleDirectory: "/var/lib/plugin-host/modules/m/versions/1.0.0@ab/files", dataDirectory: "/d",
                                          network: false, hostname: "com.example.m")),
            .welcome(sandbox: SandboxSpec(moduleDirectory: longestString, dataDirectory: "", network: true, hostname: "",
                                          cgroups: (0 ..< SandboxSpec.maxCgroups).map { "/sys/fs/cgroup/\($0)" }, openFiles: .max,
                                          user: .nobody, temporaryBytes: 0, readOnlyPaths: (0 ..< SandboxSpec.maxReadOnlyPaths).map { "/opt/\($0)" },
                                          strict: true, syscallFilter: .log, i2cAddresses: (0 ..< UInt16(SandboxSpec.maxI2CAddresses)).map { $0 })),
            .welcome(sandbox: SandboxSpec(moduleDirectory: "/m", dataDirectory: "/d", network: false, hostname: "h", syscallFilter: .off, i2cAddresses: [0x76, 0x3ff])),
            .syscallDenied(call: "unshare(CLONE_NEWUSER)", count: 1, enforced: true),
            .gpioReconfigure(requestID: 12, grant: 3, config: [UInt8](repeating: 7, count: Message.maxKernelStructBytes)),
            .gpioReconfigure(requestID: 13, grant: 0, config: []),
            .done(requestID: 14),
            .i2cOpen(requestID: 15, bus: 1),
            .i2cGranted(requestID: 16),
            .mqttPublish(requestID: 17, topic: "sensors/pi-42/com.example.m/temperature", payload: Array("21.5".utf8), qos: 1, retain: false, expirySeconds: 3600),
            .mqttPublish(requestID: 0, topic: "", payload: [], qos: 0, retain: true, expirySeconds: nil),
            // The largest publish: the longest topic and payload, in one frame.
            .mqttPublish(requestID: .max, topic: longestString, payload: [UInt8](repeating: 0xC3, count: Message.maxMQTTPayloadBytes),
                         qos: Message.maxMQTTQoS, retain: true, expirySeconds: .max),
            .mqttSubscribe(requestID: 18, filter: "commands/+/#"),
            .mqttUnsubscribe(requestID: 19, filter: longestString),
            .mqttMessage(topic: "commands/pi-42/set", payload: [0, 0xFF, 0], retain: true),
            .mqttMessage(topic: longestString, payload: [UInt8](repeating: 1, count: Message.maxMQTTPayloadBytes), retain: false),
            .syscallDenied(call: longestString, count: .max, enforced: false),
            .sandboxProbe(SandboxProbe(namespaces: [], noNewPrivilegesRefusal: nil)),
            .sandboxProbe(SandboxProbe(namespaces: [.init(name: "mnt", refusal: nil), .init(name: "user", refusal: "unshare: Operation not permitted")],
                                       noNewPrivilegesRefusal: "prctl: Invalid argument")),
            .sandboxProbe(SandboxProbe(namespaces: (0 ..< SandboxProbe.maxNamespaces).map { .init(name: "ns\($0)", refusal: $0 % 2 == 0 ? nil : longestString) },
                                       noNewPrivilegesRefusal: longestString)),
            .gpioGranted(requestID: 7),
            .i2cResult(requestID: 8, reads: []),
            .i2cResult(requestID: 9, reads: [[1, 2, 3], [], [UInt8](repeating: 0x55, count: Message.maxI2CSegmentBytes)]),
            // The largest I2C result that fits one frame: 15 full reads.
            .i2cResult(requestID: 9, reads: [[UInt8]](repeating: [UInt8](repeating: 0x5A, count: Message.maxI2CSegmentBytes), count: 15)),
            .denied(requestID: 0, reason: "gpiochip0 line 18 is not declared in the manifest"),
            .denied(requestID: 10, reason: longestString),
            .failed(requestID: 15, code: ENOENT, reason: "cannot open /dev/gpiochip0: No such file or directory"),
            .failed(requestID: .max, code: Message.maxErrorCode, reason: ""),
            .failed(requestID: 0, code: 1, reason: longestString),
            .callCommand(requestID: 11, symbol: "set_target", arguments: [.double(21.5)], returns: .int32),
            .callCommand(requestID: 12, symbol: "many", arguments: Array(values.prefix(Message.maxCommandValues)), returns: .uint64),
            .stop,
        ]
        samples += values.map { .commandResult(requestID: 13, result: .value($0)) }
        samples += ValueType.allCases.map { .callCommand(requestID: 14, symbol: "get_\($0.rawValue)", arguments: [], returns: $0) }
        return samples
    }()

    /// Every value type, with its edge values (no NaN: it is not equal to itself; see `nanTravelsBitExact`).
    static let values: [CommandValue] = [
        .bool(true), .bool(false), .int32(.min), .int32(.max), .int32(-1), .int64(.min), .int64(.max),
        .uint32(0), .uint32(.max), .uint64(.max), .double(-0.0), .double(21.5), .double(.infinity),
        .double(.leastNonzeroMagnitude), .string(""), .string("a b\tc"), .string(longestString), .string("日本語 🚀"),
    ]

    /// The frame's bytes, through the whole datagram path.
    static func bytes(_ message: Message) throws -> [UInt8] { try message.encoded() }

    // MARK: - Round trips

    @Test("every message kind has a sample")
    func samplesCoverEveryKind() {
        #expect(Set(Self.samples.map(\.kind)) == Set(Message.Kind.allCases))
        #expect(Set(Self.samples.compactMap { if case let .log(level, _) = $0 { level } else { nil } }) == Set(Message.LogLevel.allCases))
        #expect(Set(Self.values.map(\.type)) == Set(ValueType.allCases))
    }

    @Test("round trip of every message: datagram, stream, and sender check", arguments: samples)
    func roundTrip(_ message: Message) throws {
        let encoded = try Self.bytes(message)
        let frame = try Frame(datagram: encoded)
        #expect(frame.type == message.kind.rawValue)
        #expect(frame.requestID == message.requestID)
        #expect(try Message(frame: frame) == message)
        #expect(try Message(frame: frame, from: message.kind.sender) == message)
        let other: Message.Sender = message.kind.sender == .host ? .runner : .host
        #expect(throws: ProtocolError.wrongDirection(frame.type)) { try Message(frame: frame, from: other) }

        // The stream decoder, one byte at a time and all at once.
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        for byte in encoded { frames += try decoder.feed([byte]) }
        #expect(frames == [frame])
        try decoder.finish()
        var whole = FrameDecoder()
        #expect(try whole.feed(encoded + encoded) == [frame, frame])
    }

    @Test("a NaN double travels bit-exact")
    func nanTravelsBitExact() throws {
        let nan = Double(bitPattern: 0x7FF8_0000_DEAD_BEEF)
        let decoded = try Message(frame: Frame(datagram: Self.bytes(.commandResult(requestID: 1, result: .value(.double(nan))))))
        guard case let .commandResult(_, .value(.double(value))) = decoded else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(value.bitPattern == nan.bitPattern)
    }

    @Test("the wire format is pinned: header layout and a payload")
    func goldenBytes() throws {
        #expect(try Self.bytes(.heartbeat) == [0x49, 0x4F, 0x54, 0x4D, 0x01, 0x00, 0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0])
        let request = Message.gpioRequest(requestID: 0x0102_0304, chip: "c", line: 5, direction: .output, initialValue: true)
        #expect(try Self.bytes(request) == [
            0x49, 0x4F, 0x54, 0x4D, 0x01, 0x00, 0x05, 0x01, 0x04, 0x03, 0x02, 0x01, 0x09, 0x00, 0x00, 0x00,
            0x01, 0x00, 0x63, 0x05, 0x00, 0x00, 0x00, 0x01, 0x01,
        ])
        let call = Message.callCommand(requestID: 1, symbol: "f", arguments: [.int32(-2)], returns: .double)
        #expect(try call.frame().payload == [0x01, 0x00, 0x66, 0x05, 0x01, 0x01, 0xFE, 0xFF, 0xFF, 0xFF])
    }

    // MARK: - Frame errors

    static func header(magic: [UInt8] = Frame.magic, version: UInt16 = Frame.version, type: UInt16 = Message.Kind.heartbeat.rawValue,
                       requestID: UInt32 = 0, length: UInt32) -> [UInt8] {
        magic + le(version) + le(type) + le(requestID) + le(length)
    }

    @Test("datagram decoding refuses every malformed frame")
    func datagramErrors() {
        let cases: [([UInt8], ProtocolError)] = [
            ([], .truncatedFrame(0)),
            (Array("IOT".utf8), .truncatedFrame(3)),
            (Array("IOTM".utf8) + [1, 0, 3, 1], .truncatedFrame(8)),
            (Array("XY".utf8), .badMagic),
            (Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8), .badMagic),
            (Self.header(magic: Array("IOTm".utf8), length: 0), .badMagic),
            (Self.header(version: 0, length: 0), .unsupportedVersion(0)),
            (Self.header(version: 2, length: 0), .unsupportedVersion(2)),
            (Self.header(length: UInt32(Frame.maxPayloadSize + 1)) + [0], .payloadTooLarge(Frame.maxPayloadSize + 1)),
            (Self.header(length: .max), .payloadTooLarge(Int(UInt32.max))),
            (Self.header(length: 10) + [1, 2, 3, 4, 5], .lengthMismatch(expected: 26, actual: 21)),
            (Self.header(length: 5) + [UInt8](repeating: 0, count: 10), .lengthMismatch(expected: 21, actual: 26)),
            (Self.header(length: 0) + [0], .lengthMismatch(expected: 16, actual: 17)),
        ]
        for (bytes, expected) in cases {
            #expect(throws: expected, "\(bytes.prefix(20))") { try Frame(datagram: bytes) }
        }
    }

    @Test("frames hold at most 64 KiB of payload")
    func payloadLimit() throws {
        let largest = try Frame(type: 1, payload: [UInt8](repeating: 7, count: Frame.maxPayloadSize))
        #expect(try Frame(datagram: largest.encoded()) == largest)
        #expect(throws: ProtocolError.payloadTooLarge(Frame.maxPayloadSize + 1)) {
            try Frame(type: 1, payload: [UInt8](repeating: 7, count: Frame.maxPayloadSize + 1))
        }
        // 16 full reads do not fit one frame: refused when encoding, before anything is sent.
        let tooMany = Message.i2cResult(requestID: 1, reads: [[UInt8]](repeating: [UInt8](repeating: 0, count: Message.maxI2CSegmentBytes), count: 16))
        #expect(throws: ProtocolError.payloadTooLarge(1 + 16 * (2 + Message.maxI2CSegmentBytes))) { try tooMany.frame() }
    }

    @Test("the stream decoder fails on garbage at once, allocates nothing for a bad length, and stays failed")
    func streamDecoderErrors() throws {
        // The first wrong byte is enough.
        var decoder = FrameDecoder()
        #expect(throws: ProtocolError.badMagic) { try decoder.feed([0x49, 0x4F, 0x00]) }
        #expect(decoder.failure == .badMagic)
        #expect(decoder.bufferedByteCount == 0)
        // Refuses everything after, even a valid frame.
        #expect(throws: ProtocolError.badMagic) { try decoder.feed(Self.bytes(.ready)) }
        #expect(throws: ProtocolError.badMagic) { try decoder.finish() }

        var huge = FrameDecoder()
        let declared = Self.header(length: .max)
        #expect(try huge.feed(Array(declared.prefix(15))) == [])
        #expect(throws: ProtocolError.payloadTooLarge(Int(UInt32.max))) { try huge.feed([declared[15]]) }
        #expect(huge.bufferedByteCount == 0)

        var version = FrameDecoder()
        #expect(throws: ProtocolError.unsupportedVersion(9)) { try version.feed(Self.header(version: 9, length: 0)) }

        // Frames before the garbage in the same chunk are dropped with the error (the caller closes).
        var mixed = FrameDecoder()
        #expect(throws: ProtocolError.badMagic) { try mixed.feed(Self.bytes(.ready) + [0x00]) }

        // A stream that ends inside a frame.
        var cut = FrameDecoder()
        let ready = try Self.bytes(.log(level: .info, text: "abc"))
        #expect(try cut.feed(Array(ready.dropLast())) == [])
        #expect(cut.bufferedByteCount == ready.count - 1)
        #expect(!cut.isAtFrameBoundary)
        #expect(throws: ProtocolError.truncatedFrame(ready.count - 1)) { try cut.finish() }
        #expect(try cut.feed([ready.last!]).count == 1)
        try cut.finish()
    }

    // MARK: - Message errors

    /// Decodes a frame of `kind` with `payload`; the error, or nil if it decoded.
    static func decodeError(_ kind: Message.Kind, requestID: UInt32 = 1, _ payload: [UInt8]) -> ProtocolError? {
        do {
            _ = try Message(frame: Frame(type: kind.rawValue, requestID: kind.carriesRequestID ? requestID : 0, payload: payload))
            return nil
        } catch {
            return error
        }
    }

    @Test("unknown types and request ids on messages that take none")
    func typeErrors() throws {
        for type: UInt16 in [0, 0x0100, 0x0113, 0x0200, 0x020C, 0x0301, .max] {
            #expect(throws: ProtocolError.unknownMessageType(type)) { try Message(frame: Frame(type: type)) }
        }
        for kind in Message.Kind.allCases where !kind.carriesRequestID {
            let payload = try Self.samples.first { $0.kind == kind }!.frame().payload
            #expect(throws: ProtocolError.unexpectedRequestID(9)) { try Message(frame: Frame(type: kind.rawValue, requestID: 9, payload: payload)) }
        }
    }

    @Test("every strict prefix of a payload is truncated, every extension has trailing bytes", arguments: samples)
    func truncationAndTrailingBytes(_ message: Message) throws {
        let frame = try message.frame()
        // All cut points for small payloads; for large ones the first 300 and the last 300.
        let cuts = frame.payload.count <= 600 ? Array(0 ..< frame.payload.count) : Array(0 ..< 300) + Array(frame.payload.count - 300 ..< frame.payload.count)
        for cut in cuts {
            let error = Self.decodeError(message.kind, requestID: frame.requestID, Array(frame.payload.prefix(cut)))
            guard case .truncatedPayload = error else {
                Issue.record("\(message.kind) cut at \(cut): \(String(describing: error))")
                return
            }
        }
        if frame.payload.count < Frame.maxPayloadSize {
            #expect(Self.decodeError(message.kind, requestID: frame.requestID, frame.payload + [0]) == .trailingBytes(1))
        }
    }

    @Test("counts and lengths beyond their bounds")
    func boundErrors() {
        let tooLong = [UInt8](repeating: 0x61, count: Message.maxStringBytes + 1)
        let cases: [(Message.Kind, [UInt8], ProtocolError)] = [
            (.denied, le(UInt16(4097)) + tooLong, .outOfBounds(field: "reason", value: 4097, limit: 4096)),
            (.denied, le(UInt16.max), .outOfBounds(field: "reason", value: 65535, limit: 4096)),
            (.hello, le(UInt16(1)) + le(UInt16(4097)) + tooLong + le(UInt32(1)), .outOfBounds(field: "moduleID", value: 4097, limit: 4096)),
            (.i2cTransfer, le(UInt32(1)) + [0x50, 0], .outOfBounds(field: "I2C segment count", value: 0, limit: 32)),
            (.i2cTransfer, le(UInt32(1)) + [0x50, 33] + [UInt8](repeating: 0, count: 33 * 3), .outOfBounds(field: "I2C segment count", value: 33, limit: 32)),
            (.i2cTransfer, le(UInt32(1)) + [0x50, 255], .outOfBounds(field: "I2C segment count", value: 255, limit: 32)),
            (.i2cTransfer, le(UInt32(1)) + [0x80, 1, 1] + le(UInt16(1)), .outOfBounds(field: "I2C address", value: 0x80, limit: 0x7F)),
            (.i2cTransfer, le(UInt32(1)) + [0x50, 1, 0] + le(UInt16(4097)) + [UInt8](repeating: 0, count: 4097), .outOfBounds(field: "I2C write", value: 4097, limit: 4096)),
            (.i2cTransfer, le(UInt32(1)) + [0x50, 1, 1] + le(UInt16(4097)), .outOfBounds(field: "I2C read count", value: 4097, limit: 4096)),
            (.i2cResult, [33], .outOfBounds(field: "I2C read count", value: 33, limit: 32)),
            (.i2cResult, [1] + le(UInt16(4097)) + [UInt8](repeating: 0, count: 4097), .outOfBounds(field: "I2C read", value: 4097, limit: 4096)),
            (.callCommand, str("f") + [0, 17] + [UInt8](repeating: 0, count: 34), .outOfBounds(field: "argument count", value: 17, limit: 16)),
            (.callCommand, str("f") + [0, 1, 6] + le(UInt16(4097)) + tooLong, .outOfBounds(field: "string value", value: 4097, limit: 4096)),
            (.failed, le(UInt32(0)) + str("x"), .outOfBounds(field: "error code", value: 0, limit: 4095)),
            (.failed, le(UInt32(4096)) + str("x"), .outOfBounds(field: "error code", value: 4096, limit: 4095)),
            (.failed, le(UInt32.max) + str("x"), .outOfBounds(field: "error code", value: -1, limit: 4095)),
            (.failed, le(UInt32(2)) + le(UInt16(4097)) + tooLong, .outOfBounds(field: "reason", value: 4097, limit: 4096)),
            // An MQTT payload's u32 count is checked against its bound before anything is read.
            (.mqttPublish, str("t") + le(UInt32(Message.maxMQTTPayloadBytes + 1)), .outOfBounds(field: "MQTT payload", value: Message.maxMQTTPayloadBytes + 1, limit: Message.maxMQTTPayloadBytes)),
            (.mqttMessage, str("t") + le(UInt32.max), .outOfBounds(field: "MQTT payload", value: Int(UInt32.max), limit: Message.maxMQTTPayloadBytes)),
            (.mqttPublish, str("t") + le(UInt32(0)) + [2, 0, 0], .outOfBounds(field: "QoS", value: 2, limit: 1)),
            (.mqttSubscribe, le(UInt16(4097)) + tooLong, .outOfBounds(field: "topic filter", value: 4097, limit: 4096)),
        ]
        for (kind, payload, expected) in cases {
            #expect(Self.decodeError(kind, payload) == expected, "\(kind)")
        }
    }

    @Test("values outside their enumeration, and bad strings")
    func valueErrors() {
        let cases: [(Message.Kind, [UInt8], ProtocolError)] = [
            (.log, [4] + str("x"), .invalidValue(field: "log level", value: 4)),
            (.gpioRequest, str("gpiochip0") + le(UInt32(1)) + [2, 0], .invalidValue(field: "direction", value: 2)),
            (.gpioRequest, str("gpiochip0") + le(UInt32(1)) + [1, 2], .invalidValue(field: "initialValue", value: 2)),
            (.i2cTransfer, le(UInt32(1)) + [0x50, 1, 2], .invalidValue(field: "I2C segment kind", value: 2)),
            (.commandResult, [2], .invalidValue(field: "command outcome", value: 2)),
            (.commandResult, [0, 7], .invalidValue(field: "value type", value: 7)),
            (.commandResult, [0, 0, 2], .invalidValue(field: "bool value", value: 2)),
            (.callCommand, str("f") + [9, 0], .invalidValue(field: "return type", value: 9)),
            // Not UTF-8: a stray continuation byte, an overlong NUL, a surrogate, a truncated sequence.
            (.denied, str([0x80]), .invalidString(field: "reason")),
            (.denied, str([0xC0, 0x80]), .invalidString(field: "reason")),
            (.denied, str([0xED, 0xA0, 0x80]), .invalidString(field: "reason")),
            (.denied, str([0x61, 0xE2, 0x82]), .invalidString(field: "reason")),
            (.denied, str([0x61, 0x00, 0x62]), .invalidString(field: "reason")),
            (.gpioRequest, str([0xFF]) + le(UInt32(1)) + [1, 0], .invalidString(field: "chip")),
            (.commandResult, [0, 6] + str([0x00]), .invalidString(field: "string value")),
            (.mqttPublish, str("t") + le(UInt32(0)) + [0, 2, 0], .invalidValue(field: "retain", value: 2)),
            (.mqttPublish, str("t") + le(UInt32(0)) + [0, 0, 2], .invalidValue(field: "expiry present", value: 2)),
            (.mqttMessage, str("t") + le(UInt32(0)) + [3], .invalidValue(field: "retain", value: 3)),
            // A topic that is not UTF-8 never reaches the host's rights check.
            (.mqttPublish, str([0x73, 0xFF]) + le(UInt32(0)) + [0, 0, 0], .invalidString(field: "topic")),
            (.mqttUnsubscribe, str([0xC0, 0x80]), .invalidString(field: "topic filter")),
        ]
        for (kind, payload, expected) in cases {
            #expect(Self.decodeError(kind, payload) == expected, "\(kind) \(payload)")
        }
    }

    @Test("encoding refuses what decoding would refuse")
    func encodingErrors() {
        let tooLong = String(repeating: "a", count: Message.maxStringBytes + 1)
        let cases: [(Message, ProtocolError)] = [
            (.log(level: .info, text: tooLong), .outOfBounds(field: "log text", value: 4097, limit: 4096)),
            (.mqttPublish(requestID: 1, topic: "t", payload: [UInt8](repeating: 0, count: Message.maxMQTTPayloadBytes + 1), qos: 0, retain: false, expirySeconds: nil),
             .outOfBounds(field: "MQTT payload", value: Message.maxMQTTPayloadBytes + 1, limit: Message.maxMQTTPayloadBytes)),
            (.mqttPublish(requestID: 1, topic: "t", payload: [], qos: 2, retain: false, expirySeconds: nil), .outOfBounds(field: "QoS", value: 2, limit: 1)),
            (.mqttSubscribe(requestID: 1, filter: "a\u{0}"), .invalidString(field: "topic filter")),
            (.denied(requestID: 1, reason: "a\u{0}b"), .invalidString(field: "reason")),
            (.failed(requestID: 1, code: 0, reason: "x"), .outOfBounds(field: "error code", value: 0, limit: 4095)),
            (.failed(requestID: 1, code: -13, reason: "x"), .outOfBounds(field: "error code", value: -13, limit: 4095)),
            (.failed(requestID: 1, code: 5, reason: "a\u{0}b"), .invalidString(field: "reason")),
            (.commandResult(requestID: 1, result: .value(.string("\u{0}"))), .invalidString(field: "string value")),
            (.i2cTransfer(requestID: 1, bus: 1, address: 0x50, segments: []), .outOfBounds(field: "I2C segment count", value: 0, limit: 32)),
            (.i2cTransfer(requestID: 1, bus: 1, address: 0x50, segments: Array(repeating: .read(count: 1), count: 33)),
             .outOfBounds(field: "I2C segment count", value: 33, limit: 32)),
            (.i2cTransfer(requestID: 1, bus: 1, address: 0x80, segments: [.read(count: 1)]), .outOfBounds(field: "I2C address", value: 0x80, limit: 0x7F)),
            (.i2cTransfer(requestID: 1, bus: 1, address: 0x50, segments: [.read(count: 4097)]), .outOfBounds(field: "I2C read count", value: 4097, limit: 4096)),
            (.i2cTransfer(requestID: 1, bus: 1, address: 0x50, segments: [.write([UInt8](repeating: 0, count: 4097))]),
             .outOfBounds(field: "I2C write", value: 4097, limit: 4096)),
            (.i2cResult(requestID: 1, reads: Array(repeating: [], count: 33)), .outOfBounds(field: "I2C read count", value: 33, limit: 32)),
            (.callCommand(requestID: 1, symbol: "f", arguments: Array(repeating: .bool(true), count: 17), returns: .bool),
             .outOfBounds(field: "argument count", value: 17, limit: 16)),
            // 32 writes of 4096 bytes: every field in bounds, the payload not.
            (.i2cTransfer(requestID: 1, bus: 1, address: 0x50, segments: Array(repeating: .write([UInt8](repeating: 0, count: 4096)), count: 32)),
             .payloadTooLarge(4 + 1 + 1 + 32 * (1 + 2 + 4096))),
        ]
        for (message, expected) in cases {
            #expect(throws: expected, "\(message.kind)") { try message.frame() }
        }
    }

    // MARK: - Fuzzing

    /// SplitMix64: small, fast and deterministic for a seed.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// 0 ..< bound (bound > 0).
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

        mutating func bytes(_ count: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            bytes.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < count {
                    var word = next()
                    let take = min(8, count - offset)
                    withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: take) }
                    offset += take
                }
            }
            return bytes
        }
    }

    /// Mutates a valid frame: bit flips, byte sets, truncation, length and type edits, insertion, deletion, splicing.
    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64, corpus: [[UInt8]]) -> [UInt8] {
        var bytes = input
        for _ in 0 ..< 1 + rng.below(3) {
            switch rng.below(10) {
            case 0 where !bytes.isEmpty:  // flip one bit
                let index = rng.below(bytes.count)
                bytes[index] ^= 1 << UInt8(rng.below(8))
            case 1 where !bytes.isEmpty:  // set one byte, usually in the payload's counts and tags
                let index = bytes.count > 16 && rng.below(4) != 0 ? 16 + rng.below(min(bytes.count - 16, 24)) : rng.below(bytes.count)
                bytes[index] = [0, 1, 2, 0x7F, 0x80, 0xFF, 32, 33, 16, 17][rng.below(10)] &+ (rng.below(3) == 0 ? rng.byte() : 0)
            case 2 where !bytes.isEmpty:  // truncate
                bytes.removeLast(1 + rng.below(bytes.count))
            case 3 where bytes.count >= 16:  // edit the length field
                let length = UInt32(littleEndian: bytes[12 ..< 16].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                let choices: [UInt32] = [0, length &+ 1, length &- 1, length &+ UInt32(rng.below(8)), length &- UInt32(rng.below(8)),
                                         UInt32(Frame.maxPayloadSize), UInt32(Frame.maxPayloadSize + 1), .max, UInt32(truncatingIfNeeded: rng.next())]
                bytes.replaceSubrange(12 ..< 16, with: le(choices[rng.below(choices.count)]))
            case 4 where bytes.count >= 16:  // another message type: one payload decoded as another's
                bytes.replaceSubrange(6 ..< 8, with: le(Message.Kind.allCases[rng.below(Message.Kind.allCases.count)].rawValue))
            case 5 where bytes.count >= 16:  // another request id
                bytes.replaceSubrange(8 ..< 12, with: le(rng.below(2) == 0 ? 0 : UInt32(truncatingIfNeeded: rng.next())))
            case 6:  // insert random bytes
                bytes.insert(contentsOf: rng.bytes(1 + rng.below(8)), at: rng.below(bytes.count + 1))
            case 7 where !bytes.isEmpty:  // delete a range
                let start = rng.below(bytes.count)
                bytes.removeSubrange(start ..< min(bytes.count, start + 1 + rng.below(8)))
            case 8:  // splice another frame after this one (two frames in one stream)
                bytes += corpus[rng.below(corpus.count)]
            default:  // a varint-like edit of a u16 length inside the payload
                if bytes.count > 18 {
                    let index = 16 + rng.below(bytes.count - 17)
                    bytes.replaceSubrange(index ..< index + 2, with: le(UInt16(truncatingIfNeeded: rng.below(5000))))
                }
            }
        }
        return bytes
    }

    /// Checks the bounds of a decoded message independently of the decoder.
    static func withinBounds(_ message: Message) -> Bool {
        func ok(_ s: String) -> Bool { s.utf8.count <= Message.maxStringBytes && !s.utf8.contains(0) }
        func ok(_ v: CommandValue) -> Bool { if case let .string(s) = v { ok(s) } else { true } }
        switch message {
        case let .hello(_, id, _): return ok(id)
        case .ready, .heartbeat, .welcome(nil), .stop, .gpioGranted, .returned, .done, .i2cGranted, .i2cOpen: return true
        case let .gpioReconfigure(_, _, config): return config.count <= Message.maxKernelStructBytes
        case let .mqttPublish(_, topic, payload, qos, _, _):
            return ok(topic) && payload.count <= Message.maxMQTTPayloadBytes && qos <= Message.maxMQTTQoS
        case let .mqttSubscribe(_, filter), let .mqttUnsubscribe(_, filter): return ok(filter)
        case let .mqttMessage(topic, payload, _): return ok(topic) && payload.count <= Message.maxMQTTPayloadBytes
        case let .sandboxProbe(probe):
            return probe.namespaces.count <= SandboxProbe.maxNamespaces
                && probe.namespaces.allSatisfy { ok($0.name) && ($0.refusal.map(ok) ?? true) } && (probe.noNewPrivilegesRefusal.map(ok) ?? true)
        case let .welcome(spec?):
            return ([spec.moduleDirectory, spec.dataDirectory, spec.hostname] + spec.cgroups + spec.readOnlyPaths).allSatisfy(ok)
                && spec.cgroups.count <= SandboxSpec.maxCgroups && spec.readOnlyPaths.count <= SandboxSpec.maxReadOnlyPaths
                && spec.i2cAddresses.count <= SandboxSpec.maxI2CAddresses
        case let .syscallDenied(call, _, _): return ok(call)
        case let .log(_, text): return ok(text)
        case let .gpioRequest(_, chip, _, _, _), let .gpioLineInfo(_, chip, _): return ok(chip)
        case let .gpioRequestLines(_, chip, offsets, config):
            return ok(chip) && (1 ... Message.maxGPIOLines).contains(offsets.count) && config.count <= Message.maxKernelStructBytes
        case .gpioChipInfo: return true
        case let .info(_, bytes): return bytes.count <= Message.maxKernelStructBytes
        case let .i2cTransfer(_, _, address, segments):
            return address <= 0x7F && (1 ... Message.maxI2CSegments).contains(segments.count) && segments.allSatisfy {
                switch $0 {
                case let .write(bytes): bytes.count <= Message.maxI2CSegmentBytes
                case let .read(count): count <= Message.maxI2CSegmentBytes
                }
            }
        case let .commandResult(_, .value(value)): return ok(value)
        case let .commandResult(_, .error(text)): return ok(text)
        case let .i2cResult(_, reads): return reads.count <= Message.maxI2CSegments && reads.allSatisfy { $0.count <= Message.maxI2CSegmentBytes }
        case let .denied(_, reason): return ok(reason)
        case let .failed(_, code, reason): return (1 ... Message.maxErrorCode).contains(code) && ok(reason)
        case let .callCommand(_, symbol, arguments, _): return ok(symbol) && arguments.count <= Message.maxCommandValues && arguments.allSatisfy(ok)
        }
    }

    /// The fuzzer's tally.
    struct FuzzStats {
        var messages = 0
        var errors: [String: Int] = [:]
        var frames = 0
        var failures: [String] = []

        mutating func fail(_ text: String) { if failures.count < 20 { failures.append(text) } }

        mutating func count(_ error: ProtocolError) {
            errors[Self.name(error), default: 0] += 1
        }

        /// The error's case name (its description is prose).
        static func name(_ error: ProtocolError) -> String {
            switch error {
            case .badMagic: "badMagic"
            case .unsupportedVersion: "unsupportedVersion"
            case .payloadTooLarge: "payloadTooLarge"
            case .truncatedFrame: "truncatedFrame"
            case .lengthMismatch: "lengthMismatch"
            case .unknownMessageType: "unknownMessageType"
            case .unexpectedMessage: "unexpectedMessage"
            case .wrongDirection: "wrongDirection"
            case .unexpectedRequestID: "unexpectedRequestID"
            case .truncatedPayload: "truncatedPayload"
            case .trailingBytes: "trailingBytes"
            case .outOfBounds: "outOfBounds"
            case .invalidValue: "invalidValue"
            case .invalidString: "invalidString"
            default: "\(error)"  // channel errors: not from decoding
            }
        }
    }

    /// Decodes a frame as a message; a decoded message must re-encode to the same frame (the
    /// encoding is canonical) and respect every bound.
    static func fuzzMessage(_ frame: Frame, sender: Message.Sender, _ stats: inout FuzzStats) {
        do {
            let message = try Message(frame: frame)
            stats.messages += 1
            if !withinBounds(message) { stats.fail("out of bounds: \(message.kind)") }
            let again = try message.frame()
            if again != frame { stats.fail("not canonical: \(message.kind) \(frame.payload.prefix(32))") }
            // With a sender: the same message from its own side, refused from the other.
            do {
                // Compared as frames: a message with a NaN double is not equal to itself.
                if try Message(frame: frame, from: sender).frame() != frame { stats.fail("decodes differently with a sender") }
                if message.kind.sender != sender { stats.fail("accepted from the wrong side") }
            } catch {
                if error != .wrongDirection(frame.type) || message.kind.sender == sender { stats.fail("refused from its own side: \(error)") }
                stats.count(error)
            }
        } catch {
            stats.count(error)  // typed throws: a ProtocolError, nothing else
        }
    }

    @Test("fuzz: random bytes and mutated frames never trap, decode or throw ProtocolError, stay in bounds")
    func fuzz() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["PROTOCOL_FUZZ_SEED"].flatMap { UInt64($0, radix: 16) } ?? 0x10C7_F022_5EED_2024
        let iterations = environment["PROTOCOL_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 200_000
        print("ProtocolTests.fuzz: seed \(String(seed, radix: 16)) (set PROTOCOL_FUZZ_SEED=<hex> to repeat), \(iterations) iterations")
        var rng = SplitMix64(state: seed)
        // Small and medium samples; the 60 KiB ones would only slow the loop down.
        let corpus = try Self.samples.map { try $0.encoded() }.filter { $0.count <= 1024 }
        var stats = FuzzStats()
        let clock = ContinuousClock()
        let started = clock.now

        for iteration in 0 ..< iterations {
            let input: [UInt8]
            switch rng.below(10) {
            case 0, 1: input = rng.bytes(rng.below(64))  // (a) random bytes
            case 2:  // (a) random bytes behind a valid magic and version, to reach the later checks
                input = Frame.magic + le(Frame.version) + rng.bytes(rng.below(48))
            default: input = Self.mutate(corpus[rng.below(corpus.count)], &rng, corpus: corpus)  // (b)
            }

            // 1. The stream decoder, in random chunk sizes.
            var decoder = FrameDecoder()
            var frames: [Frame] = []
            var failed: ProtocolError?
            var offset = 0
            input.withUnsafeBytes { raw in
                while offset < raw.count, failed == nil {
                    let size = min(raw.count - offset, 1 + rng.below(rng.below(4) == 0 ? 4 : 48))
                    do throws(ProtocolError) {
                        frames += try decoder.feed(UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + size]))
                    } catch {
                        failed = error
                    }
                    offset += size
                    if decoder.bufferedByteCount > Frame.maxSize { stats.fail("decoder holds \(decoder.bufferedByteCount) bytes") }
                }
            }
            var reencoded: [UInt8] = []
            for frame in frames {
                if frame.payload.count > Frame.maxPayloadSize { stats.fail("oversized frame") }
                frame.appendEncoded(to: &reencoded)
            }
            if !input.starts(with: reencoded) { stats.fail("iteration \(iteration): frames are not the input's prefix") }
            if let failed {
                stats.count(failed)
                if iteration % 16 == 0 {  // a failed decoder refuses more input
                    do { _ = try decoder.feed([0x49]); stats.fail("failed decoder took input") } catch { if error != failed { stats.fail("changed error") } }
                }
            } else if reencoded.count + decoder.bufferedByteCount != input.count {
                stats.fail("iteration \(iteration): bytes lost")
            }

            // 2. The whole input as one datagram.
            do {
                let frame = try Frame(datagram: input)
                if frame.encoded() != input { stats.fail("datagram not canonical") }
                frames.append(frame)
            } catch {
                stats.count(error)
            }

            // 3. Every frame as a message.
            stats.frames += frames.count
            for frame in frames { Self.fuzzMessage(frame, sender: rng.below(2) == 0 ? .host : .runner, &stats) }
        }

        let elapsed = clock.now - started
        let errors = stats.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("ProtocolTests.fuzz: \(iterations) iterations in \(elapsed); \(stats.frames) frames, \(stats.messages) messages decoded; errors: \(errors)")
        #expect(stats.failures.isEmpty, "\(stats.failures)")
        // The fuzzer reaches past the framing: messages decode, and most error kinds occur.
        #expect(stats.messages > iterations / 20)
        for kind in ["badMagic", "unsupportedVersion", "wrongDirection", "payloadTooLarge", "lengthMismatch", "truncatedFrame", "unknownMessageType", "unexpectedRequestID",
                     "truncatedPayload", "trailingBytes", "outOfBounds", "invalidValue", "invalidString"] {
            #expect(stats.errors[kind, default: 0] > 0, "the fuzzer never produced \(kind)")
        }
    }

    // MARK: - Channel

    @Test("a socketpair carries messages both ways; timeouts and closing")
    func channelBasics() throws {
        let (host, runner) = try Channel.pair()
        try runner.send(.heartbeat)
        try runner.send(.log(level: .info, text: "hi"))
        #expect(try host.receiveMessage(from: .runner, timeout: .seconds(5)).message == .heartbeat)
        #expect(try host.receiveMessage(from: .runner).message == .log(level: .info, text: "hi"))
        try host.send(.callCommand(requestID: 3, symbol: "f", arguments: [.uint64(.max)], returns: .bool), timeout: .seconds(5))
        let (frame, fds) = try runner.receive(timeout: .seconds(5))
        #expect(fds.isEmpty)
        #expect(try Message(frame: frame, from: .host) == .callCommand(requestID: 3, symbol: "f", arguments: [.uint64(.max)], returns: .bool))

        // A host message from the runner is refused.
        try runner.send(.stop)
        #expect(throws: ProtocolError.wrongDirection(Message.Kind.stop.rawValue)) { try host.receiveMessage(from: .runner, timeout: .seconds(5)) }

        let started = ContinuousClock.now
        #expect(throws: ProtocolError.timedOut) { try host.receive(timeout: .milliseconds(50)) }
        #expect(ContinuousClock.now - started >= .milliseconds(50))

        runner.close()
        runner.close()  // idempotent
        #expect(throws: ProtocolError.closed) { try host.receive(timeout: .seconds(5)) }
        #expect(throws: ProtocolError.closed) { try host.receive() }
        #expect(throws: ProtocolError.closed) { try host.send(.welcome(sandbox: nil)) }
    }

    @Test("a peer that does not read: its queue fills and send times out")
    func sendTimesOut() throws {
        let (host, runner) = try Channel.pair()
        let frame = try Frame(type: Message.Kind.log.rawValue, payload: [UInt8](repeating: 0, count: 8192))
        var sent = 0
        let started = ContinuousClock.now
        do {
            while sent < 10_000 {
                try host.send(frame, timeout: .milliseconds(100))
                sent += 1
            }
            Issue.record("sent \(sent) frames to a peer that reads none")
        } catch {
            #expect(error == .timedOut)
        }
        #expect(sent > 0)
        #expect(ContinuousClock.now - started < .seconds(30))
        // Reading makes room again.
        _ = try runner.receive(timeout: .seconds(5))
        try host.send(.welcome(sandbox: nil), timeout: .seconds(5))
    }

    @Test("SO_PEERCRED of a socketpair names this process; authenticate checks pid and uid")
    func peerCredentialsInProcess() throws {
        let (a, b) = try Channel.pair()
        let expected = PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid())
        #expect(try a.peerCredentials() == expected)
        #expect(try b.peerCredentials() == expected)
        try a.authenticate(expectedPID: getpid(), expectedUID: getuid())
        #expect(throws: ProtocolError.authenticationFailed(expectedPID: getpid() + 1, actualPID: getpid(), expectedUID: getuid(), actualUID: getuid())) {
            try a.authenticate(expectedPID: getpid() + 1, expectedUID: getuid())
        }
        #expect(throws: ProtocolError.authenticationFailed(expectedPID: getpid(), actualPID: getpid(), expectedUID: getuid() &+ 1, actualUID: getuid())) {
            try a.authenticate(expectedPID: getpid(), expectedUID: getuid() &+ 1)
        }
    }

    @Test("the handshake within one process: the runner's own socket reaches the host with hello")
    func handshakeInProcess() throws {
        let (hostBootstrap, runnerBootstrap) = try Channel.pair()
        let runner = try Channel.openToHost(bootstrap: runnerBootstrap, moduleID: "com.example.m", timeout: .seconds(5))
        let (host, moduleID) = try Channel.acceptRunner(bootstrap: hostBootstrap, expectedPID: getpid(), expectedUID: getuid(), timeout: .seconds(5))
        #expect(moduleID == "com.example.m")
        try host.send(.welcome(sandbox: nil))
        #expect(try runner.receiveMessage(from: .host, timeout: .seconds(5)).message == .welcome(sandbox: nil))
        try runner.send(.ready)
        #expect(try host.receiveMessage(from: .runner, timeout: .seconds(5)).message == .ready)

        // A wrong pid is refused (the received socket is closed with the refusal).
        let (hostBootstrap2, runnerBootstrap2) = try Channel.pair()
        let runner2 = try Channel.openToHost(bootstrap: runnerBootstrap2, moduleID: "m", timeout: .seconds(5))
        #expect(throws: ProtocolError.authenticationFailed(expectedPID: getpid() + 1, actualPID: getpid(), expectedUID: getuid(), actualUID: getuid())) {
            try Channel.acceptRunner(bootstrap: hostBootstrap2, expectedPID: getpid() + 1, expectedUID: getuid(), timeout: .seconds(5))
        }
        #expect(throws: ProtocolError.closed) { try runner2.receive(timeout: .seconds(5)) }

        // The connection must be a SEQPACKET socket: not a pipe, not a stream socket.
        let pipe = try Pipe()
        var stream: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &stream) == 0)
        defer { stream.forEach { close($0) } }
        for fd in [pipe.write, stream[1]] {
            let (hostBootstrap4, runnerBootstrap4) = try Channel.pair()
            try runnerBootstrap4.send(.hello(protocolVersion: Frame.version, moduleID: "m", pid: getpid()), fd: fd)
            #expect(throws: ProtocolError.notASeqpacketSocket) {
                try Channel.acceptRunner(bootstrap: hostBootstrap4, expectedPID: getpid(), expectedUID: getuid(), timeout: .seconds(5))
            }
        }
        try runner.verifySocketType()

        // Anything but hello first is refused.
        let (hostBootstrap3, runnerBootstrap3) = try Channel.pair()
        try runnerBootstrap3.send(.ready)
        #expect(throws: ProtocolError.unexpectedMessage(Message.Kind.ready.rawValue)) {
            try Channel.acceptRunner(bootstrap: hostBootstrap3, expectedPID: getpid(), expectedUID: getuid(), timeout: .seconds(5))
        }
    }

    @Test("a pipe end passed with gpioGranted works in the receiver")
    func passPipe() throws {
        let (host, runner) = try Channel.pair()
        let pipe = try Pipe()
        try host.send(.gpioGranted(requestID: 4), fd: pipe.write)
        let (message, fd) = try runner.receiveMessage(from: .host, timeout: .seconds(5))
        #expect(message == .gpioGranted(requestID: 4))
        let received = try #require(fd)
        defer { close(received) }
        #expect(received != pipe.write)
        #expect(fcntl(received, F_GETFD) & FD_CLOEXEC != 0, "received descriptors are close-on-exec")
        #expect(write(received, "ping", 4) == 4)
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(read(pipe.read, &buffer, 4) == 4)
        #expect(buffer == Array("ping".utf8))
    }

    @Test("an eventfd passed over the channel is the same counter")
    func passEventFD() throws {
        let (host, runner) = try Channel.pair()
        let event = ciot_eventfd()
        try #require(event >= 0)
        defer { close(event) }
        try host.send(.gpioGranted(requestID: 1), fd: event)
        let received = try #require(try runner.receiveMessage(from: .host, timeout: .seconds(5)).fd)
        defer { close(received) }
        var value: UInt64 = 5
        #expect(write(received, &value, 8) == 8)
        value = 0
        #expect(read(event, &value, 8) == 8)
        #expect(value == 5)
    }

    @Test("descriptors beyond what a message takes are closed")
    func extraDescriptorsAreClosed() throws {
        let (host, runner) = try Channel.pair()
        let pipe = try Pipe()
        // Three copies on one frame; receive keeps one and closes two.
        try host.send(try Message.gpioGranted(requestID: 1).frame(), descriptors: [pipe.write, pipe.write, pipe.write])
        // On a message that takes none, and missing on one that needs it (sent as frames: the
        // message-level send refuses both).
        #expect(throws: ProtocolError.unexpectedDescriptors(count: 1)) { try host.send(.welcome(sandbox: nil), fd: pipe.write) }
        #expect(throws: ProtocolError.missingDescriptor(Message.Kind.gpioGranted.rawValue)) { try host.send(.gpioGranted(requestID: 2)) }
        try host.send(Message.welcome(sandbox: nil).frame(), fd: pipe.write)
        try host.send(Message.gpioGranted(requestID: 2).frame())
        pipe.closeWrite()

        let (_, kept) = try runner.receive(timeout: .seconds(5), maxDescriptors: 1)
        #expect(kept.count == 1)
        #expect(throws: ProtocolError.unexpectedDescriptors(count: 1)) { try runner.receiveMessage(from: .host, timeout: .seconds(5)) }
        #expect(throws: ProtocolError.missingDescriptor(Message.Kind.gpioGranted.rawValue)) { try runner.receiveMessage(from: .host, timeout: .seconds(5)) }
        kept.forEach { close($0) }
        // Every copy is closed: the read end sees end of file.
        #expect(pipe.readsEndOfFile(within: .seconds(10)))
    }

    @Test("garbage, oversized and malformed datagrams are ProtocolErrors; their descriptors are closed; the channel stays in step")
    func garbageOnTheChannel() throws {
        let (host, runner) = try Channel.pair()
        let pipe = try Pipe()
        let valid = try Self.bytes(.heartbeat)
        let oversized = Self.header(length: 70_000 - 16) + [UInt8](repeating: 0, count: 70_000 - 16)
        let longerThanAnyFrame = Self.header(length: 8) + [UInt8](repeating: 0, count: Frame.maxSize)
        let cases: [([UInt8], ProtocolError)] = [
            (Array("garbage!garbage!garbage!".utf8), .badMagic),
            ([0x49, 0x4F], .truncatedFrame(2)),
            (Self.header(version: 7, length: 0), .unsupportedVersion(7)),
            (oversized, .payloadTooLarge(70_000 - 16)),
            (longerThanAnyFrame, .datagramTooLarge(longerThanAnyFrame.count)),
            (Self.header(length: 4) + [1, 2], .lengthMismatch(expected: 20, actual: 18)),
            (valid + [0], .lengthMismatch(expected: 16, actual: 17)),
        ]
        for (bytes, expected) in cases {
            #expect(Self.sendRaw(runner, bytes, fds: [pipe.write]) == bytes.count)
            #expect(throws: expected) { try host.receive(timeout: .seconds(5)) }
            // The next datagram is read whole and fine.
            try runner.send(.heartbeat)
            #expect(try host.receiveMessage(from: .runner, timeout: .seconds(5)).message == .heartbeat)
        }
        pipe.closeWrite()
        #expect(pipe.readsEndOfFile(within: .seconds(10)), "descriptors attached to refused datagrams were closed")

        // An empty datagram reads as the end of the connection.
        #expect(Self.sendRaw(runner, [], fds: []) == 0)
        #expect(throws: ProtocolError.closed) { try host.receive(timeout: .seconds(5)) }
    }

    // MARK: - Across a real child process

    @Test("a child process: handshake, SO_PEERCRED names the child, authentication refuses a wrong pid",
          .enabled(if: Python.path != nil, "needs python3"))
    func childProcessHandshake() throws {
        let (bootstrap, childEnd) = try Channel.pair()
        // The child (python3) creates its own socketpair, sends one end with hello on fd 3, then a
        // heartbeat on the new connection, and exits when it reads `stop`.
        let child = try Python.spawn(Python.frameHelpers + """
            boot = socket.socket(fileno=3)
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            module = b"com.example.child"
            hello = struct.pack("<HH", 1, len(module)) + module + struct.pack("<i", os.getpid())
            socket.send_fds(boot, [frame(0x0101, 0, hello)], [theirs.fileno()])
            theirs.close()
            boot.close()
            mine.send(frame(0x0103, 0, b""))
            while True:
                data = mine.recv(70000)
                if not data or struct.unpack_from("<H", data, 6)[0] == 0x0206:
                    sys.exit(0)
            """, descriptors: [childEnd.fileDescriptor])
        childEnd.close()

        // The inherited pair names its creator, this process: it cannot authenticate the child.
        #expect(try bootstrap.peerCredentials().pid == getpid())

        let (channel, moduleID) = try Channel.acceptRunner(bootstrap: bootstrap, expectedPID: child, expectedUID: getuid(), timeout: .seconds(30))
        bootstrap.close()
        #expect(moduleID == "com.example.child")
        #expect(try channel.peerCredentials() == PeerCredentials(pid: child, uid: getuid(), gid: getgid()))
        try channel.authenticate(expectedPID: child, expectedUID: getuid())
        #expect(throws: ProtocolError.authenticationFailed(expectedPID: child + 1, actualPID: child, expectedUID: getuid(), actualUID: getuid())) {
            try channel.authenticate(expectedPID: child + 1, expectedUID: getuid())
        }
        #expect(throws: ProtocolError.authenticationFailed(expectedPID: getpid(), actualPID: child, expectedUID: getuid(), actualUID: getuid())) {
            try channel.authenticate(expectedPID: getpid(), expectedUID: getuid())
        }
        #expect(try channel.receiveMessage(from: .runner, timeout: .seconds(30)).message == .heartbeat)
        try channel.send(.stop)
        #expect(Python.wait(child) == 0)
        #expect(throws: ProtocolError.closed) { try channel.receive(timeout: .seconds(30)) }
    }

    @Test("a child process that sends garbage, an oversized frame and too many descriptors gets ProtocolErrors, and nothing leaks",
          .enabled(if: Python.path != nil, "needs python3"))
    func childProcessGarbage() throws {
        let (host, childEnd) = try Channel.pair()
        let pipe = try Pipe()
        let child = try Python.spawn(Python.frameHelpers + """
            s = socket.socket(fileno=3)
            s.send(b"\\x00\\xff garbage " * 10)
            s.send(frame(0x0103, 0, bytes(70000)))                  # over the 64 KiB limit
            s.send(frame(0x0103, 0, b"")[:12])                      # a cut header
            socket.send_fds(s, [frame(0x0103, 0, b"")], [4] * 12)   # more descriptors than a message may carry
            socket.send_fds(s, [frame(0x0203, 1, b"\\x00")], [4])   # a host message, from the child
            s.send(frame(0x0104, 0, b"\\x09" + struct.pack("<H", 1) + b"x"))  # log level 9
            s.send(frame(0x0103, 0, b""))
            os.close(4)
            """, descriptors: [childEnd.fileDescriptor, pipe.write])
        childEnd.close()
        pipe.closeWrite()

        #expect(throws: ProtocolError.badMagic) { try host.receiveMessage(from: .runner, timeout: .seconds(30)) }
        #expect(throws: ProtocolError.payloadTooLarge(70000)) { try host.receiveMessage(from: .runner, timeout: .seconds(30)) }
        #expect(throws: ProtocolError.truncatedFrame(12)) { try host.receiveMessage(from: .runner, timeout: .seconds(30)) }
        #expect(throws: ProtocolError.controlDataTruncated) { try host.receiveMessage(from: .runner, timeout: .seconds(30)) }
        #expect(throws: ProtocolError.wrongDirection(0x0203)) { try host.receiveMessage(from: .runner, timeout: .seconds(30)) }
        #expect(throws: ProtocolError.invalidValue(field: "log level", value: 9)) { try host.receiveMessage(from: .runner, timeout: .seconds(30)) }
        #expect(try host.receiveMessage(from: .runner, timeout: .seconds(30)).message == .heartbeat)
        #expect(throws: ProtocolError.closed) { try host.receive(timeout: .seconds(30)) }
        #expect(Python.wait(child) == 0)
        #expect(pipe.readsEndOfFile(within: .seconds(10)), "every descriptor the child sent was closed")
    }

    // MARK: - Helpers

    /// Sends `bytes` as one datagram as is (no framing), with `fds` attached.
    static func sendRaw(_ channel: Channel, _ bytes: [UInt8], fds: [Int32]) -> Int {
        bytes.withUnsafeBytes { raw in
            fds.withUnsafeBufferPointer { fds in
                ciot_socket_send(channel.fileDescriptor, raw.baseAddress, raw.count, fds.baseAddress, Int32(fds.count), 0)
            }
        }
    }

    /// A close-on-exec pipe.
    final class Pipe {
        let read: Int32
        private(set) var write: Int32

        init() throws {
            var fds: [Int32] = [-1, -1]
            try #require(Glibc.pipe(&fds) == 0)
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            read = fds[0]
            write = fds[1]
        }

        func closeWrite() {
            if write >= 0 { close(write) }
            write = -1
        }

        /// Whether reading returns end of file (every write end closed) within `timeout`.
        func readsEndOfFile(within timeout: Duration) -> Bool {
            let deadline = ContinuousClock.now + timeout
            var descriptor = pollfd(fd: read, events: Int16(POLLIN), revents: 0)
            while ContinuousClock.now < deadline {
                guard poll(&descriptor, 1, 100) > 0 else { continue }
                var byte: UInt8 = 0
                let count = Glibc.read(read, &byte, 1)
                if count == 0 { return true }
                if count < 0 && errno != EINTR { return false }
            }
            return false
        }

        deinit {
            close(read)
            if write >= 0 { close(write) }
        }
    }
}

/// python3 as a peer in another process.
private enum Python {
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return directories.map { $0 + "/python3" }.first { access($0, X_OK) == 0 }
    }()

    /// `frame(type, request_id, payload)` in Python, with the imports the scripts use.
    static let frameHelpers = """
        import os, socket, struct, sys
        def frame(kind, request_id, payload):
            return struct.pack("<4sHHII", b"IOTM", 1, kind, request_id, len(payload)) + payload

        """

    enum SpawnError: Error { case failed(Int32) }

    /// Starts `python3 -c script` with `descriptors[i]` as its fd 3 + i; returns its pid.
    static func spawn(_ script: String, descriptors: [Int32]) throws -> pid_t {
        // Copies above 100 first, so that no dup2 below overwrites a descriptor still to be copied.
        let high = descriptors.map { fcntl($0, F_DUPFD_CLOEXEC, 100) }
        defer { high.forEach { close($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (index, fd) in high.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, 3 + Int32(index)) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("python3"), strdup("-c"), strdup(script), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path!, &actions, nil, argv, envp)
        guard result == 0 else { throw SpawnError.failed(result) }
        return pid
    }

    /// Waits for `pid`; its exit status, or 128 + the signal.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}

// MARK: - Byte helpers

fileprivate func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// A protocol string: u16 length and the bytes.
fileprivate func str(_ text: String) -> [UInt8] { str(Array(text.utf8)) }
fileprivate func str(_ bytes: [UInt8]) -> [UInt8] { le(UInt16(bytes.count)) + bytes }
