#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The ustar writer for what this host itself produces (the image-layout archive of
/// `plugin-host pack --output x.tar` and the module's layer), and the image archive's reading
/// policy over the shared `TarReader`: only regular files and directories are written or
/// accepted; links, devices and anything else are refused. A layer's own rules are the
/// extractor's (`LayerExtractor`, with its security limits).
enum Tar {
    struct Entry: Equatable {
        var path: String
        var isDirectory: Bool
        var mode: UInt32
        var data: Data
    }

    // MARK: - Writing

    /// Where archive bytes go as they are written, a piece at a time (a file, a digest).
    typealias Sink = (Data) throws(ModuleError) -> Void

    /// Two zero blocks: the end-of-archive marker.
    static let endOfArchive = Data(count: 1024)

    /// A whole archive in memory (small archives and tests; `ImagePacker` streams its own).
    static func archive(_ entries: [Entry]) throws(ModuleError) -> Data {
        var out = Data()
        for entry in entries {
            out.append(try header(path: entry.path, isDirectory: entry.isDirectory, mode: entry.mode, size: UInt64(entry.data.count)))
            if !entry.isDirectory {
                out.append(entry.data)
                out.append(padding(UInt64(entry.data.count)))
            }
        }
        out.append(endOfArchive)
        return out
    }

    /// The zeros that fill an entry's data of `size` bytes up to a whole block.
    static func padding(_ size: UInt64) -> Data { Data(count: Int(TarReader.padding(size))) }

    /// The ustar header of a regular file (`size` bytes of data follow) or directory.
    static func header(path: String, isDirectory: Bool, mode: UInt32, size: UInt64) throws(ModuleError) -> Data {
        var name = path + (isDirectory ? "/" : "")
        var prefix = ""
        if name.utf8.count > 100 {
            // Split at a '/' so that the prefix is at most 155 bytes and the name at most 100.
            let bytes = Array(name.utf8)
            guard let split = bytes.indices.last(where: { bytes[$0] == UInt8(ascii: "/") && $0 <= 155 && bytes.count - $0 - 1 <= 100 && $0 < bytes.count - 1 }) else {
                throw ModuleError(.invalidModuleDirectory, "path '\(path)' is too long for a tar archive (at most 255 bytes, with a '/' splitting it into 155 + 100): shorten it", field: path)
            }
            prefix = String(decoding: bytes[..<split], as: UTF8.self)
            name = String(decoding: bytes[(split + 1)...], as: UTF8.self)
        }
        guard size < 1 << 33 else {
            throw ModuleError(.invalidModuleDirectory, "'\(path)' is \(size) bytes, too large for a ustar archive (under 8 GiB): make it smaller", field: path)
        }
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ offset: Int, _ length: Int) {
            for (i, b) in s.utf8.prefix(length).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            put(String(repeating: "0", count: max(0, length - 1 - String(value, radix: 8).count)) + String(value, radix: 8), offset, length - 1)
        }
        put(name, 0, 100)
        octal(Int(mode & 0o777), 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(isDirectory ? 0 : Int(size), 124, 12)
        octal(0, 136, 12)
        h[156] = isDirectory ? UInt8(ascii: "5") : UInt8(ascii: "0")
        put("ustar", 257, 6)
        put("00", 263, 2)
        put(prefix, 345, 155)
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) }
        octal(sum, 148, 7)
        h[155] = 0x20
        return Data(h)
    }

    // MARK: - Reading

    /// How the shared `TarReader` names the refusals of an image archive.
    static func archiveContext(_ name: String) -> TarReader.Context {
        TarReader.Context(label: name, code: .malformedLayout, kind: "image archive",
                          advice: "the archive is damaged or truncated: copy it again, or write it with `plugin-host pack --output <name>.tar`",
                          maxPathBytes: ExtractionLimits.default.maxPathBytes, drainsAfterEnd: false)
    }

    /// Reads an image-layout archive with the shared streaming reader and hands `body` each
    /// regular file and directory with its normalised path (no `./`, no trailing `/`); the
    /// archive's root entry is passed over. Refuses every other entry type, absolute paths and
    /// `..`, with `.malformedLayout`. Entry data `body` does not read is skipped.
    static func readArchive(_ bytes: any ByteSource, name: String, bufferSize: Int = ByteStreamReader.chunkSize,
                            _ body: (String, TarEntry, TarReader) throws(ModuleError) -> Void) throws(ModuleError) {
        let reader = TarReader(reader: ByteStreamReader(bytes, bufferSize: bufferSize), context: archiveContext(name))
        while let entry = try reader.next() {
            var path = entry.displayPath
            while path.hasPrefix("./") { path.removeFirst(2) }
            if path.hasSuffix("/") { path.removeLast() }
            guard entry.type == .regular || entry.type == .directory else {
                var kind = "a \(entry.type.name)"
                if case let .unknown(flag) = entry.type { kind = "an entry of type \(TarReader.describeTypeFlag(flag))" }
                throw reader.malformed("entry '\(path)' is \(kind); only regular files and directories are allowed")
            }
            if path.isEmpty || path == "." { continue }
            guard ModuleManifest.isRelativeSafePath(path) else {
                throw reader.malformed("entry '\(path)' is absolute or contains '..'")
            }
            try body(path, entry, reader)
        }
    }

    /// Reads a whole archive in memory into entries (tests and small archives; an image on disk
    /// is indexed by `ImageSource.open` instead, without reading its contents).
    static func read(_ data: Data, source: String, bufferSize: Int = ByteStreamReader.chunkSize) throws(ModuleError) -> [Entry] {
        var entries: [Entry] = []
        try readArchive(DataByteSource(data), name: source, bufferSize: bufferSize) { (path: String, entry: TarEntry, reader: TarReader) throws(ModuleError) in
            var content = Data()
            if entry.type == .regular {
                try reader.readData(of: entry) { (chunk: UnsafeRawBufferPointer) throws(ModuleError) in content.append(contentsOf: chunk) }
            }
            entries.append(Entry(path: path, isDirectory: entry.type == .directory, mode: entry.mode, data: content))
        }
        return entries
    }
}
