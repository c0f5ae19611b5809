import Foundation
import Testing
import PluginHost
@testable import PluginHostImages

/// Every kind of bad image `plugin-host install` must refuse, each with its own error, leaving the
/// installed version, its files and the state directory exactly as they were.
@Suite("Bad image corpus")
struct BadImageCorpusTests {
    /// A signed image of the test module at 2.0.0 whose only layer is `layer`.
    static func imageWithLayer(_ f: UpdateFixture, _ name: String, mediaType: String = OCI.layerTar, layer: Data,
                               key: ModuleSigningKey? = nil) throws -> String {
        let manifest = UpdateFixture.manifest("2.0.0")
        let layout = try ImagePacker(signingKey: key ?? f.base.key).assemble(config: try manifest.canonicalJSON(), layers: [(mediaType, layer)], manifest: manifest)
        let path = f.base.path("bad-\(name)")
        try ImagePacker.write(layout, to: path)
        return path
    }

    /// A layer with the module's library and then `hostile` entries.
    static func layer(_ hostile: (inout RawTar) -> Void) -> Data {
        var tar = RawTar()
        tar.directory("lib")
        tar.file("lib/libtestmodule.so", "not really a library", mode: 0o755)
        hostile(&tar)
        tar.end()
        return tar.data
    }

    /// Everything under the state directory except the lock file and the journal and record of
    /// refused attempts, with file sizes: what "nothing left behind" compares.
    static func tree(_ root: String) -> [String: Int] {
        var result: [String: Int] = [:]
        let fm = FileManager.default
        guard let enumerator = fm.enumerator(atPath: root) else { return [:] }
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if [".lock", "journal", "state.json"].contains(name) || relative.hasPrefix("modules/\(UpdateFixture.id)/logs") { continue }
            let attributes = try? fm.attributesOfItem(atPath: root + "/" + relative)
            result[relative] = (attributes?[.size] as? NSNumber)?.intValue ?? -1
        }
        return result
    }

    @Test("each bad image is refused with its own clear error and nothing is left behind")
    func corpus() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0"))
        let outside = f.base.path("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)

        var cases: [(name: String, code: ModuleError.Code, image: () throws -> String)] = []
        cases.append(("digest mismatch", .digestMismatch, {
            let path = try f.image("2.0.0", name: "digest")
            let editor = LayoutEditor(path)
            let blob = editor.blobPath(try editor.layerDigest())
            var data = try Data(contentsOf: blob)
            data[600] ^= 0xFF
            try data.write(to: blob)
            return path
        }))
        cases.append(("truncated blob", .sizeMismatch, {
            let path = try f.image("2.0.0", name: "truncated")
            let editor = LayoutEditor(path)
            let blob = editor.blobPath(try editor.layerDigest())
            try Data(try Data(contentsOf: blob).prefix(1000)).write(to: blob)
            return path
        }))
        cases.append(("unsigned", .unsigned, {
            let path = try f.image("2.0.0", name: "unsigned")
            try LayoutEditor(path).rewriteManifest { $0["annotations"] = ["org.opencontainers.image.title": UpdateFixture.id] }
            return path
        }))
        cases.append(("untrusted key", .untrustedKey, {
            try Self.imageWithLayer(f, "stranger", layer: Self.layer { _ in }, key: ModuleSigningKey())
        }))
        cases.append(("tampered manifest", .badSignature, {
            let path = try f.image("2.0.0", name: "tampered")
            var manifest = UpdateFixture.manifest("2.0.0")
            manifest.capabilities.network = true
            try LayoutEditor(path).replaceConfig(try manifest.canonicalJSON())
            return path
        }))
        cases.append(("downgrade", .downgrade, { try f.image("0.9.0") }))
        cases.append(("path traversal", .pathTraversal, {
            try Self.imageWithLayer(f, "traversal", layer: Self.layer { $0.file("lib/../../../outside/evil", "x") })
        }))
        cases.append(("absolute path", .absolutePath, {
            try Self.imageWithLayer(f, "absolute", layer: Self.layer { $0.file(outside + "/evil", "x") })
        }))
        cases.append(("symlink escape", .symlinkEscape, {
            try Self.imageWithLayer(f, "symlink", layer: Self.layer { tar in
                tar.symlink("escape", to: outside)
                tar.file("escape/evil", "x")
            })
        }))
        cases.append(("hardlink escape", .hardlinkEscape, {
            try Self.imageWithLayer(f, "hardlink", layer: Self.layer { $0.hardlink("passwd", to: "../../../../etc/passwd") })
        }))
        cases.append(("device node", .specialFile, {
            try Self.imageWithLayer(f, "device", layer: Self.layer { $0.header("dev/sda", type: "4", mode: 0o660) })
        }))
        cases.append(("setuid", .setuidBit, {
            try Self.imageWithLayer(f, "setuid", layer: Self.layer { $0.file("bin/su", "x", mode: 0o4755) })
        }))
        cases.append(("too large", .tooLarge, {
            // The header claims 300 MiB (over the 256 MiB per-file limit); refused before any data is read.
            try Self.imageWithLayer(f, "large", layer: Self.layer { $0.header("big.bin", size: 300 << 20) })
        }))
        cases.append(("decompression bomb", .decompressionBomb, {
            try Self.imageWithLayer(f, "bomb", mediaType: OCI.layerTarGzip, layer: LayerExtractionTests.zeroBomb(.gzip))
        }))
        cases.append(("malformed JSON", .malformedJSON, { try f.base.imageWithConfig("{\"id\": \"com.example.x\",", name: "malformed") }))
        cases.append(("unknown ABI", .unknownABI, {
            var json = String(decoding: try UpdateFixture.manifest("2.0.0").canonicalJSON(), as: UTF8.self)
            json = json.replacingOccurrences(of: "\"abi\":1", with: "\"abi\":7")
            return try f.base.imageWithConfig(json, name: "abi")
        }))

        // The same refusals through zstd, and what only zstd has: each with the code its gzip
        // counterpart has (so they do not count as kinds of their own).
        let zstdLayer = LayerWriter.zstd(Self.layer { $0.file("share/data", String(repeating: "data ", count: 1000)) })
        var zstdCases: [(name: String, code: ModuleError.Code, image: () throws -> String)] = []
        zstdCases.append(("zstd bomb", .decompressionBomb, {
            try Self.imageWithLayer(f, "zstd-bomb", mediaType: OCI.layerTarZstd, layer: LayerExtractionTests.zeroBomb(.zstd))
        }))
        zstdCases.append(("truncated zstd", .malformedLayer, {
            try Self.imageWithLayer(f, "zstd-truncated", mediaType: OCI.layerTarZstd, layer: zstdLayer.prefix(zstdLayer.count - 20))
        }))
        zstdCases.append(("corrupt zstd", .malformedLayer, {
            var corrupt = zstdLayer
            corrupt[corrupt.count - 2] ^= 0x55 // the content checksum
            return try Self.imageWithLayer(f, "zstd-corrupt", mediaType: OCI.layerTarZstd, layer: corrupt)
        }))
        zstdCases.append(("zstd window over the limit", .tooLarge, {
            let layer = LayerExtractionTests.zstdFrame(windowLog: 28, content: Self.layer { _ in })
            return try Self.imageWithLayer(f, "zstd-window", mediaType: OCI.layerTarZstd, layer: layer)
        }))
        zstdCases.append(("zstd traversal", .pathTraversal, {
            try Self.imageWithLayer(f, "zstd-traversal", mediaType: OCI.layerTarZstd,
                                    layer: LayerWriter.zstd(Self.layer { $0.file("lib/../../../outside/evil", "x") }))
        }))

        let before = Self.tree(f.state)
        #expect(before.keys.contains { $0.hasSuffix("lib/libtestmodule.so") })
        var seen: Set<ModuleError.Code> = []
        for (name, code, make) in cases + zstdCases {
            let image = try make()
            let error = ModuleError.caught { try f.engine().install(imageAt: image) }
            #expect(error?.code == code, "\(name): \(error.map { "\($0)" } ?? "installed")")
            #expect((error?.message.count ?? 0) > 20, "\(name): no clear message")
            #expect(Self.tree(f.state) == before, "\(name): the state directory changed")
            #expect(!FileManager.default.fileExists(atPath: outside + "/evil"), "\(name): wrote outside the module")
            #expect(f.activeVersion == "1.0.0", "\(name)")
            if !zstdCases.contains(where: { $0.name == name }) { seen.insert(code) }
        }
        #expect(seen.count == cases.count, "each case has its own error code")
        try f.expectConsistent()
    }
}
