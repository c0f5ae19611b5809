// The one tar reader of the host: image-layout archives (`ImageSource`) and module layers
// (`LayerExtractor`) are both read with it, a header and a chunk at a time through a bounded
// buffer, whatever the size of the archive. It uses no Foundation and no platform API: bytes come
// from a `ByteSource` (a file region, memory, a decompressor).

// MARK: - Byte streams

/// Where a stream of bytes comes from: a region of a file, memory, or a decompressor over
/// another source.
protocol ByteSource: AnyObject {
    /// Fills the start of `buffer`; returns the byte count, 0 only at the end of the stream.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ModuleError) -> Int
    /// Passes over up to `count` bytes without producing them, if the source can do that more
    /// cheaply than reading (a file moves its offset). Returns how many it passed over: fewer than
    /// `count` at the end of the stream, 0 if it cannot skip (the reader then reads and discards).
    func skip(_ count: UInt64) throws(ModuleError) -> UInt64
}

extension ByteSource {
    /// A source that must see every byte (a decompressor, a digest) does not skip.
    func skip(_ count: UInt64) throws(ModuleError) -> UInt64 { 0 }
}

/// A buffered reader over a `ByteSource` with exact reads, skips and chunked streaming. It holds
/// one buffer of `bufferSize` bytes, whatever the size of the stream.
final class ByteStreamReader {
    static let chunkSize = 64 << 10
    private let source: any ByteSource
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var atEnd = false
    /// Bytes handed out or skipped so far (the offset in the stream).
    private(set) var position: UInt64 = 0

    /// - Parameter bufferSize: at least 1; tests use tiny buffers to cross every boundary.
    init(_ source: any ByteSource, bufferSize: Int = chunkSize) {
        self.source = source
        buffer = .allocate(byteCount: max(1, bufferSize), alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Makes at least one byte available; false at the end of the stream.
    private func refill() throws(ModuleError) -> Bool {
        if start < end { return true }
        if atEnd { return false }
        let count = try source.fill(buffer)
        start = 0
        end = count
        if count == 0 { atEnd = true }
        return count > 0
    }

    /// Up to `count` bytes: fewer only if the stream ends.
    func read(_ count: Int) throws(ModuleError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count, try refill() {
            let take = min(count - out.count, end - start)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start..<start + take]))
            start += take
            position += UInt64(take)
        }
        return out
    }

    /// Hands `count` bytes to `body` in chunks of at most the buffer's size; false if the stream
    /// ends first.
    func stream(_ count: UInt64, _ body: (UnsafeRawBufferPointer) throws(ModuleError) -> Void) throws(ModuleError) -> Bool {
        var left = count
        while left > 0 {
            guard try refill() else { return false }
            let take = Int(min(left, UInt64(end - start)))
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<start + take]))
            start += take
            position += UInt64(take)
            left -= UInt64(take)
        }
        return true
    }

    /// Skips `count` bytes (through the source's own skip where it has one); false if the stream
    /// ends first.
    func skip(_ count: UInt64) throws(ModuleError) -> Bool {
        let buffered = min(count, UInt64(end - start))
        start += Int(buffered)
        position += buffered
        var left = count - buffered
        if left > 0, !atEnd {
            let skipped = try source.skip(left)
            position += skipped
            left -= skipped
        }
        return try stream(left) { (_: UnsafeRawBufferPointer) throws(ModuleError) in }
    }

    /// Reads to the end of the stream, discarding.
    func drain() throws(ModuleError) {
        while try refill() {
            position += UInt64(end - start)
            start = end
        }
    }
}

// MARK: - Entries

enum TarEntryType: Equatable {
    case regular, hardlink, symlink, characterDevice, blockDevice, directory, fifo
    case unknown(UInt8)

    var name: String {
        switch self {
        case .regular: "regular file"
        case .hardlink: "hard link"
        case .symlink: "symlink"
        case .characterDevice: "character device"
        case .blockDevice: "block device"
        case .directory: "directory"
        case .fifo: "FIFO (named pipe)"
        case .unknown: "entry of unknown type"
        }
    }
}

/// One entry after its metadata headers (pax 'x', GNU 'L'/'K') have been applied.
struct TarEntry {
    var type: TarEntryType
    var rawPath: [UInt8]
    var rawLinkTarget: [UInt8]
    var mode: UInt32
    var size: UInt64
    /// Where the entry's data starts in the stream (after its last header).
    var dataOffset: UInt64
    /// The archive's name in messages ("layer 1 (sha256:…)", an image archive's path).
    var label: String
    var displayPath: String { String(decoding: rawPath, as: UTF8.self) }
}

// MARK: - Reader

/// A strict streaming reader of tar archives (ustar, pax 'x'/'g', GNU 'L'/'K', v7): checksums
/// verified, every size bounded, the end-of-archive marker required. It returns entries of every
/// type; what an archive may contain is its caller's policy (the extractor's checks, the image
/// archive's regular files and directories).
final class TarReader {
    /// How the reader names its refusals: which archive, which error code, what to do.
    struct Context {
        var label: String
        var code: ModuleError.Code
        /// "tar archive", "image archive".
        var kind: String
        /// What the user should do, after the reason.
        var advice: String
        /// The longest GNU long name or link target accepted.
        var maxPathBytes: Int
        /// Whether to read past the end-of-archive marker to the end of the stream (a layer's
        /// gzip checksum and digest are checked there).
        var drainsAfterEnd: Bool
    }

    let reader: ByteStreamReader
    let context: Context
    var label: String { context.label }
    /// The entry whose header was read last (for messages about the stream).
    private(set) var currentPath: String?
    /// Bytes of the current entry's data not read yet (plus its padding).
    private var pendingData: UInt64 = 0
    private var pendingPadding: UInt64 = 0
    private var finished = false

    /// Larger metadata records than this are refused (a pax header holds a few paths).
    static let maxMetadataBytes: UInt64 = 1 << 20

    init(reader: ByteStreamReader, context: Context) {
        self.reader = reader
        self.context = context
    }

    /// A refusal of the archive as not valid tar, in the context's words and code.
    func malformed(_ text: String, offset: UInt64? = nil) -> ModuleError {
        let at = offset.map { " (at byte \($0) of the tar stream)" } ?? ""
        return ModuleError(context.code, "\(label) is not a valid \(context.kind): \(text)\(at); \(context.advice)", field: currentPath ?? label)
    }

    /// The next real entry, or nil after the end-of-archive marker.
    func next() throws(ModuleError) -> TarEntry? {
        guard !finished else { return nil }
        if pendingData > 0 || pendingPadding > 0 {
            // The previous entry's data was not consumed (not a regular file or skipped).
            guard try reader.skip(pendingData + pendingPadding) else { throw malformed("the data of entry '\(currentPath ?? "")' is truncated") }
            pendingData = 0
            pendingPadding = 0
        }
        var paxPath: [UInt8]?
        var paxLinkPath: [UInt8]?
        var paxSize: UInt64?
        var longName: [UInt8]?
        var longLink: [UInt8]?
        var metadataPending = false
        currentPath = nil
        while true {
            let offset = reader.position
            let header = try reader.read(512)
            if header.isEmpty { throw malformed("the archive ends without its end-of-archive marker (two zero blocks): it is truncated", offset: offset) }
            if header.count < 512 { throw malformed("the archive ends inside a header block: it is truncated", offset: offset) }
            if header.allSatisfy({ $0 == 0 }) {
                let second = try reader.read(512)
                guard second.count == 512, second.allSatisfy({ $0 == 0 }) else {
                    throw malformed("a zero block is not followed by a second zero block (end-of-archive marker incomplete, or truncated)", offset: offset)
                }
                if metadataPending { throw malformed("a pax or GNU metadata header is not followed by an entry", offset: offset) }
                if context.drainsAfterEnd { try reader.drain() }
                finished = true
                return nil
            }
            let ustar = header[257..<263].elementsEqual(Array("ustar\0".utf8))
            var path = Self.field(header, 0, 100)
            if ustar {
                let prefix = Self.field(header, 345, 155)
                if !prefix.isEmpty { path = prefix + [UInt8(ascii: "/")] + path }
            }
            let name = paxPath ?? longName ?? path
            currentPath = name.isEmpty ? nil : String(decoding: name, as: UTF8.self)
            try verifyChecksum(header, offset: offset)
            guard let headerSize = Self.number(header, 124, 12) else { throw malformed("entry '\(currentPath ?? "")' has an unreadable size field", offset: offset) }
            guard let mode = Self.number(header, 100, 8) else { throw malformed("entry '\(currentPath ?? "")' has an unreadable mode field", offset: offset) }
            let flag = header[156]
            switch flag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                let gnu = flag == UInt8(ascii: "L") || flag == UInt8(ascii: "K")
                let cap = gnu ? UInt64(max(0, context.maxPathBytes)) + 513 : Self.maxMetadataBytes
                guard headerSize <= cap else {
                    if gnu {
                        throw ModuleError(context.code, "\(label): a GNU long \(flag == UInt8(ascii: "L") ? "name" : "link target") of \(headerSize) bytes is over the limit of \(context.maxPathBytes) (maxPathBytes): shorten the path and rebuild the module", field: currentPath ?? label)
                    }
                    throw malformed("a pax header of \(headerSize) bytes is over the limit of \(Self.maxMetadataBytes)", offset: offset)
                }
                let data = try reader.read(Int(headerSize))
                guard data.count == Int(headerSize), try reader.skip(Self.padding(headerSize)) else {
                    throw malformed("a metadata header's data is truncated", offset: offset)
                }
                switch flag {
                case UInt8(ascii: "x"):
                    for (key, value) in try parsePax(data, offset: offset) {
                        switch key {
                        case "path": paxPath = value.isEmpty ? nil : value
                        case "linkpath": paxLinkPath = value.isEmpty ? nil : value
                        case "size":
                            guard !value.isEmpty, value.count <= 20, value.allSatisfy({ (0x30...0x39).contains($0) }),
                                  let size = UInt64(String(decoding: value, as: UTF8.self)) else {
                                throw malformed("a pax header has an invalid size '\(String(decoding: value, as: UTF8.self))'", offset: offset)
                            }
                            paxSize = size
                        default:
                            if key.hasPrefix("GNU.sparse.") {
                                throw ModuleError(context.code, "\(label): entry '\(currentPath ?? "")' is a sparse file (pax GNU.sparse headers), which module images may not use: rebuild the module without --sparse", field: currentPath ?? label)
                            }
                        }
                    }
                    metadataPending = true
                case UInt8(ascii: "L"):
                    longName = Array(data.prefix(while: { $0 != 0 }))
                    metadataPending = true
                case UInt8(ascii: "K"):
                    longLink = Array(data.prefix(while: { $0 != 0 }))
                    metadataPending = true
                default:
                    break // 'g': global pax headers are ignored
                }
                continue
            default:
                break
            }

            let rawPath = paxPath ?? longName ?? path
            currentPath = String(decoding: rawPath, as: UTF8.self)
            let size = paxSize ?? headerSize
            var type: TarEntryType
            switch flag {
            case UInt8(ascii: "0"), UInt8(ascii: "7"): type = .regular
            case 0: type = rawPath.last == UInt8(ascii: "/") ? .directory : .regular // v7: a trailing '/' marks a directory
            case UInt8(ascii: "1"): type = .hardlink
            case UInt8(ascii: "2"): type = .symlink
            case UInt8(ascii: "3"): type = .characterDevice
            case UInt8(ascii: "4"): type = .blockDevice
            case UInt8(ascii: "5"): type = .directory
            case UInt8(ascii: "6"): type = .fifo
            default: type = .unknown(flag)
            }
            // Data follows regular files (and, malformed, anything with a size; skipped if the
            // entry is refused anyway). Directories, links and devices carry none.
            pendingData = type == .regular ? size : 0
            pendingPadding = type == .regular ? Self.padding(size) : 0
            return TarEntry(type: type, rawPath: rawPath, rawLinkTarget: paxLinkPath ?? longLink ?? Self.field(header, 157, 100),
                            mode: UInt32(truncatingIfNeeded: mode & 0o7777), size: size, dataOffset: reader.position, label: label)
        }
    }

    /// Streams the current regular file's data to `body` in chunks, then skips its padding.
    func readData(of entry: TarEntry, _ body: (UnsafeRawBufferPointer) throws(ModuleError) -> Void) throws(ModuleError) {
        let complete = try reader.stream(pendingData, body)
        guard complete else { throw malformed("the data of entry '\(entry.displayPath)' is truncated (the archive ends inside it)") }
        pendingData = 0
        guard try reader.skip(pendingPadding) else { throw malformed("the padding after entry '\(entry.displayPath)' is truncated") }
        pendingPadding = 0
    }

    private func verifyChecksum(_ header: [UInt8], offset: UInt64) throws(ModuleError) {
        guard let stored = Self.number(header, 148, 8) else {
            throw malformed("a header has an unreadable checksum field (not a tar archive, or damaged)", offset: offset)
        }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in header.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        // Historic writers summed signed bytes; both are accepted, as GNU tar does.
        guard Int64(stored) == unsigned || Int64(stored) == signed else {
            throw malformed("the header\(currentPath.map { " of entry '\($0)'" } ?? "") has checksum \(stored) but its bytes sum to \(unsigned) (damaged, or not a tar archive)", offset: offset)
        }
    }

    /// pax records: "<length> <key>=<value>\n", length counting the whole record.
    private func parsePax(_ data: [UInt8], offset: UInt64) throws(ModuleError) -> [(String, [UInt8])] {
        var records: [(String, [UInt8])] = []
        var index = 0
        while index < data.count {
            var length = 0
            var cursor = index
            while cursor < data.count, (0x30...0x39).contains(data[cursor]), cursor - index < 8 {
                length = length * 10 + Int(data[cursor] - 0x30)
                cursor += 1
            }
            guard cursor > index, cursor < data.count, data[cursor] == UInt8(ascii: " "), length > cursor - index + 1,
                  index + length <= data.count, data[index + length - 1] == UInt8(ascii: "\n") else {
                if data[index...].allSatisfy({ $0 == 0 }) { break } // NUL padding some writers leave
                throw malformed("a pax header has a malformed record", offset: offset)
            }
            let record = data[(cursor + 1)..<(index + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw malformed("a pax record has no '='", offset: offset)
            }
            records.append((String(decoding: record[..<equals], as: UTF8.self), Array(record[(equals + 1)...])))
            index += length
        }
        return records
    }

    /// A NUL-terminated header string field.
    static func field(_ header: [UInt8], _ offset: Int, _ length: Int) -> [UInt8] {
        Array(header[offset..<offset + length].prefix(while: { $0 != 0 }))
    }

    /// An octal field (leading spaces, then digits, then NULs/spaces), or GNU base-256 (first
    /// byte 0x80, big-endian, non-negative). Nil for anything else.
    static func number(_ header: [UInt8], _ offset: Int, _ length: Int) -> UInt64? {
        let bytes = header[offset..<offset + length]
        if let first = bytes.first, first & 0x80 != 0 {
            guard first == 0x80 else { return nil } // negative or unknown encoding
            var value: UInt64 = 0
            for byte in bytes.dropFirst() {
                guard value >> 56 == 0 else { return nil }
                value = value << 8 | UInt64(byte)
            }
            return value
        }
        var value: UInt64 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") { index += 1 }
        while index < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[index]) {
            guard value >> 60 == 0 else { return nil }
            value = value << 3 | UInt64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        while index < bytes.endIndex {
            guard bytes[index] == 0 || bytes[index] == UInt8(ascii: " ") else { return nil }
            index += 1
        }
        return value
    }

    static func padding(_ size: UInt64) -> UInt64 { (512 - size % 512) % 512 }

    static func describeTypeFlag(_ flag: UInt8) -> String {
        (0x21...0x7e).contains(flag) ? "'\(Character(Unicode.Scalar(flag)))'" : "byte \(flag)"
    }
}

