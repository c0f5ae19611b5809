import Foundation
import Testing
import PluginHost
@testable import PluginHostImages

@Suite("Pack and verify module images")
struct ImageVerificationTests {
    @Test("pack → verify round trip, as a directory and as a tar", arguments: ["image", "image.tar"])
    func roundTrip(_ name: String) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let path = try fixture.packedImage(name)
        let verified = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(path))
        #expect(verified.manifest == (try Fixture.manifest))
        #expect(verified.keyID == fixture.key.publicKey.keyID)
        #expect(verified.layers.count == 1)
        let layer = try Tar.read(try verified.layerData(verified.layers[0]), source: "layer")
        #expect(layer.map(\.path) == ["lib", "lib/libthermostat.so", "share", "share/thermostat", "share/thermostat/defaults.conf"])
        #expect(layer.first { $0.path == "lib/libthermostat.so" }?.data == Data("\u{7f}ELF fake library".utf8))
        #expect(!layer.contains { $0.path == "module.json" })
    }

    @Test("packing the same directory twice gives the same digests")
    func reproducible() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let dir = try fixture.moduleDirectory()
        let packer = ImagePacker(signingKey: fixture.key)
        #expect(try packer.pack(moduleDirectory: dir).imageManifestDigest == packer.pack(moduleDirectory: dir).imageManifestDigest)
    }

    @Test("the key id is the first 8 bytes of SHA-256 of the public key, in hex")
    func keyID() throws {
        let key = ModuleSigningKey().publicKey
        #expect(key.keyID.count == 16)
        #expect(key.keyID == String(Digest(of: key.rawRepresentation).hex.prefix(16)))
    }

    // MARK: - The corpus of bad images

    func refusal(_ prepare: (Fixture, String) throws -> Void, trust: Bool = true, name: String = "image") throws -> ModuleError? {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let path = try fixture.packedImage(name)
        try prepare(fixture, path)
        let store = trust ? try fixture.trustingStore() : TrustStore(stateDirectory: fixture.path("empty-state"))
        return ModuleError.caught { _ = try ImageVerifier(trust: store).verify(ImageSource.open(path)) }
    }

    @Test("digest mismatch: one byte of the layer changed")
    func digestMismatch() throws {
        let error = try refusal { _, path in
            let editor = LayoutEditor(path)
            let url = editor.blobPath(try editor.layerDigest())
            var data = try Data(contentsOf: url)
            data[600] ^= 0xff
            try data.write(to: url)
        }
        #expect(error?.code == .digestMismatch)
        #expect(error?.field?.hasPrefix("blobs/sha256/") == true)
    }

    @Test("truncated blob")
    func truncated() throws {
        let error = try refusal { _, path in
            let editor = LayoutEditor(path)
            let url = editor.blobPath(try editor.layerDigest())
            try Data(try Data(contentsOf: url).prefix(1000)).write(to: url)
        }
        #expect(error?.code == .sizeMismatch)
        #expect(error?.message.contains("truncated") == true)
    }

    @Test("missing blob")
    func missingBlob() throws {
        let error = try refusal { _, path in
            let editor = LayoutEditor(path)
            try FileManager.default.removeItem(at: editor.blobPath(try editor.configDigest()))
        }
        #expect(error?.code == .missingBlob)
    }

    @Test("unsigned image")
    func unsigned() throws {
        let error = try refusal { _, path in
            try LayoutEditor(path).rewriteManifest { $0["annotations"] = nil }
        }
        #expect(error?.code == .unsigned)
    }

    @Test("signed by a key the host does not trust")
    func untrusted() throws {
        let error = try refusal({ _, _ in }, trust: false)
        #expect(error?.code == .untrustedKey)
        #expect(error?.message.contains("trust add") == true)
    }

    @Test("tampered module manifest: digests fixed up, signature no longer matches")
    func tampered() throws {
        let error = try refusal { _, path in
            var manifest = try Fixture.manifest
            manifest.capabilities.network = true
            try LayoutEditor(path).replaceConfig(try manifest.canonicalJSON())
        }
        #expect(error?.code == .badSignature)
    }

    @Test("swapped layer: digests fixed up, signature no longer matches")
    func swappedLayer() throws {
        let error = try refusal { _, path in
            let editor = LayoutEditor(path)
            let (digest, size) = try editor.addBlob(try Tar.archive([Tar.Entry(path: "lib/libthermostat.so", isDirectory: false, mode: 0o755, data: Data("evil".utf8))]))
            try editor.rewriteManifest { manifest in
                manifest["layers"] = [["mediaType": OCI.layerTar, "digest": digest, "size": size]]
            }
        }
        #expect(error?.code == .badSignature)
    }

    @Test("a signature by a trusted key over the wrong payload")
    func forgedAnnotation() throws {
        let error = try refusal { fixture, path in
            let other = ModuleSigningKey(privateKey: try fixture.key.privateKey)
            let signature = try other.sign(Data("something else".utf8)).base64EncodedString()
            try LayoutEditor(path).rewriteManifest { manifest in
                var annotations = manifest["annotations"] as? [String: String] ?? [:]
                annotations[SignaturePayload.signatureAnnotation] = signature
                manifest["annotations"] = annotations
            }
        }
        #expect(error?.code == .badSignature)
    }

    @Test("not an image layout; a config of another media type")
    func structure() throws {
        let noLayout = try refusal { _, path in try FileManager.default.removeItem(atPath: path + "/oci-layout") }
        #expect(noLayout?.code == .malformedLayout)
        let badIndex = try refusal { _, path in try Data("{\"schemaVersion\": 2,".utf8).write(to: URL(fileURLWithPath: path + "/index.json")) }
        #expect(badIndex?.code == .malformedLayout)
        #expect(badIndex?.field == "index.json")
        let otherType = try refusal { _, path in
            try LayoutEditor(path).rewriteManifest { manifest in
                var config = manifest["config"] as? [String: Any] ?? [:]
                config["mediaType"] = "application/vnd.oci.image.config.v1+json"
                manifest["config"] = config
            }
        }
        #expect(otherType?.code == .unsupportedMediaType)
    }

    @Test("a truncated image tar")
    func truncatedTar() throws {
        let error = try refusal({ _, path in
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try Data(data.prefix(data.count - 2048)).write(to: URL(fileURLWithPath: path))
        }, name: "image.tar")
        #expect(error?.code == .malformedLayout)
    }

    // Signed by the trusted key, so these reach the schema check.
    @Test("signed but schema-invalid manifests", arguments: [
        ("{\"id\": \"com.example.x\", ", ModuleError.Code.malformedJSON, nil as String?),
        (Fixture.manifestJSON.replacingOccurrences(of: "\"abi\": 1", with: "\"abi\": 7"), .unknownABI, "abi"),
        (Fixture.manifestJSON.replacingOccurrences(of: "\"storageQuotaBytes\": 1048576,", with: ""), .missingField, "capabilities.storageQuotaBytes"),
        (Fixture.manifestJSON.replacingOccurrences(of: "\"line\": 17", with: "\"line\": \"17\""), .wrongType, "capabilities.gpio[0].line"),
    ])
    func schema(_ config: String, _ code: ModuleError.Code, _ field: String?) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let path = try fixture.imageWithConfig(config)
        let error = ModuleError.caught { _ = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(path)) }
        #expect(error?.code == code)
        #expect(error?.field == field)
    }

    @Test("every refusal has its own code and exit code group")
    func exitCodes() {
        #expect(ModuleError(.digestMismatch, "").exitCode == 10)
        #expect(ModuleError(.untrustedKey, "").exitCode == 11)
        #expect(ModuleError(.unknownABI, "").exitCode == 12)
        #expect(ModuleError(.invalidKey, "").exitCode == 13)
        #expect(ModuleError(.io, "").exitCode == 14)
    }

    @Test("pack refuses a module directory without the library or with a symlink")
    func packRefusals() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let dir = try fixture.moduleDirectory()
        try FileManager.default.createSymbolicLink(atPath: dir + "/lib/link.so", withDestinationPath: "/etc/passwd")
        let symlink = ModuleError.caught { _ = try ImagePacker(signingKey: fixture.key).pack(moduleDirectory: dir) }
        #expect(symlink?.code == .invalidModuleDirectory)
        #expect(symlink?.field == "lib/link.so")
        try FileManager.default.removeItem(atPath: dir + "/lib")
        let noLibrary = ModuleError.caught { _ = try ImagePacker(signingKey: fixture.key).pack(moduleDirectory: dir) }
        #expect(noLibrary?.code == .invalidModuleDirectory)
        #expect(noLibrary?.field == "library.path")
    }
}
