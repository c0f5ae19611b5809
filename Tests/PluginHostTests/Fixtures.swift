import Foundation
import TestSupport
import PluginHost
@testable import PluginHostImages

/// Builds module directories, keys, images and trust stores in a fresh temporary directory.
struct Fixture {
    let directory: TemporaryDirectory
    let key = ModuleSigningKey()

    init() throws {
        directory = try TemporaryDirectory("PluginHostTests")
    }

    var root: URL { directory.url }

    func path(_ name: String) -> String { directory.path(name) }

    /// The example manifest of Documentation/ModuleImage.md.
    static let manifestJSON = """
    {
      "id": "com.example.thermostat",
      "version": "1.2.0",
      "abi": 1,
      "library": { "path": "lib/libthermostat.so", "entryPoints": { "start": "thermostat_start", "stop": "thermostat_stop" } },
      "commands": [
        { "name": "set_target", "symbol": "thermostat_set_target", "parameters": [ { "name": "celsius", "type": "double" } ] }
      ],
      "capabilities": {
        "gpio": [ { "chip": "gpiochip0", "line": 17, "direction": "output" } ],
        "i2c": [ { "bus": 1, "addresses": [118, 119] } ],
        "storageQuotaBytes": 1048576,
        "network": false
      },
      "resources": { "memoryBytes": 33554432, "cpuPercent": 50, "maxProcesses": 16, "maxOpenFiles": 64 },
      "hooks": {
        "install": { "symbol": "thermostat_migrate", "timeoutSeconds": 30 },
        "health": { "symbol": "thermostat_health", "timeoutSeconds": 5 }
      },
      "health": { "readyTimeoutSeconds": 10, "heartbeatIntervalSeconds": 5, "stabilityWindowSeconds": 60, "maxRestarts": 3, "restartWindowSeconds": 300 }
    }
    """

    static var manifest: ModuleManifest {
        get throws { try ModuleManifest.decode(Data(manifestJSON.utf8)) }
    }

    /// A module directory with module.json, the library and a data file.
    func moduleDirectory(manifest: String = Fixture.manifestJSON) throws -> String {
        let dir = root.appendingPathComponent("module")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("lib"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("share/thermostat"), withIntermediateDirectories: true)
        try Data(manifest.utf8).write(to: dir.appendingPathComponent("module.json"))
        try Data("\u{7f}ELF fake library".utf8).write(to: dir.appendingPathComponent("lib/libthermostat.so"))
        try Data("setpoint=21\n".utf8).write(to: dir.appendingPathComponent("share/thermostat/defaults.conf"))
        return dir.path
    }

    /// A trust store that trusts `key`.
    func trustingStore() throws -> TrustStore {
        let store = TrustStore(stateDirectory: path("state"))
        try store.add(key.publicKey)
        return store
    }

    /// Packs the example module into `name` (a directory, or a tar if it ends in .tar).
    @discardableResult
    func packedImage(_ name: String = "image", compression: LayerCompression = .none) throws -> String {
        let layout = try ImagePacker(signingKey: key).pack(moduleDirectory: try moduleDirectory(), compression: compression)
        try ImagePacker.write(layout, to: path(name))
        return path(name)
    }

    /// An image signed by `key` whose config blob is exactly `config` (not validated).
    func imageWithConfig(_ config: String, name: String = "raw") throws -> String {
        let layer = try Tar.archive([Tar.Entry(path: "lib/libthermostat.so", isDirectory: false, mode: 0o755, data: Data("x".utf8))])
        let layout = try ImagePacker(signingKey: key).assemble(config: Data(config.utf8), layers: [(OCI.layerTar, layer)], manifest: Fixture.manifest)
        try ImagePacker.write(layout, to: path(name))
        return path(name)
    }

    func cleanUp() { directory.cleanUp() }
}

/// Reads and rewrites an image layout directory the way an attacker or a broken copy would.
struct LayoutEditor {
    let dir: URL

    init(_ path: String) { dir = URL(fileURLWithPath: path) }

    func json(_ relative: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(relative))) as? [String: Any] ?? [:]
    }

    var manifestDigest: String {
        get throws { ((try json("index.json")["manifests"] as? [[String: Any]])?.first?["digest"] as? String) ?? "" }
    }

    func blobPath(_ digest: String) -> URL { dir.appendingPathComponent("blobs/sha256/" + digest.dropFirst("sha256:".count)) }

    var imageManifest: [String: Any] {
        get throws { try JSONSerialization.jsonObject(with: Data(contentsOf: blobPath(try manifestDigest))) as? [String: Any] ?? [:] }
    }

    func configDigest() throws -> String { ((try imageManifest["config"] as? [String: Any])?["digest"] as? String) ?? "" }
    func layerDigest() throws -> String { ((try imageManifest["layers"] as? [[String: Any]])?.first?["digest"] as? String) ?? "" }

    /// Writes a new blob and returns its descriptor fields.
    func addBlob(_ data: Data) throws -> (digest: String, size: Int) {
        let digest = Digest(of: data)
        try data.write(to: dir.appendingPathComponent(digest.blobPath))
        return (digest.description, data.count)
    }

    /// Replaces the image manifest with `edit(manifest)` and points index.json at it, so that all
    /// digests are consistent again (only the signature can catch the change).
    func rewriteManifest(_ edit: (inout [String: Any]) throws -> Void) throws {
        var manifest = try imageManifest
        try edit(&manifest)
        let (digest, size) = try addBlob(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]))
        var index = try json("index.json")
        var manifests = index["manifests"] as? [[String: Any]] ?? []
        manifests[0]["digest"] = digest
        manifests[0]["size"] = size
        index["manifests"] = manifests
        try JSONSerialization.data(withJSONObject: index).write(to: dir.appendingPathComponent("index.json"))
    }

    /// Replaces the config blob with `data` and fixes the manifest's descriptor (signature left as is).
    func replaceConfig(_ data: Data) throws {
        let (digest, size) = try addBlob(data)
        try rewriteManifest { manifest in
            var config = manifest["config"] as? [String: Any] ?? [:]
            config["digest"] = digest
            config["size"] = size
            manifest["config"] = config
        }
    }
}

extension ModuleError {
    /// Runs `body` and returns the `ModuleError` it throws, or nil.
    static func caught(_ body: () throws -> Void) -> ModuleError? {
        do { try body(); return nil } catch let error as ModuleError { return error } catch { return nil }
    }
}
