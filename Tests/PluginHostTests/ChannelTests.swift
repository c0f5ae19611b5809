import Foundation
import LinuxSupport
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRegistry
@testable import PluginHostStore

@Suite("Following a channel (plugin-host follow)")
struct ChannelTests {
    @Test("intervals are read as an operator writes them, and written back the same way", arguments: [
        ("15m", 900.0), ("1h30m", 5400), ("90s", 90), ("2d", 172_800), ("45", 45), ("0.5s", 0.5), ("1h", 3600),
    ])
    func intervals(text: String, seconds: Double) {
        #expect(FollowedChannel.parseInterval(text) == seconds)
    }

    @Test("what is not an interval is refused", arguments: ["", "15x", "m", "0", "-5m", "15m3", "1 h", "nan"])
    func badIntervals(text: String) {
        #expect(FollowedChannel.parseInterval(text) == nil)
    }

    @Test("intervals print in their shortest form")
    func intervalText() {
        #expect(FollowedChannel.intervalText(900) == "15m")
        #expect(FollowedChannel.intervalText(5400) == "1h30m")
        #expect(FollowedChannel.intervalText(86_401) == "1d1s")
        #expect(FollowedChannel.intervalText(2) == "2s")
    }

    @Test("follow records the channel, list shows it for a module not installed yet, unfollow forgets it; bad input is refused with what to write")
    func followAndUnfollow() throws {
        let host = try #require(Tool.pluginHost)
        let base = try TemporaryDirectory("channels")
        defer { base.cleanUp() }
        let state = base.path("state")
        let follow = try Tool.run(host, ["follow", "com.example.climate", "registry.example.com:5000/sensors/climate:stable", "--every", "1h30m",
                                         "--insecure-registry", "registry.example.com:5000", "--platform", "linux/arm/v7", "--state-dir", state])
        #expect(follow.status == 0, "\(follow.stderr)")
        #expect(follow.stdout.contains("com.example.climate follows registry.example.com:5000/sensors/climate:stable, checked every 1h30m; no host runs"), "\(follow.stdout)")
        let channel = try #require(try FollowedChannel.load(stateDirectory: state, module: "com.example.climate"))
        #expect(channel.everySeconds == 5400 && channel.registry.insecure && channel.registry.platform == "linux/arm/v7" && channel.seen == nil)
        #expect(try channel.pullArguments(stateDirectory: state) == ["pull", "registry.example.com:5000/sensors/climate:stable", "--json", "--state-dir", state,
                                                                    "--insecure-registry", "registry.example.com:5000", "--platform", "linux/arm/v7"])

        let list = try Tool.run(host, ["list", "--state-dir", state])
        #expect(list.stdout.contains("com.example.climate  -  not-installed\n    follows registry.example.com:5000/sensors/climate:stable every 1h30m"), "\(list.stdout)")
        let json = try Tool.run(host, ["list", "--json", "--state-dir", state])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        let entry = try #require(decoded?.first)
        #expect(entry["id"] as? String == "com.example.climate" && entry["state"] as? String == "not-installed")
        #expect((entry["channel"] as? [String: Any])?["everySeconds"] as? Double == 5400)

        for (arguments, message) in [
            (["com.example.climate", "registry.example.com/sensors/climate:stable", "--every", "soon"], "--every 'soon' is not an interval"),
            (["Not An Id", "registry.example.com/sensors/climate:stable"], "'Not An Id' is not a module id"),
            (["com.example.climate", "registry.example.com/Sensors"], "is not an image reference"),
            (["com.example.climate", "registry.example.com/sensors/climate@sha256:" + String(repeating: "a", count: 64)], "names a digest, which never moves"),
        ] {
            let refused = try Tool.run(host, ["follow"] + arguments + ["--state-dir", state])
            #expect(refused.status == 12, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains(message), "\(refused.stderr)")
        }
        // The refusals left the channel as it was.
        #expect(try FollowedChannel.load(stateDirectory: state, module: "com.example.climate") == channel)

        let unfollow = try Tool.run(host, ["unfollow", "com.example.climate", "--state-dir", state])
        #expect(unfollow.status == 0 && unfollow.stdout.contains("no longer follows a channel"), "\(unfollow)")
        #expect(try Tool.run(host, ["list", "--state-dir", state]).stdout.contains("no modules installed"))
        let again = try Tool.run(host, ["unfollow", "com.example.climate", "--state-dir", state])
        #expect(again.status == 17 && again.stderr.contains("follows no channel"), "\(again)")
    }

    @Test("a damaged channel file is skipped with a message that says how to fix it")
    func damagedFile() throws {
        let base = try TemporaryDirectory("channels")
        defer { base.cleanUp() }
        let state = base.path("state")
        try FileManager.default.createDirectory(atPath: FollowedChannel.directory(stateDirectory: state), withIntermediateDirectories: true)
        try Data("{\"module\": ".utf8).write(to: URL(fileURLWithPath: FollowedChannel.directory(stateDirectory: state) + "/com.example.broken.json"))
        let (channels, unreadable) = FollowedChannel.all(stateDirectory: state)
        #expect(channels.isEmpty)
        #expect(unreadable.count == 1 && unreadable[0].contains("plugin-host unfollow com.example.broken"), "\(unreadable)")
    }
}

/// The running host following a channel in a real registry: releases arrive by retagging, a bad
/// release is rolled back once and not retried, a registry that goes away changes nothing.
@Suite("Following a channel in a registry (plugin-host run, docker-registry on 127.0.0.1)",
       .enabled(if: LocalRegistry.available && TestModule.runnerExecutable != nil, "docker-registry, skopeo or the built runner is missing"))
struct ChannelFollowingTests {
    @Test("the host installs each release the tag moves to; a release that breaks after its update is rolled back once and not retried; a registry that is down changes nothing; a downgrade is refused and remembered")
    func followsReleases() throws {
        let registry = try LocalRegistry()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let host = try #require(Tool.pluginHost)
        let repository = "acme/testmodule"
        let reference = "\(registry.address)/\(repository):stable"
        func release(_ version: String, behavior: String = "heartbeat", manifest: ModuleManifest? = nil) throws {
            try registry.push(layout: try f.image(version, behavior: behavior, manifest: manifest), tag: version, to: repository, as: "stable")
        }
        func channel() throws -> FollowedChannel? { try FollowedChannel.load(stateDirectory: f.state, module: UpdateFixture.id) }
        func snapshot() -> String { "\(String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)))" }

        try release("1.0.0")
        // A host that runs nothing yet; it sees the channel once `follow` writes it.
        let process = try HostRuntimeTests.startHost(f)
        defer { HostRuntimeTests.stop(process) }
        #expect(waitUntil(seconds: 20) { HostRuntime.runningSnapshot(stateDirectory: f.state) != nil })
        let follow = try Tool.run(host, ["follow", UpdateFixture.id, reference, "--every", "1s", "--insecure-registry", registry.address, "--state-dir", f.state])
        #expect(follow.status == 0, "\(follow.stderr)")
        #expect(follow.stdout.contains("checked every 1s by the running host"), "\(follow.stdout)")

        // The first release is installed from the channel: the module was not installed before.
        #expect(waitUntil(seconds: 60) { HostRuntimeTests.running(f, "1.0.0") }, "\(snapshot())")
        #expect(try channel()?.outcome?.result == .installed && channel()?.outcome?.version == "1.0.0")

        // The publisher moves the tag: the host follows.
        try release("1.1.0")
        #expect(waitUntil(seconds: 60) { HostRuntimeTests.running(f, "1.1.0") }, "\(snapshot())")

        // A release that passes its health check and then crashes: the running host rolls it back,
        // the channel remembers it, and it is not installed again while the tag stays on it.
        let flaky = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.5, stabilityWindowSeconds: 0.6,
                                                maxRestarts: 1, restartWindowSeconds: 60)
        try release("1.2.0", behavior: "heartbeat crash-after-ms 1500", manifest: UpdateFixture.manifest("1.2.0", health: flaky))
        #expect(waitUntil(seconds: 90) { (try? channel()?.outcome?.result) == .rolledBack }, "\(snapshot())")
        #expect(waitUntil(seconds: 20) { HostRuntimeTests.running(f, "1.1.0") }, "\(snapshot())")
        let rolledBack = try channel()?.outcome
        #expect(rolledBack?.version == "1.2.0" && rolledBack?.reason?.contains("broke") == true, "\(String(describing: rolledBack))")
        let transactions = try Self.transactions(f)
        Thread.sleep(forTimeInterval: 4)   // four checks at 1 s
        #expect(try Self.transactions(f) == transactions, "1.2.0 was installed again while the tag stayed on it")
        #expect(f.activeVersion == "1.1.0")

        // The registry goes away: the checks fail, the status says why, the module runs on.
        registry.stop()
        #expect(waitUntil(seconds: 20) { HostRuntime.runningSnapshot(stateDirectory: f.state)?.channels?.first?.lastError != nil }, "\(snapshot())")
        let status = try Tool.run(host, ["status", "--state-dir", f.state])
        #expect(status.stdout.contains("channel    \(UpdateFixture.id) \(reference) every 1s: last check ") && status.stdout.contains(" failed: "), "\(status.stdout)")
        #expect(status.stdout.contains("the running version is untouched, trying again later"), "\(status.stdout)")
        #expect(HostRuntimeTests.running(f, "1.1.0"))
        try registry.start()

        // The tag moves back to an older release: refused by the version policy, remembered.
        try registry.push(layout: try f.image("1.0.1"), tag: "1.0.1", to: repository, as: "stable")
        #expect(waitUntil(seconds: 60) { (try? channel()?.outcome?.result) == .refused }, "\(snapshot())")
        #expect(try channel()?.outcome?.reason?.contains("older than the installed 1.1.0") == true)
        #expect(HostRuntimeTests.running(f, "1.1.0"))

        // The publisher's key is scoped to other modules: the next release is refused before it is
        // unpacked (the follower verifies as install does), and remembered.
        let store = TrustStore(stateDirectory: f.state)
        try store.add(f.base.key.publicKey, modules: [try ModulePattern("org.acme.*")])
        try release("1.2.5")
        #expect(waitUntil(seconds: 60) { (try? channel()?.outcome?.reason)??.contains("which key \(f.base.key.publicKey.keyID) may not sign") == true }, "\(snapshot())")
        #expect(try channel()?.outcome?.result == .refused)
        #expect(HostRuntimeTests.running(f, "1.1.0"))
        try store.add(f.base.key.publicKey, modules: [try ModulePattern("com.example.*")])

        // The next good release goes in; list shows the channel and what it did.
        try release("1.3.0")
        #expect(waitUntil(seconds: 60) { HostRuntimeTests.running(f, "1.3.0") }, "\(snapshot())")
        let list = try Tool.run(host, ["list", "--state-dir", f.state])
        #expect(list.stdout.contains("follows \(reference) every 1s; last: installed 1.3.0 (sha256:"), "\(list.stdout)")
        try f.expectConsistent()

        // Unfollowed: the host stops checking; the module stays.
        #expect(try Tool.run(host, ["unfollow", UpdateFixture.id, "--state-dir", f.state]).status == 0)
        #expect(waitUntil(seconds: 10) { HostRuntime.runningSnapshot(stateDirectory: f.state)?.channels == nil }, "\(snapshot())")
        #expect(HostRuntimeTests.running(f, "1.3.0"))
    }

    @Test("a host stopped in the middle of a channel's pull stops at once and leaves no pull behind; the partial file stays for the next check")
    func stopDuringPull() throws {
        let setup = try BadLinkTests.setUp()
        defer { setup.fixture.cleanUp() }
        // The link stalls after 6 MB, for the 60 s a pull waits before it gives up.
        setup.proxy.faults.stallOnceAfter = 6 << 20
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let host = try #require(Tool.pluginHost)
        let follow = try Tool.run(host, ["follow", "com.example.thermostat", setup.reference.description, "--every", "1s",
                                         "--insecure-registry", "127.0.0.1:\(setup.proxy.port)", "--state-dir", f.state])
        #expect(follow.status == 0, "\(follow.stderr)")
        let process = try HostRuntimeTests.startHost(f)
        let partial = ContentStore(stateDirectory: f.state).partialPath(of: setup.layer.digest)
        #expect(waitUntil(seconds: 30) { ((try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? Int ?? 0) >= 4 << 20 })
        let pulls = Self.pulls(of: f.state)
        #expect(pulls.count == 1, "\(pulls)")
        kill(process.processIdentifier, SIGTERM)
        #expect(waitUntil(seconds: 10) { !process.isRunning }, "the host did not stop within 10 s")
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(waitUntil(seconds: 5) { Self.pulls(of: f.state).isEmpty }, "a pull outlived the host: \(Self.pulls(of: f.state))")
        #expect(((try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? Int ?? 0) >= 4 << 20)
    }

    /// The pids of `plugin-host pull` processes working on `state`.
    static func pulls(of state: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.count > 2 && arguments[1] == "pull" && arguments.contains(state)
        }
    }

    /// How many transactions (installs, rollbacks) the module's state directory has logs of.
    static func transactions(_ f: UpdateFixture) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: f.paths.logs).count
    }
}
