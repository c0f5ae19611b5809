#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
#if canImport(Glibc)
import Glibc
#endif

/// Installs, activates, commits and rolls back module versions under a host state directory,
/// with a journal that makes every step survive a kill -9 or a power cut
/// (Documentation/Updates.md).
///
/// Opening an engine takes the state directory's lock and replays every module's journal:
/// an interrupted update that had committed is finished, any other is rolled back, so that each
/// module has exactly one active version (the old one or the new one) and a closed journal.
public final class UpdateEngine {
    public let stateDirectory: String
    public let trust: TrustStore
    public var limits: ExtractionLimits
    let runner: (any ModuleRunner)?
    /// Where modules' users come from (a test gives a small range).
    package var users: ModuleUsers
    private let lock: StateLock
    /// What start-up recovery did, one line per module it touched.
    public private(set) var recoveryLog: [String] = []

    /// - Parameters:
    ///   - stateDirectory: the host's state (modules, journals, trusted keys); locked while the
    ///     engine lives.
    ///   - runner: runs hooks and starts modules for health checks; nil refuses installs that
    ///     need it (tests of pure file operations pass nil).
    ///   - limits: how large and how many the entries of an image's layers may be.
    ///   - waitingForLock: how long to wait while another process holds the state directory
    ///     (zero: fail at once); woken by the holder letting go, not by polling.
    /// Modules installed before modules had users of their own get one now, and their data
    /// directories are given to it (see `ModuleUsers`).
    /// - Throws: `ModuleError` `.busy` if another process holds the state directory, `.io`.
    public init(stateDirectory: String, runner: (any ModuleRunner)?, limits: ExtractionLimits = .default,
                waitingForLock: Duration = .zero) throws(ModuleError) {
        self.stateDirectory = stateDirectory
        self.trust = TrustStore(stateDirectory: stateDirectory)
        self.runner = runner
        self.limits = limits
        users = ModuleUsers(stateDirectory: stateDirectory)
        lock = try StateLock(stateDirectory: stateDirectory, wait: waitingForLock)
        try StateFiles.makeDirectory(stateDirectory + "/modules")
        try recover()
        try migrateUsers()
    }

    // MARK: - Reading

    /// Every module with a directory under `<state>/modules`, sorted by id. Needs no lock: the
    /// links and files it reads are only ever replaced atomically.
    /// The image manifests of every module's current and previous version: what the content
    /// store must keep.
    public static func installedImages(stateDirectory: String) -> Set<Digest> {
        let root = stateDirectory + "/modules"
        var digests = Set<Digest>()
        for name in Files.list(root) where ModuleManifest.isModuleID(name) {
            let paths = ModulePaths(stateDirectory: stateDirectory, id: name)
            for link in [paths.current, paths.previous] {
                guard let directory = paths.target(of: link), let installed = try? paths.installed(directory),
                      let digest = Digest(installed.image.imageManifestDigest) else { continue }
                digests.insert(digest)
            }
        }
        return digests
    }

    /// Removes from the content store what no installed or previous version needs (and what was
    /// pulled more than `grace` ago without being installed), holding the state lock.
    @discardableResult
    public func collectContent(grace: Duration = .seconds(24 * 3600)) throws(ModuleError) -> ContentStore.Collected {
        try ContentStore(stateDirectory: stateDirectory).collect(keeping: Self.installedImages(stateDirectory: stateDirectory), grace: grace)
    }

    public static func list(stateDirectory: String) throws(ModuleError) -> [ModuleStatus] {
        let root = stateDirectory + "/modules"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        var result: [ModuleStatus] = []
        for name in names.sorted() where ModuleManifest.isModuleID(name) {
            result.append(try ModulePaths(stateDirectory: stateDirectory, id: name).status(id: name))
        }
        return result
    }

    /// One module's status.
    /// - Throws: `ModuleError` `.notInstalled` if the host has never had this module.
    public static func status(id: String, stateDirectory: String) throws(ModuleError) -> ModuleStatus {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: id)
        guard ModuleManifest.isModuleID(id), Files.isDirectory(paths.root, followingLinks: false) else {
            throw ModuleError(.notInstalled, "module '\(id)' is not installed on this host: `plugin-host list` shows what is", field: id)
        }
        return try paths.status(id: id)
    }

    /// The active version of a module, or nil.
    public func activeVersion(of id: String) throws(ModuleError) -> InstalledVersion? {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: id)
        return try paths.target(of: paths.current).map { (d: String) throws(ModuleError) in try paths.installed(d) }
    }

    // MARK: - Install

    /// The outcome of `install` or `rollback`.
    public struct Report: Sendable {
        public var id: String
        public var record: TransactionRecord
        public var active: SemanticVersion?
    }

    /// Verifies an image, checks the version policy, unpacks it, runs its hooks, activates it,
    /// judges its health and commits it; on any failure after unpacking it rolls back to the
    /// version that was active before and throws.
    ///
    /// The module's code runs as its own user (`ModuleUsers`), which gets the data directory;
    /// uid 0 only if the manifest asks for it (`capabilities.root`) and `allowingRoot`.
    /// - Throws: `ModuleError`: verification and extraction errors (nothing changed), `.downgrade`
    ///   or `.sameVersion` (nothing changed), `.rootNotAllowed` or `.noModuleUser` (nothing
    ///   changed), `.hookFailed` / `.unhealthy` / `.runnerFailed` (rolled back; the message names
    ///   the log directory).
    @discardableResult
    public func install(imageAt path: String, reference: String? = nil, allowingRoot: Bool = false) throws(ModuleError) -> Report {
        let image = try ImageVerifier(trust: trust).verify(ImageSource.open(path), reference: reference)
        return try install(image, allowingRoot: allowingRoot)
    }

    /// `install(imageAt:reference:allowingRoot:)` for an image verified already.
    @discardableResult
    public func install(_ image: VerifiedImage, allowingRoot: Bool = false) throws(ModuleError) -> Report {
        let manifest = image.manifest
        let paths = ModulePaths(stateDirectory: stateDirectory, id: manifest.id)
        let old = try activeVersion(of: manifest.id)
        try VersionPolicy.check(new: manifest, installed: old?.manifest)
        guard let runner else {
            throw ModuleError(.runnerFailed, "no module runner is available to run the module's hooks and health check: install plugin-host-runner next to plugin-host or set PLUGIN_HOST_RUNNER")
        }
        let user = try users.assign(manifest, allowingRoot: allowingRoot)
        for directory in [paths.root, paths.versions, paths.data, paths.snapshots, paths.logs] { try StateFiles.makeDirectory(directory) }
        // The new version's hooks run as its user, so the data is its user's before they do.
        try ModuleUsers.own(paths.data, by: user)

        let transaction = Self.newTransactionID()
        let newDirectory = "\(manifest.version)@\(transaction)"
        var update = Transaction(paths: paths, id: transaction, kind: .update, from: old?.directory, to: newDirectory)
        try update.write(.begin)

        // Unpack into a staging directory, then rename it into place: a version directory exists
        // only when it is complete.
        let staging = paths.staging(transaction)
        try StateFiles.removeTree(staging)
        guard mkdir(staging, 0o755) == 0 else { throw StateFiles.ioError("creating", staging) }
        do {
            try LayerExtractor.extract(image, into: staging + "/files", limits: limits)
            if manifest.library.libraryKind == .wasm {
                // Before the version exists: a missing export or a wrong signature refuses the image.
                let path = staging + "/files/" + manifest.library.path
                try manifest.checkWasmModule(try StateFiles.io { () throws(FileFailure) in try Files.readBytes(path) })
            }
            let record = InstalledImage(version: manifest.version, imageManifestDigest: image.imageManifestDigest.description,
                                        manifestDigest: image.manifestDigest.description, keyID: image.keyID,
                                        installedAt: Date().timeIntervalSince1970)
            try StateFiles.writeAtomically(try manifest.canonicalJSON(), to: staging + "/manifest.json")
            try StateFiles.writeAtomically(try OCI.encode(record), to: staging + "/image.json")
            try StateFiles.move(staging, to: paths.version(newDirectory))
        } catch {
            try? StateFiles.removeTree(staging)
            let step = error.code == .wasmModuleRefused ? "the module's check failed" : "unpacking failed"
            try update.close(.rolledBack, reason: "\(step): \(error.message)", result: .rolledBack)
            throw error
        }
        try update.write(.unpacked)

        let new = try paths.installed(newDirectory)
        let steps = UpdateSteps(paths: paths, runner: runner, transaction: transaction, new: new)
        var instance: (any ModuleInstance)?
        defer { instance?.stop(timeout: .seconds(5)) }
        do {
            try steps.hook("verify", new.manifest.hooks.verify)
            try update.write(.verified)
            try steps.snapshot()
            try update.write(.snapshotted)
            try steps.hook("install", new.manifest.hooks.install)
            // What an unsandboxed install hook wrote belongs to the module's user too.
            try ModuleUsers.own(paths.data, by: user)
            try update.write(.installed)
            try update.write(.activating)
            try StateFiles.switchLink(paths.current, to: paths.linkValue(newDirectory))
            try update.write(.activated)
            try steps.hook("start", new.manifest.hooks.start)
            instance = try steps.startModule()
            try update.write(.started)
            try steps.judgeHealth(instance!)
            try steps.hook("health", new.manifest.hooks.health)
            try update.write(.healthy)
            try steps.hook("commit", new.manifest.hooks.commit)
            try update.write(.committed)
        } catch {
            let stopped = instance
            instance = nil
            stopped.map { steps.saveModuleOutput($0.output, exit: $0.stop(timeout: .seconds(5))) }
            try rollBackUpdate(&update, reason: error.message, runner: runner)
            throw ModuleError(error.code, "\(manifest.id) \(manifest.version) was rolled back: \(error.message). Version \(old.map { "\($0.manifest.version)" } ?? "(none)") is active; the hooks' output is in \(paths.log(transaction))",
                              field: error.field, underlying: error.underlying)
        }
        if let running = instance {
            instance = nil
            steps.saveModuleOutput(running.output, exit: running.stop(timeout: .seconds(5)))
        }
        try finishUpdate(&update)
        return Report(id: manifest.id, record: update.record!, active: manifest.version)
    }

    /// After `committed`: the old version becomes `previous`, older versions and the data snapshot
    /// go. Idempotent, so recovery can run it again.
    private func finishUpdate(_ update: inout Transaction) throws(ModuleError) {
        let paths = update.paths
        if let from = update.from, Files.isDirectory(paths.version(from), followingLinks: false) {
            try StateFiles.switchLink(paths.previous, to: paths.linkValue(from))
        } else {
            try StateFiles.removeFile(paths.previous)
        }
        try StateFiles.removeTree(paths.snapshot(update.id))
        try collectGarbage(paths)
        try ownData(paths)
        try update.close(.done, reason: nil, result: .committed)
    }

    /// Undoes an update from wherever it stopped. Each step is idempotent (recovery may run it
    /// after a crash in the middle of an earlier attempt).
    private func rollBackUpdate(_ update: inout Transaction, reason: String, runner: (any ModuleRunner)?) throws(ModuleError) {
        let paths = update.paths
        let reached = Set(update.steps)
        if update.steps.last != .rollingBack { try update.write(.rollingBack, detail: reason) }
        let new = update.to.flatMap { try? paths.installed($0) }
        let steps = new.flatMap { version in runner.map { UpdateSteps(paths: paths, runner: $0, transaction: update.id, new: version) } }
        // The new version's rollback hook undoes what its install hook did; it runs with the
        // data as the install hook left it, before the snapshot is restored.
        if reached.contains(.snapshotted), let steps { try? steps.hook("rollback", steps.new.manifest.hooks.rollback) }
        try restoreSnapshot(paths, transaction: update.id)
        if let to = update.to, paths.target(of: paths.current) == to {
            if let from = update.from, Files.isDirectory(paths.version(from), followingLinks: false) {
                try StateFiles.switchLink(paths.current, to: paths.linkValue(from))
            } else {
                try StateFiles.removeFile(paths.current)
            }
        }
        if let steps { try? steps.hook("failure", steps.new.manifest.hooks.failure) }
        try collectGarbage(paths)
        // The restored snapshot was copied by the host, as root.
        try ownData(paths)
        try update.close(.rolledBack, reason: reason, result: .rolledBack)
    }

    /// Puts the data directory back as it was before the install hook: the snapshot replaces it
    /// by two renames, so that a crash in between leaves the snapshot for the next attempt.
    private func restoreSnapshot(_ paths: ModulePaths, transaction: String) throws(ModuleError) {
        let snapshot = paths.snapshot(transaction)
        guard Files.isDirectory(snapshot, followingLinks: false) else { return }
        let discard = paths.root + "/data.discard-" + transaction
        if Files.exists(paths.data, followingLinks: false) {
            try StateFiles.removeTree(discard)
            try StateFiles.move(paths.data, to: discard)
        }
        try StateFiles.move(snapshot, to: paths.data)
        try StateFiles.removeTree(discard)
    }

    /// Removes what no closed transaction needs: staging and discarded directories, unfinished
    /// snapshots, and version directories that are neither `current` nor `previous`.
    private func collectGarbage(_ paths: ModulePaths) throws(ModuleError) {
        let keep = Set([paths.target(of: paths.current), paths.target(of: paths.previous)].compactMap { $0 })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: paths.versions)) ?? [] where !keep.contains(name) {
            try StateFiles.removeTree(paths.version(name))
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: paths.snapshots)) ?? [] {
            try StateFiles.removeTree(paths.snapshots + "/" + name)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: paths.root)) ?? [] where name.hasPrefix("data.discard-") || name.hasSuffix(".new") {
            try StateFiles.removeTree(paths.root + "/" + name)
        }
        try StateFiles.sync(paths.versions)
        try pruneLogs(paths)
    }

    /// Keeps the logs of the last 10 transactions.
    private func pruneLogs(_ paths: ModulePaths) throws(ModuleError) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: paths.logs), names.count > 10 else { return }
        let byAge = names.sorted { (modificationTime(paths.logs + "/" + $0)) < (modificationTime(paths.logs + "/" + $1)) }
        for name in byAge.dropLast(10) { try StateFiles.removeTree(paths.logs + "/" + name) }
    }

    private func modificationTime(_ path: String) -> Double {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    // MARK: - Rollback and removal

    /// Returns a module to its previous committed version: the current version's rollback hook
    /// runs, `current` switches to `previous`, and the version rolled back from is removed.
    /// The data directory is kept as it is (see Documentation/Updates.md).
    /// - Parameters:
    ///   - id: the module's id.
    ///   - reason: why, as `status` shows it with the record (an operator's request, or what the
    ///     running host saw).
    /// - Throws: `ModuleError` `.notInstalled`, `.nothingToRollBack`.
    @discardableResult
    public func rollback(id: String, reason: String = "requested with plugin-host rollback") throws(ModuleError) -> Report {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: id)
        guard let current = paths.target(of: paths.current) else {
            throw ModuleError(.notInstalled, "module '\(id)' is not installed on this host: `plugin-host list` shows what is", field: id)
        }
        guard let previous = paths.target(of: paths.previous), Files.isDirectory(paths.version(previous), followingLinks: false) else {
            throw ModuleError(.nothingToRollBack, "module '\(id)' has no previous version to roll back to (it was installed once, or already rolled back)", field: id)
        }
        try StateFiles.makeDirectory(paths.logs)
        var transaction = Transaction(paths: paths, id: Self.newTransactionID(), kind: .rollback, from: current, to: previous)
        try transaction.write(.begin)
        if let runner, let new = try? paths.installed(current) {
            let steps = UpdateSteps(paths: paths, runner: runner, transaction: transaction.id, new: new)
            try? steps.hook("rollback", new.manifest.hooks.rollback)
        }
        try finishRollback(&transaction, reason: reason)
        return Report(id: id, record: transaction.record!, active: try activeVersion(of: id)?.manifest.version)
    }

    private func finishRollback(_ transaction: inout Transaction, reason: String? = nil) throws(ModuleError) {
        let paths = transaction.paths
        if let to = transaction.to, Files.isDirectory(paths.version(to), followingLinks: false) {
            if !transaction.steps.contains(.activating) { try transaction.write(.activating) }
            try StateFiles.switchLink(paths.current, to: paths.linkValue(to))
            if !transaction.steps.contains(.activated) { try transaction.write(.activated) }
        }
        try StateFiles.removeFile(paths.previous)
        try collectGarbage(paths)
        try transaction.close(.done, reason: reason, result: .rollbackDone)
    }

    /// Uninstalls a module: `current` goes first (from then on it is not installed), then its
    /// versions, logs and journal. Its data directory is kept unless `purgeData`, so that
    /// reinstalling it finds its data again.
    public func remove(id: String, purgeData: Bool) throws(ModuleError) {
        let paths = ModulePaths(stateDirectory: stateDirectory, id: id)
        guard ModuleManifest.isModuleID(id), Files.isDirectory(paths.root, followingLinks: false) else {
            throw ModuleError(.notInstalled, "module '\(id)' is not installed on this host: `plugin-host list` shows what is", field: id)
        }
        if purgeData {
            // Renamed away first, so a crash leaves either the whole module or garbage.
            let garbage = stateDirectory + "/modules/.removed-\(id)-\(Self.newTransactionID())"
            try StateFiles.move(paths.root, to: garbage)
            try StateFiles.removeTree(garbage)
            // Its data is gone, so its uid may go to another module.
            try users.free(id)
            return
        }
        var transaction = Transaction(paths: paths, id: Self.newTransactionID(), kind: .remove, from: paths.target(of: paths.current), to: nil)
        try transaction.write(.begin)
        try finishRemove(&transaction)
    }

    private func finishRemove(_ transaction: inout Transaction) throws(ModuleError) {
        let paths = transaction.paths
        try StateFiles.removeFile(paths.current)
        try StateFiles.removeFile(paths.previous)
        try collectGarbage(paths)
        try transaction.close(.done, reason: nil, result: .committed)
    }

    // MARK: - Users

    /// Gives the data directory to the user the active version runs as (none: the recorded
    /// user of the id, if any).
    private func ownData(_ paths: ModulePaths) throws(ModuleError) {
        guard Files.isDirectory(paths.data, followingLinks: false) else { return }
        let active = paths.target(of: paths.current).flatMap { try? paths.installed($0) }
        guard let user = active?.context.user ?? ModuleUsers.recorded(paths.id, stateDirectory: stateDirectory) else { return }
        try ModuleUsers.own(paths.data, by: user)
    }

    /// Each active module without a recorded user (installed before modules had users) gets one,
    /// and a data directory whose top does not belong to its user, mode 0700, is given to it
    /// whole. After that it costs one stat per module and writes nothing. A module for which no
    /// uid is left keeps running as before, with a line in `recoveryLog`.
    private func migrateUsers() throws(ModuleError) {
        for name in Files.list(stateDirectory + "/modules") where ModuleManifest.isModuleID(name) {
            let paths = ModulePaths(stateDirectory: stateDirectory, id: name)
            guard let active = paths.target(of: paths.current).flatMap({ try? paths.installed($0) }) else { continue }
            // A manifest asking for root was allowed when it was installed.
            var user = active.context.user
            if user == nil {
                do throws(ModuleError) {
                    user = try users.assign(active.manifest, allowingRoot: true)
                } catch where error.code == .noModuleUser {
                    // The host still starts: this module runs as before (uid 0, no capability).
                    recoveryLog.append("\(name): \(error.message)")
                    continue
                }
            }
            guard let user else { continue }
            guard let top = Files.status(paths.data, followingLinks: false) else { continue }
            if top.userID.rawValue == user.uid, top.groupID.rawValue == user.gid, top.permissions.rawValue & 0o7777 == 0o700 { continue }
            try ModuleUsers.own(paths.data, by: user)
        }
    }

    // MARK: - Recovery

    /// Replays every module's journal. Called by `init`; safe to run again.
    private func recover() throws(ModuleError) {
        let root = stateDirectory + "/modules"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            if name.hasPrefix(".removed-") {
                try StateFiles.removeTree(root + "/" + name)
                continue
            }
            guard ModuleManifest.isModuleID(name) else { continue }
            let paths = ModulePaths(stateDirectory: stateDirectory, id: name)
            guard let entries = try paths.journal.openTransaction(), let first = entries.first else {
                try? paths.journal.compact()
                continue
            }
            var transaction = Transaction(paths: paths, resuming: entries)
            let last = entries.last!.step
            switch first.kind {
            case .update where last == .committed:
                recoveryLog.append("\(name): the update to \(first.to ?? "?") had committed when it was interrupted; finished it")
                try finishUpdate(&transaction)
            case .update:
                recoveryLog.append("\(name): the update to \(first.to ?? "?") was interrupted after '\(last.rawValue)'; rolled back to \(first.from ?? "no version")")
                try rollBackUpdate(&transaction, reason: "interrupted after '\(last.rawValue)' (power cut or kill); rolled back at start-up", runner: runner)
            case .rollback:
                recoveryLog.append("\(name): the rollback to \(first.to ?? "?") was interrupted; finished it")
                try finishRollback(&transaction, reason: "an interrupted rollback, finished when the state directory was next opened")
            case .remove:
                recoveryLog.append("\(name): the removal was interrupted; finished it")
                try finishRemove(&transaction)
            }
        }
    }

    static func newTransactionID() -> String {
        var bytes = [UInt8](repeating: 0, count: 6)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

/// A transaction's journal entries as it writes them.
struct Transaction {
    let paths: ModulePaths
    let id: String
    let kind: JournalEntry.Kind
    let from: String?
    let to: String?
    private(set) var steps: [JournalEntry.Step] = []
    private(set) var record: TransactionRecord?

    init(paths: ModulePaths, id: String, kind: JournalEntry.Kind, from: String?, to: String?) {
        self.paths = paths
        self.id = id
        self.kind = kind
        self.from = from
        self.to = to
    }

    init(paths: ModulePaths, resuming entries: [JournalEntry]) {
        let first = entries[0]
        self.init(paths: paths, id: first.transaction, kind: first.kind, from: first.from, to: first.to)
        steps = entries.map(\.step)
    }

    mutating func write(_ step: JournalEntry.Step, detail: String? = nil) throws(ModuleError) {
        try paths.journal.append(JournalEntry(transaction: id, kind: kind, step: step, from: from, to: to, detail: detail))
        steps.append(step)
    }

    /// Records the outcome in state.json, then closes the transaction in the journal.
    mutating func close(_ step: JournalEntry.Step, reason: String?, result: TransactionRecord.Result) throws(ModuleError) {
        let record = TransactionRecord(transaction: id, kind: kind, from: from, to: to, result: result, reason: reason,
                                       logDirectory: paths.log(id), finishedAt: Date().timeIntervalSince1970, finishedIn: .now)
        try StateFiles.writeAtomically(try OCI.encode(record), to: paths.stateFile)
        try write(step, detail: reason)
        self.record = record
        try? paths.journal.compact()
    }
}
