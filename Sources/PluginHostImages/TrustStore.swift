#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport

/// The public keys this host trusts, one file per key: `<state-dir>/trust/<keyid>.pub`.
public struct TrustStore: Sendable {
    public let directory: URL

    /// - Parameter stateDirectory: the host state directory (default `/var/lib/plugin-host`).
    public init(stateDirectory: String) {
        directory = URL(fileURLWithPath: stateDirectory).appendingPathComponent("trust")
    }

    /// The trusted key with this id, or nil.
    /// - Throws: `ModuleError` `.invalidKey` if the file exists but is not a key (or is another key's).
    public func key(id: String) throws(ModuleError) -> ModulePublicKey? {
        guard id.utf8.count == 16, id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        let url = directory.appendingPathComponent(id + ".pub")
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let key = try ModulePublicKey(fileContent: String(decoding: data, as: UTF8.self))
        guard key.keyID == id else {
            throw ModuleError(.invalidKey, "trusted key file \(url.path) holds key \(key.keyID), not \(id): remove it and add the key again with `plugin-host trust add`", field: url.path)
        }
        return key
    }

    /// Adds a key (idempotent); returns its id.
    /// - Throws: `ModuleError` `.io` if the trust directory cannot be written.
    @discardableResult
    public func add(_ key: ModulePublicKey) throws(ModuleError) -> String {
        let url = directory.appendingPathComponent(key.keyID + ".pub")
        do {
            // The state directory itself is root's alone (0700), as the update engine makes it.
            try DurableFiles.makeOwnerOnlyDirectory(directory.deletingLastPathComponent().path)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(key.fileContent.utf8).write(to: url, options: .atomic)
        } catch {
            throw ModuleError(.io, "cannot write \(url.path): run as a user that may write the state directory, or pass --state-dir", field: url.path, underlying: "\(error)")
        }
        return key.keyID
    }

    /// All trusted keys, sorted by id. Files that are not valid keys are reported as errors.
    public func list() throws(ModuleError) -> [ModulePublicKey] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw ModuleError(.io, "cannot list \(directory.path)", field: directory.path, underlying: "\(error)")
        }
        var keys: [ModulePublicKey] = []
        for name in names.sorted() where name.hasSuffix(".pub") {
            guard let key = try key(id: String(name.dropLast(4))) else {
                throw ModuleError(.invalidKey, "\(directory.path)/\(name) is not named <keyid>.pub: remove it", field: name)
            }
            keys.append(key)
        }
        return keys
    }

    /// Removes a key; returns false if it was not trusted.
    public func remove(id: String) throws(ModuleError) -> Bool {
        guard try key(id: id) != nil else { return false }
        let url = directory.appendingPathComponent(id + ".pub")
        do { try FileManager.default.removeItem(at: url) } catch {
            throw ModuleError(.io, "cannot remove \(url.path)", field: url.path, underlying: "\(error)")
        }
        return true
    }
}
