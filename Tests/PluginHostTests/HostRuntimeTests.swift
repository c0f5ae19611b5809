import LinuxSupport
import CIoTLinux
import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// The running host: supervision of installed modules, automatic rollback of a freshly updated
/// module that breaks, and `plugin-host run` as a process (SIGTERM, systemd notifications).
@Suite("Host runtime")
struct HostRuntimeTests {
    @Test("a module updated to a version that crashes after passing its health check is rolled back, and the old version runs again")
    func freshUpdateRolledBack() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try Self.installFlakyUpdate(f)
        let runtime = try Self.quickRuntime(f)
        try runtime.start()
        defer { runtime.stop() }
        let rolledBack = waitUntil(seconds: 30) {
            runtime.snapshot.modules.first.map { $0.version == "1.0.0" && $0.state == .running } ?? false
        }
        #expect(rolledBack, "\(runtime.snapshot)")
        #expect(f.activeVersion == "1.0.0")
        #expect(runtime.snapshot.events.contains { $0.contains("rolled back from 1.1.0 to 1.0.0") }, "\(runtime.snapshot.events)")
        // Every automatic action says why: the restarts, the verdict, the decision to roll back.
        #expect(runtime.snapshot.events.contains { $0.contains("1.1.0: ") && $0.contains("restarting in ") }, "\(runtime.snapshot.events)")
        #expect(runtime.snapshot.events.contains { $0.contains("1.1.0: marked broken: ") }, "\(runtime.snapshot.events)")
        #expect(runtime.snapshot.events.contains { $0.contains("1.1.0: rolling back: broke ") && $0.contains("after its update committed (within 600 s)") }, "\(runtime.snapshot.events)")
        let record = try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state).lastTransaction
        #expect(record?.kind == .rollback)
        #expect(record?.reason?.hasPrefix("automatic, by the running host: 1.1.0 broke ") == true, "\(String(describing: record?.reason))")
        #expect(record?.reason?.contains("after running") == true, "the module's own failure is not in the reason: \(String(describing: record?.reason))")
        #expect(record?.finishedIn?.secondsAgo() != nil)
        try f.expectConsistent()
    }

    @Test("as an operator sees it: an update that passes its health check and then crashes is rolled back by the running host, and its log and status say why")
    func automaticRollbackSaysWhy() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let errors = Pipe()
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat"))
        let process = try Self.startHost(f, output: errors)
        #expect(waitUntil(seconds: 20) { Self.running(f, "1.0.0") })
        let flaky = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.5, stabilityWindowSeconds: 0.6,
                                                maxRestarts: 1, restartWindowSeconds: 60)
        let install = try UpdateCrashTests.pluginHost(["install", try f.image("1.1.0", behavior: "heartbeat crash-after-ms 1200", manifest: UpdateFixture.manifest("1.1.0", health: flaky)),
                                                       "--state-dir", f.state], fault: nil)
        #expect(install.status == 0, "\(install.stderr)")
        #expect(waitUntil(seconds: 60) { Self.running(f, "1.0.0") && f.activeVersion == "1.0.0" },
                "\(String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)))")
        let binary = try #require(Tool.pluginHost)
        let module = try Tool.run(binary, ["status", UpdateFixture.id, "--state-dir", f.state])
        #expect(module.stdout.contains("rollback 1.1.0@") && module.stdout.contains("rollback-done"), "\(module.stdout)")
        #expect(module.stdout.contains("reason     automatic, by the running host: 1.1.0 broke "), "\(module.stdout)")
        let host = try Tool.run(binary, ["status", "--state-dir", f.state])
        #expect(host.stdout.contains("1.1.0: rolling back: broke "), "\(host.stdout)")
        Self.stop(process)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        for line in ["1.1.0: marked broken: ", "1.1.0: rolling back: broke ", "rolled back from 1.1.0 to 1.0.0"] {
            #expect(log.contains(line), "the host's log lacks '\(line)':\n\(log)")
        }
    }

    @Test("a version whose update committed before this boot is marked broken, not rolled back, and the host says why")
    func updateFromAnEarlierBootNotRolledBack() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try Self.installFlakyUpdate(f)
        // The record as a previous boot left it: another boot id, and a wall-clock time that looks
        // recent (a device whose clock was never set would show anything).
        let paths = ModulePaths(stateDirectory: f.state, id: UpdateFixture.id)
        var record = try #require(paths.lastRecord())
        record.finishedIn = BootInstant(bootID: "00000000-0000-0000-0000-000000000000", seconds: 1)
        try StateFiles.writeAtomically(try OCI.encode(record), to: paths.stateFile)

        let runtime = try Self.quickRuntime(f)
        try runtime.start()
        defer { runtime.stop() }
        #expect(waitUntil(seconds: 30) { runtime.snapshot.modules.first?.state == .broken }, "\(runtime.snapshot)")
        #expect(waitUntil(seconds: 5) { runtime.snapshot.events.contains { $0.contains("1.1.0: not rolled back: its update committed before this boot") } },
                "\(runtime.snapshot.events)")
        #expect(f.activeVersion == "1.1.0")
    }

    @Test("an idle host rewrites nothing: its status lives on tmpfs and changes only with the modules' state")
    func idleHostWritesNothing() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let process = try Self.hostRunningFirstVersion(f)
        defer { Self.stop(process) }
        let run = RuntimeDirectory.path(stateDirectory: f.state)
        if getuid() == 0 {
            // <state>/run is a link to a directory under /run.
            let target = try #require(Files.linkTarget(run))
            #expect(target.hasPrefix("/run/plugin-host-"), "\(target)")
        }
        let status = HostRuntime.statusPath(stateDirectory: f.state)
        func identity() -> (inode: UInt, modified: Int) {
            var info = stat()
            guard stat(status, &info) == 0 else { return (0, 0) }
            return (UInt(info.st_ino), info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec)
        }
        let before = identity()
        #expect(before.inode != 0)
        // The module heartbeats every 100 ms meanwhile; the old host rewrote the file every second.
        Thread.sleep(forTimeInterval: 2.5)
        let after = identity()
        #expect(before.inode == after.inode && before.modified == after.modified, "the status file was rewritten while nothing changed")
        // The running host answers `logs` from memory.
        let logs = try Tool.run(try #require(Tool.pluginHost), ["logs", UpdateFixture.id, "--state-dir", f.state])
        #expect(logs.status == 0 && logs.stdout.hasPrefix("== \(UpdateFixture.id), running (from the host on "), "\(logs)")
        #expect(!FileManager.default.fileExists(atPath: HostRuntime.outputPath(stateDirectory: f.state, id: UpdateFixture.id)))
    }

    @Test("plugin-host run starts modules, reports READY to systemd, writes its status, and stops them on SIGTERM")
    func runProcess() throws {
        let binary = try #require(Tool.pluginHost)
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat"))

        // A datagram socket standing in for systemd's notification socket.
        let socketPath = f.base.path("notify.sock")
        let notify = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(notify >= 0)
        defer { close(notify) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in socketPath.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(notify, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)

        let errors = Pipe()
        let process = try Self.startHost(f, environment: ["NOTIFY_SOCKET": socketPath], output: errors)

        // READY=1 arrives once the modules are started.
        var received = ""
        let deadline = Date().addingTimeInterval(20)
        while !received.contains("READY=1"), Date() < deadline {
            var pollfd = pollfd(fd: notify, events: Int16(POLLIN), revents: 0)
            if poll(&pollfd, 1, 200) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = recv(notify, &buffer, buffer.count, 0)
                if n > 0 { received += String(decoding: buffer[..<n], as: UTF8.self) + "\n" }
            }
        }
        #expect(received.contains("READY=1"), "\(received)")
        #expect(waitUntil(seconds: 10) {
            HostRuntime.runningSnapshot(stateDirectory: f.state)?.modules.first?.state == .running
        })
        let status = try Tool.run(binary, ["status", "--state-dir", f.state])
        #expect(status.stdout.contains("\(UpdateFixture.id) 1.0.0: running"), "\(status.stdout)")
        // The host reports what its sandbox has (as root here: everything but user namespaces).
        #expect(status.stdout.contains("sandbox    "), "\(status.stdout)")
        if getuid() == 0 { #expect(status.stdout.contains("sandbox    complete"), "\(status.stdout)") }

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(output)")
        #expect(HostRuntime.runningSnapshot(stateDirectory: f.state) == nil)
        let log = try String(contentsOfFile: f.state + "/run/\(UpdateFixture.id).log", encoding: .utf8)
        #expect(log.contains("module stop called"), "the module was not stopped through its stop entry point: \(log)")
        #expect(UpdateCrashTests.processes(mentioning: f.state).isEmpty)
    }

    @Test("plugin-host command reaches a module of the running host: a result; bad arguments 21 without a call; not running 17; the socket is 0600")
    func commandThroughControlSocket() throws {
        let binary = try #require(Tool.pluginHost)
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        var manifest = UpdateFixture.manifest("1.0.0")
        manifest.commands = HardwareRequestTests.commands
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat", manifest: manifest))

        let command = { (arguments: [String]) throws -> Tool.Output in
            try Tool.run(binary, ["command"] + arguments + ["--state-dir", f.state])
        }
        // No host yet.
        let early = try command([UpdateFixture.id, "add", "1", "2"])
        #expect(early.status == 17, "\(early)")
        #expect(early.stderr.contains("no plugin-host is running on \(f.state)"), "\(early.stderr)")

        let errors = Pipe()
        let process = try Self.startHost(f, environment: ["NOTIFY_SOCKET": nil], output: errors)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        #expect(waitUntil(seconds: 20) {
            HostRuntime.runningSnapshot(stateDirectory: f.state)?.modules.first?.state == .running
                && FileManager.default.fileExists(atPath: ControlServer.socketPath(stateDirectory: f.state))
        })
        var info = stat()
        #expect(lstat(ControlServer.socketPath(stateDirectory: f.state), &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o600)

        let add = try command([UpdateFixture.id, "add", "-5", "0x10"])
        #expect(add.status == 0, "\(add)")
        #expect(add.stdout == "11\n", "\(add)")
        let greet = try command([UpdateFixture.id, "greet", "plugin host"])
        #expect(greet.stdout == "hello, plugin host\n", "\(greet)")
        let json = try command([UpdateFixture.id, "u64_max", "--json"])
        #expect(json.status == 0)
        #expect(json.stdout.contains("\"value\" : 18446744073709551615"), "\(json.stdout)")

        for bad in [["add", "1"], ["add", "1", "2", "3"], ["add", "1", "x"], ["add", "1.5", "2"], ["nosuch"]] {
            let refused = try command([UpdateFixture.id] + bad)
            #expect(refused.status == 21, "\(bad): \(refused)")
            #expect(refused.stdout.isEmpty)
        }
        let unknownCommand = try command([UpdateFixture.id, "nosuch"])
        #expect(unknownCommand.stderr.contains("unknown-command: module com.example.testmodule has no command 'nosuch'; its commands are: add(a: int32, b: int32) -> int32"), "\(unknownCommand.stderr)")
        // Only the three good calls reached the module.
        #expect(try command([UpdateFixture.id, "calls"]).stdout == "3\n")

        let otherModule = try command(["com.example.other", "add", "1", "2"])
        #expect(otherModule.status == 17, "\(otherModule)")
        #expect(otherModule.stderr.contains("module com.example.other does not run on this host (it runs com.example.testmodule)"), "\(otherModule.stderr)")
        let missing = try command([UpdateFixture.id, "ghost"])
        #expect(missing.status == 23, "\(missing)")

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(!FileManager.default.fileExists(atPath: ControlServer.socketPath(stateDirectory: f.state)))
        #expect(try command([UpdateFixture.id, "add", "1", "2"]).status == 17)
    }
}

extension HostRuntimeTests {
    @Test("an install while the host runs pauses the module, and the host then runs the new version; a rollback is picked up too")
    func installWhileRunning() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let process = try Self.hostRunningFirstVersion(f)
        defer { Self.stop(process) }
        func running(_ version: String) -> Bool { Self.running(f, version) }

        let install = try UpdateCrashTests.pluginHost(["install", try f.image("1.1.0", behavior: "heartbeat"), "--state-dir", f.state], fault: nil)
        #expect(install.status == 0, "\(install.stderr)")
        #expect(waitUntil(seconds: 20) { running("1.1.0") }, "\(String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)))")
        let events = HostRuntime.runningSnapshot(stateDirectory: f.state)?.events ?? []
        #expect(events.contains { $0.contains("paused for an install") }, "\(events)")

        let rollback = try UpdateCrashTests.pluginHost(["rollback", UpdateFixture.id, "--state-dir", f.state], fault: nil)
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(waitUntil(seconds: 20) { running("1.0.0") }, "\(String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)))")
    }
}

extension HostRuntimeTests {
    @Test("an install killed while the host runs is rolled back by the host, which then runs the old version again")
    func killedInstallWhileRunning() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let process = try Self.hostRunningFirstVersion(f)
        defer { Self.stop(process) }
        func running(_ version: String) -> Bool { Self.running(f, version) }
        // Killed right after `current` switched to 1.1.0, before its health was judged.
        let install = try UpdateCrashTests.pluginHost(["install", try f.image("1.1.0", behavior: "heartbeat"), "--state-dir", f.state],
                                                      fault: "after:activated")
        #expect(install.signal == SIGKILL, "\(install.stderr)")
        // The host replays the journal (rolling back, with the module's rollback and failure hooks)
        // once the killed install's lock is gone, then runs 1.0.0 again. The status file is written
        // after each reconcile, so wait for the recovery to show in it.
        func events() -> [String] { HostRuntime.runningSnapshot(stateDirectory: f.state)?.events ?? [] }
        #expect(waitUntil(seconds: 30) { events().contains { $0.contains("recovered:") } && running("1.0.0") },
                "\(events())")
        #expect(f.activeVersion == "1.0.0")
        #expect(events().contains { $0.contains("paused for an install") }, "\(events())")
        #expect(!events().contains { $0.contains("1.1.0: starting") }, "the host ran the uncommitted version: \(events())")
        try f.expectConsistent()
    }
}

extension HostRuntimeTests {
    @Test("the control socket refuses another uid even when the file mode would let it connect",
          .enabled(if: geteuid() == 0, "needs root to run a client as another user"))
    func controlSocketRefusesOtherUsers() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        var manifest = UpdateFixture.manifest("1.0.0")
        manifest.commands = HardwareRequestTests.commands
        let process = try Self.hostRunningFirstVersion(f, manifest: manifest)
        defer { Self.stop(process) }
        let socket = ControlServer.socketPath(stateDirectory: f.state)
        #expect(waitUntil(seconds: 20) { FileManager.default.fileExists(atPath: socket) })
        // Past the file mode: a second name in a directory anyone may enter, and mode 0666.
        let open = try TestModule.temporaryDirectory("control-socket")
        defer { try? FileManager.default.removeItem(atPath: open) }
        #expect(chmod(open, 0o755) == 0)
        #expect(link(socket, open + "/control.sock") == 0, "link: errno \(errno)")
        #expect(chmod(socket, 0o666) == 0)
        // One request as JSON line, the reply line printed: the client is python3, run as root
        // and as nobody (setpriv).
        let client = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            try:
                s.sendall(b'{"request":"call","module":"com.example.testmodule","command":"add","arguments":["1","2"]}\\n')
            except OSError:
                pass  # a refused peer is answered and closed before it writes
            print(s.makefile().readline().strip())
            """
        let asRoot = try Tool.run(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", client, open + "/control.sock"])
        #expect(asRoot.stdout.contains("\"ok\":true"), "\(asRoot)")
        let asNobody = try Tool.run(URL(fileURLWithPath: "/usr/bin/setpriv"),
                                    ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", client, open + "/control.sock"])
        #expect(asNobody.stdout.contains("\"ok\":false") && asNobody.stdout.contains("uid 65534 may not use the control socket"), "\(asNobody)")
        // Nothing reached the module but root's call.
        #expect(try Tool.run(try #require(Tool.pluginHost), ["command", UpdateFixture.id, "calls", "--state-dir", f.state]).stdout == "1\n")
    }

    @Test("a remove while the host runs stops the module, which the host then no longer runs")
    func removeWhileRunning() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let process = try Self.hostRunningFirstVersion(f)
        defer { Self.stop(process) }
        let remove = try UpdateCrashTests.pluginHost(["remove", UpdateFixture.id, "--state-dir", f.state], fault: nil)
        #expect(remove.status == 0, "\(remove.stderr)")
        func snapshot() -> String { String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)) }
        #expect(waitUntil(seconds: 20) {
            let status = HostRuntime.runningSnapshot(stateDirectory: f.state)
            return status?.modules.isEmpty == true && status?.events.contains { $0.contains("removed; stopped") } == true
        }, "\(snapshot())")
        // The host keeps running, without the module.
        #expect(process.isRunning)
        let paths = ModulePaths(stateDirectory: f.state, id: UpdateFixture.id)
        #expect(!FileManager.default.fileExists(atPath: paths.current))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: paths.versions)) ?? []).isEmpty)
    }
}

extension HostRuntimeTests {
    /// Installs 1.0.0 (heartbeating), then 1.1.0, which passes the 0.6 s health check of its
    /// update and then crashes 1.2 s into every run (maxRestarts 1).
    static func installFlakyUpdate(_ f: UpdateFixture) throws {
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat"))
        let flaky = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.5, stabilityWindowSeconds: 0.6,
                                                maxRestarts: 1, restartWindowSeconds: 60)
        try f.engine().install(imageAt: try f.image("1.1.0", behavior: "heartbeat crash-after-ms 1200", manifest: UpdateFixture.manifest("1.1.0", health: flaky)))
        #expect(f.activeVersion == "1.1.0")
    }

    /// A runtime on the fixture's state directory whose restarts back off from 50 ms.
    static func quickRuntime(_ f: UpdateFixture) throws -> HostRuntime {
        HostRuntime(stateDirectory: f.state, runner: ChildProcessRunner(executable: try UpdateFixture.runnerExecutable()),
                    backoff: .init(initial: .milliseconds(50), maximum: .milliseconds(200)))
    }

    /// Starts `plugin-host run` on the fixture's state directory with the built runner and
    /// `arguments` added; `environment` entries are added (or, when nil, removed); output goes to
    /// `output`, or nowhere.
    static func startHost(_ f: UpdateFixture, arguments: [String] = [], environment changes: [String: String?] = [:], output: Pipe? = nil) throws -> Process {
        let process = Process()
        guard let binary = Tool.pluginHost else { throw ModuleError(.io, "plugin-host was not built next to the tests") }
        process.executableURL = binary
        process.arguments = ["run", "--state-dir", f.state] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLUGIN_HOST_RUNNER"] = try UpdateFixture.runnerExecutable()
        for (key, value) in changes { environment[key] = value }
        process.environment = environment
        if let output {
            process.standardOutput = output
            process.standardError = output
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }

    /// Installs version 1.0.0 of the fixture's module (heartbeating), starts `plugin-host run` and
    /// waits until the host runs it. End it with `stop`.
    static func hostRunningFirstVersion(_ f: UpdateFixture, manifest: ModuleManifest? = nil) throws -> Process {
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat", manifest: manifest))
        let process = try startHost(f)
        #expect(waitUntil(seconds: 20) { running(f, "1.0.0") }, "\(String(describing: HostRuntime.runningSnapshot(stateDirectory: f.state)))")
        return process
    }

    /// SIGTERM to a host from `startHost`, and its end.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    /// Whether the running host reports the fixture's module at `version` as running.
    static func running(_ f: UpdateFixture, _ version: String) -> Bool {
        HostRuntime.runningSnapshot(stateDirectory: f.state)?.modules.first.map { $0.version == version && $0.state == .running } ?? false
    }
}
