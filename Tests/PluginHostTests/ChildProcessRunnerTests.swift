import Foundation
import ModuleProtocol
import Testing
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// ChildProcessRunner against the real `plugin-host-runner` and the C test module
/// (Tests/Fixtures/modules/testmodule.c). Time limits are generous and only bounded from below:
/// these tests must not fail on a slow or loaded machine.
@Suite("ChildProcessRunner")
struct ChildProcessRunnerTests {
    /// A module directory, a data directory and a runner, in a fresh temporary directory.
    struct Setup {
        let root: String
        let runner: ChildProcessRunner
        var moduleDirectory: String { root + "/module" }
        var dataDirectory: String { root + "/data" }

        init(behavior: String = "", migration: String? = nil) throws {
            let executable = try #require(TestModule.runnerExecutable, "plugin-host-runner was not built next to the tests")
            root = try TestModule.temporaryDirectory("runner")
            runner = ChildProcessRunner(executable: executable)
            try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
            try TestModule.directory(at: root + "/module", behavior: behavior, migration: migration)
        }

        func context(_ manifest: ModuleManifest = TestModule.manifest(), moduleDirectory: String? = nil) -> ModuleContext {
            ModuleContext(manifest: manifest, moduleDirectory: moduleDirectory ?? self.moduleDirectory, dataDirectory: dataDirectory)
        }

        func hook(_ step: String, timeout: Double = 20, manifest: ModuleManifest = TestModule.manifest(), moduleDirectory: String? = nil) -> HookResult {
            runner.runHook(name: step, hook: TestModule.hook(step, timeout: timeout), context: context(manifest, moduleDirectory: moduleDirectory))
        }

        func start(_ manifest: ModuleManifest = TestModule.manifest()) throws -> any ModuleInstance {
            try runner.start(context(manifest))
        }

        func dataFile(_ name: String) -> String? {
            try? String(contentsOfFile: dataDirectory + "/" + name, encoding: .utf8)
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
    }

    static func within(_ seconds: Double) -> ContinuousClock.Instant {
        .now + .milliseconds(Int(seconds * 1000))
    }

    /// The next event that is not a heartbeat.
    static func nextNonHeartbeat(_ instance: any ModuleInstance, within seconds: Double) -> ModuleEvent? {
        let deadline = within(seconds)
        while let event = instance.nextEvent(before: deadline) {
            if event != .heartbeat { return event }
        }
        return nil
    }

    // MARK: - Hooks

    @Test("a hook that returns 0 succeeds; its output and its hooks.log line are there")
    func hookSucceeds() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        let result = setup.hook("install")
        #expect(result.outcome == .succeeded, "\(result.output)")
        #expect(result.output.contains("hook install ran (version 1.0.0)"))
        #expect(result.output.contains("log 1 hook install: succeed"))
        #expect(result.seconds > 0)
        #expect(setup.dataFile("hooks.log") == "install 1.0.0\n")
    }

    @Test("a hook that returns 1 is .returned(1)")
    func hookFails() throws {
        let setup = try Setup(behavior: "hook-install=fail")
        defer { setup.cleanUp() }
        let result = setup.hook("install")
        #expect(result.outcome == .returned(1), "\(result.output)")
        #expect(result.output.contains("hook install ran"))
    }

    @Test("a hook that hangs is killed at its timeout: .timedOut")
    func hookHangs() throws {
        let setup = try Setup(behavior: "hook-health=hang")
        defer { setup.cleanUp() }
        let result = setup.hook("health", timeout: 0.5)
        #expect(result.outcome == .timedOut, "\(result.output)")
        #expect(result.seconds >= 0.5)
        #expect(result.output.contains("hook health ran"))
    }

    @Test("a hook that crashes is .crashed(.signaled(SIGABRT))")
    func hookCrashes() throws {
        let setup = try Setup(behavior: "hook-verify=crash")
        defer { setup.cleanUp() }
        let result = setup.hook("verify")
        #expect(result.outcome == .crashed(.signaled(SIGABRT)), "\(result.output)")
        #expect(result.output.contains("hook verify ran"))
    }

    @Test("a symbol the library does not export: .crashed(.exited(2)) with dlerror's text and the fix")
    func missingSymbol() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        let hook = ModuleManifest.Hook(symbol: "module_does_not_exist", timeoutSeconds: 20)
        let result = setup.runner.runHook(name: "verify", hook: hook, context: setup.context())
        #expect(result.outcome == .crashed(.exited(RunnerExitStatus.moduleUnusable.rawValue)), "\(result.output)")
        // Both sides read the runner's statuses from one enum: the host says what 2 means.
        #expect("\(ProcessExit.exited(2))" == "exited with status 2 (the module's library, entry point or a runner thread could not be set up)")
        #expect(result.output.contains("undefined symbol: module_does_not_exist"))
        #expect(result.output.contains(setup.moduleDirectory + "/lib/libtestmodule.so"))
        #expect(result.output.contains("@_cdecl"))
    }

    @Test("a library that is not there: .crashed(.exited(2)) naming the path")
    func missingLibrary() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        var manifest = TestModule.manifest()
        manifest.library.path = "lib/libmissing.so"
        let result = setup.hook("verify", manifest: manifest)
        #expect(result.outcome == .crashed(.exited(2)), "\(result.output)")
        #expect(result.output.contains(setup.moduleDirectory + "/lib/libmissing.so"))
    }

    @Test("a hook's output is drained while it runs and only its last 64 KiB are kept")
    func chattyHook() throws {
        let setup = try Setup(behavior: "hook-commit=chatty")
        defer { setup.cleanUp() }
        let result = setup.hook("commit")
        #expect(result.outcome == .succeeded)
        #expect(result.output.utf8.count <= 64 * 1024)
        #expect(result.output.utf8.count > 60 * 1024)
        #expect(result.output.contains("chatty line 3999 "))
        #expect(!result.output.contains("chatty line 0000 "))
    }

    @Test("a runner executable that is not there: the message says where it looked and about PLUGIN_HOST_RUNNER")
    func missingRunner() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        let runner = ChildProcessRunner(executable: setup.root + "/no/plugin-host-runner")
        let result = runner.runHook(name: "verify", hook: TestModule.hook("verify"), context: setup.context())
        #expect(result.outcome == .crashed(.exited(127)))
        #expect(result.output.contains(setup.root + "/no/plugin-host-runner"))
        #expect(result.output.contains("PLUGIN_HOST_RUNNER"))
        do {
            _ = try runner.start(setup.context())
            Issue.record("start succeeded without a runner")
        } catch {
            #expect(error.code == .runnerFailed)
            #expect(error.message.contains("PLUGIN_HOST_RUNNER"))
        }
    }

    @Test("install with schema 1, then with schema 2: user_version 2 and the column note; hooks.log in order")
    func migration() throws {
        let setup = try Setup(behavior: "hook-health=check-schema-1", migration: "schema 1")
        defer { setup.cleanUp() }
        let old = TestModule.manifest(version: "1.0.0")
        #expect(setup.hook("install", manifest: old).outcome == .succeeded)
        #expect(setup.hook("health", manifest: old).outcome == .succeeded)

        // Version 2 in a directory of its own, sharing the data directory, as an update does.
        let newDirectory = try TestModule.directory(at: setup.root + "/module-2", behavior: "hook-health=check-schema-2", migration: "schema 2")
        let new = TestModule.manifest(version: "2.0.0")
        let beforeMigration = setup.hook("health", manifest: new, moduleDirectory: newDirectory)
        #expect(beforeMigration.outcome == .returned(1), "\(beforeMigration.output)")
        let install = setup.hook("install", manifest: new, moduleDirectory: newDirectory)
        #expect(install.outcome == .succeeded, "\(install.output)")
        #expect(install.output.contains("migrated app.db from user_version 1 to 2"))
        let health = setup.hook("health", manifest: new, moduleDirectory: newDirectory)
        #expect(health.outcome == .succeeded, "\(health.output)")
        #expect(setup.dataFile("hooks.log") == "install 1.0.0\nhealth 1.0.0\nhealth 2.0.0\ninstall 2.0.0\nhealth 2.0.0\n")
    }

    // MARK: - Start and stop

    @Test("start: .ready, then heartbeats; stop ends it cleanly")
    func readyAndHeartbeats() throws {
        let setup = try Setup(behavior: "heartbeat")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(instance.nextEvent(before: Self.within(10)) == .ready)
        for _ in 0..<3 {
            #expect(instance.nextEvent(before: Self.within(10)) == .heartbeat)
        }
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        #expect(instance.nextEvent(before: .now) == .exited(.exited(0)))
        #expect(instance.output.contains("module stop called"))
        #expect(instance.output.contains("module com.example.testmodule 1.0.0 starting (abi 1"))
        // The manifest's capabilities.storageQuotaBytes reaches the module's table.
        #expect(instance.output.contains("storage quota 1048576 bytes"), "\(instance.output)")
    }

    @Test("stop-heartbeat: .ready, two heartbeats, then silence")
    func heartbeatsStop() throws {
        let setup = try Setup(behavior: "stop-heartbeat")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(instance.nextEvent(before: Self.within(10)) == .ready)
        #expect(instance.nextEvent(before: Self.within(10)) == .heartbeat)
        #expect(instance.nextEvent(before: Self.within(10)) == .heartbeat)
        #expect(instance.nextEvent(before: Self.within(0.6)) == nil)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("never-ready: no event before the deadline")
    func neverReady() throws {
        let setup = try Setup(behavior: "never-ready")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        let before = ContinuousClock.now
        #expect(instance.nextEvent(before: Self.within(1)) == nil)
        #expect(ContinuousClock.now - before >= .seconds(1))
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("crash-after-ready: .ready, then .exited(.signaled(SIGABRT)), and .exited again at once")
    func crashAfterReady() throws {
        let setup = try Setup(behavior: "crash-after-ready")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(instance.nextEvent(before: Self.within(10)) == .ready)
        #expect(instance.nextEvent(before: Self.within(20)) == .exited(.signaled(SIGABRT)))
        #expect(instance.nextEvent(before: .now) == .exited(.signaled(SIGABRT)))
        #expect(instance.stop(timeout: .seconds(1)) == .signaled(SIGABRT))
        #expect(instance.output.contains("testmodule: crashing on purpose"))
    }

    @Test("exit-early: start returns 1, the runner exits with status 3")
    func exitEarly() throws {
        let setup = try Setup(behavior: "exit-early")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(instance.nextEvent(before: Self.within(20)) == .exited(.exited(RunnerExitStatus.startFailed.rawValue)))
        #expect(instance.output.contains("testmodule: exit-early"))
        #expect(instance.output.contains("'module_start' returned 1"))
    }

    @Test("a blocking start returns after stop: clean .exited(0)")
    func blockingStop() throws {
        let setup = try Setup(behavior: "blocking heartbeat")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(Self.nextNonHeartbeat(instance, within: 10) == .ready)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        #expect(instance.output.contains("module start returns after should_stop"))
    }

    @Test("a stop entry point that hangs: killed at the timeout, .signaled(SIGKILL)")
    func stopHangs() throws {
        let setup = try Setup(behavior: "stop-hang")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(instance.nextEvent(before: Self.within(10)) == .ready)
        let before = ContinuousClock.now
        #expect(instance.stop(timeout: .milliseconds(500)) == .signaled(SIGKILL))
        #expect(ContinuousClock.now - before >= .milliseconds(500))
        #expect(instance.output.contains("module stop called"))
    }

    @Test("a process the module forked is killed with the process group")
    func forkedChildIsKilled() throws {
        let setup = try Setup(behavior: "fork-child heartbeat")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(Self.nextNonHeartbeat(instance, within: 10) == .ready)
        let pid = try #require(setup.dataFile("child.pid").flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        #expect(Self.isAlive(pid))
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        #expect(Self.waitUntilGone(pid), "the module's child \(pid) outlived the module")
    }

    @Test("write-rows: start inserts rows that a hook then sees")
    func writeRows() throws {
        let setup = try Setup(behavior: "write-rows 5 hook-health=check-rows-5")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(instance.nextEvent(before: Self.within(10)) == .ready)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        let health = setup.hook("health")
        #expect(health.outcome == .succeeded, "\(health.output)")
    }

    @Test("an instance that is released kills and reaps its process")
    func releaseKills() throws {
        let setup = try Setup(behavior: "blocking")
        defer { setup.cleanUp() }
        var pid: pid_t = 0
        do {
            let instance = try setup.start()
            #expect(instance.nextEvent(before: Self.within(10)) == .ready)
            pid = try #require(instance as? ChildModuleInstance).processID
        }
        // Reaped by deinit, so the pid is gone at once (no zombie).
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
    }

    // MARK: - Process helpers

    /// Alive and not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A killed orphan stays a zombie until init reaps it, and some container inits never do.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    static func waitUntilGone(_ pid: pid_t) -> Bool {
        let deadline = within(10)
        while ContinuousClock.now < deadline {
            if !isAlive(pid) { return true }
            usleep(20_000)
        }
        return false
    }
}
