#if canImport(Glibc)
import Glibc
#endif
import CIoTBench
import Foundation
import ModuleFFI
import ModuleProtocol
import PluginHost

// sdk-bench host: the plugin host's costs on this machine, in one run (release build):
// libffi command calls against direct calls, the IPC round trip a brokered I2C transfer adds,
// module cold start (runner started → the module's first entry point has run and said ready;
// sandboxed with and without the syscall filter, taking turns),
// and the memory (PSS) of a host running three idle modules.

func format(_ value: Double, _ unit: String) -> String {
    String(format: "%.1f %@", value, unit)
}

func runHostBench(_ options: Options) throws {
    print("sdk-bench host (release; medians of \(options.rounds) rounds)")
    try benchFFI(options)
    try benchIPCRoundTrip(options)
    try benchColdStart(options)
    try benchMemory(options)
    try benchInstallMemory(options)
}

/// A typed command through libffi (signature prepared once, arguments checked) against the same C
/// function called directly.
func benchFFI(_ options: Options) throws {
    let function: @convention(c) (Int32, Int32) -> Int32 = ciot_bench_add_i32
    let pointer = unsafeBitCast(function, to: UnsafeRawPointer.self)
    let signature = try FFISignature(parameters: [.int32, .int32], returns: .int32)
    let n = options.iterations
    var direct: [Double] = [], ffi: [Double] = []
    var sink: Int32 = 0
    for _ in 0..<options.rounds {
        direct.append(time(n) {
            for _ in 0..<n { sink &+= function(sink & 0xFF, 3) }
        })
        ffi.append(try time(n) {
            for _ in 0..<n {
                if case let .int32(value) = try signature.call(pointer, [.int32(sink & 0xFF), .int32(3)]) { sink &+= value }
            }
        })
    }
    let d = median(direct), f = median(ffi)
    print("command call: direct \(format(d, "ns")), libffi \(format(f, "ns")), overhead \(format(f - d, "ns")) per call (sink \(sink & 1))")
}

/// What brokering adds to an I2C transfer: the request and the reply through the runner–host
/// channel (encode, SOCK_SEQPACKET send, receive, decode, both ways), measured between two
/// threads with the broker's checks but without the kernel's I2C operation itself.
func benchIPCRoundTrip(_ options: Options) throws {
    let (runnerSide, hostSide) = try Channel.pair()
    let capabilities = ModuleManifest.Capabilities(i2c: [.init(bus: 1, addresses: [0x76])])
    let count = max(options.iterations / 10, 1000)
    let server = Thread {
        for _ in 0..<(count * options.rounds) {
            guard let (message, _) = try? hostSide.receiveMessage(from: .runner),
                  case let .i2cTransfer(id, bus, address, _) = message else { return }
            let allowed = capabilities.i2c.contains { $0.bus == bus && $0.addresses.contains(address) }
            _ = try? hostSide.send(allowed ? .i2cResult(requestID: id, reads: [[0x60]]) : .denied(requestID: id, reason: "no"))
        }
    }
    server.start()
    var rounds: [Double] = []
    var id: UInt32 = 0
    for _ in 0..<options.rounds {
        rounds.append(try time(count) {
            for _ in 0..<count {
                id &+= 1
                try runnerSide.send(.i2cTransfer(requestID: id, bus: 1, address: 0x76, segments: [.write([0xD0]), .read(count: 1)]))
                _ = try runnerSide.receiveMessage(from: .host)
            }
        })
    }
    var floor: [Double] = []
    for _ in 0..<options.rounds { floor.append(ciot_bench_seqpacket_round_trip(Int32(count))) }
    print("brokered I2C overhead (IPC round trip + allowlist check, kernel op excluded): \(format(median(rounds) / 1000, "µs")) median per transfer (goal <= 30 µs); the same round trip in plain C on this machine: \(format(median(floor) / 1000, "µs"))")
}

/// Runner start → `ready` from the example module's start entry point, unsandboxed and sandboxed.
func benchColdStart(_ options: Options) throws {
    guard let runnerPath = ChildProcessRunner.locate() else {
        print("cold start: skipped (plugin-host-runner is not next to sdk-bench; build it: swift build -c release --product plugin-host-runner)")
        return
    }
    let root = NSTemporaryDirectory() + "sdk-bench-host-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createDirectory(atPath: root + "/module/lib", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
    // The C example built with the system's cc, as a C module ships: SwiftPM's build of it links
    // the toolchain's libswiftCore.so, which the sandbox (the module, /usr and /lib*) does not hold.
    guard try buildQuietModule(to: root + "/module/lib/libExampleModuleC.so") else { return }
    let manifest = exampleManifest(id: "com.example.bench", stabilityWindowSeconds: 0, maxRestarts: 1)
    let context = ModuleContext(manifest: manifest, moduleDirectory: root + "/module", dataDirectory: root + "/data")
    var variants: [(String, ChildProcessRunner)] = [("unsandboxed", ChildProcessRunner(executable: runnerPath))]
    if getuid() == 0 {
        variants.append(("sandboxed", ChildProcessRunner(executable: runnerPath, sandbox: SandboxOptions())))
        variants.append(("sandboxed, no syscall filter", ChildProcessRunner(executable: runnerPath, sandbox: SandboxOptions(syscallFilter: .off))))
    }
    // The variants take turns, so that a slower moment of the machine hits each alike.
    var samples = [[Double]](repeating: [], count: variants.count)
    var failed = Set<Int>()
    for _ in 0..<max(options.rounds * 4, 10) {
        for (index, (name, runner)) in variants.enumerated() where !failed.contains(index) {
            let start = ContinuousClock.now
            let instance = try runner.start(context)
            guard instance.nextEvent(before: .now + .seconds(10)) == .ready else {
                print("cold start (\(name)): the module did not signal ready: \(instance.output)")
                instance.stop(timeout: .seconds(2))
                failed.insert(index)
                continue
            }
            let elapsed = ContinuousClock.now - start
            samples[index].append(seconds(elapsed) * 1000)
            instance.stop(timeout: .seconds(2))
        }
    }
    for (index, (name, _)) in variants.enumerated() where !samples[index].isEmpty {
        print("cold start (\(name)): \(format(median(samples[index]), "ms")) median, \(format(samples[index].max() ?? .nan, "ms")) max over \(samples[index].count) starts (goal <= 20 ms)")
    }
    if variants.count == 3, !samples[1].isEmpty, !samples[2].isEmpty {
        let added = median(samples[1]) - median(samples[2])
        print("cold start: the syscall filter adds \(format(added, "ms")) to the sandboxed median (goal <= +5 ms)")
    }
}

/// A host with three quiet modules (ready, then a heartbeat every 10 s), as a device runs it:
/// - PSS (proportional set size, /proc/<pid>/smaps_rollup) of `plugin-host run` and every process
///   under it, with where it goes (anonymous vs file-backed, per process);
/// - bytes written to storage (/proc/<pid>/io `write_bytes`: what reaches the block layer, so
///   tmpfs does not count) over an idle window, scaled to an hour;
/// - wakeups: voluntary + involuntary context switches summed over every thread of those
///   processes over the same window, per minute.
func benchMemory(_ options: Options) throws {
    guard let runnerPath = ChildProcessRunner.locate(), let (host, _) = hostBinaries(for: "memory and idle") else { return }
    // The state directory on the disk the machine's /var/lib is on, as on a device (not tmpfs).
    let root = try makeBenchDirectory(under: "/var/tmp", name: "sdk-bench-idle")
    defer { try? FileManager.default.removeItem(atPath: root) }
    guard let state = try installIdleModules(root: root, runner: runnerPath) else { return }
    let process = try startIdleHost(host, state: state)
    defer { kill(process.processIdentifier, SIGTERM); process.waitUntilExit() }
    let (tree, total, anonymous, rows) = treeMemory(process.processIdentifier)
    print("memory: plugin-host run with 3 idle modules: PSS \(format(total / 1024, "MB")) in \(tree.count) processes, \(format(anonymous / 1024, "MB")) of it anonymous (goal <= 12 MB)")
    rows.forEach { print($0) }

    // The idle window: every process of the tree, every thread.
    let before = tree.map { (writes: writeBytes($0), switches: contextSwitches($0)) }
    let started = ContinuousClock.now
    Thread.sleep(forTimeInterval: Double(options.idleSeconds))
    let elapsed = seconds(ContinuousClock.now - started)
    let after = tree.map { (writes: writeBytes($0), switches: contextSwitches($0)) }
    let written = zip(before, after).reduce(0.0) { $0 + Double($1.1.writes - $1.0.writes) }
    let switches = zip(before, after).reduce(0.0) { $0 + Double($1.1.switches - $1.0.switches) }
    let alive = tree.filter { kill($0, 0) == 0 }.count
    print("idle \(Int(elapsed.rounded())) s, 3 quiet modules (heartbeat every 10 s), \(alive) of \(tree.count) processes still there: written \(Int(written)) bytes = \(format(written * 3600 / elapsed / 1024, "KB")) an hour (goal <= 4 KB); wakeups \(format(switches * 60 / elapsed, "")) a minute (goal <= 150)")
}

/// The C example module (Examples/ExampleModuleC) with a heartbeat every 10 s in place of every
/// second, built with the system's cc; false (with a line saying why) if it cannot be built.
func buildQuietModule(to library: String) throws -> Bool {
    let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    let example = sources.deletingLastPathComponent().path + "/Examples/ExampleModuleC/example.c"
    let include = sources.path + "/CIoTModule/include"
    guard try compiles(["cc", "-shared", "-fPIC", "-O2", "-pthread", "-DEXAMPLE_HEARTBEAT_SECONDS=10", "-I", include, "-o", library, example]) else {
        print("cold start, memory and idle: skipped (cc could not build \(example) with \(include))")
        return false
    }
    return true
}

/// Runs a compiler (`arguments[0]`, found on PATH) and says whether it succeeded; its messages
/// go to the bench's standard error.
func compiles(_ arguments: [String]) throws -> Bool {
    let compiler = Process()
    compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    compiler.arguments = arguments
    try compiler.run()
    compiler.waitUntilExit()
    return compiler.terminationStatus == 0
}

/// A new directory `<parent>/<name>-<pid>`, or under the temporary directory if `parent` is not writable.
func makeBenchDirectory(under parent: String, name: String) throws -> String {
    let base = access(parent, W_OK) == 0 ? parent : NSTemporaryDirectory()
    let path = base + "/" + name + "-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// `write_bytes` of /proc/<pid>/io (0 if unreadable).
func writeBytes(_ pid: Int32) -> Int64 {
    procField("/proc/\(pid)/io", "write_bytes:")
}

/// Voluntary and involuntary context switches of every thread of `pid`.
func contextSwitches(_ pid: Int32) -> Int64 {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.reduce(0) { sum, task in
        let status = "/proc/\(pid)/task/\(task)/status"
        return sum + procField(status, "voluntary_ctxt_switches:") + procField(status, "nonvoluntary_ctxt_switches:")
    }
}

func procField(_ path: String, _ name: String) -> Int64 {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
        return Int64(line.dropFirst(name.count).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
}

func processName(_ pid: Int32) -> String {
    ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The C example module (Examples/ExampleModuleC) as the benchmarks run it, 1.0.0, no hardware.
func exampleManifest(id: String, stabilityWindowSeconds: Double, maxRestarts: UInt32) -> ModuleManifest {
    ModuleManifest(
        id: id, version: SemanticVersion("1.0.0")!, abi: 1,
        library: .init(path: "lib/libExampleModuleC.so", entryPoints: .init(start: "example_start", stop: "example_stop")),
        capabilities: .init(), resources: .init(memoryBytes: 32 << 20, cpuPercent: 100, maxProcesses: 16, maxOpenFiles: 64),
        health: .init(readyTimeoutSeconds: 5, heartbeatIntervalSeconds: 1, stabilityWindowSeconds: stabilityWindowSeconds,
                      maxRestarts: maxRestarts, restartWindowSeconds: 60))
}

func descendants(of root: Int32) -> [Int32] {
    var parents: [Int32: Int32] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { parents[pid] = parent }
    }
    var result: [Int32] = []
    var frontier = [root]
    while let next = frontier.popLast() {
        for (pid, parent) in parents where parent == next {
            result.append(pid)
            frontier.append(pid)
        }
    }
    return result
}

/// PSS and its anonymous part (KiB) from /proc/<pid>/smaps_rollup.
func smapsRollup(_ pid: Int32) -> (pss: Double, anonymous: Double) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return (0, 0) }
    var pss = 0.0, anonymous = 0.0
    for line in text.split(separator: "\n") {
        let value = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        if line.hasPrefix("Pss:") { pss = value }
        if line.hasPrefix("Pss_Anon:") { anonymous = value }
    }
    return (pss, anonymous)
}

/// PSS (KiB) per mapping from /proc/<pid>/smaps, keyed by the mapped file's name (or `[heap]`,
/// `[anon]`, …) and its permissions, e.g. "plugin-host r-xp". Read through a FileHandle to its
/// end: `String(contentsOfFile:)` returned only the first 4 KB of it here.
func smapsByMapping(_ pid: Int32) -> [String: Double] {
    guard let data = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")?.readDataToEndOfFile() else { return [:] }
    var result: [String: Double] = [:]
    var mapping = ""
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        if fields.count >= 5, fields[0].contains("-"), fields[0].first?.isHexDigit == true {
            let path = fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            let name = path.isEmpty ? "[anon]" : String(path.split(separator: "/").last ?? Substring(path))
            mapping = name + " " + fields[1]
        } else if fields.first == "Pss:", fields.count > 1 {
            result[mapping, default: 0] += Double(fields[1]) ?? 0
        }
    }
    return result
}

/// A state directory under `root` with 3 quiet example modules installed (signed, trusted); nil
/// when cc cannot build the module.
func installIdleModules(root: String, runner runnerPath: String) throws -> String? {
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let library = root + "/libExampleModuleC.so"
    guard try buildQuietModule(to: library) else { return nil }
    let key = ModuleSigningKey()
    let state = root + "/state"
    try TrustStore(stateDirectory: state).add(key.publicKey)
    let engine = try UpdateEngine(stateDirectory: state, runner: ChildProcessRunner(executable: runnerPath))
    for index in 1...3 {
        let directory = root + "/module\(index)"
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: library, toPath: directory + "/lib/libExampleModuleC.so")
        var manifest = exampleManifest(id: "com.example.idle\(index)", stabilityWindowSeconds: 0.5, maxRestarts: 3)
        manifest.health.heartbeatIntervalSeconds = 10
        try manifest.canonicalJSON().write(to: URL(fileURLWithPath: directory + "/module.json"))
        let layout = try ImagePacker(signingKey: key).pack(moduleDirectory: directory)
        try ImagePacker.write(layout, to: root + "/image\(index)")
        try engine.install(imageAt: root + "/image\(index)")
    }
    return state
}

/// `plugin-host run` on `state` (with `arguments` added), once its 3 modules run and 2 s more.
func startIdleHost(_ host: String, state: String, arguments: [String] = []) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: host)
    process.arguments = ["run", "--state-dir", state] + arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Let the modules start and settle.
    let deadline = ContinuousClock.now + .seconds(15)
    while ContinuousClock.now < deadline {
        if let snapshot = HostRuntime.runningSnapshot(stateDirectory: state), snapshot.modules.count == 3,
           snapshot.modules.allSatisfy({ $0.state == .running }) { break }
        Thread.sleep(forTimeInterval: 0.1)
    }
    Thread.sleep(forTimeInterval: 2)
    return process
}

/// The processes of `root`'s tree, their PSS and its anonymous part (KiB), and a line for each.
func treeMemory(_ root: Int32) -> (tree: [Int32], pss: Double, anonymous: Double, rows: [String]) {
    let tree = [root] + descendants(of: root)
    var total = 0.0, anonymous = 0.0
    var rows: [String] = []
    for pid in tree {
        let memory = smapsRollup(pid)
        total += memory.pss
        anonymous += memory.anonymous
        rows.append("  pid \(pid) \(processName(pid)): PSS \(format(memory.pss / 1024, "MB")) (anonymous \(format(memory.anonymous / 1024, "MB")), file-backed \(format((memory.pss - memory.anonymous) / 1024, "MB")))")
    }
    return (tree, total, anonymous, rows)
}
