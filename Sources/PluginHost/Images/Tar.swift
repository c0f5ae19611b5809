import Foundation

/// A strict, minimal ustar reader and writer for what this host itself produces: the image-layout
/// archive (`plugin-host pack --output x.tar`) and the module's layer. Only regular files and
/// directories are written or accepted; links, devices and anything else are refused. This is not
/// the layer extractor (that is the install step's job, with its own security limits).
enum Tar {
    struct Entry: Equatable {
        var path: String
        var isDirectory: Bool
        var mode: UInt32
        var data: Data
    }

    // MARK: - Writing

    static func archive(_ entries: [Entry]) throws(ModuleError) -> Data {
        var out = Data()
        for entry in entries {
            out.append(try header(for: entry))
            if !entry.isDirectory {
                out.append(entry.data)
                let pad = (512 - entry.data.count % 512) % 512
                out.append(Data(count: pad))
            }
        }
        out.append(Data(count: 1024))
        return out
    }

    private static func header(for entry: Entry) throws(ModuleError) -> Data {
        var name = entry.path + (entry.isDirectory ? "/" : "")
        var prefix = ""
        if name.utf8.count > 100 {
            // Split at a '/' so that the prefix is at most 155 bytes and the name at most 100.
            let bytes = Array(name.utf8)
            guard let split = bytes.indices.last(where: { bytes[$0] == UInt8(ascii: "/") && $0 <= 155 && bytes.count - $0 - 1 <= 100 && $0 < bytes.count - 1 }) else {
                throw ModuleError(.invalidModuleDirectory, "path '\(entry.path)' is too long for a tar archive (at most 255 bytes, with a '/' splitting it into 155 + 100): shorten it", field: entry.path)
            }
            prefix = String(decoding: bytes[..<split], as: UTF8.self)
            name = String(decoding: bytes[(split + 1)...], as: UTF8.self)
        }
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ offset: Int, _ length: Int) {
            for (i, b) in s.utf8.prefix(length).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            put(String(repeating: "0", count: max(0, length - 1 - String(value, radix: 8).count)) + String(value, radix: 8), offset, length - 1)
        }
        put(name, 0, 100)
        octal(Int(entry.mode & 0o777), 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(entry.isDirectory ? 0 : entry.data.count, 124, 12)
        octal(0, 136, 12)
        h[156] = entry.isDirectory ? UInt8(ascii: "5") : UInt8(ascii: "0")
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

    /// Reads an archive into entries. Accepts regular files, directories and pax/GNU metadata
    /// headers (skipped); refuses every other entry type, absolute paths and `..`.
    static func read(_ data: Data, source: String) throws(ModuleError) -> [Entry] {
        func malformed(_ why: String) -> ModuleError {
            ModuleError(.malformedLayout, "\(source) is not a valid image archive: \(why)", field: source)
        }
        let bytes = [UInt8](data)
        var entries: [Entry] = []
        var offset = 0
        while offset + 512 <= bytes.count {
            let h = Array(bytes[offset..<offset + 512])
            if h.allSatisfy({ $0 == 0 }) { return entries }
            func string(_ o: Int, _ l: Int) -> String {
                let field = h[o..<o + l]
                return String(decoding: field.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            func number(_ o: Int, _ l: Int) -> Int? {
                Int(string(o, l).trimmingCharacters(in: CharacterSet(charactersIn: " \0")), radix: 8)
            }
            guard let checksum = number(148, 8) else { throw malformed("unreadable header checksum at offset \(offset)") }
            var computed = 0
            for (i, b) in h.enumerated() { computed += (148..<156).contains(i) ? 0x20 : Int(b) }
            guard checksum == computed else { throw malformed("header checksum mismatch at offset \(offset)") }
            guard let size = number(124, 12), size >= 0 else { throw malformed("unreadable size at offset \(offset)") }
            let type = h[156]
            let dataStart = offset + 512
            guard dataStart + size <= bytes.count else { throw malformed("entry at offset \(offset) is truncated") }
            var path = string(0, 100)
            let prefix = string(345, 155)
            if string(257, 5) == "ustar", !prefix.isEmpty { path = prefix + "/" + path }
            while path.hasPrefix("./") { path.removeFirst(2) }
            if path.hasSuffix("/") { path.removeLast() }
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "5"):
                guard path.isEmpty || path == "." || ModuleManifest.isRelativeSafePath(path) else {
                    throw malformed("entry '\(path)' is absolute or contains '..'")
                }
                if !(path.isEmpty || path == ".") {
                    entries.append(Entry(path: path, isDirectory: type == UInt8(ascii: "5"), mode: UInt32(number(100, 8) ?? 0),
                                         data: type == UInt8(ascii: "5") ? Data() : Data(bytes[dataStart..<dataStart + size])))
                }
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                break // pax metadata: ignored, the ustar header carries what we need
            default:
                throw malformed("entry '\(path)' has type '\(Character(Unicode.Scalar(type)))'; only regular files and directories are allowed")
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        throw malformed("the archive ends without its end-of-archive marker (truncated?)")
    }
}
