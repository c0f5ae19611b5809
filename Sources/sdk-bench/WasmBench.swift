#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ModuleProtocol
import PluginHost

// sdk-bench wasm: a WebAssembly module beside the same C module built natively, in one run, both
// through the real plugin-host-runner (sandboxed when root): cold start, a typed command call, a
// compute-bound call (CRC-32 over 64 KB) and the PSS of an idle module's runner processes. The
// module is wasm/bench_module.c, built with cc and with clang-14 for wasm32 (Scripts/build-wasm-example.sh
// installs the toolchain).

func runWasmBench(_ options: Options) throws {
    print("sdk-bench wasm (release; medians of \(options.rounds) rounds; native and wasm modules take turns)")
    if options.icount {
        print("  --icount: guest time counts instructions (1 ns is one instruction), so each time below is an instruction count; the ratios are what compare")
    }
    let root = NSTemporaryDirectory() + "sdk-bench-wasm-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/wasm/bench_module.c"
    let include = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/CIoTModule/include"
    if let directory = options.buildModules {
        // Only build, for a machine without compilers (Scripts/bench.sh wasm: the lab's guest).
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for kind in [ModuleManifest.Library.Kind.native, .wasm] {
            let output = directory + "/bench_module." + (kind == .wasm ? "wasm" : "so")
            guard try WasmBenchModule.compile(kind, source: source, include: include, output: output) else { exit(1) }
            print("wasm: built \(output)")
        }
        return
    }
    guard let (runnerPath, form) = try benchRunner(root: root) else {
        print("wasm: skipped (plugin-host-runner is not next to sdk-bench; build it: swift build -c release --product plugin-host-runner)")
        return
    }
    print("  runner: \(form)")
    let native = try WasmBenchModule(kind: .native, root: root, source: source, include: include, prebuilt: options.modules)
    let wasm = try WasmBenchModule(kind: .wasm, root: root, source: source, include: include, prebuilt: options.modules)
    guard let native, let wasm else { return }
    let sandbox: SandboxOptions? = getuid() == 0 ? SandboxOptions() : nil
    let runner = ChildProcessRunner(executable: runnerPath, sandbox: sandbox, stateDirectory: sandbox == nil ? nil : root + "/state")
    try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
    let mode = sandbox == nil ? "unsandboxed (not root)" : "sandboxed"
    let modules = [native, wasm]

    // Cold start: runner started → the module's start entry point said ready.
    var starts: [[Double]] = [[], []]
    for _ in 0..<max(options.rounds * 4, 10) {
        for (index, module) in modules.enumerated() {
            let started = ContinuousClock.now
            let instance = try runner.start(module.context)
            guard instance.nextEvent(before: .now + .seconds(10)) == .ready else {
                print("wasm: the \(module.kind.rawValue) module did not say ready: \(instance.output)")
                instance.stop(timeout: .seconds(2))
                return
            }
            starts[index].append(seconds(ContinuousClock.now - started) * 1000)
            instance.stop(timeout: .seconds(5))
        }
    }
    print("cold start, \(mode): native \(format(median(starts[0]), "ms")), wasm \(format(median(starts[1]), "ms")) median over \(starts[1].count) starts each (goal for wasm <= 50 ms)")

    // Memory: one idle module at a time (PSS splits pages shared between processes, so the two
    // must not run together), its runner's processes summed.
    var memory: [[Double]] = [[], []]
    var mappings: [[String: Double]] = [[:], [:]]
    for _ in 0..<options.rounds {
        for (index, module) in modules.enumerated() {
            let instance = try runner.start(module.context)
            guard instance.nextEvent(before: .now + .seconds(10)) == .ready else { return }
            Thread.sleep(forTimeInterval: 1)
            let processes = descendants(of: getpid()).filter { commandLine($0).contains(module.manifest.id) }
            // One read of each process's smaps gives both the total and where it lies.
            let byMapping = processes.map(smapsByMapping).reduce(into: [:]) { $0.merge($1) { $0 + $1 } }
            memory[index].append(byMapping.values.reduce(0, +))
            mappings[index].merge(byMapping) { $0 + $1 }
            instance.stop(timeout: .seconds(5))
        }
    }
    let added = (median(memory[1]) - median(memory[0])) / 1024
    print("idle module's runner processes, PSS: native \(format(median(memory[0]) / 1024, "MB")), wasm \(format(median(memory[1]) / 1024, "MB")): wasm adds \(String(format: "%.2f", added)) MB (goal <= +1.5 MB)")
    // Where the difference lies, mapping by mapping, averaged over the rounds.
    let differences = Set(mappings[0].keys).union(mappings[1].keys)
        .map { ($0, (mappings[1][$0, default: 0] - mappings[0][$0, default: 0]) / Double(options.rounds)) }
        .sorted { abs($0.1) > abs($1.1) }
    print("  largest differences, wasm - native (KB, mean of \(options.rounds)): " + differences.prefix(6).map { "\($0.0) \(String(format: "%+.0f", $0.1))" }.joined(separator: ", "))

    // Calls: both modules running, rounds taking turns.
    let instances = try modules.map { module -> any ModuleInstance in
        let instance = try runner.start(module.context)
        guard instance.nextEvent(before: .now + .seconds(10)) == .ready else { throw ModuleError(.runnerFailed, "the \(module.kind.rawValue) module did not start: \(instance.output)") }
        return instance
    }
    defer { for instance in instances { instance.stop(timeout: .seconds(5)) } }
    let calls = max(options.iterations / 50, 200)
    var command: [[Double]] = [[], []]
    var crc: [[Double]] = [[], []]
    var results: [[CommandValue]] = [[], []]
    let crcRounds: UInt32 = 16
    for _ in 0..<options.rounds {
        for (index, module) in modules.enumerated() {
            let instance = instances[index]
            command[index].append(try time(calls) {
                for i in 0..<calls {
                    _ = try instance.call(command: "add", arguments: [.int32(Int32(i)), .int32(1)], manifest: module.manifest)
                }
            })
            let started = ContinuousClock.now
            results[index].append(try instance.call(command: "crc32", arguments: [.uint32(crcRounds)], manifest: module.manifest))
            crc[index].append(seconds(ContinuousClock.now - started) * 1e9 / Double(crcRounds))
        }
    }
    guard results[0] == results[1] else {
        print("wasm: the two builds computed different CRCs: native \(results[0]), wasm \(results[1])")
        return
    }
    let commandRatio = median(command[0]) / median(command[1])
    print("typed command call (int32 add, host → runner → module → host): native \(format(median(command[0]) / 1000, "µs")), wasm \(format(median(command[1]) / 1000, "µs")) median per call, ratio wasm/native \(String(format: "%.2f", commandRatio)) (native cost / wasm cost)")
    let crcRatio = median(crc[0]) / median(crc[1])
    print("compute-bound call (CRC-32 over 64 KB, table-driven; \(crcRounds) passes per call, CRC \(results[0].first!)): native \(format(median(crc[0]) / 1000, "µs")), wasm \(format(median(crc[1]) / 1000, "µs")) per 64 KB, ratio wasm/native \(String(format: "%.3f", crcRatio)) (wasm takes \(String(format: "%.0f", 1 / crcRatio))× as long)")
    print("  WasmKit publishes no ratio to native code: its Documentation/RegisterMachine.md puts its CoreMark score on a par with wasm3's, and wasm3's README gives wasm3 as ~12x slower than native (CoreMark 1.0)")

    // Brokered I2C register reads: the same combined transfer from each build, through the host.
    let bus = ProcessInfo.processInfo.environment["IOTLAB_I2C_BUS"].flatMap(UInt32.init) ?? 1
    let device = FileManager.default.fileExists(atPath: "/dev/i2c-\(bus)")
    let reads = max(options.iterations / 20, 200)
    var i2c: [[Double]] = [[], []]
    var failures: [CommandValue] = []
    for _ in 0..<options.rounds {
        for (index, module) in modules.enumerated() {
            var failed: CommandValue = .int32(0)
            i2c[index].append(try time(reads) {
                failed = try instances[index].call(command: "i2c", arguments: [.uint32(UInt32(reads)), .uint32(bus), .uint32(0x76)], manifest: module.manifest)
            })
            failures.append(failed)
        }
    }
    let i2cRatio = median(i2c[0]) / median(i2c[1])
    let what = device ? "on /dev/i2c-\(bus)" : "with no /dev/i2c-\(bus) here: the host's open fails, so the kernel's transfer is left out and the ratio is a lower bound of the one with a device"
    print("brokered I2C register read (0xD0 of 0x76, \(what); failed reads per round \(Set(failures.map(\.description)).sorted())): native \(format(median(i2c[0]) / 1000, "µs")), wasm \(format(median(i2c[1]) / 1000, "µs")) per read, ratio wasm/native \(String(format: "%.3f", i2cRatio)) (goal >= 0.8)")
}

/// The runner the bench starts, and what it is. As a device runs it when plugin-host is built
/// beside sdk-bench: plugin-host started as plugin-host-runner, the link the Debian package
/// ships (a symlink under `root`); else the standalone plugin-host-runner, which links less and
/// so gives other figures. PLUGIN_HOST_RUNNER names one explicitly.
func benchRunner(root: String) throws -> (path: String, form: String)? {
    let explicit = ProcessInfo.processInfo.environment["PLUGIN_HOST_RUNNER"].map { !$0.isEmpty } ?? false
    let host = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/plugin-host"
    if !explicit, access(host, X_OK) == 0 {
        try FileManager.default.createDirectory(atPath: root + "/runner", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/runner/plugin-host-runner", withDestinationPath: host)
        return (root + "/runner/plugin-host-runner", "plugin-host started as plugin-host-runner, as the Debian package ships it (\(host))")
    }
    return ChildProcessRunner.locate().map { ($0, "the standalone plugin-host-runner (\($0)); a device runs plugin-host as its runner: build plugin-host beside sdk-bench to measure that") }
}

/// The bench module built for one kind, laid out as a module directory with its manifest.
struct WasmBenchModule {
    let kind: ModuleManifest.Library.Kind
    let manifest: ModuleManifest
    let context: ModuleContext

    /// nil (with a line saying why) if the compiler is missing or fails, or `prebuilt` (a
    /// directory with bench_module.so and bench_module.wasm) lacks the file.
    init?(kind: ModuleManifest.Library.Kind, root: String, source: String, include: String, prebuilt: String?) throws {
        self.kind = kind
        let directory = root + "/\(kind.rawValue)"
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "-data", withIntermediateDirectories: true)
        let library = kind == .wasm ? "lib/bench.wasm" : "lib/libbench.so"
        if let prebuilt {
            let built = prebuilt + "/bench_module." + (kind == .wasm ? "wasm" : "so")
            guard FileManager.default.fileExists(atPath: built) else {
                print("wasm: skipped (--modules \(prebuilt) has no \(built))")
                return nil
            }
            try FileManager.default.copyItem(atPath: built, toPath: directory + "/" + library)
        } else if !(try Self.compile(kind, source: source, include: include, output: directory + "/" + library)) {
            return nil
        }
        manifest = ModuleManifest(
            id: "com.example.bench-\(kind.rawValue)", version: SemanticVersion("1.0.0")!, abi: 1,
            library: .init(path: library, entryPoints: .init(start: "bench_start", stop: "bench_stop"), kind: kind == .wasm ? .wasm : nil),
            commands: [.init(name: "add", symbol: "bench_add", parameters: [.init(name: "a", type: .int32), .init(name: "b", type: .int32)]),
                       .init(name: "crc32", symbol: "bench_crc32", parameters: [.init(name: "rounds", type: .uint32)], returns: .uint32),
                       .init(name: "i2c", symbol: "bench_i2c", parameters: [.init(name: "count", type: .uint32), .init(name: "bus", type: .uint32), .init(name: "address", type: .uint32)])],
            capabilities: .init(i2c: [.init(bus: ProcessInfo.processInfo.environment["IOTLAB_I2C_BUS"].flatMap(UInt32.init) ?? 1, addresses: [0x76])]), resources: .init(memoryBytes: 32 << 20, cpuPercent: 100, maxProcesses: 16, maxOpenFiles: 64),
            health: .init(readyTimeoutSeconds: 5, heartbeatIntervalSeconds: 30, stabilityWindowSeconds: 0, maxRestarts: 1, restartWindowSeconds: 60))
        context = ModuleContext(manifest: manifest, moduleDirectory: directory, dataDirectory: directory + "-data")
    }
}

extension WasmBenchModule {
    /// Builds bench_module.c for `kind` at `output` (cc, or clang-14 for wasm32); false, with a
    /// line saying why, when the compiler is missing or fails.
    static func compile(_ kind: ModuleManifest.Library.Kind, source: String, include: String, output: String) throws -> Bool {
        let arguments = kind == .wasm
            ? ["clang-14", "--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-mexec-model=reactor", "-fvisibility=hidden", "-Wl,--export-dynamic",
               "-Wl,--strip-debug", "-I", include, "-o", output, source]
            : ["cc", "-shared", "-fPIC", "-O2", "-pthread", "-fvisibility=hidden", "-I", include, "-o", output, source]
        guard try compiles(arguments) else {
            print("wasm: skipped (\(arguments[0]) could not build \(source); for wasm32: bash Scripts/build-wasm-example.sh installs clang-14, lld-14 and wasi-libc)")
            return false
        }
        return true
    }
}

/// /proc/<pid>/cmdline with its NULs as spaces ("" if gone).
func commandLine(_ pid: Int32) -> String {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
    return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
}
