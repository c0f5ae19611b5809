#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import ModuleProtocol
import PluginHostImages
#if canImport(Glibc)
import Glibc
#endif

/// The user a module's code runs as in the sandbox, which owns its data directory: the runner's
/// `SandboxSpec.User`. The group has the number of the user.
public typealias ModuleUser = SandboxSpec.User

/// The users of modules: each module id gets a uid (and the gid of the same number) of its own
/// from `range`, like systemd's DynamicUser, except that the allocation is kept in
/// `<state>/users.json` and so is the same across restarts, reinstalls and upgrades of the id.
///
/// The default range, 60800–61183, is a block that systemd's table of ranges lists as unused
/// (60578–61183, between the users of systemd-nspawn's mapped host users and DynamicUser's
/// 61184–65519), above the 1000–59999 that Debian's adduser gives to accounts. It lies in Debian's
/// 60000–64999 block of ids that the project allocates centrally and creates on demand, so a uid
/// is also checked against `/etc/passwd` and its gid against `/etc/group` before it is handed out.
///
/// An id keeps its uid when the module is removed with its data kept (the data still belongs to
/// it); `remove --purge-data` frees the uid for another module. The file is written, durably and
/// atomically, only when an allocation is added or freed: by an install, the migration of an
/// install made before modules had users (`UpdateEngine`), or a removal with the data.
/// Callers hold the state directory's lock.
package struct ModuleUsers {
    /// The uids modules get unless a test gives another range.
    package static let defaultRange: ClosedRange<UInt32> = 60800...61183

    let path: String
    let range: ClosedRange<UInt32>
    /// Files of accounts whose ids are never handed out (the third field of each line).
    let accountFiles: [String]

    package init(stateDirectory: String, range: ClosedRange<UInt32> = Self.defaultRange, accountFiles: [String] = ["/etc/passwd", "/etc/group"]) {
        path = Self.path(stateDirectory: stateDirectory)
        self.range = range
        self.accountFiles = accountFiles
    }

    static func path(stateDirectory: String) -> String { stateDirectory + "/users.json" }

    /// What `users.json` holds.
    struct Table: Codable, Equatable {
        /// Module id → uid (the gid is the same number).
        var modules: [String: UInt32] = [:]
    }

    /// The recorded uid of each module id; empty when nothing was recorded yet.
    /// - Throws: `ModuleError` `.io` when the file is there but damaged.
    func table() throws(ModuleError) -> Table {
        guard let data = FileManager.default.contents(atPath: path) else { return Table() }
        guard let table = try? JSONDecoder().decode(Table.self, from: data) else {
            throw ModuleError(.io, "'\(path)' is damaged: restore it from a backup, or remove it and reinstall the modules (each gets a user again and its data directory is given to that user)", field: path)
        }
        return table
    }

    /// The user recorded for `id`, without allocating one.
    package static func recorded(_ id: String, stateDirectory: String) -> ModuleUser? {
        guard let uid = try? ModuleUsers(stateDirectory: stateDirectory).table().modules[id] else { return nil }
        return ModuleUser(uid: uid, gid: uid)
    }

    /// The user `manifest`'s module runs as: root when the manifest asks for it and
    /// `allowingRoot`, else the uid recorded for its id, else the lowest free uid of the range,
    /// which is recorded.
    /// - Throws: `ModuleError` `.rootNotAllowed` when the manifest asks for root and the install
    ///   does not allow it; `.noModuleUser` when every uid of the range is taken (by modules or
    ///   by accounts); `.io`.
    package func assign(_ manifest: ModuleManifest, allowingRoot: Bool) throws(ModuleError) -> ModuleUser {
        if manifest.capabilities.root {
            guard allowingRoot else {
                throw ModuleError(.rootNotAllowed, "\(manifest.id) asks to run as root (capabilities.root): it gets no capability even then, but it can leave root-owned files in its data directory. Install it with --allow-root-module (follow its channel with --allow-root-module) if you trust it that far, or ask its publisher for an image without capabilities.root",
                                  field: "capabilities.root")
            }
            return .root
        }
        var table = try table()
        if let uid = table.modules[manifest.id] { return ModuleUser(uid: uid, gid: uid) }
        let taken = Set(table.modules.values).union(accountIDs())
        guard let uid = range.first(where: { !taken.contains($0) }) else {
            throw ModuleError(.noModuleUser, "no user is left for \(manifest.id): all \(range.count) uids of \(range.lowerBound)–\(range.upperBound) belong to modules (\(table.modules.count), listed in \(path)) or to accounts in \(accountFiles.joined(separator: " and ")). Remove a module with `plugin-host remove --purge-data` to free its uid",
                              field: manifest.id)
        }
        table.modules[manifest.id] = uid
        try StateFiles.writeAtomically(try OCI.encode(table), to: path)
        return ModuleUser(uid: uid, gid: uid)
    }

    /// Frees the uid of `id` (its data directory is gone).
    package func free(_ id: String) throws(ModuleError) {
        var table = try table()
        guard table.modules.removeValue(forKey: id) != nil else { return }
        try StateFiles.writeAtomically(try OCI.encode(table), to: path)
    }

    /// The ids of the accounts and groups in `accountFiles` (`name:x:id:…` lines).
    func accountIDs() -> Set<UInt32> {
        var ids = Set<UInt32>()
        for file in accountFiles {
            guard let text = try? Files.read(file) else { continue }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false)
                if fields.count > 2, let id = UInt32(fields[2]) { ids.insert(id) }
            }
        }
        return ids
    }

    /// Gives a data directory to its module's user, mode 0700: everything in it that belongs to
    /// another owner (the data of an install made before modules had users, files an unsandboxed
    /// hook wrote as root, a restored snapshot) changes owner. Nothing is written when all of it
    /// already belongs to the user. A host that is not root cannot change owners and leaves the
    /// directory as it is (its modules run as its own user).
    /// - Returns: how many entries changed owner.
    /// - Throws: `ModuleError` `.io`.
    @discardableResult
    package static func own(_ dataDirectory: String, by user: ModuleUser) throws(ModuleError) -> Int {
        guard geteuid() == 0 else { return 0 }
        return try StateFiles.io { () throws(FileFailure) in try DurableFiles.changeOwner(ofTree: dataDirectory, uid: user.uid, gid: user.gid, mode: 0o700) }
    }
}
