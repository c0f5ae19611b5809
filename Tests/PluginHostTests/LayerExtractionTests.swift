import Foundation
import Testing
import PluginHost
@testable import PluginHostImages
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Archive builders

/// Writes tar archives header by header, including everything a hostile or unusual writer could
/// put there (devices, links, setuid modes, pax and GNU metadata, bad checksums).
struct RawTar {
    enum Magic { case ustar, gnu, v7 }

    var data = Data()

    /// One 512-byte header. `sizeField` replaces the octal size (base-256 tests);
    /// `checksumDelta` corrupts the checksum.
    mutating func header(_ name: String, type: Character = "0", mode: Int = 0o644, size: Int = 0, linkname: String = "",
                         prefix: String = "", magic: Magic = .ustar, sizeField: [UInt8]? = nil, checksumDelta: Int = 0) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], _ offset: Int, _ length: Int) {
            precondition(bytes.count <= length, "field too long")
            for (i, b) in bytes.enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            let digits = String(value, radix: 8)
            put(Array((String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits).utf8), offset, length - 1)
        }
        put(Array(name.utf8), 0, 100)
        octal(mode, 100, 8)
        octal(1000, 108, 8)
        octal(1000, 116, 8)
        if let sizeField { put(sizeField, 124, 12) } else { octal(size, 124, 12) }
        octal(0, 136, 12)
        h[156] = type.asciiValue!
        put(Array(linkname.utf8), 157, 100)
        switch magic {
        case .ustar:
            put(Array("ustar\0".utf8), 257, 6)
            put(Array("00".utf8), 263, 2)
            put(Array(prefix.utf8), 345, 155)
        case .gnu:
            put(Array("ustar  \0".utf8), 257, 8)
        case .v7:
            break
        }
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) } + checksumDelta
        octal(sum, 148, 7)
        h[155] = 0x20
        data.append(contentsOf: h)
    }

    /// Data of the preceding header, padded to 512 bytes.
    mutating func content(_ bytes: Data) {
        data.append(bytes)
        data.append(Data(count: (512 - bytes.count % 512) % 512))
    }

    /// A pax 'x' (or 'g') header with these records.
    mutating func pax(_ records: [(String, String)], type: Character = "x") {
        var body = Data()
        for (key, value) in records {
            let tail = " \(key)=\(value)\n"
            var length = tail.utf8.count + 1
            while String(length).count + tail.utf8.count != length { length += 1 }
            body.append(Data((String(length) + tail).utf8))
        }
        header("PaxHeaders/entry", type: type, size: body.count)
        content(body)
    }

    /// A GNU 'L' (long name) or 'K' (long link target) header.
    mutating func gnuLong(_ type: Character, _ value: String) {
        var body = Data(value.utf8)
        body.append(0)
        header("././@LongLink", type: type, size: body.count, magic: .gnu)
        content(body)
    }

    /// A regular file; names over 100 bytes get a pax path record.
    mutating func file(_ name: String, _ text: String = "", mode: Int = 0o644) {
        file(name, data: Data(text.utf8), mode: mode)
    }

    mutating func file(_ name: String, data bytes: Data, mode: Int = 0o644) {
        let short = longName(name)
        header(short, type: "0", mode: mode, size: bytes.count)
        content(bytes)
    }

    mutating func directory(_ name: String, mode: Int = 0o755) {
        header(longName(name + "/"), type: "5", mode: mode)
    }

    mutating func symlink(_ name: String, to target: String) {
        if target.utf8.count > 100 { pax([("linkpath", target)]) }
        header(longName(name), type: "2", mode: 0o777, linkname: target.utf8.count > 100 ? "long-target" : target)
    }

    mutating func hardlink(_ name: String, to target: String) {
        if target.utf8.count > 100 { pax([("linkpath", target)]) }
        header(longName(name), type: "1", linkname: target.utf8.count > 100 ? "long-target" : target)
    }

    /// Writes a pax path record for long names and returns the name for the ustar header.
    private mutating func longName(_ name: String) -> String {
        guard name.utf8.count > 100 else { return name }
        pax([("path", name)])
        return "pax-placeholder"
    }

    mutating func end() { data.append(Data(count: 1024)) }

    var finished: Data {
        var copy = self
        copy.end()
        return copy.data
    }
}

/// A gzip or zstd layer made with the packer's own compressor (`LayerCompressor`), fed in pieces
/// so that large zero runs never exist in memory.
final class LayerWriter {
    private let compressor: LayerCompressor
    private(set) var output = Data()

    init(_ compression: LayerCompression) {
        do { compressor = try LayerCompressor(compression) } catch { preconditionFailure("\(error)") }
    }

    func write(_ data: Data) {
        do { try compressor.write(data) { self.output.append($0) } } catch { preconditionFailure("\(error)") }
    }

    func writeZeros(_ count: Int) {
        let chunk = Data(count: 1 << 20)
        var left = count
        while left > 0 {
            let n = min(left, chunk.count)
            write(chunk.prefix(n))
            left -= n
        }
    }

    func finish() -> Data {
        do { try compressor.finish { self.output.append($0) } } catch { preconditionFailure("\(error)") }
        return output
    }

    static func compress(_ data: Data, _ compression: LayerCompression) -> Data {
        let writer = LayerWriter(compression)
        writer.write(data)
        return writer.finish()
    }

    static func gzip(_ data: Data) -> Data { compress(data, .gzip) }
    static func zstd(_ data: Data) -> Data { compress(data, .zstd) }
}

// MARK: - File tree helpers

enum ExtractedNode: Equatable, CustomStringConvertible {
    case file(Data, mode: UInt32)
    case directory(mode: UInt32)
    case symlink(String)
    case other

    var description: String {
        switch self {
        case let .file(data, mode): "file(\(data.count) bytes, \(String(mode, radix: 8)))"
        case let .directory(mode): "dir(\(String(mode, radix: 8)))"
        case let .symlink(target): "symlink(\(target))"
        case .other: "other"
        }
    }
}

enum FileTree {
    /// Everything under `root`, by relative path, without following symlinks.
    static func snapshot(_ root: String) -> [String: ExtractedNode] {
        var nodes: [String: ExtractedNode] = [:]
        func walk(_ relative: String) {
            let full = relative.isEmpty ? root : root + "/" + relative
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return }
            for name in names {
                let path = relative.isEmpty ? name : relative + "/" + name
                let absolute = root + "/" + path
                var st = stat()
                guard lstat(absolute, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFREG: nodes[path] = .file(FileManager.default.contents(atPath: absolute) ?? Data(), mode: UInt32(st.st_mode & 0o7777))
                case S_IFDIR:
                    nodes[path] = .directory(mode: UInt32(st.st_mode & 0o7777))
                    walk(path)
                case S_IFLNK: nodes[path] = .symlink((try? FileManager.default.destinationOfSymbolicLink(atPath: absolute)) ?? "?")
                default: nodes[path] = .other
                }
            }
        }
        walk("")
        return nodes
    }

    /// What the extractor should make of a source tree: directories 0755, files 0755 or 0644.
    static func normalized(_ nodes: [String: ExtractedNode]) -> [String: ExtractedNode] {
        nodes.mapValues { node in
            switch node {
            case .directory: .directory(mode: 0o755)
            case let .file(data, mode): .file(data, mode: mode & 0o111 != 0 ? 0o755 : 0o644)
            default: node
            }
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func linkCount(_ path: String) -> Int {
        var st = stat()
        return lstat(path, &st) == 0 ? Int(st.st_nlink) : -1
    }

    static func inode(_ path: String) -> UInt64 {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

// MARK: - Tests

@Suite("Layer extraction")
struct LayerExtractionTests {
    static let tar = OCI.layerTar
    static let gzip = OCI.layerTarGzip

    /// Extracts `layers` into a fresh destination in a fixture that also holds an `outside`
    /// directory (with a file `x`), and checks that the destination is gone afterwards and that
    /// nothing else in the fixture changed. Returns the error.
    func refusal(_ layers: [(mediaType: String, data: Data)], limits: ExtractionLimits = .default,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> ModuleError? {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let outside = fixture.path("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("outside".utf8).write(to: URL(fileURLWithPath: outside + "/x"))
        let before = FileTree.snapshot(fixture.root.path)
        let destination = fixture.path("dest")
        let error = ModuleError.caught { try LayerExtractor.extract(layers: layers, into: destination, limits: limits) }
        #expect(error != nil, "the layer was accepted", sourceLocation: sourceLocation)
        #expect(!FileTree.exists(destination), "the destination was left behind", sourceLocation: sourceLocation)
        #expect(FileTree.snapshot(fixture.root.path) == before, "something outside the destination changed", sourceLocation: sourceLocation)
        #expect(FileTree.linkCount(outside + "/x") == 1, "a hard link to a file outside was made", sourceLocation: sourceLocation)
        #expect(!FileTree.exists(outside + "/passwd"), "a file was written outside through a link", sourceLocation: sourceLocation)
        if let error {
            #expect(error.exitCode == 15 || error.code == .io || error.code == .unsupportedMediaType, sourceLocation: sourceLocation)
        }
        return error
    }

    /// The same with the `outside` path given to the archive builder (for links that point at it).
    func refusal(limits: ExtractionLimits = .default, sourceLocation: SourceLocation = #_sourceLocation,
                 _ build: (_ outside: String) -> Data) throws -> ModuleError? {
        // The fixture (and so the outside path) exists only here, so the archive is built here.
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let outside = fixture.path("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("outside".utf8).write(to: URL(fileURLWithPath: outside + "/x"))
        let layer = build(outside)
        let before = FileTree.snapshot(fixture.root.path)
        let destination = fixture.path("dest")
        let error = ModuleError.caught { try LayerExtractor.extract(layers: [(Self.tar, layer)], into: destination, limits: limits) }
        #expect(error != nil, "the layer was accepted", sourceLocation: sourceLocation)
        #expect(!FileTree.exists(destination), "the destination was left behind", sourceLocation: sourceLocation)
        #expect(FileTree.snapshot(fixture.root.path) == before, "something outside the destination changed", sourceLocation: sourceLocation)
        #expect(FileTree.linkCount(outside + "/x") == 1, "a hard link to a file outside was made", sourceLocation: sourceLocation)
        #expect(!FileTree.exists(outside + "/passwd"), "a file was written outside through a link", sourceLocation: sourceLocation)
        #expect(error?.exitCode == 15, sourceLocation: sourceLocation)
        return error
    }

    func refusal(_ archive: RawTar, limits: ExtractionLimits = .default, sourceLocation: SourceLocation = #_sourceLocation) throws -> ModuleError? {
        try refusal([(Self.tar, archive.finished)], limits: limits, sourceLocation: sourceLocation)
    }

    /// Extracts and returns the tree; the fixture is cleaned up by the caller.
    func extracted(_ layers: [(mediaType: String, data: Data)], in fixture: Fixture, limits: ExtractionLimits = .default) throws -> [String: ExtractedNode] {
        let destination = fixture.path("dest")
        try LayerExtractor.extract(layers: layers, into: destination, limits: limits)
        var st = stat()
        #expect(lstat(destination, &st) == 0 && st.st_mode & 0o7777 == 0o755)
        return FileTree.snapshot(destination)
    }

    // MARK: Paths

    @Test("refused: absolute path")
    func absolutePath() throws {
        let error = try refusal { outside in
            var t = RawTar()
            t.file(outside + "/passwd", "root::0:0::/:/bin/sh\n")
            return t.finished
        }
        #expect(error?.code == .absolutePath)
        #expect(error?.field?.hasSuffix("/outside/passwd") == true)
        #expect(error?.message.contains("rebuild the module") == true)
    }

    @Test("refused: '..' traversal")
    func traversal() throws {
        var t = RawTar()
        t.file("ok.txt", "fine")
        t.file("share/../../escaped", "out")
        let error = try refusal(t)
        #expect(error?.code == .pathTraversal)
        #expect(error?.field == "share/../../escaped")
    }

    @Test("refused: a leading ./ does not hide '..'")
    func dotSlashTraversal() throws {
        var t = RawTar()
        t.file("./../escaped", "out")
        #expect(try refusal(t)?.code == .pathTraversal)
    }

    @Test("refused: OCI whiteout files")
    func whiteout() throws {
        for name in ["lib/.wh.libold.so", ".wh..wh..opq"] {
            var t = RawTar()
            t.file("lib/libnew.so", "x")
            t.file(name)
            let error = try refusal(t)
            #expect(error?.code == .malformedLayer)
            #expect(error?.field == name)
            #expect(error?.message.contains("whiteouts") == true)
        }
    }

    @Test("refused: a path over maxPathBytes, and a NUL byte in a pax path")
    func longAndNulPaths() throws {
        var t = RawTar()
        t.file(String(repeating: "d/", count: 600) + "f", "x")
        let long = try refusal(t)
        #expect(long?.code == .malformedLayer)
        #expect(long?.message.contains("maxPathBytes") == true)

        var n = RawTar()
        n.pax([("path", "a\u{0}b")])
        n.header("placeholder", size: 0)
        let nul = try refusal(n)
        #expect(nul?.code == .malformedLayer)
        #expect(nul?.message.contains("NUL") == true)
    }

    // MARK: Symlinks

    @Test("refused: symlink with an absolute target")
    func symlinkAbsolute() throws {
        let error = try refusal { outside in
            var t = RawTar()
            t.symlink("evil", to: outside)
            return t.finished
        }
        #expect(error?.code == .symlinkEscape)
        #expect(error?.field == "evil")
        #expect(error?.message.contains("absolute") == true)
    }

    @Test("refused: symlink whose target climbs out with '..'")
    func symlinkClimbs() throws {
        let error = try refusal { _ in
            var t = RawTar()
            t.directory("lib")
            t.symlink("lib/up", to: "../../outside")
            t.file("lib/up/passwd", "owned")
            return t.finished
        }
        #expect(error?.code == .symlinkEscape)
        #expect(error?.field == "lib/up")
        #expect(error?.message.contains("climbs out") == true)
    }

    @Test("refused: an entry through a symlink (evil -> outside, then evil/passwd)")
    func throughSymlink() throws {
        // The classic: the link itself is refused first, so evil/passwd is never written.
        let classic = try refusal { outside in
            var t = RawTar()
            t.symlink("evil", to: outside)
            t.file("evil/passwd", "owned")
            return t.finished
        }
        #expect(classic?.code == .symlinkEscape)
        // Through a link that points inside: refused too, at the entry under it.
        var t = RawTar()
        t.directory("sub")
        t.symlink("lib", to: "sub")
        t.file("lib/x", "through")
        let inside = try refusal(t)
        #expect(inside?.code == .symlinkEscape)
        #expect(inside?.field == "lib/x")
        #expect(inside?.message.contains("through a symlink") == true)
    }

    @Test("refused: symlinks that escape only when followed through each other")
    func symlinkChain() throws {
        // d/up -> .. is the root; e -> d/up/.. is lexically "d", but really the root's parent.
        let error = try refusal { _ in
            var t = RawTar()
            t.directory("d")
            t.symlink("d/up", to: "..")
            t.symlink("e", to: "d/up/..")
            return t.finished
        }
        #expect(error?.code == .symlinkEscape)
        #expect(error?.field == "e")
    }

    // MARK: Hard links

    @Test("refused: hard link to ../x")
    func hardlinkDotDot() throws {
        let error = try refusal { _ in
            var t = RawTar()
            t.hardlink("x", to: "../outside/x")
            return t.finished
        }
        #expect(error?.code == .hardlinkEscape)
        #expect(error?.field == "x")
    }

    @Test("refused: hard link to an absolute path")
    func hardlinkAbsolute() throws {
        let error = try refusal { outside in
            var t = RawTar()
            t.hardlink("x", to: outside + "/x")
            return t.finished
        }
        #expect(error?.code == .hardlinkEscape)
        #expect(error?.message.contains("absolute") == true)
    }

    @Test("refused: hard link to a missing file")
    func hardlinkMissing() throws {
        var t = RawTar()
        t.file("present", "x")
        t.hardlink("link", to: "absent")
        let error = try refusal(t)
        #expect(error?.code == .hardlinkEscape)
        #expect(error?.field == "link")
        #expect(error?.message.contains("does not exist") == true)
    }

    @Test("refused: hard link to a directory, to a symlink, through a symlink")
    func hardlinkToNonFile() throws {
        var dir = RawTar()
        dir.directory("d")
        dir.hardlink("link", to: "d")
        #expect(try refusal(dir)?.code == .hardlinkEscape)

        var link = RawTar()
        link.file("f", "x")
        link.symlink("s", to: "f")
        link.hardlink("link", to: "s")
        #expect(try refusal(link)?.code == .hardlinkEscape)

        var through = RawTar()
        through.directory("d")
        through.file("d/f", "x")
        through.symlink("s", to: "d")
        through.hardlink("link", to: "s/f")
        #expect(try refusal(through)?.code == .hardlinkEscape)
    }

    // MARK: Special files and modes

    @Test("refused: character device")
    func characterDevice() throws {
        var t = RawTar()
        t.header("dev/mem", type: "3", mode: 0o600)
        let error = try refusal(t)
        #expect(error?.code == .specialFile)
        #expect(error?.field == "dev/mem")
        #expect(error?.message.contains("character device") == true)
    }

    @Test("refused: block device")
    func blockDevice() throws {
        var t = RawTar()
        t.header("dev/sda", type: "4", mode: 0o600)
        let error = try refusal(t)
        #expect(error?.code == .specialFile)
        #expect(error?.message.contains("block device") == true)
    }

    @Test("refused: FIFO")
    func fifo() throws {
        var t = RawTar()
        t.header("run/pipe", type: "6", mode: 0o600)
        let error = try refusal(t)
        #expect(error?.code == .specialFile)
        #expect(error?.message.contains("FIFO") == true)
    }

    @Test("refused: unknown entry type (GNU sparse 'S')")
    func unknownType() throws {
        var t = RawTar()
        t.header("sparse", type: "S", size: 0, magic: .gnu)
        #expect(try refusal(t)?.code == .malformedLayer)
    }

    @Test("refused: setuid bit")
    func setuid() throws {
        var t = RawTar()
        t.file("bin/su", "#!/bin/sh\n", mode: 0o4755)
        let error = try refusal(t)
        #expect(error?.code == .setuidBit)
        #expect(error?.field == "bin/su")
        #expect(error?.message.contains("setuid") == true)
    }

    @Test("refused: setgid bit (file and directory)")
    func setgid() throws {
        var file = RawTar()
        file.file("bin/tool", "x", mode: 0o2755)
        let error = try refusal(file)
        #expect(error?.code == .setuidBit)
        #expect(error?.message.contains("setgid") == true)
        var dir = RawTar()
        dir.directory("shared", mode: 0o2775)
        #expect(try refusal(dir)?.code == .setuidBit)
    }

    // MARK: Sizes

    @Test("refused: one file too large, from its header alone (no data needs to follow)")
    func fileTooLarge() throws {
        var t = RawTar()
        t.header("huge.bin", size: 300 << 20) // 300 MiB claimed; the archive ends right after
        let error = try refusal(t)
        #expect(error?.code == .tooLarge)
        #expect(error?.field == "huge.bin")
        #expect(error?.message.contains("maxFileBytes") == true)
        #expect(error?.message.contains("256 MiB") == true)
    }

    @Test("refused: total size too large")
    func totalTooLarge() throws {
        var t = RawTar()
        t.file("a", data: Data(count: 600))
        t.file("b", data: Data(count: 600))
        let error = try refusal(t, limits: ExtractionLimits(maxTotalBytes: 1000))
        #expect(error?.code == .tooLarge)
        #expect(error?.field == "b")
        #expect(error?.message.contains("maxTotalBytes") == true)
    }

    @Test("refused: too many entries (implicit parent directories count)")
    func tooManyEntries() throws {
        var t = RawTar()
        for i in 0..<6 { t.file("f\(i)", "x") }
        let error = try refusal(t, limits: ExtractionLimits(maxEntries: 5))
        #expect(error?.code == .tooLarge)
        #expect(error?.field == "f5")
        #expect(error?.message.contains("maxEntries") == true)

        var deep = RawTar()
        deep.file("a/b/c/d/e/f", "x")
        #expect(try refusal(deep, limits: ExtractionLimits(maxEntries: 5))?.code == .tooLarge)
    }

    // MARK: gzip and zstd: the same limits

    static let zstd = OCI.layerTarZstd

    /// A tar holding one 64 MiB file of zeros, compressed (gzip: about 64 KiB; zstd: a few KiB).
    static func zeroBomb(_ compression: LayerCompression) -> Data {
        var header = RawTar()
        header.header("zeros.bin", size: 64 << 20)
        let writer = LayerWriter(compression)
        writer.write(header.data)
        writer.writeZeros(64 << 20)
        writer.write(Data(count: 1024))
        return writer.finish()
    }

    @Test("refused: a bomb (64 MiB of zeros in a few KiB), stopped after about 1 MiB", arguments: [LayerCompression.gzip, .zstd])
    func bomb(_ compression: LayerCompression) throws {
        let bomb = Self.zeroBomb(compression)
        #expect(bomb.count < 256 << 10)
        let error = try refusal([(compression.mediaType, bomb)])
        #expect(error?.code == .decompressionBomb)
        #expect(error?.field == "zeros.bin")
        // The decompressor stops at the first chunk past 1 MiB: it never holds the 64 MiB.
        let source = try DecompressingLayerSource(compression, bomb, limits: .default, label: "layer 1")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ByteStreamReader.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var caught: ModuleError?
        do throws(ModuleError) {
            while try source.fill(buffer) > 0 {}
        } catch {
            caught = error
        }
        #expect(caught?.code == .decompressionBomb)
        #expect(source.produced <= DecompressingLayerSource.ratioCheckThreshold + UInt64(ByteStreamReader.chunkSize))
    }

    @Test("refused: output beyond maxTotalBytes plus tar overhead (data after the end marker)", arguments: [LayerCompression.gzip, .zstd])
    func outputBound(_ compression: LayerCompression) throws {
        var t = RawTar()
        t.file("small", "x")
        t.end()
        let writer = LayerWriter(compression)
        writer.write(t.data)
        writer.writeZeros(16 << 20)
        let limits = ExtractionLimits(maxTotalBytes: 1 << 20, maxEntries: 10, maxCompressionRatio: 1_000_000)
        let error = try refusal([(compression.mediaType, writer.finish())], limits: limits)
        #expect(error?.code == .tooLarge)
        #expect(error?.message.contains("decompresses to more than") == true)
    }

    @Test("refused: corrupt gzip (flipped byte, truncated stream, not gzip at all)")
    func corruptGzip() throws {
        var t = RawTar()
        for i in 0..<20 { t.file("f\(i)", String(repeating: "line \(i)\n", count: 200)) }
        let good = LayerWriter.gzip(t.finished)
        var badCRC = good
        badCRC[badCRC.count - 6] ^= 0x55 // the CRC-32 in the gzip trailer
        let truncated = good.prefix(good.count - 10)
        for data in [badCRC, Data(truncated), t.finished] {
            let error = try refusal([(Self.gzip, data)])
            #expect(error?.code == .malformedLayer)
            #expect(error?.message.contains("gzip") == true)
        }
        var flipped = good
        flipped[flipped.count / 2] ^= 0x55 // inside the deflate data: a gzip or a tar error
        #expect(try refusal([(Self.gzip, flipped)])?.code == .malformedLayer)
    }

    @Test("refused: corrupt zstd (bad checksum, truncated frame, cut after its header, not zstd at all, garbage after a frame)")
    func corruptZstd() throws {
        var t = RawTar()
        for i in 0..<20 { t.file("f\(i)", String(repeating: "line \(i)\n", count: 200)) }
        let good = LayerWriter.zstd(t.finished)
        var badChecksum = good
        badChecksum[badChecksum.count - 2] ^= 0x55 // the frame's content checksum (XXH64, last 4 bytes)
        let cases: [(String, Data)] = [
            ("bad checksum", badChecksum),
            ("truncated", Data(good.prefix(good.count - 10))),
            ("header only", Data(good.prefix(6))),
            ("plain tar", t.finished),
            ("gzip", LayerWriter.gzip(t.finished)),
            ("trailing garbage", good + Data("not a frame".utf8)),
        ]
        for (name, data) in cases {
            let error = try refusal([(Self.zstd, data)])
            #expect(error?.code == .malformedLayer, "\(name)")
            #expect(error?.message.contains("zstd") == true, "\(name): \(error.map { "\($0)" } ?? "extracted")")
        }
        #expect(try refusal([(Self.zstd, Data(good.prefix(good.count - 10)))])?.message.contains("truncated zstd stream") == true)
        var flipped = good
        flipped[flipped.count / 2] ^= 0x55 // inside the compressed blocks: a zstd or a tar error
        #expect(try refusal([(Self.zstd, flipped)])?.code == .malformedLayer)
    }

    /// A zstd frame by hand (RFC 8878 3.1.1): magic, a header whose Window_Descriptor asks for a
    /// window of 2^`windowLog` bytes (no single segment, no checksum), and one raw last block.
    static func zstdFrame(windowLog: Int, content: Data) -> Data {
        var frame = Data([0x28, 0xB5, 0x2F, 0xFD, 0x00, UInt8((windowLog - 10) << 3)])
        let blockHeader = UInt32(content.count) << 3 | 1 // Last_Block = 1, Block_Type = Raw
        frame.append(contentsOf: [UInt8(blockHeader & 0xFF), UInt8(blockHeader >> 8 & 0xFF), UInt8(blockHeader >> 16 & 0xFF)])
        frame.append(content)
        return frame
    }

    @Test("refused: a zstd frame asking for a window over maxZstdWindowLog, before the window is allocated")
    func zstdWindow() throws {
        var t = RawTar()
        t.file("a", "hello")
        // The hand-made frame is itself valid: within the limit, it extracts.
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let files = try extracted([(Self.zstd, Self.zstdFrame(windowLog: 20, content: t.finished))], in: fixture)
        #expect(files["a"] == .file(Data("hello".utf8), mode: 0o644))

        // 256 MiB: what `zstd --long=28` writes.
        let error = try refusal([(Self.zstd, Self.zstdFrame(windowLog: 28, content: t.finished))])
        #expect(error?.code == .tooLarge)
        #expect(error?.field == "layer 1")
        #expect(error?.message.contains("asks for a window of 256 MiB") == true, "\(error.map { "\($0)" } ?? "extracted")")
        #expect(error?.message.contains("maxZstdWindowLog 23") == true)

        // What the packer writes (a 4 MiB window) under a lower limit.
        let packed = LayerWriter.zstd(t.finished)
        let lowered = try refusal([(Self.zstd, packed)], limits: ExtractionLimits(maxZstdWindowLog: 21))
        #expect(lowered?.code == .tooLarge)
        #expect(lowered?.message.contains("4 MiB") == true)
    }

    @Test("zstd and gzip layers of the same tar extract to the same files as the plain tar")
    func zstdMatchesGzip() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let long = (0..<3).map { "a-directory-name-long-enough-to-need-extensions-\($0)" }.joined(separator: "/")
        var t = RawTar()
        t.directory("lib")
        t.file("lib/libthermostat.so", String(repeating: "code ", count: 50_000), mode: 0o755)
        t.file(long + "/data.txt", "deep file")
        t.symlink("lib/libthermostat.so.1", to: "libthermostat.so")
        t.hardlink("lib/copy.so", to: "lib/libthermostat.so")
        let archive = t.finished
        var trees: [LayerCompression: [String: ExtractedNode]] = [:]
        for compression in LayerCompression.allCases {
            let layer = compression == .none ? archive : LayerWriter.compress(archive, compression)
            trees[compression] = try extracted([(compression.mediaType, layer)], in: fixture)
            try FileManager.default.removeItem(atPath: fixture.path("dest"))
        }
        #expect(trees[.none]?["lib/libthermostat.so"] == .file(Data(String(repeating: "code ", count: 50_000).utf8), mode: 0o755))
        #expect(trees[.zstd] == trees[.gzip])
        #expect(trees[.zstd] == trees[.none])
    }

    // MARK: Tar structure

    @Test("refused: truncated tar (inside a file, and without the end marker)")
    func truncatedTar() throws {
        var t = RawTar()
        t.file("a", String(repeating: "a", count: 3000))
        let full = t.finished
        let insideFile = try refusal([(Self.tar, full.prefix(1500))])
        #expect(insideFile?.code == .malformedLayer)
        #expect(insideFile?.message.contains("truncated") == true)
        let noEnd = try refusal([(Self.tar, t.data)])
        #expect(noEnd?.code == .malformedLayer)
        #expect(noEnd?.message.contains("end-of-archive") == true)
        let oneZeroBlock = try refusal([(Self.tar, t.data + Data(count: 512))])
        #expect(oneZeroBlock?.code == .malformedLayer)
        let empty = try refusal([(Self.tar, Data())])
        #expect(empty?.code == .malformedLayer)
    }

    @Test("refused: bad header checksum, and garbage")
    func badChecksum() throws {
        var t = RawTar()
        t.file("good", "x")
        t.header("bad", size: 0, checksumDelta: 1)
        let error = try refusal(t)
        #expect(error?.code == .malformedLayer)
        #expect(error?.message.contains("checksum") == true)
        var garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        garbage[0] = 0x41
        #expect(try refusal([(Self.tar, garbage)])?.code == .malformedLayer)
    }

    @Test("refused: conflicting entries (file over directory, directory over file, symlink over file)")
    func conflicts() throws {
        var fileOverDir = RawTar()
        fileOverDir.directory("d")
        fileOverDir.file("d", "x")
        #expect(try refusal(fileOverDir)?.code == .malformedLayer)

        var dirOverFile = RawTar()
        dirOverFile.file("f", "x")
        dirOverFile.directory("f")
        #expect(try refusal(dirOverFile)?.code == .malformedLayer)

        var underFile = RawTar()
        underFile.file("f", "x")
        underFile.file("f/g", "y")
        #expect(try refusal(underFile)?.code == .malformedLayer)

        var linkOverFile = RawTar()
        linkOverFile.file("f", "x")
        linkOverFile.symlink("f", to: "g")
        #expect(try refusal(linkOverFile)?.code == .malformedLayer)
    }

    @Test("refused: pax sparse files and unknown media types")
    func sparseAndMediaType() throws {
        var t = RawTar()
        t.pax([("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0")])
        t.file("sparse", "x")
        #expect(try refusal(t)?.code == .malformedLayer)
        let error = try refusal([("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Data())])
        #expect(error?.code == .unsupportedMediaType)
        #expect(error?.message.contains(OCI.layerTarZstd) == true)
    }

    @Test("a later layer's failure removes what earlier layers wrote")
    func failureInSecondLayer() throws {
        var first = RawTar()
        first.file("lib/libfoo.so", "ok")
        var second = RawTar()
        second.header("dev/null", type: "3")
        let error = try refusal([(Self.tar, first.finished), (Self.gzip, LayerWriter.gzip(second.finished))])
        #expect(error?.code == .specialFile)
        #expect(error?.message.contains("layer 2") == true)
    }

    @Test("the destination must not exist; its parent must")
    func destinationRules() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let existing = fixture.path("existing")
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: existing + "/keep"))
        var t = RawTar()
        t.file("a", "x")
        let error = ModuleError.caught { try LayerExtractor.extract(layers: [(Self.tar, t.finished)], into: existing) }
        #expect(error?.code == .io)
        #expect(error?.message.contains("already exists") == true)
        #expect(FileManager.default.contents(atPath: existing + "/keep") == Data("keep".utf8))
        let noParent = ModuleError.caught { try LayerExtractor.extract(layers: [(Self.tar, t.finished)], into: fixture.path("missing/dest")) }
        #expect(noParent?.code == .io)
        #expect(!FileTree.exists(fixture.path("missing")))
    }

    // MARK: Accepted layers

    @Test("a normal layer: files, nested directories, modes 0755/0644, the root entry skipped")
    func normalLayer() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var t = RawTar()
        t.directory(".")
        t.directory("./lib")
        t.file("./lib/libthermostat.so", "\u{7f}ELF", mode: 0o755)
        t.file("bin/run", "#!/bin/sh\n", mode: 0o700) // parent "bin" is not in the archive
        t.file("share/thermostat/defaults.conf", "setpoint=21\n", mode: 0o600)
        t.directory("share/empty", mode: 0o700)
        t.file("share/odd//./name", "n", mode: 0o664)
        let files = try extracted([(Self.tar, t.finished)], in: fixture)
        #expect(files == [
            "lib": .directory(mode: 0o755),
            "lib/libthermostat.so": .file(Data("\u{7f}ELF".utf8), mode: 0o755),
            "bin": .directory(mode: 0o755),
            "bin/run": .file(Data("#!/bin/sh\n".utf8), mode: 0o755),
            "share": .directory(mode: 0o755),
            "share/thermostat": .directory(mode: 0o755),
            "share/thermostat/defaults.conf": .file(Data("setpoint=21\n".utf8), mode: 0o644),
            "share/empty": .directory(mode: 0o755),
            "share/odd": .directory(mode: 0o755),
            "share/odd/name": .file(Data("n".utf8), mode: 0o644),
        ])
    }

    @Test("pax long path (over 100 bytes and over the 155-byte prefix) and long link target")
    func paxLongPath() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let dir = (0..<7).map { "directory-with-a-rather-long-name-\($0)" }.joined(separator: "/")
        let path = dir + "/file-at-the-end-of-a-long-path.txt"
        #expect(path.utf8.count > 255)
        var t = RawTar()
        t.file(path, "deep", mode: 0o644)
        t.symlink("shortcut", to: path)
        t.pax([("comment", "global, ignored")], type: "g")
        t.pax([("mtime", "1700000000.5"), ("SCHILY.xattr.security.capability", "ignored")])
        t.file("after-pax-records", "y")
        let files = try extracted([(Self.tar, t.finished)], in: fixture)
        #expect(files[path] == .file(Data("deep".utf8), mode: 0o644))
        #expect(files["shortcut"] == .symlink(path))
        #expect(files["after-pax-records"] == .file(Data("y".utf8), mode: 0o644))
        #expect(files["pax-placeholder"] == nil)
    }

    @Test("pax size overrides the header size")
    func paxSize() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var t = RawTar()
        t.pax([("size", "5")])
        t.header("sized", size: 0)
        t.content(Data("hello".utf8))
        let files = try extracted([(Self.tar, t.finished)], in: fixture)
        #expect(files["sized"] == .file(Data("hello".utf8), mode: 0o644))
    }

    @Test("GNU 'L' long name and 'K' long link target")
    func gnuLongName() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let path = String(repeating: "gnu-long-component/", count: 8) + "file.txt"
        var t = RawTar()
        t.gnuLong("L", path)
        t.header("truncated-name", size: 3, magic: .gnu)
        t.content(Data("gnu".utf8))
        t.gnuLong("K", path)
        t.header("link", type: "2", mode: 0o777, linkname: "truncated-target", magic: .gnu)
        let files = try extracted([(Self.tar, t.finished)], in: fixture)
        #expect(files[path] == .file(Data("gnu".utf8), mode: 0o644))
        #expect(files["link"] == .symlink(path))
        #expect(files["truncated-name"] == nil)
    }

    @Test("ustar prefix field (our own Tar.archive), v7 headers, base-256 sizes, data after the end marker")
    func headerVariants() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let long = String(repeating: "p", count: 90) + "/" + String(repeating: "q", count: 90) + "/file"
        let ustar = try Tar.archive([Tar.Entry(path: long, isDirectory: false, mode: 0o755, data: Data("prefixed".utf8))])
        var v7 = RawTar()
        v7.header("old/", type: "\0", mode: 0o755, magic: .v7)
        v7.header("old/file", type: "\0", size: 2, magic: .v7)
        v7.content(Data("v7".utf8))
        v7.header("contiguous", type: "7", size: 1)
        v7.content(Data("c".utf8))
        var binary = [UInt8](repeating: 0, count: 12)
        binary[0] = 0x80
        binary[11] = 4
        v7.header("base256", sizeField: binary)
        v7.content(Data("b256".utf8))
        v7.end()
        v7.data.append(Data("trailing data is fine".utf8))
        let files = try extracted([(Self.tar, ustar), (Self.tar, v7.data)], in: fixture)
        #expect(files[long] == .file(Data("prefixed".utf8), mode: 0o755))
        #expect(files["old"] == .directory(mode: 0o755))
        #expect(files["old/file"] == .file(Data("v7".utf8), mode: 0o644))
        #expect(files["contiguous"] == .file(Data("c".utf8), mode: 0o644))
        #expect(files["base256"] == .file(Data("b256".utf8), mode: 0o644))
    }

    @Test("internal relative symlink and hard link")
    func internalLinks() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var t = RawTar()
        t.file("lib/libfoo.so.1", "\u{7f}ELF foo", mode: 0o755)
        t.symlink("lib/libfoo.so", to: "libfoo.so.1")
        t.symlink("current", to: "./lib/../lib")
        t.file("share/data", "shared")
        t.hardlink("share/data-link", to: "./share/data")
        let files = try extracted([(Self.tar, t.finished)], in: fixture)
        #expect(files["lib/libfoo.so"] == .symlink("libfoo.so.1"))
        #expect(files["current"] == .symlink("./lib/../lib"))
        #expect(files["share/data-link"] == .file(Data("shared".utf8), mode: 0o644))
        let dest = fixture.path("dest")
        #expect(FileTree.inode(dest + "/share/data") == FileTree.inode(dest + "/share/data-link"))
        #expect(FileTree.linkCount(dest + "/share/data") == 2)
        #expect(FileManager.default.contents(atPath: dest + "/lib/libfoo.so") == Data("\u{7f}ELF foo".utf8))
    }

    @Test("gzip layer, including a multi-member gzip")
    func gzipLayer() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var t = RawTar()
        t.file("lib/libthermostat.so", String(repeating: "code ", count: 5000), mode: 0o755)
        t.file("share/readme", "hello")
        let archive = t.finished
        let split = archive.count / 2
        let multi = LayerWriter.gzip(archive.prefix(split)) + LayerWriter.gzip(archive.suffix(from: split))
        let files = try extracted([(Self.gzip, LayerWriter.gzip(archive))], in: fixture)
        #expect(files["lib/libthermostat.so"] == .file(Data(String(repeating: "code ", count: 5000).utf8), mode: 0o755))
        #expect(files["share/readme"] == .file(Data("hello".utf8), mode: 0o644))
        try FileManager.default.removeItem(atPath: fixture.path("dest"))
        #expect(try extracted([(Self.gzip, multi)], in: fixture) == files)
    }

    @Test("two layers: the second replaces a file and adds to an existing directory")
    func twoLayers() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var first = RawTar()
        first.directory("lib")
        first.file("lib/libthermostat.so", "version 1", mode: 0o755)
        first.file("share/config", "old")
        var second = RawTar()
        second.directory("lib")
        second.file("lib/libthermostat.so", "version 2", mode: 0o644)
        second.file("lib/extra.so", "new")
        let files = try extracted([(Self.tar, first.finished), (Self.gzip, LayerWriter.gzip(second.finished))], in: fixture)
        #expect(files["lib/libthermostat.so"] == .file(Data("version 2".utf8), mode: 0o644))
        #expect(files["lib/extra.so"] == .file(Data("new".utf8), mode: 0o644))
        #expect(files["share/config"] == .file(Data("old".utf8), mode: 0o644))
    }

    @Test("the limits are inclusive: exactly maxFileBytes, maxTotalBytes and maxEntries pass")
    func limitsInclusive() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var t = RawTar()
        t.file("d/a", data: Data(count: 500))
        t.file("d/b", data: Data(count: 500))
        let files = try extracted([(Self.tar, t.finished)], in: fixture,
                                  limits: ExtractionLimits(maxTotalBytes: 1000, maxFileBytes: 500, maxEntries: 3))
        #expect(files.count == 3)
    }

    // MARK: Interoperability

    static let systemTar = "/usr/bin/tar"

    /// A directory as a packer would see it: a long path, a symlink, an executable, a hard link.
    func sampleModule(at root: String) throws -> String {
        let long = (0..<5).map { "a-directory-name-long-enough-to-need-extensions-\($0)" }.joined(separator: "/")
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/" + long, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/lib", withIntermediateDirectories: true)
        try Data("deep file".utf8).write(to: URL(fileURLWithPath: root + "/" + long + "/data.txt"))
        try Data("\u{7f}ELF lib".utf8).write(to: URL(fileURLWithPath: root + "/lib/libfoo.so.1"))
        try fm.createSymbolicLink(atPath: root + "/lib/libfoo.so", withDestinationPath: "libfoo.so.1")
        try fm.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: root + "/bin/run"))
        chmod(root + "/bin/run", 0o755)
        chmod(root + "/lib/libfoo.so.1", 0o644)
        link(root + "/lib/libfoo.so.1", root + "/lib/libfoo-hardlink.so")
        return long
    }

    @Test("system GNU tar archives (--format=pax with gzip, --format=gnu) extract to the same tree",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tar")),
          arguments: ["pax-gzip", "gnu"])
    func systemTarInterop(_ format: String) throws {
        try expectSystemTarLayer(format == "gnu" ? ["--format=gnu"] : ["--format=pax", "--gzip"], mediaType: format == "gnu" ? Self.tar : Self.gzip)
    }

    @Test("a system GNU tar archive compressed by the zstd tool (tar --zstd) extracts to the same tree",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tar") && FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd")))
    func systemTarZstd() throws {
        try expectSystemTarLayer(["--format=pax", "--zstd"], mediaType: Self.zstd)
    }

    /// Archives `sampleModule` with the system's tar and `options`, and extracts it as one layer.
    func expectSystemTarLayer(_ options: [String], mediaType: String) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let source = fixture.path("source")
        let long = try sampleModule(at: source)
        let archive = fixture.path("layer.tar")
        #expect(try FileTree.run(Self.systemTar, options + ["-cf", archive, "-C", source, "."]) == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: archive))
        let files = try extracted([(mediaType, data)], in: fixture)
        #expect(files == FileTree.normalized(FileTree.snapshot(source)))
        #expect(files[long + "/data.txt"] == .file(Data("deep file".utf8), mode: 0o644))
        #expect(files["bin/run"] == .file(Data("#!/bin/sh\necho hi\n".utf8), mode: 0o755))
        #expect(files["lib/libfoo.so"] == .symlink("libfoo.so.1"))
        let dest = fixture.path("dest")
        #expect(FileTree.inode(dest + "/lib/libfoo.so.1") == FileTree.inode(dest + "/lib/libfoo-hardlink.so"))
    }

    @Test("end to end: pack (plain, gzip, zstd), verify, extract the verified image", arguments: LayerCompression.allCases)
    func endToEnd(_ compression: LayerCompression) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(try fixture.packedImage(compression: compression)))
        #expect(image.layers.map(\.mediaType) == [compression.mediaType])
        let destination = fixture.path("installed")
        try LayerExtractor.extract(image, into: destination)
        var expected = FileTree.normalized(FileTree.snapshot(fixture.path("module")))
        expected["module.json"] = nil
        #expect(FileTree.snapshot(destination) == expected)
        #expect(FileManager.default.contents(atPath: destination + "/lib/libthermostat.so") == Data("\u{7f}ELF fake library".utf8))
        #expect(FileManager.default.contents(atPath: destination + "/share/thermostat/defaults.conf") == Data("setpoint=21\n".utf8))
    }

    @Test("end to end: a verified image with a refused layer leaves nothing behind")
    func endToEndRefused() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var t = RawTar()
        t.file("lib/libthermostat.so", "x")
        t.symlink("escape", to: "/etc")
        let layout = try ImagePacker(signingKey: fixture.key).assemble(config: try Fixture.manifest.canonicalJSON(),
                                                                       layers: [(Self.gzip, LayerWriter.gzip(t.finished))],
                                                                       manifest: Fixture.manifest)
        try ImagePacker.write(layout, to: fixture.path("image"))
        let image = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(fixture.path("image")))
        let destination = fixture.path("installed")
        let error = ModuleError.caught { try LayerExtractor.extract(image, into: destination) }
        #expect(error?.code == .symlinkEscape)
        #expect(error?.message.contains("layer 1 (sha256:") == true)
        #expect(!FileTree.exists(destination))
    }
}
