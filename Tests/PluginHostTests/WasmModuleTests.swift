import Foundation
import IoTSDK
import ModuleProtocol
import ModuleWasm
import Testing
import TestSupport
import WAT
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// A WebAssembly test module written in WebAssembly text (assembled by WasmKit's WAT): start
/// loops with heartbeats and 50 ms sleeps (WASI poll_oneoff) until asked to stop; typed commands
/// of every type; and hooks that misbehave each in one way.
enum WasmTestModule {
    static let libraryPath = "lib/test.wasm"

    static let text = """
    (module
      (import "iotsdk" "ready" (func $ready))
      (import "iotsdk" "heartbeat" (func $heartbeat))
      (import "iotsdk" "should_stop" (func $should_stop (result i32)))
      (import "iotsdk" "log" (func $log (param i32 i32 i32)))
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (global $next (mut i32) (i32.const 8192))
      (data (i32.const 512) "wasm test module started")
      ;; sleeps 50 ms: one clock subscription (monotonic, relative) at 1024, its event at 2048
      (func $sleep
        (i64.store (i32.const 1024) (i64.const 7))
        (i32.store8 (i32.const 1032) (i32.const 0))
        (i32.store (i32.const 1040) (i32.const 1))
        (i64.store (i32.const 1048) (i64.const 50000000))
        (i64.store (i32.const 1056) (i64.const 0))
        (i32.store16 (i32.const 1064) (i32.const 0))
        (drop (call $poll (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 3000))))
      (func (export "iotsdk_host") (result i32) (i32.const 16))
      (func (export "iotsdk_alloc") (param i32) (result i32)
        (local $at i32) (local.set $at (global.get $next))
        (global.set $next (i32.add (global.get $next) (local.get 0))) (local.get $at))
      (func (export "iotsdk_free") (param i32))
      (func (export "start") (param i32) (result i32)
        (call $ready)
        (call $log (i32.const 1) (i32.const 512) (i32.const 24))
        (block $done (loop $again
          (br_if $done (call $should_stop))
          (call $heartbeat) (call $sleep) (br $again)))
        (i32.const 0))
      (func (export "stop") (param i32) (result i32) (i32.const 0))
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
      (func (export "twice") (param f64) (result f64) (f64.mul (local.get 0) (f64.const 2)))
      (func (export "negate") (param i64) (result i64) (i64.sub (i64.const 0) (local.get 0)))
      (func (export "not") (param i32) (result i32) (i32.eqz (local.get 0)))
      (func (export "echo") (param i32) (result i32) (local.get 0))
      (func (export "spin") (result i32) (loop $forever (br $forever)) (i32.const 0))
      (func (export "hook_ok") (param i32) (result i32) (i32.const 0))
      (func (export "hook_loop") (param i32) (result i32) (loop $forever (br $forever)) (i32.const 0))
      (func (export "hook_oob") (param i32) (result i32) (i32.load (i32.const 0x7ffffff0)))
      (func $recurse (export "hook_recurse") (param i32) (result i32) (i32.add (call $recurse (local.get 0)) (i32.const 1)))
      (func (export "hook_unreachable") (param i32) (result i32) (unreachable))
      ;; 0 if growing the memory to 64 MiB and more is refused, as a 32 MiB limit must
      (func (export "hook_grow") (param i32) (result i32)
        (if (result i32) (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)) (then (i32.const 0)) (else (i32.const 1))))
      (func (export "hook_exit") (param i32) (result i32) (call $exit (i32.const 7)) (i32.const 0))
    )
    """

    static let commands: [ModuleManifest.Command] = [
        .init(name: "add", symbol: "add", parameters: [.init(name: "a", type: .int32), .init(name: "b", type: .int32)]),
        .init(name: "twice", symbol: "twice", parameters: [.init(name: "x", type: .double)], returns: .double),
        .init(name: "negate", symbol: "negate", parameters: [.init(name: "x", type: .int64)], returns: .int64),
        .init(name: "not", symbol: "not", parameters: [.init(name: "x", type: .bool)], returns: .bool),
        .init(name: "echo", symbol: "echo", parameters: [.init(name: "text", type: .string)], returns: .string),
        .init(name: "spin", symbol: "spin"),
    ]

    static func manifest(id: String = "com.example.wasm-test", version: String = "1.0.0", hooks: ModuleManifest.Hooks = .init(),
                         fuel: UInt64 = 2_000_000) -> ModuleManifest {
        ModuleManifest(
            id: id, version: SemanticVersion(version)!, abi: 1,
            library: .init(path: libraryPath, entryPoints: .init(start: "start", stop: "stop"), kind: .wasm, fuel: fuel),
            commands: commands,
            capabilities: .init(storageQuotaBytes: 1 << 20),
            resources: .init(memoryBytes: 32 << 20, cpuPercent: 50, maxProcesses: 16, maxOpenFiles: 64),
            hooks: hooks, health: UpdateFixture.quickHealth)
    }

    static func binary(_ text: String = WasmTestModule.text) throws -> [UInt8] { try wat2wasm(text) }

    /// A module directory with `module.json` and the module's wasm file.
    @discardableResult
    static func directory(at path: String, manifest: ModuleManifest, wasm: [UInt8]) throws -> String {
        try FileManager.default.createDirectory(atPath: path + "/lib", withIntermediateDirectories: true)
        try Data(wasm).write(to: URL(fileURLWithPath: path + "/" + manifest.library.path))
        try manifest.canonicalJSON().write(to: URL(fileURLWithPath: path + "/module.json"))
        return path
    }
}

@Suite("WebAssembly modules: the check of exports and imports")
struct WasmInterfaceTests {
    static func problems(_ text: String, _ manifest: ModuleManifest = WasmTestModule.manifest()) throws -> [String] {
        try WasmInterface(bytes: wat2wasm(text)).problems(with: manifest.wasmRequirements, memoryLimit: manifest.resources.memoryBytes)
    }

    @Test("the test module has what its manifest names; the types of commands follow their parameters")
    func complete() throws {
        #expect(try Self.problems(WasmTestModule.text) == [])
        let interface = try WasmInterface(bytes: WasmTestModule.binary())
        #expect(interface.functions["twice"].map(WasmABI.describe) == "(f64) -> f64")
        #expect(interface.functions["negate"].map(WasmABI.describe) == "(i64) -> i64")
        #expect(interface.memory?.min == 1)
    }

    @Test("every problem at once: a missing export, wrong types, imports the host does not provide, too large a memory")
    func everyProblem() throws {
        let text = """
        (module
          (import "env" "printf" (func (param i32)))
          (import "iotsdk" "gpio_toggle" (func))
          (import "iotsdk" "log" (func (param i32)))
          (import "wasi_snapshot_preview1" "fd_teleport" (func))
          (memory (export "memory") 1024)
          (func (export "iotsdk_host") (result i32) (i32.const 16))
          (func (export "start") (param i32) (result i32) (i32.const 0))
          (func (export "add") (param i64 i32) (result i32) (i32.const 0))
        )
        """
        let problems = try Self.problems(text, WasmTestModule.manifest(hooks: .init(install: .init(symbol: "hook_ok", timeoutSeconds: 5))))
        let all = problems.joined(separator: "\n")
        #expect(all.contains("'env'.'printf', which the host does not provide"), "\(all)")
        #expect(all.contains("'iotsdk'.'gpio_toggle', which this host does not provide"), "\(all)")
        #expect(all.contains("'iotsdk'.'log' as (i32) -> (), but the host provides (i32, i32, i32) -> ()"), "\(all)")
        #expect(all.contains("'fd_teleport', which is not a WASI preview 1 function"), "\(all)")
        #expect(all.contains("memory starts at 67108864 bytes"), "\(all)")
        #expect(all.contains("the entry point 'stop' is not exported as 'stop'"), "\(all)")
        #expect(all.contains("the hook 'install' is not exported as 'hook_ok'"), "\(all)")
        #expect(all.contains("the command 'add' (export 'add') is (i64, i32) -> i32, but the manifest declares (i32, i32) -> i32"), "\(all)")
        #expect(all.contains("the command 'echo' is not exported as 'echo'"), "\(all)")
        #expect(all.contains("the allocator of string arguments (iotsdk_module.h defines it) is not exported as 'iotsdk_alloc'"), "\(all)")
        // 4 imports, the memory, stop, the hook, add's type, 5 commands not exported, the allocator.
        #expect(problems.count == 14, "\(all)")
    }

    @Test("not wasm, or a component: refused with what it is")
    func notAModule() throws {
        #expect(throws: WasmInterface.ParseError.self) { try WasmInterface(bytes: Array("\u{7f}ELF not wasm".utf8)) }
        do {
            _ = try WasmInterface(bytes: [0, 0x61, 0x73, 0x6D, 0x0d, 0, 1, 0])
            Issue.record("a component was accepted")
        } catch {
            #expect(error.description.contains("component"), "\(error)")
        }
        var manifest = WasmTestModule.manifest()
        manifest.library.path = "lib/test.wasm"
        let error = try #require(ModuleError.caught { try manifest.checkWasmModule(Array("\u{7f}ELF".utf8) + [UInt8](repeating: 0, count: 60)) })
        #expect(error.code == .wasmModuleRefused)
        #expect(error.message.contains("not a WebAssembly module"), "\(error)")
    }

    @Test("the manifest: kind wasm needs a .wasm path, fuel is for wasm only")
    func manifestRules() throws {
        var manifest = WasmTestModule.manifest()
        #expect(throws: Never.self) { try manifest.validate() }
        manifest.library.path = "lib/test.so"
        #expect(ModuleError.caught { try manifest.validate() }?.field == "library.path")
        manifest = UpdateFixture.manifest("1.0.0")
        manifest.library.path = "lib/thing.wasm"
        #expect(ModuleError.caught { try manifest.validate() }?.field == "library.kind")
        manifest.library.path = "lib/libtestmodule.so"
        manifest.library.fuel = 1_000_000
        #expect(ModuleError.caught { try manifest.validate() }?.field == "library.fuel")
        manifest = WasmTestModule.manifest(fuel: 10)
        #expect(ModuleError.caught { try manifest.validate() }?.field == "library.fuel")
    }

    @Test("pack refuses a wasm module that lacks an export the manifest names, and a platform for a wasm image")
    func packRefuses() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let good = try WasmTestModule.directory(at: f.base.path("good"), manifest: WasmTestModule.manifest(), wasm: WasmTestModule.binary())
        #expect(throws: Never.self) { try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: good) }
        let platform = ModuleError.caught { _ = try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: good, platform: .init(architecture: "arm64")) }
        #expect(platform?.field == "platform")
        let manifest = WasmTestModule.manifest(hooks: .init(commit: .init(symbol: "module_commit", timeoutSeconds: 5)))
        let bad = try WasmTestModule.directory(at: f.base.path("bad"), manifest: manifest, wasm: WasmTestModule.binary())
        let error = try #require(ModuleError.caught { _ = try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: bad) })
        #expect(error.code == .wasmModuleRefused)
        #expect(error.message.contains("the hook 'commit' is not exported as 'module_commit'"), "\(error)")
    }
}

@Suite("WebAssembly modules: the update engine's check")
struct WasmInstallCheckTests {
    @Test("an image whose wasm lacks a hook the manifest names (packed by a tool that does not check) is refused before activation; nothing changes")
    func refusedBeforeActivation() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let good = try WasmTestModule.directory(at: f.base.path("good"), manifest: WasmTestModule.manifest(id: UpdateFixture.id), wasm: WasmTestModule.binary())
        let layout = try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: good)
        try ImagePacker.write(layout, to: f.base.path("good-image"))
        let engine = try f.engine()
        #expect(try engine.install(imageAt: f.base.path("good-image")).record.result == .committed)
        let before = BadImageCorpusTests.tree(f.state)

        let manifest = WasmTestModule.manifest(id: UpdateFixture.id, version: "2.0.0", hooks: .init(install: .init(symbol: "migrate", timeoutSeconds: 5)))
        var tar = RawTar()
        tar.directory("lib")
        tar.file(WasmTestModule.libraryPath, data: Data(try WasmTestModule.binary()))
        tar.end()
        let bad = try ImagePacker(signingKey: f.base.key).assemble(config: try manifest.canonicalJSON(), layers: [(OCI.layerTar, tar.data)], manifest: manifest)
        try ImagePacker.write(bad, to: f.base.path("bad-image"))
        let error = try #require(ModuleError.caught { _ = try engine.install(imageAt: f.base.path("bad-image")) })
        #expect(error.code == .wasmModuleRefused, "\(error)")
        #expect(error.message.contains("the hook 'install' is not exported as 'migrate'"), "\(error)")
        #expect(f.activeVersion == "1.0.0")
        #expect(BadImageCorpusTests.tree(f.state) == before)
        let status = try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state)
        #expect(status.state == .active, "the journal holds an open transaction")
        let record = status.lastTransaction
        #expect(record?.reason?.hasPrefix("the module's check failed: ") == true, "\(String(describing: record))")
    }
}

@Suite("WebAssembly modules: from a registry")
struct WasmRegistryTests {
    @Test("a wasm image carries no platform, so a device of any platform installs it from a registry",
          .enabled(if: LocalRegistry.available, "docker-registry or skopeo is not installed (run Scripts/ensure-registry.sh and Scripts/ensure-skopeo.sh)"))
    func anyPlatform() throws {
        let registry = try LocalRegistry()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let directory = try WasmTestModule.directory(at: f.base.path("wasm"), manifest: WasmTestModule.manifest(), wasm: WasmTestModule.binary())
        let layout = try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: directory)
        try ImagePacker.write(layout, to: f.base.path("wasm-image"))
        try registry.push(layout: f.base.path("wasm-image"), tag: "1.0.0", to: "acme/wasm", as: "stable")
        let host = try #require(Tool.pluginHost)
        let reference = "\(registry.address)/acme/wasm:stable"
        // The devices' state directories, each trusting the fixture's key.
        for platform in ["linux/arm64", "linux/arm/v7", "linux/amd64"] {
            let state = f.base.path("state-" + platform.replacingOccurrences(of: "/", with: "-"))
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            try TrustStore(stateDirectory: state).add(f.base.key.publicKey)
            let install = try Tool.run(host, ["install", reference, "--state-dir", state, "--insecure-registry", registry.address, "--no-sandbox", "--platform", platform],
                                       environment: ["PLUGIN_HOST_RUNNER": try UpdateFixture.runnerExecutable()])
            #expect(install.status == 0, "\(platform): \(install.stderr)")
            #expect(install.stdout.contains("com.example.wasm-test 1.0.0 installed and committed"), "\(platform): \(install.stdout)")
        }
    }
}

@Suite("WebAssembly modules: installed and run by the real runner")
struct WasmModuleTests {
    struct Setup {
        let root: String
        let runner: ChildProcessRunner
        var moduleDirectory: String { root + "/module" }
        var dataDirectory: String { root + "/data" }

        init(manifest: ModuleManifest = WasmTestModule.manifest(), sandbox: SandboxOptions? = nil) throws {
            let executable = try #require(TestModule.runnerExecutable, "plugin-host-runner was not built next to the tests")
            root = try TestModule.temporaryDirectory("wasm")
            runner = ChildProcessRunner(executable: executable, sandbox: sandbox, stateDirectory: sandbox == nil ? nil : root + "/state")
            try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
            try WasmTestModule.directory(at: root + "/module", manifest: manifest, wasm: WasmTestModule.binary())
        }

        func context(_ manifest: ModuleManifest) -> ModuleContext {
            ModuleContext(manifest: manifest, moduleDirectory: moduleDirectory, dataDirectory: dataDirectory)
        }

        func hook(_ symbol: String, timeout: Double = 60, manifest: ModuleManifest = WasmTestModule.manifest()) -> HookResult {
            runner.runHook(name: "verify", hook: .init(symbol: symbol, timeoutSeconds: timeout), context: context(manifest))
        }
    }

    @Test("hostile hooks end with a clear reason, each well before its timeout; the limit on memory.grow holds")
    func hostileHooks() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.root) }
        #expect(setup.hook("hook_ok").outcome == .succeeded)
        #expect(setup.hook("hook_grow").outcome == .succeeded, "growing past resources.memoryBytes was allowed")
        let cases: [(symbol: String, reason: String)] = [
            ("hook_loop", "out of fuel: it ran more than 2000000 units of fuel"),
            ("hook_oob", "out of bounds memory access"),
            ("hook_recurse", "call stack exhausted (8191 wasm frames deep): too deep a recursion"),
            ("hook_unreachable", "unreachable"),
        ]
        for (symbol, reason) in cases {
            let started = ContinuousClock.now
            let result = setup.hook(symbol, timeout: 60)
            let took = ContinuousClock.now - started
            #expect(result.outcome == .crashed(.exited(RunnerExitStatus.wasmTrapped.rawValue)), "\(symbol): \(result.outcome) \(result.output)")
            #expect(result.output.contains("the WebAssembly module trapped in hook 'verify' '\(symbol)': \(reason)"), "\(symbol): \(result.output)")
            #expect(took < .seconds(30), "\(symbol) took \(took), its timeout is 60 s")
            print("wasm hostile hook \(symbol): \(took): \(result.output.split(separator: "\n").last ?? "")")
        }
        // A start function that loops runs at instantiation, before any hook: fuel stops it too.
        let looping = WasmTestModule.text.replacingOccurrences(of: "(memory (export \"memory\") 1)",
                                                             with: "(memory (export \"memory\") 1)\n  (func $spin (loop $forever (br $forever)))\n  (start $spin)")
        try Data(try WasmTestModule.binary(looping)).write(to: URL(fileURLWithPath: setup.moduleDirectory + "/" + WasmTestModule.libraryPath))
        let started = ContinuousClock.now
        let instantiation = setup.hook("hook_ok", timeout: 60)
        #expect(instantiation.outcome == .crashed(.exited(RunnerExitStatus.wasmTrapped.rawValue)), "\(instantiation.outcome) \(instantiation.output)")
        #expect(instantiation.output.contains("cannot instantiate the WebAssembly module") && instantiation.output.contains("out of fuel"), "\(instantiation.output)")
        #expect(ContinuousClock.now - started < .seconds(30))
        try Data(try WasmTestModule.binary()).write(to: URL(fileURLWithPath: setup.moduleDirectory + "/" + WasmTestModule.libraryPath))

        let exit = setup.hook("hook_exit")
        #expect(exit.outcome == .crashed(.exited(7)), "\(exit.outcome) \(exit.output)")
        #expect(exit.output.contains("called exit(7) in hook 'verify' 'hook_exit'"), "\(exit.output)")
    }

    @Test("typed commands of every type run while start sleeps; a command that loops is stopped, and the module with it")
    func commands() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(atPath: setup.root) }
        let manifest = WasmTestModule.manifest()
        let instance = try setup.runner.start(setup.context(manifest))
        #expect(instance.nextEvent(before: .now + .seconds(10)) == .ready)
        #expect(try instance.call(command: "add", arguments: [.int32(40), .int32(2)], manifest: manifest) == .int32(42))
        #expect(try instance.call(command: "add", arguments: [.int32(.max), .int32(1)], manifest: manifest) == .int32(.min))
        #expect(try instance.call(command: "twice", arguments: [.double(21.25)], manifest: manifest) == .double(42.5))
        #expect(try instance.call(command: "negate", arguments: [.int64(.max)], manifest: manifest) == .int64(-.max))
        #expect(try instance.call(command: "not", arguments: [.bool(false)], manifest: manifest) == .bool(true))
        #expect(try instance.call(command: "echo", arguments: [.string("grüße, wasm")], manifest: manifest) == .string("grüße, wasm"))
        let spin = try #require(ModuleError.caught { _ = try instance.call(command: "spin", arguments: [], manifest: manifest) })
        #expect(spin.message.contains("trapped in command 'spin': out of fuel"), "\(spin)")
        var exit: ProcessExit?
        let deadline = ContinuousClock.now + .seconds(10)
        while exit == nil, let event = instance.nextEvent(before: deadline) {
            if case let .exited(status) = event { exit = status }
        }
        #expect(exit == .exited(RunnerExitStatus.wasmTrapped.rawValue))
        #expect(instance.output.contains("wasm test module started"), "\(instance.output)")
    }

    @Test("sandboxed: the module starts, sleeps with heartbeats, and stops when asked",
          .enabled(if: SandboxEnvironment.shouldRun))
    func sandboxedStop() throws {
        let setup = try Setup(sandbox: SandboxOptions())
        defer { try? FileManager.default.removeItem(atPath: setup.root) }
        let manifest = WasmTestModule.manifest(id: "com.example.wasm-sandboxed")
        let instance = try setup.runner.start(setup.context(manifest))
        #expect(instance.nextEvent(before: .now + .seconds(10)) == .ready)
        var heartbeats = 0
        let until = ContinuousClock.now + .milliseconds(600)
        while let event = instance.nextEvent(before: until) { if event == .heartbeat { heartbeats += 1 } }
        #expect(heartbeats >= 3, "\(heartbeats) heartbeats in 0.6 s at one per 50 ms sleep")
        #expect(try instance.call(command: "add", arguments: [.int32(1), .int32(2)], manifest: manifest) == .int32(3))
        let started = ContinuousClock.now
        let exit = instance.stop(timeout: .seconds(10))
        #expect(exit == .exited(0), "\(instance.output)")
        #expect(ContinuousClock.now - started < .seconds(3), "stop took \(ContinuousClock.now - started)")
    }
}

@Suite("WebAssembly modules: hardware through the host")
struct WasmHardwareTests {
    @Test("a wasm module's GPIO and I2C calls are brokered: undeclared ones refused with the host's reason and audited, declared ones reach the kernel; a handle or address of its own making is refused",
          .enabled(if: WasmExampleTests.available, "clang-14 for wasm32 is not installed (bash Scripts/build-wasm-example.sh)"))
    func brokered() throws {
        let root = try TestModule.temporaryDirectory("wasm-hardware")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["module/lib", "data", "state"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try WasmExampleTests.compile(output: root + "/module/lib/hardware.wasm", source: Repository.root + "/Tests/Fixtures/wasm/hardware.c")
        var manifest = WasmTestModule.manifest(id: "com.example.wasm-hardware")
        manifest.library = .init(path: "lib/hardware.wasm", entryPoints: .init(start: "probe_start", stop: "probe_stop"), kind: .wasm)
        manifest.commands = []
        manifest.capabilities = HardwareRequestTests.capabilities
        let runner = ChildProcessRunner(executable: try UpdateFixture.runnerExecutable(), stateDirectory: root + "/state")
        let output = WasmExampleTests.probe("probe_hardware", manifest: manifest, root: root, runner: runner)
        for line in [
            "wasm-hw: size covers i2c_transfer 1, gpio_request_lines 1",
            // No descriptor enters a wasm module: the calls on kernel structures are there, and say so.
            "wasm-hw: gpio_request_lines = -52: ",
            "wasm-hw: i2c_open(1) = -58: ",
            "wasm-hw: gpio_request(gpiochip0, 18, output) = -2: gpiochip0 line 18 output is not declared in capabilities.gpio (declared: gpiochip0 line 17 output)",
            "wasm-hw: i2c_transfer(1, 0x50) = -2: address 0x50 on i2c-1 is not declared (declared: 0x76)",
            "wasm-hw: gpio_set(1) = -8: gpio_set: 1 is not a line request of this module (gpio_request returns one)",
            "wasm-hw: i2c_transfer(outside) = -21: i2c_transfer: the data of segment 0 (16 bytes at 0xfffffff0) is not inside the module's memory",
            "wasm-hw: gpio_request_events(gpiochip0, 17) = -2: gpiochip0 line 17 is declared as output, not input",
            "wasm-hw: gpio_wait_event(2) = -8: gpio_wait_event: 2 is not a line request of this module (gpio_request returns one)",
        ] {
            #expect(output.contains(line), "\(line)\n\(output)")
        }
        // WASI's errno numbers (wasi-libc's <errno.h>): EACCES 2, EBADF 8, EFAULT 21, ENOENT 44.
        // Declared, but this machine has no gpiochip0 and no i2c-1: the kernel's error, not a refusal.
        #expect(output.contains("wasm-hw: gpio_request(gpiochip0, 17, output) = -44: "), "\(output)")
        #expect(output.contains("wasm-hw: i2c_transfer(1, 0x76) = -44: "), "\(output)")
        let audit = (try? String(contentsOfFile: root + "/state/audit.log", encoding: .utf8)) ?? ""
        #expect(audit.contains("gpiochip0 line 18"), "\(audit)")
        #expect(audit.contains("0x50"), "\(audit)")
    }
}

@Suite("WebAssembly modules: the key-value and time-series stores")
struct WasmStorageTests {
    /// A manifest for Tests/Fixtures/wasm/storage.c.
    static func manifest(version: String = "1.0.0") -> ModuleManifest {
        var manifest = WasmTestModule.manifest(id: "com.example.wasm-store", version: version)
        manifest.library = .init(path: "lib/storage.wasm", entryPoints: .init(start: "store_start", stop: "store_stop"), kind: .wasm)
        manifest.commands = []
        return manifest
    }

    @Test("the stores' calls work, and refuse bad input with the store's reason; a Swift module reads what the wasm one wrote",
          .enabled(if: WasmExampleTests.available, "clang-14 for wasm32 is not installed (bash Scripts/build-wasm-example.sh)"),
          arguments: [false, true])
    func calls(sandboxed: Bool) async throws {
        if sandboxed, !SandboxEnvironment.shouldRun { return }
        // Sandboxed, the data directory is /data in the module's mount namespace, behind its syscall filter.
        let setup = sandboxed ? try SandboxSetup() : nil
        let root = try setup?.root ?? TestModule.temporaryDirectory("wasm-store")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["module/lib", "data", "state"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try WasmExampleTests.compile(output: root + "/module/lib/storage.wasm", source: Repository.root + "/Tests/Fixtures/wasm/storage.c")
        let runner = try setup?.runner ?? ChildProcessRunner(executable: try UpdateFixture.runnerExecutable(), stateDirectory: root + "/state")
        let output = WasmExampleTests.probe("probe_storage", manifest: Self.manifest(), root: root, runner: runner)
        // WASI's errno numbers: EINVAL 28, ENOENT 44, EFAULT 21.
        for line in [
            "wasm-store: kv_set(threshold, 21.5) = 0: ",
            "wasm-store: kv_set(mode) = 0: ",
            "wasm-store: kv_set(bad) = -28: kv_set: ",
            #"wasm-store: kv_get(mode) = 27: {"name":"auto","hold":true}"#,
            "wasm-store: kv_get(mode, small buffer) = 27: ",
            "wasm-store: kv_get(outside) = -21: kv_get: the buffer (27 bytes at 0xffffff00) is not inside the module's memory",
            "wasm-store: kv_get(missing) = -44: kv_get: there is no key 'missing'",
            "wasm-store: kv_keys() = 15: mode,threshold,",
            "wasm-store: kv_remove(mode) = 1: ",
            "wasm-store: kv_remove(mode) again = 0: ",
            "wasm-store: ts_append(room, 294.15 K) = 0: ",
            "wasm-store: ts_append(room, 295.65 K) = 0: ",
            "wasm-store: ts_append(room, Pressure) = -28: ts_append: series 'room' holds Temperature (K); Pressure (Pa) readings cannot be appended to it",
            "wasm-store: ts_append(room, Furlongs) = -28: ts_append: 'Furlongs' is not a quantity; use one of Acceleration, ",
            "wasm-store: ts_append(room, -5 K) = -28: ts_append: ",
            "wasm-store: ts_query(room) = 2: 1700000000000000000=294.15 1700000060000000000=295.65",
            "wasm-store: ts_query(room, latest) = 1: 295.65",
            "wasm-store: ts_query(nowhere) = -44: ts_query: ",
            "wasm-store: ts_query(outside) = -21: ts_query: 4 readings (16 bytes each) at 0xffffff00 are not inside the module's memory",
        ] {
            #expect(output.contains(line), "\(line)\n\(output)")
        }
        #expect(output.contains("is not JSON text"), "\(output)")

        // The file is IoTSDK's: a Swift module of the same id reads the values as its own types.
        let database = try Database(path: root + "/data/module.db")
        let settings = try await KeyValueStore(database: database)
        #expect(try await settings.value(Double.self, for: "threshold") == 21.5)
        #expect(try await settings.value(Double.self, for: "bad") == nil)
        let series = try await TimeSeriesStore(database: database)
        let readings = try await series.readings(in: "room", as: Temperature.self)
        #expect(readings.map(\.value.baseValue) == [294.15, 295.65])
    }

    /// The fixture as an image of `version`, built with `defines`.
    static func image(_ f: UpdateFixture, version: String, defines: [String]) throws -> String {
        let wasm = f.base.path("storage-\(version).wasm")
        try WasmExampleTests.compile(output: wasm, defines: defines, source: Repository.root + "/Tests/Fixtures/wasm/storage.c")
        let directory = try WasmTestModule.directory(at: f.base.path("store-module-\(version)"), manifest: manifest(version: version),
                                                     wasm: [UInt8](Data(contentsOf: URL(fileURLWithPath: wasm))))
        try ImagePacker.write(try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: directory), to: f.base.path("store-image-\(version)"))
        return f.base.path("store-image-\(version)")
    }

    @Test("a wasm module's data is kept across an update, and what an update that rolls back wrote is undone",
          .enabled(if: WasmExampleTests.available, "clang-14 for wasm32 is not installed (bash Scripts/build-wasm-example.sh)"))
    func dataAcrossUpdateAndRollback() async throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let id = Self.manifest().id
        let data = ModulePaths(stateDirectory: f.state, id: id).data
        func stored() async throws -> (version: Int?, starts: [Double]) {
            let database = try Database(path: data + "/module.db")
            let version = try await KeyValueStore(database: database).value(Int.self, for: "version")
            let starts = try await TimeSeriesStore(database: database).readings(in: "starts", as: Ratio.self).map(\.value.baseValue)
            return (version, starts)
        }
        func log(_ report: UpdateEngine.Report) throws -> String {
            try String(contentsOfFile: report.record.logDirectory + "/01-module.log", encoding: .utf8)
        }

        let first = try f.engine().install(imageAt: try Self.image(f, version: "1.0.0", defines: ["STORE_VERSION=1"]))
        #expect(first.record.result == .committed)
        let firstLog = try log(first)
        #expect(firstLog.contains("wasm-store: version 1 found none, set = 0, append = 0"), "\(firstLog)")
        #expect(try await stored().version == 1)

        // 2.0.0 finds 1.0.0's data, and adds to it.
        let second = try f.engine().install(imageAt: try Self.image(f, version: "2.0.0", defines: ["STORE_VERSION=2"]))
        #expect(second.record.result == .committed)
        let secondLog = try log(second)
        #expect(secondLog.contains("wasm-store: version 2 found 1, set = 0, append = 0"), "\(secondLog)")
        let kept = try await stored()
        #expect(kept.version == 2)
        #expect(kept.starts.suffix(2) == [1, 2], "\(kept.starts)")

        // 3.0.0 writes, then never gets ready: rolled back, and its writes are gone.
        let error = try #require(ModuleError.caught { _ = try f.engine().install(imageAt: try Self.image(f, version: "3.0.0", defines: ["STORE_VERSION=3", "STORE_NEVER_READY"])) })
        #expect(error.message.contains("rolled back"), "\(error)")
        #expect(try UpdateEngine.status(id: id, stateDirectory: f.state).version == SemanticVersion("2.0.0"))
        let restored = try await stored()
        #expect(restored.version == 2)
        #expect(!restored.starts.contains(3), "\(restored.starts)")
    }
}

@Suite("WebAssembly modules: MQTT through the host's uplink", .serialized, .enabled(if: SandboxEnvironment.shouldRun))
struct WasmMQTTTests {
    @Test("a sandboxed wasm module publishes and subscribes inside its filters, is refused outside them, receives while its commands run, and ends its wait when asked to stop",
          .enabled(if: WasmExampleTests.available, "clang-14 for wasm32 is not installed (bash Scripts/build-wasm-example.sh)"))
    func uplink() throws {
        let sink = RecordingMessagingSink()
        let uplink = ModuleUplink(messaging: sink)
        var setup = try SandboxSetup(uplink: uplink)
        defer { setup.cleanUp() }
        setup.mqtt = MQTTRightsTests.rights
        try WasmExampleTests.compile(output: setup.moduleDirectory + "/uplink.wasm", source: Repository.root + "/Tests/Fixtures/wasm/uplink.c")
        var manifest = setup.manifest()
        manifest.library = .init(path: "uplink.wasm", entryPoints: .init(start: "uplink_start", stop: "uplink_stop"), kind: .wasm, fuel: 2_000_000)
        manifest.commands = [.init(name: "ping", symbol: "uplink_ping", parameters: [.init(name: "value", type: .int32)], returns: .int32)]
        let instance = try #require(try setup.runner.start(ModuleContext(manifest: manifest, moduleDirectory: setup.moduleDirectory, dataDirectory: setup.dataDirectory)) as? ChildModuleInstance)
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 30) == .ready, "\(instance.output)")
        let id = setup.moduleID
        let output = instance.output
        // WASI's errno numbers: EACCES 2, EFAULT 21, ETIMEDOUT 73, ECANCELED 11.
        for line in [
            "wasm-mq: publish(own) = 0: ",
            "wasm-mq: publish(other) = -2: publishing to 'sensors/pi-43/x/temperature' is not allowed by capabilities.mqtt.publish (declared: sensors/pi-42/\(id)/#)",
            "wasm-mq: publish(outside memory) = -21: mqtt_publish: the payload (4096 bytes at 0xffffff00) is not inside the module's memory",
            "wasm-mq: subscribe(own) = 0: ",
            "wasm-mq: subscribe(commands/#) = -2: subscribing to 'commands/#' is not allowed",
            "wasm-mq: receive(0) = -73: mqtt_receive: no message within 0 ms",
        ] {
            #expect(output.contains(line), "\(line)\n\(output)")
        }
        #expect(sink.published.withLock { $0 } == [
            .init(module: id, topic: "sensors/pi-42/\(id)/temperature", payload: Array("21.5".utf8), qos: 1, retain: false, expiry: 60),
        ])
        #expect(sink.subscribed.withLock { $0 } == ["\(id) commands/pi-42/\(id)/+"])
        #expect(MQTTRightsTests.mqttAudit(setup).filter { $0.decision == "denied" }.map(\.request) == ["publish sensors/pi-43/x/temperature", "subscribe commands/#"])

        // The module waits in mqtt_receive: its commands run meanwhile, and messages arrive.
        #expect(try instance.call(command: "ping", arguments: [.int32(41)], manifest: manifest) == .int32(42))
        #expect(uplink.deliver(topic: "commands/pi-42/\(id)/set", payload: Array("on".utf8), retain: true) == 1)
        #expect(HardwareRequestTests.waitForOutput(instance, "wasm-mq: received commands/pi-42/\(id)/set retain=1: on"), "\(instance.output)")
        #expect(uplink.deliver(topic: "commands/pi-42/\(id)/mode", payload: Array("eco".utf8), retain: false) == 1)
        #expect(HardwareRequestTests.waitForOutput(instance, "wasm-mq: received commands/pi-42/\(id)/mode retain=0: eco"), "\(instance.output)")
        #expect(try instance.call(command: "ping", arguments: [.int32(1)], manifest: manifest) == .int32(2))
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0), "\(instance.output)")
        #expect(instance.output.contains("wasm-mq: receive ended -11"), "\(instance.output)")
    }
}

@Suite("WebAssembly modules: the C example built for wasm32")
struct WasmExampleTests {
    static var available: Bool { ExampleModules.wasm != nil || ExampleModules.wasmRequired }

    /// Examples/ExampleModuleC/module-wasm.json with the built .wasm (Scripts/build-wasm-example.sh), at `version`.
    static func image(_ f: UpdateFixture, version: String = "1.0.0", wasm: String? = nil) throws -> (image: String, manifest: ModuleManifest) {
        let built = try #require(wasm ?? ExampleModules.wasm, "the wasm example is not built: bash Scripts/build-wasm-example.sh")
        var manifest = try ModuleManifest.decode(Data(contentsOf: URL(fileURLWithPath: Repository.root + "/Examples/ExampleModuleC/module-wasm.json")))
        manifest.version = SemanticVersion(version)!
        manifest.health = UpdateFixture.quickHealth
        let directory = try WasmTestModule.directory(at: f.base.path("wasm-example-\(version)"), manifest: manifest, wasm: [UInt8](Data(contentsOf: URL(fileURLWithPath: built))))
        let layout = try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: directory)
        try ImagePacker.write(layout, to: f.base.path("wasm-image-\(version)"))
        return (f.base.path("wasm-image-\(version)"), manifest)
    }

    @Test("installs and commits like the native example; an update that never gets ready rolls back to it",
          .enabled(if: available, "the wasm example is not built (bash Scripts/build-wasm-example.sh)"))
    func installAndRollBack() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let (image, manifest) = try Self.image(f)
        let report = try f.engine().install(imageAt: image)
        #expect(report.record.result == .committed)
        let log = try String(contentsOfFile: report.record.logDirectory + "/01-module.log", encoding: .utf8)
        #expect(log.contains("example module 1.0.0 started"), "\(log)")
        // The same source built with EXAMPLE_NEVER_READY, as WritingAModule.md's rollback does.
        let broken = f.base.path("never-ready.wasm")
        try Self.compile(output: broken, defines: ["EXAMPLE_NEVER_READY"])
        let (update, _) = try Self.image(f, version: "1.1.0", wasm: broken)
        let error = try #require(ModuleError.caught { _ = try f.engine().install(imageAt: update) })
        #expect(error.message.contains("rolled back"), "\(error)")
        #expect(try UpdateEngine.status(id: manifest.id, stateDirectory: f.state).version == manifest.version)
    }

    @Test("its typed commands run while its start loop sleeps",
          .enabled(if: available, "the wasm example is not built (bash Scripts/build-wasm-example.sh)"))
    func commands() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let (_, manifest) = try Self.image(f)
        let runner = ChildProcessRunner(executable: try UpdateFixture.runnerExecutable())
        let data = f.base.path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let instance = try runner.start(ModuleContext(manifest: manifest, moduleDirectory: f.base.path("wasm-example-1.0.0"), dataDirectory: data))
        #expect(instance.nextEvent(before: .now + .seconds(10)) == .ready)
        #expect(try instance.call(command: "set_threshold", arguments: [.double(30.5)], manifest: manifest) == .int32(0))
        #expect(try instance.call(command: "set_threshold", arguments: [.double(300)], manifest: manifest) == .int32(1))
        Thread.sleep(forTimeInterval: 0.2)
        guard case let .uint64(uptime) = try instance.call(command: "uptime_ms", arguments: [], manifest: manifest) else {
            Issue.record("uptime_ms returned no uint64")
            return
        }
        #expect(uptime >= 200 && uptime < 60_000, "\(uptime)")
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0), "\(instance.output)")
    }

    @Test("the Swift example (Embedded Swift for wasm32) installs, commits, answers its commands and keeps its setpoint in its store",
          .enabled(if: available, "the wasm examples are not built (bash Scripts/build-wasm-example.sh)"))
    func swiftExample() async throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let built = try #require(ExampleModules.wasm("ExampleModuleSwiftWasm"), "the Swift wasm example is not built: bash Scripts/build-wasm-example.sh")
        let manifest = try ModuleManifest.decode(Data(contentsOf: URL(fileURLWithPath: Repository.root + "/Examples/ExampleModuleSwiftWasm/module.json")))
        let directory = try WasmTestModule.directory(at: f.base.path("swift-wasm"), manifest: manifest, wasm: [UInt8](Data(contentsOf: URL(fileURLWithPath: built))))
        try ImagePacker.write(try ImagePacker(signingKey: f.base.key).pack(moduleDirectory: directory), to: f.base.path("swift-wasm-image"))
        let report = try f.engine().install(imageAt: f.base.path("swift-wasm-image"))
        #expect(report.record.result == .committed)
        let log = try String(contentsOfFile: report.record.logDirectory + "/01-module.log", encoding: .utf8)
        #expect(log.contains("thermostat (Embedded Swift, wasm32) started"), "\(log)")

        let runner = ChildProcessRunner(executable: try UpdateFixture.runnerExecutable())
        let data = f.base.path("swift-wasm-data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let instance = try runner.start(ModuleContext(manifest: manifest, moduleDirectory: directory, dataDirectory: data))
        #expect(instance.nextEvent(before: .now + .seconds(10)) == .ready)
        #expect(try instance.call(command: "set_setpoint", arguments: [.double(23.5)], manifest: manifest) == .int32(0))
        #expect(try instance.call(command: "set_setpoint", arguments: [.double(80)], manifest: manifest) == .int32(1))
        #expect(try instance.call(command: "setpoint", arguments: [], manifest: manifest) == .double(23.5))
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0), "\(instance.output)")

        // It kept the setpoint in its key-value store: the next run starts with it, and IoTSDK reads it.
        let again = try runner.start(ModuleContext(manifest: manifest, moduleDirectory: directory, dataDirectory: data))
        #expect(again.nextEvent(before: .now + .seconds(10)) == .ready)
        #expect(try again.call(command: "setpoint", arguments: [], manifest: manifest) == .double(23.5))
        #expect(again.stop(timeout: .seconds(10)) == .exited(0), "\(again.output)")
        let settings = try await KeyValueStore(database: try Database(path: data + "/module.db"))
        #expect(try await settings.value(Double.self, for: "setpoint") == 23.5)
    }

    /// Runs hook `symbol` of the module in `root` (`module/`, `data/`), which must succeed; its output.
    static func probe(_ symbol: String, manifest: ModuleManifest, root: String, runner: ChildProcessRunner,
                      sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let result = runner.runHook(name: "verify", hook: .init(symbol: symbol, timeoutSeconds: 30),
                                    context: ModuleContext(manifest: manifest, moduleDirectory: root + "/module", dataDirectory: root + "/data"))
        #expect(result.outcome == .succeeded, "\(result.output)", sourceLocation: sourceLocation)
        return result.output
    }

    /// Compiles the example (or `source`) as Scripts/build-wasm-example.sh does, with extra `-D` defines.
    static func compile(output: String, defines: [String] = [], source: String = Repository.root + "/Examples/ExampleModuleC/example.c") throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["clang-14", "--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-mexec-model=reactor", "-fvisibility=hidden",
                             "-Wl,--export-dynamic", "-I", Repository.root + "/Sources/CIoTModule/include", "-o", output]
            + defines.map { "-D" + $0 } + [source]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "clang-14 for wasm32 failed")
    }
}
