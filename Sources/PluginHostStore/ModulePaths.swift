#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages

/// The on-disk layout of installed modules under the host state directory:
///
///     <state>/modules/<id>/
///         versions/<version>@<transaction>/files/     the unpacked layer (the module directory)
///         versions/<version>@<transaction>/manifest.json, image.json
///         current  -> versions/<dir>                  the active version (a symbolic link)
///         previous -> versions/<dir>                  the version `rollback` returns to
///         data/                                       the module's data, shared by its versions;
///                                                     0700, owned by the module's user
///         snapshots/<transaction>/                    data before an update's install hook
///         logs/<transaction>/NN-<step>.log            hook and module output, kept
///         journal                                     transitions, fsync'd (Journal)
///         state.json                                  the last transaction's outcome
///         disabled                                    present: not run (fleet `enabled: false`)
package struct ModulePaths {
    let stateDirectory: String
    let id: String
    package let root: String

    package init(stateDirectory: String, id: String) {
        self.stateDirectory = stateDirectory
        self.id = id
        root = stateDirectory + "/modules/" + id
    }

    var versions: String { root + "/versions" }
    package var current: String { root + "/current" }
    package var previous: String { root + "/previous" }
    var data: String { root + "/data" }
    var snapshots: String { root + "/snapshots" }
    var logs: String { root + "/logs" }
    var journal: Journal { Journal(path: root + "/journal") }
    var stateFile: String { root + "/state.json" }
    /// Present: the host runs no version of the module (the fleet's `enabled: false`).
    package var disabledMarker: String { root + "/disabled" }

    func version(_ directory: String) -> String { versions + "/" + directory }
    func files(_ directory: String) -> String { version(directory) + "/files" }
    func snapshot(_ transaction: String) -> String { snapshots + "/" + transaction }
    func log(_ transaction: String) -> String { logs + "/" + transaction }
    func staging(_ transaction: String) -> String { versions + "/.staging-" + transaction }

    /// The version directory a link (`current`, `previous`) points at, or nil.
    package func target(of link: String) -> String? {
        guard let target = Files.linkTarget(link), target.hasPrefix("versions/") else { return nil }
        return String(target.dropFirst("versions/".count))
    }

    func linkValue(_ directory: String) -> String { "versions/" + directory }
}

/// What is recorded beside each installed version's files.
public struct InstalledImage: Codable, Sendable, Equatable {
    public var version: SemanticVersion
    public var imageManifestDigest: String
    public var manifestDigest: String
    public var keyID: String
    /// Seconds since 1970.
    public var installedAt: Double
}

/// One installed version of a module.
public struct InstalledVersion: Sendable, Equatable {
    /// The version's directory name under `versions/`.
    public var directory: String
    public var manifest: ModuleManifest
    public var image: InstalledImage
    public var context: ModuleContext
}

/// The outcome of a module's last update, rollback or removal, as `status` shows it.
public struct TransactionRecord: Codable, Sendable, Equatable {
    public enum Result: String, Codable, Sendable {
        case committed, rolledBack = "rolled-back", rollbackDone = "rollback-done", recovered
    }
    public var transaction: String
    public var kind: JournalEntry.Kind
    public var from: String?
    public var to: String?
    public var result: Result
    /// Why it was rolled back (nil when it committed).
    public var reason: String?
    /// The directory holding the hooks' and the module's output for this transaction.
    public var logDirectory: String
    /// Seconds since 1970, for people: on a device without a real-time clock this may be 1970 or
    /// a stale saved time.
    public var finishedAt: Double
    /// When it finished on the boot clock, which the host measures "how long ago" with (nil in
    /// records written before it was kept).
    public var finishedIn: BootInstant?
}

/// A module as `list` and `status` report it.
public struct ModuleStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// A committed version is active.
        case active
        /// A transaction is open (in progress, or interrupted and waiting for recovery).
        case updating
        /// No version is active (removed; its data may be kept).
        case notInstalled = "not-installed"
    }
    public var id: String
    public var state: State
    public var version: SemanticVersion?
    public var versionDirectory: String?
    public var previousVersion: SemanticVersion?
    public var imageManifestDigest: String?
    public var keyID: String?
    public var dataDirectory: String
    /// The user the active version runs as in the sandbox (`ModuleUsers`); nil when none is
    /// recorded (the host has not seen the module since it began to give modules users).
    public var user: ModuleUser?
    public var lastTransaction: TransactionRecord?
    /// True when the host runs no version of it (the fleet's `enabled: false`); nil otherwise.
    public var disabled: Bool?
}

extension ModulePaths {
    package func installed(_ directory: String) throws(ModuleError) -> InstalledVersion {
        let dir = version(directory)
        guard let manifestData = FileManager.default.contents(atPath: dir + "/manifest.json"),
              let imageData = FileManager.default.contents(atPath: dir + "/image.json") else {
            throw ModuleError(.io, "installed version '\(dir)' lacks manifest.json or image.json: the state directory was changed by hand; reinstall the module", field: dir)
        }
        let manifest = try ModuleManifest.decode(manifestData)
        guard let image = try? JSONDecoder().decode(InstalledImage.self, from: imageData) else {
            throw ModuleError(.io, "'\(dir)/image.json' is damaged: reinstall the module", field: dir + "/image.json")
        }
        return InstalledVersion(directory: directory, manifest: manifest, image: image,
                                context: ModuleContext(manifest: manifest, moduleDirectory: files(directory), dataDirectory: data, user: user(of: manifest)))
    }

    /// The user the module runs as: root if its manifest asks for it (an install allowed it),
    /// else the uid recorded for its id, if any.
    func user(of manifest: ModuleManifest) -> ModuleUser? {
        manifest.capabilities.root ? .root : ModuleUsers.recorded(id, stateDirectory: stateDirectory)
    }

    package func lastRecord() -> TransactionRecord? {
        FileManager.default.contents(atPath: stateFile).flatMap { try? JSONDecoder().decode(TransactionRecord.self, from: $0) }
    }

    func status(id: String) throws(ModuleError) -> ModuleStatus {
        let currentDirectory = target(of: current)
        let active = try currentDirectory.map { (d: String) throws(ModuleError) in try installed(d) }
        let previousVersion = target(of: previous).flatMap { try? installed($0).manifest.version }
        let open = try journal.openTransaction() != nil
        return ModuleStatus(id: id, state: open ? .updating : (active == nil ? .notInstalled : .active),
                            version: active?.manifest.version, versionDirectory: currentDirectory,
                            previousVersion: previousVersion, imageManifestDigest: active?.image.imageManifestDigest,
                            keyID: active?.image.keyID, dataDirectory: data, user: active?.context.user, lastTransaction: lastRecord(),
                            disabled: Files.exists(disabledMarker) ? true : nil)
    }
}
