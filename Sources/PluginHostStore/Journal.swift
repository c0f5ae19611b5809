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

/// One transition of an update, a rollback or a removal, as written to a module's journal.
public struct JournalEntry: Codable, Sendable, Equatable {
    /// What kind of transaction an entry belongs to.
    public enum Kind: String, Codable, Sendable {
        case update, rollback, remove
    }

    /// The transitions, in the order an update writes them. See Documentation/Updates.md.
    public enum Step: String, Codable, Sendable, CaseIterable {
        /// The image verified and the version policy allowed it; nothing changed yet.
        case begin
        /// The new version's files are in `versions/<dir>` (complete, fsync'd).
        case unpacked
        /// The verify hook passed.
        case verified
        /// The data directory was copied to `snapshots/<update>`.
        case snapshotted
        /// The install hook (storage migrations) passed.
        case installed
        /// About to switch `current`; after a crash the link itself says which way it went.
        case activating
        /// `current` points at the new version.
        case activated
        /// The module was started and its health is being judged.
        case started
        /// Ready, heartbeats and the stability window passed, and the health hook.
        case healthy
        /// The commit hook passed: the update is decided and will not be rolled back.
        case committed
        /// Rolling back (the entry's `detail` says why).
        case rollingBack = "rolling-back"
        /// Closes a transaction that succeeded.
        case done
        /// Closes a transaction that was rolled back: the old version is active.
        case rolledBack = "rolled-back"

        /// Steps that close a transaction.
        public var closes: Bool { self == .done || self == .rolledBack }
    }

    /// The transaction this entry belongs to.
    public var transaction: String
    public var kind: Kind
    public var step: Step
    /// The version directory that was active when the transaction began (nil: none).
    public var from: String?
    /// The version directory the transaction installs or returns to.
    public var to: String?
    public var detail: String?
    /// Seconds since 1970.
    public var time: Double

    public init(transaction: String, kind: Kind, step: Step, from: String?, to: String?, detail: String? = nil, time: Double = Date().timeIntervalSince1970) {
        self.transaction = transaction
        self.kind = kind
        self.step = step
        self.from = from
        self.to = to
        self.detail = detail
        self.time = time
    }
}

/// A module's journal: one JSON object per line, appended and fsync'd before the action it
/// announces is taken (or, for `activated`, after the link switch it records). A line torn by a
/// power cut is the last one; it is cut off when the journal is next read for writing.
///
/// In debug builds only, tests kill the process at a transition with
/// `PLUGIN_HOST_FAULT_INJECTION=before:<step>` or `after:<step>` (SIGKILL to itself just before or
/// just after the entry is made durable). Release builds, such as the Debian package's root
/// daemon, contain neither the variable's name nor the kill.
struct Journal {
    let path: String

    /// Every complete entry, oldest first. A torn last line is ignored.
    func entries() throws(ModuleError) -> [JournalEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var result: [JournalEntry] = []
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            // An undecodable line can only be the torn tail of a write cut short; skip it.
            if let entry = try? decoder.decode(JournalEntry.self, from: Data(line)) { result.append(entry) }
        }
        return result
    }

    /// The entries of the last transaction if it is not closed (an interrupted one), else nil.
    func openTransaction() throws(ModuleError) -> [JournalEntry]? {
        let all = try entries()
        guard let last = all.last, !last.step.closes else { return nil }
        return all.filter { $0.transaction == last.transaction }
    }

    /// Appends an entry durably (write, fsync; the first write also fsyncs the directory).
    func append(_ entry: JournalEntry) throws(ModuleError) {
        Self.inject("before", entry.step)
        try repairTornTail()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(entry) else {
            throw ModuleError(.io, "cannot encode a journal entry")
        }
        line.append(UInt8(ascii: "\n"))
        let created = !Files.exists(path, followingLinks: false)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFiles.ioError("opening journal", path) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        guard written == line.count else { throw StateFiles.ioError("appending to journal", path) }
        guard fsync(fd) == 0 else { throw StateFiles.ioError("fsync of journal", path) }
        if created { try StateFiles.syncParent(of: path) }
        Self.inject("after", entry.step)
    }

    /// Cuts off a last line that a crash left without its newline, so the next entry starts on a
    /// line of its own.
    private func repairTornTail() throws(ModuleError) {
        guard let data = FileManager.default.contents(atPath: path), let last = data.last, last != UInt8(ascii: "\n") else { return }
        let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        guard truncate(path, off_t(keep)) == 0 else { throw StateFiles.ioError("repairing journal", path) }
        try StateFiles.sync(path)
    }

    /// Keeps the journal short: once it holds more than `limit` lines and no transaction is open,
    /// it is rewritten atomically with the last `keep` closed transactions' entries.
    func compact(limit: Int = 400, keepTransactions keep: Int = 20) throws(ModuleError) {
        let all = try entries()
        guard all.count > limit, all.last?.step.closes ?? true else { return }
        var kept: [String] = []
        for entry in all.reversed() where !kept.contains(entry.transaction) {
            kept.append(entry.transaction)
            if kept.count == keep { break }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for entry in all where kept.contains(entry.transaction) {
            if let line = try? encoder.encode(entry) { data.append(line); data.append(UInt8(ascii: "\n")) }
        }
        try StateFiles.writeAtomically(data, to: path)
    }

    // MARK: - Fault injection (debug builds only)

    #if DEBUG
    private static let faultInjection = ProcessInfo.processInfo.environment["PLUGIN_HOST_FAULT_INJECTION"]

    private static func inject(_ when: String, _ step: JournalEntry.Step) {
        guard let faultInjection, faultInjection == "\(when):\(step.rawValue)" else { return }
        kill(getpid(), SIGKILL)
    }
    #else
    @inline(__always) private static func inject(_ when: String, _ step: JournalEntry.Step) {}
    #endif
}
