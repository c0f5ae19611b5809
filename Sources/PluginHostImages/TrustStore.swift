#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport

/// The public keys this host trusts, one file per key: `<state-dir>/trust/<keyid>.pub`, holding
/// the key and, for a scoped key, the modules it may sign and its expiry (`TrustedKey`).
public struct TrustStore: Sendable {
    public let directory: URL

    /// - Parameter stateDirectory: the host state directory (default `/var/lib/plugin-host`).
    public init(stateDirectory: String) {
        directory = URL(fileURLWithPath: stateDirectory).appendingPathComponent("trust")
    }

    /// The trusted key with this id and its scope, or nil.
    /// - Throws: `ModuleError` `.invalidKey` if the file exists but is not a trust file (or is another key's).
    public func entry(id: String) throws(ModuleError) -> TrustedKey? {
        guard id.utf8.count == 16, id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        let url = directory.appendingPathComponent(id + ".pub")
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let entry = try TrustedKey(fileContent: String(decoding: data, as: UTF8.self), file: url.path)
        guard entry.keyID == id else {
            throw ModuleError(.invalidKey, "trusted key file \(url.path) holds key \(entry.keyID), not \(id): remove it and add the key again with `plugin-host trust add`", field: url.path)
        }
        return entry
    }

    /// Trusts a key, for the modules `modules` matches (nil: any module) until the end of
    /// `expires` (nil: no end). A key already trusted gets this scope and expiry instead of its
    /// old ones. Returns the key's id.
    /// - Throws: `ModuleError` `.io` if the trust directory cannot be written.
    @discardableResult
    public func add(_ key: ModulePublicKey, modules: [ModulePattern]? = nil, expires: KeyExpiry? = nil) throws(ModuleError) -> String {
        let url = directory.appendingPathComponent(key.keyID + ".pub")
        let entry = TrustedKey(key, modules: modules, expires: expires)
        do {
            // The state directory itself is root's alone (0700), as the update engine makes it.
            try DurableFiles.makeOwnerOnlyDirectory(directory.deletingLastPathComponent().path)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(entry.fileContent.utf8).write(to: url, options: .atomic)
        } catch {
            throw ModuleError(.io, "cannot write \(url.path): run as a user that may write the state directory, or pass --state-dir", field: url.path, underlying: "\(error)")
        }
        return key.keyID
    }

    /// All trusted keys with their scopes, sorted by id. Files that are not valid trust files
    /// are reported as errors.
    public func list() throws(ModuleError) -> [TrustedKey] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw ModuleError(.io, "cannot list \(directory.path)", field: directory.path, underlying: "\(error)")
        }
        var keys: [TrustedKey] = []
        for name in names.sorted() where name.hasSuffix(".pub") {
            guard let key = try entry(id: String(name.dropLast(4))) else {
                throw ModuleError(.invalidKey, "\(directory.path)/\(name) is not named <keyid>.pub: remove it", field: name)
            }
            keys.append(key)
        }
        return keys
    }

    /// Removes a key; returns false if it was not trusted.
    public func remove(id: String) throws(ModuleError) -> Bool {
        guard try entry(id: id) != nil else { return false }
        let url = directory.appendingPathComponent(id + ".pub")
        do { try FileManager.default.removeItem(at: url) } catch {
            throw ModuleError(.io, "cannot remove \(url.path)", field: url.path, underlying: "\(error)")
        }
        return true
    }
}
