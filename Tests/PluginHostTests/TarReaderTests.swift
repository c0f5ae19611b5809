import Foundation
import Testing
import PluginHost
@testable import PluginHostImages

/// The one streaming tar reader, as the image archive and the layer extractor use it: the same
/// entries whatever the buffer and however the source hands out its bytes, the same refusals for
/// truncated archives, and image archives indexed rather than read.
@Suite("Streaming tar reader")
struct TarReaderTests {
    /// Memory that hands out at most `step` bytes per fill, so that the source's boundaries fall
    /// everywhere too.
    final class Trickle: ByteSource {
        let data: Data
        let step: Int
        var offset = 0

        init(_ data: Data, step: Int) {
            self.data = data
            self.step = step
        }

        func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(ModuleError) -> Int {
            let count = min(buffer.count, step, data.count - offset)
            guard count > 0 else { return 0 }
            data.withUnsafeBytes { raw in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count])) }
            offset += count
            return count
        }
    }

    /// Every entry of a layer as the extractor's reader sees it, its data included.
    static func layerEntries(_ source: any ByteSource, bufferSize: Int) throws -> [String] {
        let reader = TarReader(reader: ByteStreamReader(source, bufferSize: bufferSize), context: LayerExtractor.tarContext("layer 1", limits: .default))
        var entries: [String] = []
        while let entry = try reader.next() {
            var content = Data()
            if entry.type == .regular {
                try reader.readData(of: entry) { (chunk: UnsafeRawBufferPointer) throws(ModuleError) in content.append(contentsOf: chunk) }
            }
            entries.append("\(entry.type.name) '\(entry.displayPath)' -> '\(String(decoding: entry.rawLinkTarget, as: UTF8.self))' mode \(String(entry.mode, radix: 8)) size \(entry.size) data at \(entry.dataOffset): \(content.base64EncodedString())")
        }
        return entries
    }

    static let longPaxName = String(repeating: "long/", count: 30) + "name.txt"
    static let gnuLongName = String(repeating: "g", count: 150)

    /// ustar, pax path and global headers, a GNU long name, links, an empty file and a file
    /// larger than a block.
    static func mixedLayer(end: Bool = true) -> Data {
        var t = RawTar()
        t.directory("lib")
        t.file("lib/lib.so", data: Data((0..<1500).map { UInt8($0 % 251) }), mode: 0o755)
        t.file(longPaxName, "pax path")
        t.gnuLong("L", gnuLongName)
        t.header("truncated-name", type: "0", size: 3, magic: .gnu)
        t.content(Data("gnu".utf8))
        t.symlink("link", to: "lib/lib.so")
        t.hardlink("hard", to: "lib/lib.so")
        t.pax([("comment", "ignored")], type: "g")
        t.file("empty")
        return end ? t.finished : t.data
    }

    @Test("a layer read through tiny buffers and a trickling source gives the same entries", arguments: [1, 7, 511, 512, 513])
    func layerTinyBuffers(_ bufferSize: Int) throws {
        let layer = Self.mixedLayer()
        let expected = try Self.layerEntries(DataByteSource(layer), bufferSize: ByteStreamReader.chunkSize)
        #expect(expected.count == 7)
        #expect(expected.contains { $0.hasPrefix("regular file '\(Self.longPaxName)'") })
        #expect(expected.contains { $0.hasPrefix("regular file '\(Self.gnuLongName)'") })
        #expect(expected.contains { $0.hasPrefix("symlink 'link' -> 'lib/lib.so'") })
        #expect(try Self.layerEntries(Trickle(layer, step: 3), bufferSize: bufferSize) == expected)
    }

    @Test("a gzip layer of two members, a zstd layer of two frames, handed over a few bytes at a time, read as the plain layer",
          arguments: [LayerCompression.gzip, .zstd])
    func compressedTrickle(_ compression: LayerCompression) throws {
        let layer = Self.mixedLayer()
        let split = 2048
        let compressed = LayerWriter.compress(layer.prefix(split), compression) + LayerWriter.compress(layer.dropFirst(split), compression)
        let expected = try Self.layerEntries(DataByteSource(layer), bufferSize: ByteStreamReader.chunkSize)
        let source = try DecompressingLayerSource(compression, Trickle(compressed, step: 5), limits: .default, label: "layer 1")
        #expect(try Self.layerEntries(source, bufferSize: 100) == expected)
        #expect(source.consumed == compressed.count)
    }

    static let archiveEntries = [
        Tar.Entry(path: "blobs", isDirectory: true, mode: 0o755, data: Data()),
        Tar.Entry(path: "blobs/sha256/big", isDirectory: false, mode: 0o644, data: Data((0..<3000).map { UInt8($0 % 253) })),
        Tar.Entry(path: String(repeating: "p", count: 90) + "/" + String(repeating: "q", count: 90) + "/file", isDirectory: false, mode: 0o755, data: Data("prefixed".utf8)),
        Tar.Entry(path: "empty", isDirectory: false, mode: 0o644, data: Data()),
        Tar.Entry(path: "index.json", isDirectory: false, mode: 0o644, data: Data("{}".utf8)),
    ]

    @Test("an image archive read through tiny buffers gives the same entries", arguments: [1, 7, 512, 513, 4096])
    func archiveTinyBuffers(_ bufferSize: Int) throws {
        let archive = try Tar.archive(Self.archiveEntries)
        #expect(try Tar.read(archive, source: "t") == Self.archiveEntries)
        #expect(try Tar.read(archive, source: "t", bufferSize: bufferSize) == Self.archiveEntries)
    }

    @Test("a truncated archive is refused with the same code, whatever the buffer and wherever it is cut", arguments: [1, 7, ByteStreamReader.chunkSize])
    func truncated(_ bufferSize: Int) throws {
        let archive = try Tar.archive(Self.archiveEntries)
        for cut in [0, 100, 512, 700, 2000, archive.count - 1024, archive.count - 512] {
            let error = ModuleError.caught { _ = try Tar.read(Data(archive.prefix(cut)), source: "t", bufferSize: bufferSize) }
            #expect(error?.code == .malformedLayout, "cut at \(cut)")
        }
        let layer = Self.mixedLayer()
        for cut in [0, 100, 512, 1000, 2600, layer.count - 1024, layer.count - 512] {
            let error = ModuleError.caught { _ = try Self.layerEntries(Trickle(Data(layer.prefix(cut)), step: 3), bufferSize: bufferSize) }
            #expect(error?.code == .malformedLayer, "cut at \(cut)")
        }
        #expect(ModuleError.caught { _ = try Self.layerEntries(DataByteSource(Self.mixedLayer(end: false)), bufferSize: bufferSize) }?.code == .malformedLayer)
    }

    @Test("an image archive is indexed, not read: each file is a region of the archive file")
    func archiveIndex() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let directory = try ImageSource.open(try fixture.packedImage("image"))
        let archive = try ImageSource.open(try fixture.packedImage("image.tar"))
        guard case let .archive(regions) = archive.storage else {
            Issue.record("a .tar image opened as \(archive.storage)")
            return
        }
        let files = try FileManager.default.subpathsOfDirectory(atPath: fixture.path("image")).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: fixture.path("image") + "/" + $0, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        #expect(Set(regions.keys) == Set(files))
        for (path, region) in regions {
            #expect(region.offset % 512 == 0)
            #expect(try archive.read(path) == directory.read(path), "\(path)")
        }
        #expect(try archive.read("blobs/sha256/missing") == nil)
        #expect(try directory.read("blobs/sha256/missing") == nil)
    }

    @Test("a layer changed after verification is caught while extracting, and nothing is left behind", arguments: ["image", "image.tar"])
    func layerChangedAfterVerification(_ name: String) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let path = try fixture.packedImage(name)
        let image = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(path))
        let file = name.hasSuffix(".tar") ? URL(fileURLWithPath: path) : LayoutEditor(path).blobPath(try LayoutEditor(path).layerDigest())
        var data = try Data(contentsOf: file)
        let range = try #require(data.range(of: Data("fake library".utf8)))
        data[range.lowerBound] ^= 0x20
        try data.write(to: file)
        let destination = fixture.path("installed")
        let error = ModuleError.caught { try LayerExtractor.extract(image, into: destination) }
        #expect(error?.code == .digestMismatch)
        #expect(!FileManager.default.fileExists(atPath: destination))
    }
}

/// `pack` streams the layer from the module's files instead of building it in memory.
@Suite("Streaming image packing")
struct StreamingPackTests {
    @Test("the streamed layer is byte for byte the in-memory writer's tar, in a directory and in a .tar image")
    func sameBytes() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let layout = try ImagePacker(signingKey: fixture.key).pack(moduleDirectory: try fixture.moduleDirectory())
        try ImagePacker.write(layout, to: fixture.path("image"))
        try ImagePacker.write(layout, to: fixture.path("image.tar"))
        let expected = try Tar.archive([
            Tar.Entry(path: "lib", isDirectory: true, mode: 0o755, data: Data()),
            Tar.Entry(path: "lib/libthermostat.so", isDirectory: false, mode: 0o644, data: Data("\u{7f}ELF fake library".utf8)),
            Tar.Entry(path: "share", isDirectory: true, mode: 0o755, data: Data()),
            Tar.Entry(path: "share/thermostat", isDirectory: true, mode: 0o755, data: Data()),
            Tar.Entry(path: "share/thermostat/defaults.conf", isDirectory: false, mode: 0o644, data: Data("setpoint=21\n".utf8)),
        ])
        let editor = LayoutEditor(fixture.path("image"))
        #expect(try Data(contentsOf: editor.blobPath(try editor.layerDigest())) == expected)
        let layerPath = "blobs/sha256/" + (try editor.layerDigest()).dropFirst("sha256:".count)
        let archived = try Tar.read(Data(contentsOf: URL(fileURLWithPath: fixture.path("image.tar"))), source: "image.tar")
        #expect(archived.first { $0.path == layerPath }?.data == expected)
        #expect(!(try FileManager.default.subpathsOfDirectory(atPath: fixture.root.path)).contains { $0.hasSuffix(".partial") })
    }

    @Test("a module file changed between pack and write is refused, and no partial file is left", arguments: ["same size", "shorter"])
    func changedWhilePacking(_ change: String) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let directory = try fixture.moduleDirectory()
        let layout = try ImagePacker(signingKey: fixture.key).pack(moduleDirectory: directory)
        let library = URL(fileURLWithPath: directory + "/lib/libthermostat.so")
        try Data((change == "same size" ? "\u{7f}ELF evil library" : "short").utf8).write(to: library)
        for output in ["image", "image.tar"] {
            let error = ModuleError.caught { try ImagePacker.write(layout, to: fixture.path(output)) }
            #expect(error?.code == .invalidModuleDirectory, "\(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.path("image.tar")))
        #expect(!(try FileManager.default.subpathsOfDirectory(atPath: fixture.root.path)).contains { $0.hasSuffix(".partial") })
    }
}
