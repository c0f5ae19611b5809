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

/// What `plugin-host status` shows of a followed channel.
public struct ChannelStatus: Codable, Sendable, Equatable {
    public var module: String
    public var reference: String
    public var everySeconds: Double
    /// Seconds since 1970 of the last check, if there was one since the host started.
    public var lastCheck: Double?
    /// Seconds from `Snapshot.updatedAt` to the next check (nil while one runs).
    public var nextCheckIn: Double?
    /// Why the last check failed (the network, the registry); nil when it worked.
    public var lastError: String?
    /// What the host last did with a digest of the channel (from the channel's file).
    public var outcome: FollowedChannel.Outcome?
    public var checking: Bool
}

/// The running host's side of `plugin-host follow`: a schedule per followed channel and one
/// worker thread that checks what is due, one channel after another.
///
/// A check is a child `plugin-host pull --unless-at` (`PullCommand`): a HEAD of the tag (no blob
/// bytes) and, when the tag points at a digest the host has not acted on, a pull of that digest
/// (blobs already in the content store are not fetched again). The worker then installs it
/// through the update engine while the module's supervision is paused, as `plugin-host install`
/// does. A check that fails (no network, the registry down) is tried
/// again sooner, backing off up to the channel's interval; it never touches what runs.
/// Every wait is jittered, so that a fleet powered on at once does not check in step.
final class ChannelFollower: Sendable {
    struct Entry {
        var channel: FollowedChannel
        var next: ContinuousClock.Instant
        var failures = 0
        var lastCheck: Double?
        var lastError: String?
        var checking = false
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let working = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    /// The pull running now (a child process), or 0.
    let child = Atomic<Int32>(0)
    private let finished = MonotonicCondition()
    /// A retry after a failed check waits this long, doubling per failure, up to the interval.
    static let firstRetry = 15.0
    /// A host that starts spreads its first checks over this long (or the interval, if shorter).
    static let startSpread = 120.0

    /// Reads the channel files: a channel that is new or was followed again is scheduled (at
    /// once if the host was already running, else within `startSpread`), one that is gone is
    /// dropped. What the worker itself wrote (`seen`, `outcome`) changes no schedule.
    /// - Returns: lines for the host's events (files that cannot be read).
    func reload(stateDirectory: String, starting: Bool) -> [String] {
        let (channels, unreadable) = FollowedChannel.all(stateDirectory: stateDirectory)
        let now = ContinuousClock.now
        entries.withLock { entries in
            let followed = Set(channels.map(\.module))
            for id in entries.keys where !followed.contains(id) { entries[id] = nil }
            for channel in channels {
                if var entry = entries[channel.module], Self.sameSubscription(entry.channel, channel) {
                    entry.channel = channel
                    entries[channel.module] = entry
                    continue
                }
                let spread = starting ? min(channel.everySeconds, Self.startSpread) : 1
                entries[channel.module] = Entry(channel: channel, next: now + Self.duration(Double.random(in: 0...spread)))
            }
        }
        return unreadable.map { "channel: skipped: \($0)" }
    }

    private static func sameSubscription(_ a: FollowedChannel, _ b: FollowedChannel) -> Bool {
        a.reference == b.reference && a.everySeconds == b.everySeconds && a.registry == b.registry && a.since == b.since
    }

    /// When a check is due next; nil when nothing is followed or the worker is busy (it wakes
    /// the host when it is done).
    var nextDue: ContinuousClock.Instant? {
        guard !working.load(ordering: .acquiring) else { return nil }
        return entries.withLock { $0.values.map(\.next).min() }
    }

    /// Starts the worker if a check is due and it is not running.
    func startDue(_ runtime: HostRuntime) {
        guard !stopping.load(ordering: .acquiring), nextDue.map({ $0 <= .now }) == true else { return }
        guard working.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let created = startDetachedThread(name: "plugin-host follow") { [self] in
            work(runtime)
            finished.locked {
                working.store(false, ordering: .releasing)
                finished.broadcast()
            }
            runtime.changed()
        }
        if created != 0 {
            working.store(false, ordering: .releasing)
            runtime.note("channels: cannot start a thread to check them (\(ModuleError.errnoText(created))); trying again later")
            entries.withLock { entries in for id in entries.keys { entries[id]?.next = .now + .seconds(60) } }
        }
    }

    private func work(_ runtime: HostRuntime) {
        while !stopping.load(ordering: .acquiring) {
            let due = entries.withLock { entries -> FollowedChannel? in
                guard let id = entries.filter({ $0.value.next <= .now }).min(by: { $0.value.next < $1.value.next })?.key else { return nil }
                entries[id]?.checking = true
                return entries[id]?.channel
            }
            guard let channel = due else { return }
            runtime.changed()
            let result = runtime.check(channel)
            entries.withLock { entries in
                guard var entry = entries[channel.module] else { return }
                entry.checking = false
                entry.lastCheck = Date().timeIntervalSince1970
                switch result {
                case let .failed(reason):
                    entry.failures += 1
                    entry.lastError = reason
                    let wait = min(channel.everySeconds, Self.firstRetry * Double(1 << min(entry.failures - 1, 20)))
                    entry.next = .now + Self.duration(wait * Double.random(in: 0.9...1.1))
                case let .acted(saved):
                    entry.channel = saved
                    fallthrough
                case .unchanged:
                    entry.failures = 0
                    entry.lastError = nil
                    entry.next = .now + Self.duration(channel.everySeconds * Double.random(in: 0.9...1.1))
                }
                entries[channel.module] = entry
            }
            runtime.changed()
        }
    }

    /// Ends the checks: a pull under way is cancelled (its partial file stays); an install under
    /// way finishes (its own timeouts bound it). Waits for the worker.
    func stop() {
        stopping.store(true, ordering: .releasing)
        let pid = child.load(ordering: .acquiring)
        if pid > 0 { kill(pid, SIGTERM) }
        finished.locked {
            while working.load(ordering: .acquiring) { _ = finished.wait(until: nil) }
        }
    }

    /// Updates the channel of a module the running host just rolled back: when the version rolled
    /// back from is the one the channel installed, its outcome says so (and the digest stays
    /// `seen`: it is not installed again until the channel moves on).
    func rolledBack(stateDirectory: String, module: String, from version: String, reason: String) {
        entries.withLock { entries in
            guard var channel = (try? FollowedChannel.load(stateDirectory: stateDirectory, module: module)) ?? nil,
                  var outcome = channel.outcome, outcome.result == .installed, outcome.version == version else { return }
            outcome.result = .rolledBack
            outcome.reason = reason
            outcome.at = Date().timeIntervalSince1970
            channel.outcome = outcome
            try? channel.save(stateDirectory: stateDirectory)
            entries[module]?.channel = channel
        }
    }

    func statuses(at now: ContinuousClock.Instant) -> [ChannelStatus] {
        entries.withLock { $0.values.map { entry in
            ChannelStatus(module: entry.channel.module, reference: entry.channel.reference, everySeconds: entry.channel.everySeconds,
                          lastCheck: entry.lastCheck, nextCheckIn: entry.checking ? nil : max(0, (entry.next - now) / .seconds(1)),
                          lastError: entry.lastError, outcome: entry.channel.outcome, checking: entry.checking)
        } }.sorted { $0.module < $1.module }
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
}

extension HostRuntime {
    enum CheckResult {
        /// The tag still points at the digest last acted on.
        case unchanged
        /// The host acted on a new digest (installed it, found it running, or refused it); the
        /// channel as saved.
        case acted(FollowedChannel)
        /// The check or the pull failed; tried again later.
        case failed(String)
    }

    /// One check of `channel`, and an install when its tag moved.
    func check(_ channel: FollowedChannel) -> CheckResult {
        let id = channel.module
        let pulled: PullReport
        do throws(ModuleError) {
            pulled = try PullCommand.run(channel, stateDirectory: stateDirectory, executable: hostExecutable, follower: follower)
        } catch {
            // Also an image with nothing for this device: checked again each interval (a HEAD
            // and a manifest, no blobs) until the tag moves to one that has.
            return failed(channel, "checking \(channel.reference): \(error.message)")
        }
        guard !pulled.unchanged, let manifest = pulled.manifest.flatMap(Digest.init), let digest = Digest(pulled.digest) else {
            return recovered(channel)
        }
        note("\(id): channel \(channel.reference) points at \(digest): pulled \(manifest) (\(pulled.blobs) blobs, \(SizeText.short(pulled.received)) received)")
        let store = ContentStore(stateDirectory: stateDirectory)
        var outcome = FollowedChannel.Outcome(result: .installed, digest: digest.description, manifest: manifest.description)
        do throws(ModuleError) {
            let source = try store.source(manifest: manifest)
            if let claimed = ImageVerifier.claimedModuleID(of: source), claimed != id {
                throw ModuleError(.invalidValue, "\(channel.reference) holds module \(claimed), not \(id): follow the channel of \(id), or follow this one for \(claimed)", field: "id")
            }
            // The engine first: while it holds the state directory the event loop's reconcile
            // cannot resume the module paused below.
            let engine = try UpdateEngine(stateDirectory: stateDirectory, runner: runner, waitingForLock: .seconds(60))
            let active = try engine.activeVersion(of: id)
            if active?.image.imageManifestDigest == manifest.description {
                outcome.result = .current
                outcome.version = active.map { "\($0.manifest.version)" }
                note("\(id): already runs \(manifest) of \(channel.reference)")
                return act(channel, outcome)
            }
            let image = try ImageVerifier(trust: engine.trust).verify(source)
            outcome.version = "\(image.manifest.version)"
            // A downgrade is refused before the running version is disturbed.
            try VersionPolicy.check(new: image.manifest, installed: active?.manifest)
            _ = pause(id)
            defer { resume(id) }
            let report = try engine.install(image, allowingRoot: channel.allowRootModule == true)
            note("\(id): \(report.active.map { "\($0)" } ?? "?") installed and committed from \(channel.reference)@\(digest)")
            if let collected = (try? engine.collectContent())?.afterInstall { note(collected) }
            return act(channel, outcome)
        } catch where [.busy, .io, .network].contains(error.code) {
            return failed(channel, "installing \(channel.reference)@\(digest): \(error.message)")
        } catch {
            outcome.result = .init(failedInstall: error.code)
            outcome.reason = error.message
            note("\(id): \(outcome.version.map { $0 + " " } ?? "")from \(channel.reference)@\(digest) \(outcome.result == .rolledBack ? "rolled back" : "refused"): \(error.message); not tried again until the channel moves on")
            return act(channel, outcome)
        }
    }

    private func act(_ channel: FollowedChannel, _ outcome: FollowedChannel.Outcome) -> CheckResult {
        var saved = channel
        saved.seen = outcome.digest
        saved.outcome = outcome
        do throws(ModuleError) {
            // Followed again or unfollowed meanwhile: that decision stands.
            guard let onDisk = try FollowedChannel.load(stateDirectory: stateDirectory, module: channel.module), onDisk.since == channel.since else {
                return .acted(saved)
            }
            try saved.save(stateDirectory: stateDirectory)
        } catch {
            note("\(channel.module): cannot record what was done with \(outcome.digest): \(error.message)")
        }
        return .acted(saved)
    }

    private func failed(_ channel: FollowedChannel, _ reason: String) -> CheckResult {
        if follower.lastError(of: channel.module) == nil { note("\(channel.module): \(reason); the running version is untouched, trying again later") }
        return .failed(reason)
    }

    private func recovered(_ channel: FollowedChannel) -> CheckResult {
        if follower.lastError(of: channel.module) != nil { note("\(channel.module): channel \(channel.reference) reachable again") }
        return .unchanged
    }
}

extension ChannelFollower {
    func lastError(of module: String) -> String? { entries.withLock { $0[module]?.lastError } }
}

/// A pull as a child process: `plugin-host pull REF --json` (a channel's check adds
/// `--unless-at <seen>`; the fleet agent pulls what a desired state names). The HTTP client
/// (libcurl and the thirty libraries it loads, about 9 MB) is mapped by that short-lived process
/// only, never by the daemon, which stays small between pulls.
enum PullCommand {
    /// A channel's check.
    static func run(_ channel: FollowedChannel, stateDirectory: String, executable: String, follower: ChannelFollower) throws(ModuleError) -> PullReport {
        try run(arguments: try channel.pullArguments(stateDirectory: stateDirectory), what: channel.reference, executable: executable) { pid in
            follower.child.store(pid, ordering: .releasing)
            if pid > 0, follower.stopping.load(ordering: .acquiring) { kill(pid, SIGTERM) }
        }
    }

    /// Runs the pull; its result, or its error as the command reported it. `child` is told the
    /// pid when it started (so that a host stopping can end it) and 0 when it ended.
    static func run(arguments: [String], what: String, executable: String, child: (Int32) -> Void) throws(ModuleError) -> PullReport {
        let captured: Subprocess.Captured
        switch Subprocess.capture(executable, arguments: arguments, started: child) {
        case let .success(done): captured = done
        case let .failure(failure): throw ModuleError(.io, "cannot run \(executable) to pull \(what): \(failure)")
        }
        child(0)
        let output = Data(captured.output)
        if let report = try? JSONDecoder().decode(PullReport.self, from: output) { return report }
        if let failure = try? JSONDecoder().decode(ModuleErrorReport.self, from: output) { throw failure.moduleError }
        throw ModuleError(.network, "\(executable) pull ended with \(Subprocess.describe(waitStatus: captured.status)) without a result")
    }
}
