#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages
import PluginHostRegistry
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running host's one waiting thread. It sleeps in poll(2) until something needs it:
/// - the runtime's snapshot changed (a supervisor's state, an event): it writes the status file;
/// - the state directory changed (inotify on `<state>/modules` and on each module's directory:
///   `current` switched by an install, `plugin-host rollback` or `remove`, a module added): it
///   reconciles;
/// - a time it asked for: the runtime's next look (the state directory was busy, a module is
///   paused for an install), and the systemd watchdog (every half of `WATCHDOG_USEC`).
/// A host whose modules are healthy sleeps here between watchdog pings; the supervisors sleep
/// until their runner sends something, exits, or a health deadline passes. All its waits are on
/// the monotonic clock. It runs on a thread of its own, never on Swift's cooperative pool:
/// reconciling stops and starts runners, which blocks.
public final class HostEventLoop: Sendable {
    let runtime: HostRuntime
    let watchdog: Duration?
    let ping: @Sendable () -> Void
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopping = Atomic<Bool>(false)
    private let done = MonotonicCondition()
    private let finished = Mutex(false)

    /// - Parameters:
    ///   - runtime: the runtime it drives (reconcile, status file).
    ///   - watchdog: how often to call `ping` (nil: never).
    ///   - ping: the watchdog notification (`sd_notify("WATCHDOG=1")`).
    /// - Throws: `ModuleError` `.io` if its pipe cannot be made.
    public init(runtime: HostRuntime, watchdog: Duration?, ping: @escaping @Sendable () -> Void) throws(ModuleError) {
        guard let wake = Subprocess.makePipe() else {
            throw ModuleError(.io, "cannot create the host's wake-up pipe: raise the open-files limit", underlying: String(cString: strerror(errno)))
        }
        for fd in [wake.read, wake.write] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = wake.read
        wakeWrite = wake.write
        self.runtime = runtime
        self.watchdog = watchdog
        self.ping = ping
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Starts the thread; the runtime's changes wake it from now on.
    public func start() {
        runtime.onChange { [weak self] in self?.wake() }
        let ended: @Sendable () -> Void = { [self] in
            done.locked {
                finished.withLock { $0 = true }
                done.broadcast()
            }
        }
        let created = startDetachedThread(name: "plugin-host events") { [self] in
            run()
            ended()
        }
        if created != 0 {
            runtime.log("the event loop cannot start a thread (\(String(cString: strerror(created)))): module directories are not watched")
            ended()
        }
    }

    /// Ends the thread and waits for it (the runtime's modules keep running: `HostRuntime.stop`).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake()
        done.locked {
            while !finished.withLock({ $0 }) { done.wait(until: nil) }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func run() {
        let watcher = StateDirectoryWatcher(stateDirectory: runtime.stateDirectory)
        var nextReconcile: ContinuousClock.Instant? = .now
        var nextPing: ContinuousClock.Instant? = watchdog.map { .now + $0 }
        var reloadChannels = false
        while !stopping.load(ordering: .acquiring) {
            let now = ContinuousClock.now
            if let due = nextReconcile, due <= now {
                nextReconcile = runtime.reconcile()
                watcher?.watchModules()
            }
            if reloadChannels {
                reloadChannels = false
                runtime.reloadChannels()
                watcher?.watchModules()
            }
            if let due = runtime.nextChannelCheck, due <= now { runtime.checkDueChannels() }
            if let due = nextPing, due <= now, let watchdog {
                ping()
                nextPing = now + watchdog
            }
            do { try runtime.writeStatusIfChanged() } catch { runtime.log("cannot write the status file: \(error)") }

            let deadline = [nextReconcile, nextPing, runtime.nextChannelCheck].compactMap { $0 }.min()
            var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if let watcher { descriptors.append(pollfd(fd: watcher.descriptor, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&descriptors, nfds_t(descriptors.count), pollMilliseconds(until: deadline))
            if descriptors[0].revents != 0 { drain(wakeRead) }
            if descriptors.count > 1, descriptors[1].revents != 0, let changes = watcher?.takeChanges() {
                if changes.modules { nextReconcile = .now }
                if changes.channels { reloadChannels = true }
            }
        }
    }


    private func drain(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(fd, &buffer, buffer.count) > 0 {}
    }
}

/// inotify on the state directory's module tree: `<state>/modules` (modules added and removed)
/// and each `<state>/modules/<id>` (`current` and `previous` switched, `state.json` replaced);
/// and on `<state>/channels` (`plugin-host follow` and `unfollow`).
/// Writes inside a version's files, logs or data are not watched.
final class StateDirectoryWatcher {
    let descriptor: Int32
    private let stateDirectory: String
    private var watched: [Int32: String] = [:]
    private static let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_ONLYDIR)

    /// nil where the kernel has no inotify (the host then reconciles on its timers and after its
    /// own changes only).
    init?(stateDirectory: String) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        descriptor = fd
        self.stateDirectory = stateDirectory
        watchModules()
    }

    deinit { close(descriptor) }

    /// Adds watches for the module directories that exist now (and for the state directory
    /// itself, to see `modules` appear).
    func watchModules() {
        let modules = stateDirectory + "/modules"
        var paths = [stateDirectory, modules, FollowedChannel.directory(stateDirectory: stateDirectory)]
        paths += ((try? FileManager.default.contentsOfDirectory(atPath: modules)) ?? []).filter { !$0.hasPrefix(".") }.map { modules + "/" + $0 }
        let known = Set(watched.values)
        for path in paths where !known.contains(path) {
            let wd = inotify_add_watch(descriptor, path, Self.mask)
            if wd >= 0 { watched[wd] = path }
        }
    }

    /// Reads the pending events: whether any concerns the module tree, and the channels.
    func takeChanges() -> (modules: Bool, channels: Bool) {
        var changed = false
        var channels = false
        let channelDirectory = FollowedChannel.directory(stateDirectory: stateDirectory)
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: MemoryLayout<inotify_event>.alignment) { buffer in
            while true {
                let count = read(descriptor, buffer.baseAddress, buffer.count)
                guard count > 0 else { return }
                var offset = 0
                while offset + MemoryLayout<inotify_event>.size <= count {
                    let event = buffer.baseAddress!.advanced(by: offset).loadUnaligned(as: inotify_event.self)
                    if event.mask & UInt32(IN_IGNORED) != 0 {
                        watched[event.wd] = nil
                    } else if let path = watched[event.wd] {
                        // In the state directory itself only `modules` matters (audit.log and the
                        // runtime link do not).
                        let name = event.len > 0 ? String(cString: buffer.baseAddress!.advanced(by: offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)) : ""
                        if path == channelDirectory || (path == stateDirectory && name == "channels") {
                            channels = true
                        } else if path != stateDirectory || name == "modules" {
                            changed = true
                        }
                    }
                    offset += MemoryLayout<inotify_event>.size + Int(event.len)
                }
            }
        }
        return (changed, channels)
    }
}
