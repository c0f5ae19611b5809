#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
import PluginHostRegistry
import PluginHostStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where the fleet agent's documents go: the host's broker connection (`HostMessaging`), which
/// queues them in the host outbox so that a device offline keeps what it has to say.
public protocol FleetLink: Sendable {
    /// Queues the retained report (`<prefix>devices/<device>/reported`).
    func sendReport(_ payload: [UInt8])
    /// Queues one event (`<prefix>devices/<device>/events`, not retained).
    func sendEvent(_ payload: [UInt8])
}

/// The running host's side of fleet desired state (Documentation/Fleet.md): takes the desired
/// state the back end retains on `<prefix>devices/<device>/desired`, brings the device to it
/// through the registry and the update engine, and reports what the device runs.
///
/// A desired state is applied in two steps, on a thread of its own:
/// 1. **Check, changing nothing.** The document is parsed whole (`DesiredState`); every module
///    it names without an image must be installed; every image is pulled (a child `plugin-host
///    pull`, as channel checks do) and verified against the host's trust store, its module id
///    and the version policy. Any problem rejects the whole desired state, reported with every
///    reason; a registry that cannot be reached leaves it waiting, tried again with backoff.
/// 2. **Apply**, module by module, through the engine's health gate: an image that fails it is
///    rolled back and reported, and not installed again until the desired state names another.
///    Channels are written as `plugin-host follow` does, `enabled: false` stops a module
///    (`ModulePaths.disabledMarker`), and a module the fleet installed that the desired state no
///    longer names is removed (its data kept).
///
/// Only images signed by keys in the host's trust store install, whatever a message says, and
/// never one that asks for root. The report is published when it changes (not for a change of
/// its time alone), with one event per change.
public final class FleetAgent: Sendable {
    /// How the agent reaches registries: as `plugin-host pull`'s options.
    public struct RegistryAccess: Sendable {
        public var authFile: String?
        public var insecureRegistries: Set<String>
        public var caFiles: [String: String]
        public var platform: String?

        public init(authFile: String? = nil, insecureRegistries: Set<String> = [], caFiles: [String: String] = [:], platform: String? = nil) {
            self.authFile = authFile
            self.insecureRegistries = insecureRegistries
            self.caFiles = caFiles
            self.platform = platform
        }

        func access(for reference: ImageReference) -> FollowedChannel.Access {
            .init(authFile: authFile, insecure: insecureRegistries.contains(reference.registry), caFile: caFiles[reference.registry], platform: platform)
        }
    }

    public let device: String
    let registry: RegistryAccess
    private unowned let runtime: HostRuntime
    private let link: Mutex<(any FleetLink)?> = Mutex(nil)

    private struct Pending {
        /// A desired state received and not yet acted on.
        var desired: [UInt8]?
        /// The last one received (acted on again when a retry is due).
        var last: [UInt8]?
        var retryAt: ContinuousClock.Instant?
        var failures = 0
        var reportDue = true
        var stopping = false
        var running = false
    }
    private let pending = Mutex(Pending())
    private let wake = MonotonicCondition()
    private let lastReport = Mutex<FleetReport?>(nil)
    /// The pull running now (a child process), or 0.
    let child = Atomic<Int32>(0)
    /// What the agent did and decided (`<state>/fleet/state.json`), read once and kept here: the
    /// agent's thread and the host's rollback thread both change it (`update`).
    private let record: Mutex<FleetRecord>

    /// A retry after a registry could not be reached waits this long, doubling up to `maximumRetry`.
    static let firstRetry = 15.0
    static let maximumRetry = 600.0

    public init(runtime: HostRuntime, device: String, registry: RegistryAccess) {
        self.runtime = runtime
        self.device = device
        self.registry = registry
        record = Mutex(FleetRecord.load(stateDirectory: runtime.stateDirectory) ?? FleetRecord())
    }

    /// Where reports and events go; set before `start()`.
    public func attach(_ link: any FleetLink) { self.link.withLock { $0 = link } }

    /// Starts the agent's thread and makes the runtime tell it about changes (and rollbacks).
    public func start() {
        runtime.attach(fleet: self)
        pending.withLock { $0.running = true }
        let created = startDetachedThread(name: "plugin-host fleet") { [self] in work() }
        if created != 0 {
            pending.withLock { $0.running = false }
            runtime.note("fleet: cannot start a thread for desired state (\(ModuleError.errnoText(created))); the device does not follow its desired state")
        }
    }

    /// Ends the agent: a pull under way is cancelled, an install under way finishes first.
    public func stop() {
        pending.withLock { $0.stopping = true }
        let pid = child.load(ordering: .acquiring)
        if pid > 0 { kill(pid, SIGTERM) }
        wake.locked {
            wake.broadcast()
            while pending.withLock({ $0.running }) { _ = wake.wait(until: nil) }
        }
    }

    /// A desired-state document arrived (an empty one: the back end cleared it, nothing changes).
    public func receive(desired payload: [UInt8]) {
        guard !payload.isEmpty else {
            runtime.note("fleet: the desired state was cleared on the broker; the device keeps what it runs")
            return
        }
        wake.locked {
            pending.withLock {
                $0.desired = payload
                $0.failures = 0
                $0.retryAt = nil
            }
            wake.broadcast()
        }
    }

    /// Something the report shows may have changed (the runtime's snapshot).
    func changed() {
        wake.locked {
            let first = pending.withLock { state -> Bool in
                defer { state.reportDue = true }
                return !state.reportDue
            }
            if first { wake.broadcast() }
        }
    }

    // MARK: - The thread

    private func work() {
        defer {
            wake.locked {
                pending.withLock { $0.running = false }
                wake.broadcast()
            }
        }
        // What the device runs before any desired state is acted on: the base the events start from.
        publishReport()
        while true {
            var desired: [UInt8]?
            var report = false
            let stop = wake.locked { () -> Bool in
                while true {
                    let state = pending.withLock { $0 }
                    if state.stopping { return true }
                    if let next = state.desired {
                        desired = next
                        pending.withLock {
                            $0.desired = nil
                            $0.last = next
                        }
                        return false
                    }
                    if let retryAt = state.retryAt, retryAt <= .now, let last = state.last {
                        desired = last
                        pending.withLock { $0.retryAt = nil }
                        return false
                    }
                    if state.reportDue {
                        pending.withLock { $0.reportDue = false }
                        report = true
                        return false
                    }
                    _ = wake.wait(until: state.retryAt)
                }
            }
            if stop { return }
            if let desired {
                apply(desired)
                publishReport()
            } else if report {
                // Changes come in bursts (a restart is several); one report for the burst.
                usleep(200_000)
                pending.withLock { $0.reportDue = false }
                publishReport()
            }
        }
    }

    // MARK: - Applying a desired state

    private enum Step: Error {
        /// Nothing was changed; every problem.
        case rejected([String])
        /// A registry or the state directory is not available now: try again later.
        case later(String)
    }

    private func apply(_ payload: [UInt8]) {
        let known = record.withLock { $0 }
        let desired: DesiredState
        do throws(DesiredStateError) {
            desired = try DesiredState(parsing: payload)
        } catch {
            let revision = Digest(of: Data(payload)).description
            if known.revision == revision && known.status == .rejected { return }
            reject(revision: revision, error.problems)
            return
        }
        // The same document again (a reconnect resends it): a rejected one stays rejected.
        if known.revision == desired.revision && known.status == .rejected { return }
        let new = known.revision != desired.revision
        if new { runtime.note("fleet: desired state \(desired.revision): \(desired.modules.count) module(s)") }
        setStatus(revision: desired.revision, .applying, nil, save: false)
        // The back end sees at once that the device took a new desired state (pulls take time).
        if new { publishReport() }
        do throws(Step) {
            let plan = try check(desired, known)
            try carryOut(desired, plan)
            let outcomes = record.withLock { $0.modules }
            let failures = desired.modules.keys.sorted().compactMap { id -> String? in
                guard let outcome = outcomes[id]?.outcome, [.rolledBack, .refused].contains(outcome.result) else { return nil }
                return "\(id): \(outcome.version.map { $0 + " " } ?? "")\(outcome.result == .rolledBack ? "rolled back" : "refused"): \(outcome.reason ?? "")"
            }
            setStatus(revision: desired.revision, failures.isEmpty ? .applied : .failed, failures.isEmpty ? nil : failures)
            pending.withLock { $0.failures = 0 }
        } catch {
            switch error {
            case let .rejected(problems):
                reject(revision: desired.revision, problems)
            case let .later(reason):
                let failures = pending.withLock { state -> Int in
                    state.failures += 1
                    return state.failures
                }
                let wait = min(Self.maximumRetry, Self.firstRetry * Double(1 << min(failures - 1, 20))) * Double.random(in: 0.9...1.1)
                pending.withLock { $0.retryAt = .now + ChannelFollower.duration(wait) }
                let before = record.withLock { $0 }
                if before.status != .waiting || before.errors != [reason] {
                    runtime.note("fleet: desired state \(desired.revision) waits: \(reason); trying again in \(Int(wait)) s")
                }
                setStatus(revision: desired.revision, .waiting, [reason], save: false)
            }
        }
    }

    private func reject(revision: String, _ problems: [String]) {
        runtime.note("fleet: desired state \(revision) rejected, nothing changed: \(problems.joined(separator: "; "))")
        setStatus(revision: revision, .rejected, problems)
    }

    /// Records the desired state's status (on flash only when `save`).
    private func setStatus(revision: String, _ status: FleetReport.Desired.Status, _ errors: [String]?, save: Bool = true) {
        update(save: save) { record in
            record.revision = revision
            record.status = status
            record.errors = errors
        }
    }

    /// Changes the record and, when `save` and it changed, writes it (under its lock, so that
    /// writes from two threads land in order); the report follows.
    @discardableResult
    private func update(save: Bool = true, _ change: (inout FleetRecord) -> Void) -> Bool {
        let changed = record.withLock { record -> Bool in
            let before = record
            change(&record)
            guard record != before else { return false }
            if save {
                do throws(ModuleError) { try record.save(stateDirectory: runtime.stateDirectory) } catch {
                    runtime.note("fleet: cannot record what was done: \(error.message)")
                }
            }
            return true
        }
        if changed { runtime.changed() }
        return changed
    }

    /// An image to install, checked.
    private struct Install {
        var id: String
        var reference: ImageReference
        var image: VerifiedImage
        var outcome: FollowedChannel.Outcome
    }

    private struct Plan {
        var installs: [Install] = []
        /// Images found already running: their outcome.
        var current: [String: FollowedChannel.Outcome] = [:]
    }

    /// Step 1: everything the desired state asks for is possible; nothing is changed.
    private func check(_ desired: DesiredState, _ record: FleetRecord) throws(Step) -> Plan {
        let state = runtime.stateDirectory
        var problems: [String] = []
        var plan = Plan()
        let installed = Set(((try? UpdateEngine.list(stateDirectory: state)) ?? []).filter { $0.state != .notInstalled }.map(\.id))
        let trust = TrustStore(stateDirectory: state)
        let store = ContentStore(stateDirectory: state)
        for (id, module) in desired.modules.sorted(by: { $0.key < $1.key }) {
            guard case let .image(reference) = module.source else {
                if module.source == .installed && !installed.contains(id) {
                    problems.append("\(id): unknown module: it is not installed on this device, and the desired state gives no 'image' or 'channel' for it")
                }
                continue
            }
            let source = Self.sourceText(module.source)
            let paths = ModulePaths(stateDirectory: state, id: id)
            let active = paths.target(of: paths.current).flatMap { try? paths.installed($0) }
            // What was done for this very source already: done, or failed (not retried in a loop).
            if let previous = record.modules[id], previous.source == source, let outcome = previous.outcome {
                if [.rolledBack, .refused].contains(outcome.result) { continue }
                if active?.image.imageManifestDigest == outcome.manifest { continue }
            }
            if let pinned = reference.digest, active?.image.imageManifestDigest == pinned.description {
                plan.current[id] = .init(result: .current, digest: pinned.description, manifest: pinned.description, version: active.map { "\($0.manifest.version)" })
                continue
            }
            let pulled: PullReport
            do throws(ModuleError) {
                let arguments = registry.access(for: reference).pullArguments(reference: reference, stateDirectory: state)
                pulled = try PullCommand.run(arguments: arguments, what: reference.description, executable: runtime.hostExecutable, child: { pid in
                    self.child.store(pid, ordering: .releasing)
                    if pid > 0, self.pending.withLock({ $0.stopping }) { kill(pid, SIGTERM) }
                })
            } catch where [.network, .io, .busy].contains(error.code) {
                throw .later("\(id): pulling \(reference): \(error.message)")
            } catch {
                problems.append("\(id): \(reference): \(error.message)")
                continue
            }
            guard let manifest = pulled.manifest.flatMap(Digest.init) else {
                problems.append("\(id): \(reference): the pull reported no image manifest")
                continue
            }
            var outcome = FollowedChannel.Outcome(result: .installed, digest: pulled.digest, manifest: manifest.description)
            if active?.image.imageManifestDigest == manifest.description {
                outcome.result = .current
                outcome.version = active.map { "\($0.manifest.version)" }
                plan.current[id] = outcome
                continue
            }
            do throws(ModuleError) {
                let image = try store.source(manifest: manifest)
                if let claimed = ImageVerifier.claimedModuleID(of: image), claimed != id {
                    throw ModuleError(.invalidValue, "\(reference) holds module \(claimed), not \(id)", field: "id")
                }
                let verified = try ImageVerifier(trust: trust).verify(image)
                outcome.version = "\(verified.manifest.version)"
                try VersionPolicy.check(new: verified.manifest, installed: active?.manifest)
                if verified.manifest.capabilities.root == true {
                    throw ModuleError(.rootNotAllowed, "\(id) \(verified.manifest.version) asks to run as root, which the fleet never installs: install it by hand with plugin-host install --allow-root-module", field: "capabilities.root")
                }
                plan.installs.append(Install(id: id, reference: reference, image: verified, outcome: outcome))
            } catch where error.code == .io {
                throw .later("\(id): reading \(reference) from the content store: \(error.message)")
            } catch {
                problems.append("\(id): \(reference): \(error.message)")
            }
        }
        if !problems.isEmpty { throw .rejected(problems) }
        return plan
    }

    /// Step 2: installs, channels, enabling, removals.
    private func carryOut(_ desired: DesiredState, _ plan: Plan) throws(Step) {
        let state = runtime.stateDirectory
        let engine: UpdateEngine
        do throws(ModuleError) {
            engine = try UpdateEngine(stateDirectory: state, runner: runtime.runner, waitingForLock: .seconds(60))
        } catch {
            throw .later("the state directory: \(error.message)")
        }
        var changedRecord = false
        func manage(_ id: String, _ module: DesiredState.Module, outcome: FollowedChannel.Outcome?) {
            let entry = FleetRecord.Managed(source: Self.sourceText(module.source), enabled: module.enabled, outcome: outcome)
            if update({ $0.modules[id] = entry }) { changedRecord = true }
        }
        // Modules the fleet installed and no longer names: removed first (their data kept).
        for id in record.withLock({ $0.modules.keys }).sorted() where desired.modules[id] == nil {
            if (try? FollowedChannel.remove(stateDirectory: state, module: id)) == true { runtime.reloadChannels() }
            let paths = ModulePaths(stateDirectory: state, id: id)
            try? StateFiles.removeFile(paths.disabledMarker)
            if paths.target(of: paths.current) != nil {
                _ = runtime.pause(id)
                do throws(ModuleError) {
                    try engine.remove(id: id, purgeData: false)
                    runtime.note("fleet: \(id) removed: the desired state no longer names it (its data is kept)")
                } catch {
                    runtime.note("fleet: cannot remove \(id): \(error.message)")
                }
                runtime.resume(id)
            }
            if update({ $0.modules[id] = nil }) { changedRecord = true }
        }
        for (id, module) in desired.modules.sorted(by: { $0.key < $1.key }) {
            let paths = ModulePaths(stateDirectory: state, id: id)
            // Disabled before an install, so that the install's resume does not start it.
            setEnabled(id, module.enabled, paths)
            switch module.source {
            case .installed:
                manage(id, module, outcome: nil)
            case let .channel(reference, every):
                let existing = try? FollowedChannel.load(stateDirectory: state, module: id)
                if existing?.reference != reference.description || existing?.everySeconds != every {
                    let channel = FollowedChannel(module: id, reference: reference, every: every, registry: registry.access(for: reference))
                    do throws(ModuleError) {
                        try channel.save(stateDirectory: state)
                        runtime.note("fleet: \(id) follows \(reference), checked every \(FollowedChannel.intervalText(every))")
                    } catch {
                        runtime.note("fleet: cannot follow \(reference) for \(id): \(error.message)")
                    }
                    runtime.reloadChannels()
                }
                manage(id, module, outcome: nil)
            case .image:
                unfollow(id)
                if let outcome = plan.current[id] {
                    manage(id, module, outcome: outcome)
                } else if let install = plan.installs.first(where: { $0.id == id }) {
                    var outcome = install.outcome
                    _ = runtime.pause(id)
                    do throws(ModuleError) {
                        let report = try engine.install(install.image)
                        runtime.note("fleet: \(id) \(report.active.map { "\($0)" } ?? "?") installed and committed from \(install.reference)")
                    } catch where [.busy, .io].contains(error.code) {
                        runtime.resume(id)
                        throw .later("\(id): installing \(install.reference): \(error.message)")
                    } catch {
                        outcome.result = .init(failedInstall: error.code)
                        outcome.reason = error.message
                        runtime.note("fleet: \(id) \(outcome.version ?? "") from \(install.reference) \(outcome.result == .rolledBack ? "rolled back" : "refused"): \(error.message); not tried again until the desired state names another image")
                    }
                    runtime.resume(id)
                    outcome.at = Date().timeIntervalSince1970
                    manage(id, module, outcome: outcome)
                } else {
                    // Done or failed already for this source: kept as it was.
                    manage(id, module, outcome: record.withLock { $0.modules[id]?.outcome })
                }
            }
        }
        if changedRecord, let collected = (try? engine.collectContent())?.afterInstall { runtime.note(collected) }
    }

    /// Stops following a channel for `id`: the desired state gives an image for it now.
    private func unfollow(_ id: String) {
        if (try? FollowedChannel.remove(stateDirectory: runtime.stateDirectory, module: id)) == true {
            runtime.note("fleet: \(id) no longer follows a channel")
            runtime.reloadChannels()
        }
    }

    private func setEnabled(_ id: String, _ enabled: Bool, _ paths: ModulePaths) {
        let marked = Files.exists(paths.disabledMarker)
        guard marked == enabled else { return }
        do throws(ModuleError) {
            if enabled {
                try StateFiles.removeFile(paths.disabledMarker)
                runtime.note("fleet: \(id) enabled")
            } else {
                try StateFiles.makeDirectory(paths.root)
                try StateFiles.writeAtomically(Data(), to: paths.disabledMarker)
                runtime.note("fleet: \(id) disabled: no version of it runs until the desired state enables it")
            }
        } catch {
            runtime.note("fleet: cannot \(enabled ? "enable" : "disable") \(id): \(error.message)")
            return
        }
        runtime.restart(id)
    }

    static func sourceText(_ source: DesiredState.Source) -> String {
        switch source {
        case let .image(reference): "image \(reference)"
        case let .channel(reference, every): "channel \(reference) every \(FollowedChannel.intervalText(every))"
        case .installed: "installed"
        }
    }

    /// The running host rolled `module` back from `version`: if the fleet installed that version,
    /// the record says so, and the image is not installed again for the same desired state.
    func rolledBack(module: String, from version: String, reason: String) {
        update { record in
            guard var managed = record.modules[module], var outcome = managed.outcome, outcome.result == .installed, outcome.version == version else { return }
            outcome.result = .rolledBack
            outcome.reason = reason
            outcome.at = Date().timeIntervalSince1970
            managed.outcome = outcome
            record.modules[module] = managed
            record.status = .failed
            record.errors = (record.errors ?? []) + ["\(module): \(version) rolled back: \(reason)"]
        }
    }

    // MARK: - Reporting

    /// The report as the device stands now.
    public func report() -> FleetReport {
        let state = runtime.stateDirectory
        let record = self.record.withLock { $0 }
        let snapshot = runtime.snapshot
        let supervised = Dictionary(snapshot.modules.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let channels = Dictionary((snapshot.channels ?? []).map { ($0.module, $0) }, uniquingKeysWith: { a, _ in a })
        var modules: [String: FleetReport.Module] = [:]
        let statuses = (try? UpdateEngine.list(stateDirectory: state)) ?? []
        for id in Set(statuses.map(\.id)).union(record.modules.keys).sorted() {
            let status = statuses.first { $0.id == id }
            let managed = record.modules[id]
            let disabled = status?.disabled == true
            var module = FleetReport.Module(version: status?.version.map { "\($0)" }, state: "not-installed", image: status?.imageManifestDigest,
                                            managed: managed != nil, enabled: !disabled, source: managed?.source)
            switch status?.state {
            case .active?: module.state = disabled ? "disabled" : supervised[id]?.state.rawValue ?? "stopped"
            case .updating?: module.state = "updating"
            default: break
            }
            if let last = status?.lastTransaction {
                module.lastTransaction = .init(kind: last.kind.rawValue, result: last.result.rawValue, from: last.from, to: last.to, reason: last.reason, at: last.finishedAt)
            }
            let outcome = managed?.outcome ?? channels[id]?.outcome
            if let outcome, [.rolledBack, .refused].contains(outcome.result) {
                module.failed = .init(result: outcome.result.rawValue, version: outcome.version, digest: outcome.digest, reason: outcome.reason)
            }
            // A module removed (its data kept) that the fleet does not name is not reported.
            if (status == nil || status?.state == .notInstalled) && managed == nil { continue }
            modules[id] = module
        }
        let desired = record.revision.map { FleetReport.Desired(revision: $0, status: record.status ?? .applying, errors: record.errors) }
        return FleetReport(device: device, at: Date().formatted(.iso8601), desired: desired, modules: modules)
    }

    private func publishReport() {
        guard let link = link.withLock({ $0 }) else { return }
        let report = report()
        let previous = lastReport.withLock { $0 }
        guard previous?.content != report.content else { return }
        lastReport.withLock { $0 = report }
        if let previous {
            for event in FleetEvent.changes(from: previous, to: report) {
                if let payload = try? OCI.encode(event) { link.sendEvent(Array(payload)) }
            }
        }
        if let payload = try? OCI.encode(report) { link.sendReport(Array(payload)) }
    }
}
