import Foundation
import ModuleProtocol
import Synchronization
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// A module and its runner, joined to the host over the IPC channel, with real processes: the
/// module asks for hardware through the host table (Tests/Fixtures/modules/hardware.c) and the
/// host's broker decides; the host calls typed commands (Tests/Fixtures/modules/commands.c) of a
/// running module. The broker's grants on a real kernel are tested in the QEMU lab; here there is
/// no /dev/gpiochip* and no /dev/i2c-*, so a declared request fails with the kernel's error.
@Suite("Runner ↔ host: hardware requests and typed commands")
struct HardwareRequestTests {
    /// Declared: gpiochip0 line 17 as an output, i2c-1 address 0x76.
    static let capabilities = ModuleManifest.Capabilities(
        gpio: [.init(chip: "gpiochip0", line: 17, direction: .output)],
        i2c: [.init(bus: 1, addresses: [0x76])],
        storageQuotaBytes: 1 << 20)

    struct Setup {
        let root: String
        let runner: ChildProcessRunner
        var moduleDirectory: String { root + "/module" }
        var dataDirectory: String { root + "/data" }
        var stateDirectory: String { root + "/state" }
        var audit: AuditLog { AuditLog(stateDirectory: stateDirectory) }

        init(behavior: String, sandbox: SandboxOptions? = nil) throws {
            let executable = try #require(TestModule.runnerExecutable, "plugin-host-runner was not built next to the tests")
            root = try TestModule.temporaryDirectory("hardware")
            for directory in ["data", "state"] {
                try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
            }
            runner = ChildProcessRunner(executable: executable, sandbox: sandbox, stateDirectory: root + "/state")
            try TestModule.directory(at: root + "/module", behavior: behavior)
        }

        func manifest(id: String = "com.example.testmodule", start: String = "hw_start", stop: String = "hw_stop") -> ModuleManifest {
            var manifest = TestModule.manifest(id: id)
            manifest.library.entryPoints = .init(start: start, stop: stop)
            manifest.capabilities = HardwareRequestTests.capabilities
            manifest.commands = HardwareRequestTests.commands
            return manifest
        }

        func context(_ manifest: ModuleManifest) -> ModuleContext {
            ModuleContext(manifest: manifest, moduleDirectory: moduleDirectory, dataDirectory: dataDirectory)
        }

        func start(_ manifest: ModuleManifest) throws -> any ModuleInstance {
            try runner.start(context(manifest))
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Waits until the instance's output contains `text`.
    static func waitForOutput(_ instance: any ModuleInstance, _ text: String, seconds: Double = 20) -> Bool {
        waitUntil(seconds: seconds) { instance.output.contains(text) }
    }

    static let deniedLine = "hw: gpio_request(gpiochip0, 18, output) = -13 (Permission denied): gpiochip0 line 18 output is not declared in capabilities.gpio (declared: gpiochip0 line 17 output)"
    static let deniedI2C = "hw: i2c_transfer(1, 0x50) = -13 (Permission denied): address 0x50 on i2c-1 is not declared (declared: 0x76)"

    // MARK: - Hardware

    @Test("undeclared GPIO line and I2C address: -EACCES in the module with the host's reason, an audit line each, the module keeps running; declared ones fail with the kernel's error")
    func deniedAndFailed() throws {
        let setup = try Setup(behavior: "hw-gpio gpiochip0:18:output hw-i2c 1:0x50 hw-gpio gpiochip0:17:output hw-i2c 1:0x76")
        defer { setup.cleanUp() }
        let instance = try setup.start(setup.manifest())
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .ready, "\(instance.output)")
        #expect(Self.waitForOutput(instance, "hw: still running"), "\(instance.output)")
        let output = instance.output
        #expect(output.contains(Self.deniedLine), "\(output)")
        #expect(output.contains(Self.deniedI2C), "\(output)")
        // The host's side of the denial, in the module's output.
        #expect(output.contains("plugin-host: denied gpio request: gpiochip0 line 18 output is not declared"), "\(output)")
        // Declared: the broker asks the kernel, and its error comes back, not a denial.
        if !FileManager.default.fileExists(atPath: "/dev/gpiochip0") {
            #expect(output.contains("hw: gpio_request(gpiochip0, 17, output) = -2 (No such file or directory): cannot open /dev/gpiochip0: No such file or directory"), "\(output)")
        } else {
            #expect(!output.contains("hw: gpio_request(gpiochip0, 17, output) = -13"), "\(output)")
        }
        if !FileManager.default.fileExists(atPath: "/dev/i2c-1") {
            #expect(output.contains("hw: i2c_transfer(1, 0x76) = -2 (No such file or directory): cannot open /dev/i2c-1"), "\(output)")
        }

        let entries = setup.audit.entries()
        #expect(entries.count == 2, "\(entries)")
        #expect(entries.map(\.resource) == ["gpio", "i2c"])
        #expect(entries.allSatisfy { $0.decision == "denied" && $0.module == "com.example.testmodule" })
        #expect(entries.first?.request == "gpiochip0 line 18 output")
        #expect(entries.last?.request == "i2c-1 0x50 write 1 read 2")

        // Still alive and well after the refusals.
        #expect(instance.nextEvent(before: ChildProcessRunnerTests.within(10)) == .heartbeat)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        #expect(instance.output.contains("hw_stop called"))
    }

    @Test("eight threads of the module ask at once, 20 times each: every answer reaches its own caller, last_error is per thread")
    func concurrentRequests() throws {
        let setup = try Setup(behavior: "hw-threads 8")
        defer { setup.cleanUp() }
        let instance = try setup.start(setup.manifest())
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 30) == .ready, "\(instance.output)")
        #expect(Self.waitForOutput(instance, "hw: threads 8"), "\(instance.output)")
        #expect(instance.output.contains("hw: threads 8 ok"), "\(instance.output)")
        #expect(setup.audit.entries().count == 160)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("requests are answered while nobody waits on the instance")
    func answeredWithoutAWaiter() throws {
        let setup = try Setup(behavior: "hw-delay-ms 300 hw-gpio gpiochip0:18:output")
        defer { setup.cleanUp() }
        let instance = try setup.start(setup.manifest())
        #expect(instance.nextEvent(before: ChildProcessRunnerTests.within(20)) == .ready)
        // No call on the instance until the broker has decided (its audit line is there).
        #expect(waitUntil(seconds: 20) { !setup.audit.entries().isEmpty })
        #expect(Self.waitForOutput(instance, "hw: still running"), "\(instance.output)")
        #expect(instance.output.contains(Self.deniedLine), "\(instance.output)")
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("a hook asks for hardware too: answered while the hook runs")
    func hookRequests() throws {
        let setup = try Setup(behavior: "hw-gpio gpiochip0:18:output hw-i2c 1:0x50")
        defer { setup.cleanUp() }
        let result = setup.runner.runHook(name: "verify", hook: .init(symbol: "hw_hook", timeoutSeconds: 20), context: setup.context(setup.manifest()))
        #expect(result.outcome == .succeeded, "\(result.output)")
        #expect(result.output.contains(Self.deniedLine), "\(result.output)")
        #expect(result.output.contains(Self.deniedI2C), "\(result.output)")
        #expect(setup.audit.entries().count == 2)
    }

    @Test("the channel refuses a runner that says it runs another module")
    func wrongModuleID() throws {
        // The runner is told one id on its command line; the host expects another: a stand-in
        // for a runner that is not the one the host started for this module.
        let setup = try Setup(behavior: "")
        defer { setup.cleanUp() }
        let manifest = setup.manifest()
        var arguments = ["hook", "--library", setup.moduleDirectory + "/" + manifest.library.path, "--symbol", "hw_hook", "--step", "verify"]
        arguments += ["--module-id", "com.example.other", "--module-version", "1.0.0", "--module-dir", setup.moduleDirectory,
                      "--data-dir", setup.dataDirectory, "--events-fd", "3"]
        guard case var .success(child) = RunnerProcess.spawn(executable: setup.runner.executable, arguments: arguments, eventsDescriptor: 3) else {
            Issue.record("spawn failed"); return
        }
        defer { child.closeDescriptors() }
        let connection = child.connect(moduleID: manifest.id, broker: setup.runner.broker(for: setup.context(manifest)), sandbox: nil, timeout: .seconds(20))
        #expect(connection == nil)
        #expect(child.exit != nil)
        #expect(child.output.text.contains("this runner was started for module com.example.testmodule, not com.example.other"), "\(child.output.text)")
    }

    // MARK: - Typed commands

    static let commands: [ModuleManifest.Command] = [
        .init(name: "add", symbol: "cmd_add", parameters: [.init(name: "a", type: .int32), .init(name: "b", type: .int32)], returns: .int32),
        .init(name: "greet", symbol: "cmd_greet", parameters: [.init(name: "name", type: .string)], returns: .string),
        .init(name: "mixed_text", symbol: "cmd_mixed_text", parameters: [
            .init(name: "b", type: .bool), .init(name: "i32", type: .int32), .init(name: "i64", type: .int64), .init(name: "u32", type: .uint32),
            .init(name: "u64", type: .uint64), .init(name: "d", type: .double), .init(name: "s", type: .string),
        ], returns: .string),
        .init(name: "scale", symbol: "cmd_scale", parameters: [.init(name: "value", type: .double), .init(name: "factor", type: .double)], returns: .double),
        .init(name: "u64_max", symbol: "cmd_u64_max", returns: .uint64),
        .init(name: "calls", symbol: "cmd_calls", returns: .int32),
        .init(name: "ghost", symbol: "cmd_missing"),
        .init(name: "abort", symbol: "cmd_abort"),
    ]

    /// The test module (testmodule.c, heartbeats) with the commands of commands.c declared.
    static func commandSetup() throws -> (Setup, ModuleManifest, any ModuleInstance) {
        let setup = try Setup(behavior: "heartbeat")
        var manifest = setup.manifest(start: "module_start", stop: "module_stop")
        manifest.capabilities = .init(storageQuotaBytes: 1 << 20)
        try manifest.validate()
        let instance = try setup.start(manifest)
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .ready, "\(instance.output)")
        return (setup, manifest, instance)
    }

    static func error(_ body: () throws(ModuleError) -> CommandValue) -> ModuleError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test("typed commands through a running instance: values of every type; wrong types and counts make no call")
    func typedCommands() throws {
        let (setup, manifest, instance) = try Self.commandSetup()
        defer { setup.cleanUp() }
        func call(_ name: String, _ arguments: [CommandValue]) throws(ModuleError) -> CommandValue {
            try instance.call(command: name, arguments: arguments, manifest: manifest)
        }
        #expect(try call("calls", []) == .int32(0))
        #expect(try call("add", [.int32(2), .int32(3)]) == .int32(5))
        #expect(try call("add", [.int32(.max), .int32(1)]) == .int32(.min))
        #expect(try call("greet", [.string("wörld 🌍")]) == .string("hello, wörld 🌍"))
        #expect(try call("mixed_text", [.bool(true), .int32(-5), .int64(-9_000_000_000), .uint32(4_000_000_000), .uint64(.max), .double(2.5), .string("abc")])
            == .string("true -5 -9000000000 4000000000 18446744073709551615 2.5 abc"))
        #expect(try call("scale", [.double(1.5), .double(-2)]) == .double(-3))
        #expect(try call("u64_max", []) == .uint64(.max))

        // Refused before anything is sent: wrong types, wrong counts, bad values, unknown names.
        let refused: [(String, [CommandValue], ModuleError.Code, String)] = [
            ("add", [.int64(2), .int32(3)], .badArguments, "add: argument 1 (a: int32) got a value of type int64"),
            ("add", [.int32(1)], .badArguments, "add takes 2 arguments (a: int32, b: int32), got 1"),
            ("add", [.int32(1), .int32(2), .int32(3)], .badArguments, "got 3"),
            ("add", [], .badArguments, "got 0"),
            ("scale", [.double(.nan), .double(1)], .badArguments, "scale: argument 1"),
            ("greet", [.string("a\u{0}b")], .badArguments, "greet: argument 1 (name: string)"),
            ("greet", [.int32(1)], .badArguments, "pass a string"),
            ("nosuch", [], .unknownCommand, "has no command 'nosuch'"),
        ]
        for (name, arguments, code, text) in refused {
            let error = Self.error { () throws(ModuleError) in try call(name, arguments) }
            #expect(error?.code == code, "\(name) \(arguments): \(String(describing: error))")
            #expect(error?.message.contains(text) == true, "\(String(describing: error))")
            #expect(error?.exitCode == 21)
        }
        // Six calls were made, none of the refused ones.
        #expect(try call("calls", []) == .int32(6))

        // A declared symbol the library does not export: sent, and the runner says why.
        let ghost = Self.error { () throws(ModuleError) in try call("ghost", []) }
        #expect(ghost?.code == .commandFailed, "\(String(describing: ghost))")
        #expect(ghost?.message.contains("symbol 'cmd_missing' not found") == true, "\(String(describing: ghost))")

        // Still running, still heartbeating.
        #expect(instance.nextEvent(before: ChildProcessRunnerTests.within(10)) == .heartbeat)
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        let stopped = Self.error { () throws(ModuleError) in try call("add", [.int32(1), .int32(2)]) }
        #expect(stopped?.code == .notRunning, "\(String(describing: stopped))")
        #expect(stopped?.exitCode == 17)
        // Checked before anything else: bad arguments are bad arguments, running or not.
        #expect(Self.error { () throws(ModuleError) in try call("add", [.int32(1)]) }?.code == .badArguments)
    }

    @Test("typed commands from several host threads at once, while the module heartbeats")
    func concurrentCommands() throws {
        let (setup, manifest, instance) = try Self.commandSetup()
        defer { setup.cleanUp() }
        let wrong = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<25 {
                let value = try? instance.call(command: "add", arguments: [.int32(Int32(thread * 1000)), .int32(Int32(i))], manifest: manifest)
                if value != .int32(Int32(thread * 1000 + i)) { wrong.add(1, ordering: .relaxed) }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(try instance.call(command: "calls", arguments: [], manifest: manifest) == .int32(200))
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("a command that crashes the module: the call fails, the instance reports the crash")
    func crashingCommand() throws {
        let (setup, manifest, instance) = try Self.commandSetup()
        defer { setup.cleanUp() }
        let error = Self.error { () throws(ModuleError) in try instance.call(command: "abort", arguments: [], manifest: manifest) }
        #expect(error?.code == .commandFailed, "\(String(describing: error))")
        #expect(error?.message.contains("the module ended during the call") == true, "\(String(describing: error))")
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .exited(.signaled(SIGABRT)))
        #expect(Self.error { () throws(ModuleError) in try instance.call(command: "calls", arguments: [], manifest: manifest) }?.code == .notRunning)
    }
}
