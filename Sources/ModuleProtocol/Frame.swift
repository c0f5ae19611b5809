/// Frames of the host–runner IPC protocol.
///
/// Every message travels as one frame: a fixed 16-byte header, then the payload.
///
///     offset size  field
///     0      4     magic "IOTM" (0x49 0x4F 0x54 0x4D)
///     4      2     protocol version (Frame.version), little-endian
///     6      2     message type (Message.Kind), little-endian
///     8      4     request id, little-endian (0 for messages that answer nothing and ask nothing)
///     12     4     payload length, little-endian, at most Frame.maxPayloadSize
///     16     n     payload (Messages.swift)
///
/// On the SOCK_SEQPACKET channel (Channel.swift) one datagram is exactly one frame
/// (`Frame(datagram:)`); `FrameDecoder` reads frames from a byte stream instead.
/// Nothing here trusts the peer: every length is checked before anything is allocated for it.
public struct Frame: Sendable, Equatable, Hashable {
    /// "IOTM".
    public static let magic: [UInt8] = [0x49, 0x4F, 0x54, 0x4D]
    /// The magic as a little-endian UInt32 (what the first four bytes load as).
    static let magicValue: UInt32 = 0x4D54_4F49
    /// The protocol version this library speaks. A frame of another version is refused.
    public static let version: UInt16 = 1
    public static let headerSize = 16
    /// The largest payload: 64 KiB. A header that declares more is refused before anything is read or allocated.
    public static let maxPayloadSize = 64 * 1024
    /// The largest frame, header included.
    public static let maxSize = headerSize + maxPayloadSize

    /// The message type (`Message.Kind.rawValue`); not checked here, `Message(frame:)` does.
    public let type: UInt16
    public let requestID: UInt32
    public let payload: [UInt8]

    /// - Throws: `ProtocolError.payloadTooLarge` if `payload` exceeds `maxPayloadSize`.
    public init(type: UInt16, requestID: UInt32 = 0, payload: [UInt8] = []) throws(ProtocolError) {
        guard payload.count <= Self.maxPayloadSize else { throw .payloadTooLarge(payload.count) }
        self.type = type
        self.requestID = requestID
        self.payload = payload
    }

    /// For payloads already checked against the limit.
    init(unchecked header: FrameHeader, payload: [UInt8]) {
        type = header.type
        requestID = header.requestID
        self.payload = payload
    }

    /// Header and payload length.
    public var encodedSize: Int { Self.headerSize + payload.count }

    /// The frame's bytes: header and payload.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(encodedSize)
        appendEncoded(to: &bytes)
        return bytes
    }

    /// Appends the frame's bytes to `bytes`.
    public func appendEncoded(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: Self.magic)
        Self.appendLittleEndian(Self.version, to: &bytes)
        Self.appendLittleEndian(type, to: &bytes)
        Self.appendLittleEndian(requestID, to: &bytes)
        Self.appendLittleEndian(UInt32(payload.count), to: &bytes)
        bytes.append(contentsOf: payload)
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Decodes one whole datagram: a header and exactly the payload it declares.
    /// - Throws: `ProtocolError`: `.truncatedFrame` (shorter than a header), `.badMagic`,
    ///   `.unsupportedVersion`, `.payloadTooLarge`, `.lengthMismatch` (the datagram is not
    ///   header + declared payload, in either direction).
    public init(datagram: UnsafeRawBufferPointer) throws(ProtocolError) {
        guard datagram.count >= Self.headerSize else {
            // A short datagram that does not even start like a frame is garbage, not a short frame.
            if let mismatch = Self.magicMismatch(datagram, alreadyChecked: 0) { throw mismatch }
            throw .truncatedFrame(datagram.count)
        }
        let header = try FrameHeader(parsing: datagram)
        let expected = Self.headerSize + Int(header.payloadLength)
        guard datagram.count == expected else { throw .lengthMismatch(expected: expected, actual: datagram.count) }
        self.init(unchecked: header, payload: Array(UnsafeRawBufferPointer(rebasing: datagram[Self.headerSize...])))
    }

    /// `init(datagram:)` for bytes in an array.
    public init(datagram: [UInt8]) throws(ProtocolError) {
        let result: Result<Frame, ProtocolError> = datagram.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) -> Frame in try Frame(datagram: raw) }
        }
        self = try result.get()
    }

    /// `.badMagic` if the bytes of `prefix` from offset `alreadyChecked` on differ from the magic
    /// at the same offsets (only the first four bytes are compared).
    static func magicMismatch(_ prefix: UnsafeRawBufferPointer, alreadyChecked: Int) -> ProtocolError? {
        var index = alreadyChecked
        while index < min(prefix.count, magic.count) {
            if prefix[index] != magic[index] { return .badMagic }
            index += 1
        }
        return nil
    }
}

/// A parsed and checked frame header.
public struct FrameHeader: Sendable, Equatable {
    public var type: UInt16
    public var requestID: UInt32
    /// At most `Frame.maxPayloadSize`.
    public var payloadLength: UInt32

    /// Parses the first `Frame.headerSize` bytes of `raw` (which must hold that many).
    /// - Throws: `.badMagic`, `.unsupportedVersion`, `.payloadTooLarge`.
    init(parsing raw: UnsafeRawBufferPointer) throws(ProtocolError) {
        precondition(raw.count >= Frame.headerSize)
        guard UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == Frame.magicValue else { throw .badMagic }
        let version = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard version == Frame.version else { throw .unsupportedVersion(version) }
        type = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        requestID = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        payloadLength = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard payloadLength <= Frame.maxPayloadSize else { throw .payloadTooLarge(Int(payloadLength)) }
    }
}

/// Reads frames from a byte stream that arrives in chunks of any size (a pipe, a SOCK_STREAM
/// socket, a file): feed it what was read, get back the frames completed so far.
///
/// It holds at most one incomplete frame: fewer than 16 header bytes, or one payload of the
/// length its header declared (at most `Frame.maxPayloadSize`, checked before the buffer is
/// reserved). Garbage is detected as early as possible: a byte that differs from the magic at
/// once, a bad version or an oversized length as soon as the header is complete. After an error
/// the decoder is failed for good: every later `feed` throws the same error, since nothing after
/// garbage can be trusted to start at a frame boundary; the caller closes the connection.
public struct FrameDecoder: Sendable {
    private var header: [UInt8] = []
    private var pending: FrameHeader?
    private var payload: [UInt8] = []
    /// The error that failed the decoder, if any.
    public private(set) var failure: ProtocolError?

    public init() {
        header.reserveCapacity(Frame.headerSize)
    }

    /// The bytes of the incomplete frame read so far (its header included); never more than `Frame.maxSize`.
    public var bufferedByteCount: Int { pending == nil ? header.count : Frame.headerSize + payload.count }

    /// True when no frame is half read (a stream may end here).
    public var isAtFrameBoundary: Bool { header.isEmpty && pending == nil }

    /// Consumes `bytes` and returns the frames they complete, in order.
    /// - Throws: the `ProtocolError` of the first bad header (frames completed earlier in the same
    ///   chunk are dropped with it: the connection is being closed anyway); once failed, always.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> [Frame] {
        if let failure { throw failure }
        var frames: [Frame] = []
        var index = 0
        let count = bytes.count
        while index < count {
            if let expected = pending {
                let length = Int(expected.payloadLength)
                let take = min(length - payload.count, count - index)
                payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index ..< index + take]))
                index += take
                if payload.count == length {
                    frames.append(Frame(unchecked: expected, payload: payload))
                    payload = []
                    pending = nil
                }
                continue
            }
            let take = min(Frame.headerSize - header.count, count - index)
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[index ..< index + take])
            if header.count < Frame.magic.count {
                // Compare the new bytes that fall within the magic with it, as they come.
                let already = header.count
                let within = UnsafeRawBufferPointer(rebasing: chunk[..<min(take, Frame.magic.count - already)])
                for offset in within.indices where within[offset] != Frame.magic[already + offset] {
                    try fail(.badMagic)
                }
            }
            header.append(contentsOf: chunk)
            index += take
            guard header.count == Frame.headerSize else { continue }
            let parsed = header.withUnsafeBytes { raw in
                Result { () throws(ProtocolError) -> FrameHeader in try FrameHeader(parsing: raw) }
            }
            header.removeAll(keepingCapacity: true)
            switch parsed {
            case let .failure(error):
                try fail(error)
            case let .success(parsedHeader):
                if parsedHeader.payloadLength == 0 {
                    frames.append(Frame(unchecked: parsedHeader, payload: []))
                } else {
                    pending = parsedHeader
                    payload.reserveCapacity(Int(parsedHeader.payloadLength))
                }
            }
        }
        return frames
    }

    /// `feed` for bytes in an array.
    public mutating func feed(_ bytes: [UInt8]) throws(ProtocolError) -> [Frame] {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) -> [Frame] in try feed(raw) }
        }
        return try result.get()
    }

    /// Call at the end of the stream: throws `.truncatedFrame` if a frame was left incomplete
    /// (and the stored failure, if the decoder had failed).
    public func finish() throws(ProtocolError) {
        if let failure { throw failure }
        if !isAtFrameBoundary { throw .truncatedFrame(bufferedByteCount) }
    }

    private mutating func fail(_ error: ProtocolError) throws(ProtocolError) -> Never {
        failure = error
        header = []
        payload = []
        pending = nil
        throw error
    }
}

/// Everything that can be wrong with what a peer sent, and with the channel itself. A peer that
/// causes any of these is closed: the protocol has no recovery from a bad frame.
public enum ProtocolError: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    // MARK: Frames
    /// The frame does not start with "IOTM".
    case badMagic
    /// The frame's protocol version is not `Frame.version`.
    case unsupportedVersion(UInt16)
    /// A payload (declared or given) longer than `Frame.maxPayloadSize`.
    case payloadTooLarge(Int)
    /// A datagram, or the end of a stream, with fewer bytes than a complete frame; the count held.
    case truncatedFrame(Int)
    /// A datagram whose length is not header + declared payload.
    case lengthMismatch(expected: Int, actual: Int)

    // MARK: Messages
    /// A message type this version does not define.
    case unknownMessageType(UInt16)
    /// A valid message that is not the one expected at this point (the first must be `hello`).
    case unexpectedMessage(UInt16)
    /// A message that only the other side may send (a host message from the runner, say).
    case wrongDirection(UInt16)
    /// A non-zero request id on a message that neither asks nor answers anything.
    case unexpectedRequestID(UInt32)
    /// A field that runs past the end of the payload.
    case truncatedPayload(field: String)
    /// Bytes left in the payload after the message's last field.
    case trailingBytes(Int)
    /// A count (segments, values) or length (string, bytes) beyond its bound, or below it.
    case outOfBounds(field: String, value: Int, limit: Int)
    /// A byte that is not one of the values its field allows (an enum tag, a bool other than 0/1).
    case invalidValue(field: String, value: UInt64)
    /// A string that is not valid UTF-8, or that contains NUL.
    case invalidString(field: String)

    // MARK: Channel
    /// The peer closed the connection (or sent an empty datagram, which no frame is).
    case closed
    /// Nothing arrived (or could be sent) within the time allowed.
    case timedOut
    /// The datagram did not fit the receive buffer (`Frame.maxSize`); its real length.
    case datagramTooLarge(Int)
    /// The kernel truncated the control data: more descriptors than a message may carry.
    case controlDataTruncated
    /// A message that must carry a descriptor (`gpioGranted`, `i2cGranted`, `hello`) arrived without one.
    case missingDescriptor(UInt16)
    /// Descriptors attached to a message that takes none (or more than it takes); they were closed.
    case unexpectedDescriptors(count: Int)
    /// The descriptor that should be the connection is not an AF_UNIX SOCK_SEQPACKET socket.
    case notASeqpacketSocket
    /// The peer is not the process the host started, or runs as another user.
    case authenticationFailed(expectedPID: Int32, actualPID: Int32, expectedUID: UInt32, actualUID: UInt32)
    /// A system call failed.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .badMagic: "not a frame of this protocol (bad magic)"
        case let .unsupportedVersion(version): "protocol version \(version) is not supported (expected \(Frame.version))"
        case let .payloadTooLarge(length): "payload of \(length) bytes exceeds the limit of \(Frame.maxPayloadSize)"
        case let .truncatedFrame(count): "incomplete frame (\(count) bytes)"
        case let .lengthMismatch(expected, actual): "datagram of \(actual) bytes, but its header declares \(expected)"
        case let .unknownMessageType(type): "unknown message type 0x\(String(type, radix: 16))"
        case let .unexpectedMessage(type): "message type 0x\(String(type, radix: 16)) was not expected here"
        case let .wrongDirection(type): "message type 0x\(String(type, radix: 16)) may not be sent by this peer"
        case let .unexpectedRequestID(id): "request id \(id) on a message that takes none"
        case let .truncatedPayload(field): "payload ends inside \(field)"
        case let .trailingBytes(count): "\(count) bytes after the end of the message"
        case let .outOfBounds(field, value, limit): "\(field) is \(value), beyond the bound \(limit)"
        case let .invalidValue(field, value): "\(field) has the invalid value \(value)"
        case let .invalidString(field): "\(field) is not valid UTF-8 without NUL"
        case .closed: "the peer closed the connection"
        case .timedOut: "timed out"
        case let .datagramTooLarge(length): "datagram of \(length) bytes exceeds the largest frame (\(Frame.maxSize))"
        case .controlDataTruncated: "too many descriptors attached to one message"
        case let .missingDescriptor(type): "message type 0x\(String(type, radix: 16)) arrived without its descriptor"
        case let .unexpectedDescriptors(count): "\(count) unexpected descriptors attached (closed)"
        case .notASeqpacketSocket: "the descriptor is not an AF_UNIX SOCK_SEQPACKET socket"
        case let .authenticationFailed(expectedPID, actualPID, expectedUID, actualUID):
            "peer is pid \(actualPID) uid \(actualUID); expected pid \(expectedPID) uid \(expectedUID)"
        case let .system(call, code): "\(call) failed: errno \(code)"
        }
    }
}
