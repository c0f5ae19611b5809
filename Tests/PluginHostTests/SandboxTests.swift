import Foundation
import ModuleProtocol
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

// The sandbox: cgroup detection against fake /sys/fs/cgroup layouts (anywhere), and real runs of
// the test module (Tests/Fixtures/modules/sandbox_probe.c) in the sandbox, which need root and
// namespaces. Without them those tests are skipped with the reason printed; with
// PLUGIN_HOST_REQUIRE_SANDBOX=1 a missing feature fails them instead.

/// What the real sandbox tests need, found once.
enum SandboxEnvironment {
    static let required = ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_SANDBOX"] == "1"
    static let features = SandboxFeatures.detect(runner: TestModule.runnerExecutable)

    /// Why the sandbox tests cannot run here; nil if they can.
    static let missing: String? = {
        if geteuid() != 0 { return "not running as root" }
        if TestModule.runnerExecutable == nil { return "plugin-host-runner was not built next to the tests" }
        let namespaces = ["mnt", "pid", "ipc", "uts", "net", "cgroup"].filter { features.namespaces[$0]?.available != true }
        if !namespaces.isEmpty {
            return "namespaces unavailable: " + namespaces.map { "\($0) (\(features.namespaces[$0]?.detail ?? "?"))" }.joined(separator: ", ")
        }
        return nil
    }()

    /// The suite's condition: prints why it is skipped.
    static var shouldRun: Bool {
        guard let missing else { return true }
        if required { return true } // and Setup fails with the reason
        print("SandboxTests: the sandboxed runs are skipped: \(missing) (PLUGIN_HOST_REQUIRE_SANDBOX=1 makes this a failure)")
        return false
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// Throws (the test fails) if the sandbox cannot run here; reached only when it is required.
    static func ready() throws {
        if let missing { throw Missing(description: "the sandbox is required (PLUGIN_HOST_REQUIRE_SANDBOX=1): \(missing)") }
    }

    /// true if `controller` is available; else prints why the test is skipped and returns false,
    /// or throws when the sandbox is required.
    static func need(_ controller: CgroupController, for test: String) throws -> Bool {
        let status = features.cgroups[controller]
        if status.isAvailable { return true }
        let message = "the \(controller.rawValue) cgroup controller is unavailable: \(status.reason ?? "?")"
        if required { throw Missing(description: message) }
        print("SandboxTests: \(test) skipped: \(message)")
        return false
    }

    /// Whether every part of the sandbox is there, so that a run must report no refusal.
    static var complete: Bool {
        missing == nil && features.missing.isEmpty
    }
}

/// A sandboxed test module: module and data directories, a unique module id, a runner.
struct SandboxSetup {
    let root: String
    let moduleID: String
    let runner: ChildProcessRunner
    var moduleDirectory: String { root + "/module" }
    var dataDirectory: String { root + "/data" }
    /// Where the broker's audit log goes (`audit.log`).
    var stateDirectory: String { root + "/state" }
    var network = false
    var i2c: [ModuleManifest.I2CBus] = []
    var mqtt = ModuleManifest.MQTTRights()
    var resources = ModuleManifest.ResourceLimits(memoryBytes: 32 << 20, cpuPercent: 50, maxProcesses: 16, maxOpenFiles: 64)

    /// - Parameter runnerExecutable: the built plugin-host-runner if nil.
    init(behavior: String = "", options: SandboxOptions = SandboxOptions(), runnerExecutable: String? = nil, uplink: ModuleUplink = .notConfigured) throws {
        try SandboxEnvironment.ready()
        let executable = try #require(runnerExecutable ?? TestModule.runnerExecutable)
        root = try TestModule.temporaryDirectory("sandbox")
        moduleID = "com.example.sandbox-" + UUID().uuidString.prefix(8).lowercased()
        runner = ChildProcessRunner(executable: executable, sandbox: options, stateDirectory: root + "/state", uplink: uplink)
        try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
        try TestModule.directory(at: root + "/module", behavior: behavior)
    }

    func manifest(start: String = "probe_start", stop: String = "probe_stop") -> ModuleManifest {
        var manifest = TestModule.manifest(id: moduleID)
        manifest.library.entryPoints = .init(start: start, stop: stop)
        manifest.capabilities.network = network
        manifest.capabilities.i2c = i2c
        manifest.capabilities.mqtt = mqtt
        manifest.resources = resources
        return manifest
    }

    var context: ModuleContext { ModuleContext(manifest: manifest(), moduleDirectory: moduleDirectory, dataDirectory: dataDirectory) }

    func hook(_ symbol: String, timeout: Double = 30) -> HookResult {
        runner.runHook(name: "verify", hook: ModuleManifest.Hook(symbol: symbol, timeoutSeconds: timeout), context: context)
    }

    func start(_ start: String = "probe_start", stop: String = "probe_stop") throws -> ChildModuleInstance {
        let context = ModuleContext(manifest: manifest(start: start, stop: stop), moduleDirectory: moduleDirectory, dataDirectory: dataDirectory)
        return try #require(try runner.start(context) as? ChildModuleInstance)
    }

    func dataFile(_ name: String) -> String? {
        try? String(contentsOfFile: dataDirectory + "/" + name, encoding: .utf8)
    }

    /// probe.txt as key → value.
    func probe() -> [String: String] {
        var values: [String: String] = [:]
        for line in (dataFile("probe.txt") ?? "").split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    /// Directories of this module's runs still under plugin-host/ in any hierarchy.
    func leftoverCgroups() -> [String] {
        var found: [String] = []
        let detection = CgroupDetection.detect()
        var bases = Set(detection.controllers.compactMap { $0.hierarchy })
        if let unified = detection.unifiedHierarchy { bases.insert(unified) }
        for base in bases {
            let directory = base + "/plugin-host"
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where entry.hasPrefix(moduleID) {
                found.append(directory + "/" + entry)
            }
        }
        return found
    }

    /// Waits up to `seconds` for a data file to appear (and be non-empty).
    func waitForDataFile(_ name: String, seconds: Double = 20) -> String? {
        let deadline = ChildProcessRunnerTests.within(seconds)
        while ContinuousClock.now < deadline {
            if let text = dataFile(name), !text.isEmpty { return text }
            usleep(20_000)
        }
        return nil
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
}

// MARK: - Detection on fake layouts (no root needed)

@Suite("cgroup detection")
struct CgroupDetectionTests {
    /// A fake /sys/fs/cgroup, /proc/cgroups, /proc/cmdline and device-tree model in a temporary directory.
    struct FakeSystem {
        let base: String
        var paths: CgroupSystemPaths {
            CgroupSystemPaths(root: base + "/cgroup", procCgroups: base + "/proc-cgroups", procCmdline: base + "/cmdline",
                              procSwaps: base + "/swaps", deviceTreeModel: base + "/model")
        }

        init() throws {
            base = try TestModule.temporaryDirectory("cgroups")
            try FileManager.default.createDirectory(atPath: base + "/cgroup", withIntermediateDirectories: true)
            try write("swaps", "Filename\tType\tSize\tUsed\tPriority\n")
        }

        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: base + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }

        /// A v1 hierarchy directory (a cgroup.procs file marks it).
        func hierarchy(_ name: String) throws { try write("cgroup/\(name)/cgroup.procs", "") }

        /// /proc/cgroups with these controllers (name → enabled).
        func kernel(_ controllers: [(String, Bool)]) throws {
            try write("proc-cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                + controllers.map { "\($0.0)\t0\t1\t\($0.1 ? 1 : 0)" }.joined(separator: "\n") + "\n")
        }

        func detect() -> CgroupDetection { CgroupDetection.detect(paths) }
        func cleanUp() { try? FileManager.default.removeItem(atPath: base) }
    }

    static let allEnabled = [("cpuset", true), ("cpu", true), ("cpuacct", true), ("memory", true), ("pids", true)]

    @Test("cgroup v1 (with an empty v2 at unified, as on this CI machine): every controller on its own hierarchy")
    func version1() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        for name in ["memory", "pids", "cpu", "cpuacct", "systemd"] { try fake.hierarchy(name) }
        try fake.write("cgroup/unified/cgroup.controllers", "hugetlb\n")
        try fake.write("cgroup/unified/cgroup.procs", "")
        try fake.kernel(Self.allEnabled)
        try fake.write("cmdline", "console=ttyS0 quiet\n")
        let detection = fake.detect()
        #expect(detection.unifiedHierarchy == fake.paths.root + "/unified")
        for controller in CgroupController.allCases {
            #expect(detection[controller].version == .v1, "\(detection[controller])")
            #expect(detection[controller].hierarchy == fake.paths.root + "/" + controller.rawValue)
        }
    }

    @Test("cgroup v1 with cpu and cpuacct on one hierarchy named cpu,cpuacct")
    func version1Comounted() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        for name in ["memory", "pids", "cpu,cpuacct"] { try fake.hierarchy(name) }
        try fake.kernel(Self.allEnabled)
        let detection = fake.detect()
        #expect(detection[.cpu].version == .v1)
        #expect(detection[.cpu].hierarchy == fake.paths.root + "/cpu,cpuacct")
        #expect(detection.unifiedHierarchy == nil)
    }

    @Test("cgroup v2 with memory: every controller on v2")
    func version2() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        try fake.write("cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        try fake.write("cgroup/cgroup.subtree_control", "")
        try fake.write("cgroup/cgroup.procs", "")
        try fake.kernel(Self.allEnabled)
        let detection = fake.detect()
        #expect(detection.unifiedHierarchy == fake.paths.root)
        for controller in CgroupController.allCases {
            #expect(detection[controller].version == .v2, "\(detection[controller])")
            #expect(detection[controller].hierarchy == fake.paths.root)
        }
    }

    @Test("Raspberry Pi: cgroup v2 without memory, /proc/cgroups says disabled, no cgroup_enable=memory: the reason says what to add")
    func raspberryPiWithoutMemory() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        try fake.write("cgroup/cgroup.controllers", "cpuset cpu io pids\n")
        try fake.write("cgroup/cgroup.subtree_control", "")
        try fake.kernel([("cpuset", true), ("cpu", true), ("cpuacct", true), ("blkio", true), ("memory", false), ("pids", true)])
        try fake.write("cmdline", "coherent_pool=1M 8250.nr_uarts=1 console=ttyS0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n")
        try fake.write("model", "Raspberry Pi 4 Model B Rev 1.4\0")
        let detection = fake.detect()
        #expect(detection[.pids].version == .v2)
        #expect(detection[.cpu].version == .v2)
        let memory = detection[.memory]
        #expect(memory.version == nil)
        let reason = memory.reason ?? ""
        #expect(reason.contains("cgroup_enable=memory cgroup_memory=1"), "\(reason)")
        #expect(reason.contains("/boot/firmware/cmdline.txt"))
        #expect(reason.contains("Raspberry Pi 4 Model B Rev 1.4"))
        #expect(reason.contains(fake.paths.procCgroups))
        // The report of everything missing names it too.
        let limits = ModuleManifest.ResourceLimits(memoryBytes: 32 << 20, cpuPercent: 50, maxProcesses: 16, maxOpenFiles: 64)
        let unavailable = CgroupDetection(paths: detection.paths, unifiedHierarchy: nil,
                                          controllers: [memory])
        let set = CgroupSet.create(for: "com.example.pi", limits: limits, detection: unavailable)
        #expect(set.directories.isEmpty)
        #expect(set.problems.count == 3)
        #expect(set.problems.contains { $0.hasPrefix("the memory limit (33554432 bytes) not applied: ") && $0.contains("cgroup_enable=memory") })
    }

    @Test("memory disabled by cgroup_disable=memory: the reason names the option")
    func disabledOnCommandLine() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        try fake.write("cgroup/cgroup.controllers", "cpu pids\n")
        try fake.write("cgroup/cgroup.subtree_control", "")
        try fake.kernel([("cpu", true), ("memory", false), ("pids", true)])
        try fake.write("cmdline", "root=/dev/sda1 cgroup_disable=memory quiet\n")
        let reason = fake.detect()[.memory].reason ?? ""
        #expect(reason.contains("cgroup_disable=memory on the kernel command line"), "\(reason)")
        #expect(!reason.contains("Raspberry"))
    }

    @Test("a kernel without the controller, and nothing mounted at all")
    func notThere() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        try fake.kernel([("cpu", true), ("memory", true)])
        let detection = fake.detect()
        #expect(detection[.pids].reason?.contains("built without CONFIG_CGROUP_PIDS") == true, "\(detection[.pids])")
        #expect(detection[.memory].reason?.contains("no cgroup file system is mounted at \(fake.paths.root)") == true, "\(detection[.memory])")
        #expect(detection.controllers.allSatisfy { !$0.isAvailable })
    }

    @Test("hybrid: memory on a v1 hierarchy, pids on v2, cpu nowhere")
    func hybrid() throws {
        let fake = try FakeSystem()
        defer { fake.cleanUp() }
        try fake.hierarchy("memory")
        try fake.write("cgroup/unified/cgroup.controllers", "pids\n")
        try fake.write("cgroup/unified/cgroup.subtree_control", "")
        try fake.kernel(Self.allEnabled)
        let detection = fake.detect()
        #expect(detection[.memory].version == .v1)
        #expect(detection[.pids].version == .v2)
        #expect(detection[.pids].hierarchy == fake.paths.root + "/unified")
        #expect(detection[.cpu].version == nil)
        #expect(detection[.cpu].reason?.contains("not in \(fake.paths.root)/unified/cgroup.controllers") == true, "\(detection[.cpu])")
    }

    @Test("what is written: v2 memory.max, memory.swap.max, pids.max, cpu.max; v1 limit_in_bytes, memsw, pids.max, cfs period and quota")
    func limitFiles() {
        let limits = ModuleManifest.ResourceLimits(memoryBytes: 64 << 20, cpuPercent: 150, maxProcesses: 10, maxOpenFiles: 64)
        let v2 = CgroupSet.limitWrites(limits, extraTasks: 3, versions: [.memory: .v2, .pids: .v2, .cpu: .v2]).map { "\($0.file)=\($0.value)" }
        #expect(v2 == ["memory.max=67108864", "memory.swap.max=0", "pids.max=13", "cpu.max=150000 100000"])
        let v1 = CgroupSet.limitWrites(limits, extraTasks: 0, versions: [.memory: .v1, .pids: .v1, .cpu: .v1]).map { "\($0.file)=\($0.value)" }
        #expect(v1 == ["memory.limit_in_bytes=67108864", "memory.memsw.limit_in_bytes=67108864", "pids.max=10",
                       "cpu.cfs_period_us=100000", "cpu.cfs_quota_us=150000"])
    }

    @Test("the spec travels as bytes that decode to the same spec, and bad bytes are refused")
    func specBytes() throws {
        let spec = SandboxSpec(moduleDirectory: "/m", dataDirectory: "/d", network: false, hostname: "h", cgroups: ["/c"], openFiles: 64,
                               user: .nobody, temporaryBytes: 1 << 20, readOnlyPaths: ["/x"], strict: true)
        let bytes = try spec.encoded()
        #expect(try SandboxSpec(encoded: bytes) == spec)
        #expect(throws: ProtocolError.self) { try SandboxSpec(encoded: Array(bytes.dropLast())) }
        #expect(throws: ProtocolError.self) { try SandboxSpec(encoded: bytes + [0]) }
        #expect(throws: ProtocolError.self) {
            try SandboxSpec(moduleDirectory: "/m", dataDirectory: "/d", network: false, hostname: "h",
                            cgroups: Array(repeating: "/c", count: SandboxSpec.maxCgroups + 1)).encoded()
        }
    }
}

// MARK: - Real sandboxed runs (root, namespaces)

@Suite("Sandbox", .enabled(if: SandboxEnvironment.shouldRun))
struct SandboxTests {
    @Test("SandboxFeatures: the probe tried every namespace; what is missing is explained")
    func features() throws {
        try SandboxEnvironment.ready()
        let features = SandboxEnvironment.features
        for name in SandboxFeatures.namespaceNames {
            #expect(features.namespaces[name] != nil)
        }
        #expect(features.namespaces["pid"]?.detail.contains("probed") == true, "\(features.namespaces)")
        for line in features.missing { print("SandboxTests: not available here: \(line)") }
        for status in features.cgroups.controllers {
            #expect(status.isAvailable == (status.reason == nil))
        }
        let json = try JSONEncoder().encode(features)
        #expect(try JSONDecoder().decode(SandboxFeatures.self, from: json) == features)
    }

    @Test("inside: no /sys, only the sandbox's processes, lo only, /dev null/zero/urandom, /module read-only, /data writable, no capabilities")
    func isolation() throws {
        let setup = try SandboxSetup()
        defer { setup.cleanUp() }
        let result = setup.hook("probe_sandbox")
        #expect(result.outcome == .succeeded, "\(result.output)")
        let probe = setup.probe()
        #expect(probe["module_dir"] == "/module")
        #expect(probe["data_dir"] == "/data")
        #expect(probe["sys"] == "ENOENT")
        // The init (1) and the module process (2): nothing of the host's.
        #expect(probe["proc_pids"] == "1,2", "\(probe["proc_pids"] ?? "")")
        #expect(probe["pid"] == "2")
        #expect(probe["hostname"] == setup.moduleID)
        #expect(probe["interfaces"] == "lo")
        #expect(probe["loopback"] == "up")
        #expect(probe["dev"] == "null,urandom,zero")
        #expect(probe["open_dev_sda"] == "ENOENT")
        #expect(probe["open_dev_mem"] == "ENOENT")
        #expect(probe["open_dev_null"] == "opened")
        #expect(probe["write_module"] == "EROFS")
        #expect(probe["write_data"] == "created")
        #expect(probe["write_tmp"] == "created")
        #expect(probe["write_root"] == "EROFS")
        #expect(probe["write_proc_sys"] == "EROFS")
        #expect(probe["mknod"] == "EPERM")
        #expect(probe["mount"] == "EPERM")
        #expect(probe["sethostname"] == "EPERM")
        #expect(probe["uid"] == "0")
        for key in ["cap_eff", "cap_prm", "cap_bnd", "cap_amb"] {
            #expect(probe[key] == "0000000000000000", "\(key)")
        }
        #expect(probe["no_new_privs"] == "1")
        #expect(probe["nofile"] == "64")
        #expect(probe["core"] == "0")
        #expect(probe["home"] == "/data")
        let root = Set((probe["root"] ?? "").split(separator: ",").map(String.init))
        #expect(root.isDisjoint(with: ["sys", "home", "root", "var", "run", "boot"]), "\(root)")
        #expect(root.isSuperset(of: ["module", "data", "tmp", "dev", "proc", "usr", "etc"]), "\(root)")
        let etc = Set((probe["etc"] ?? "").split(separator: ",").map(String.init))
        #expect(etc.isDisjoint(with: ["passwd", "shadow", "hostname", "hosts", "resolv.conf"]), "\(etc)")
        // The module's own view of its cgroups is the root of a cgroup namespace.
        #expect(probe["cgroup"]?.split(separator: ";").allSatisfy { $0.hasSuffix(":/") } == true, "\(probe["cgroup"] ?? "")")
        if SandboxEnvironment.complete {
            #expect(SandboxOptions.refusals(in: result.output).isEmpty, "\(result.output)")
        }
        #expect(setup.leftoverCgroups().isEmpty)
    }

    @Test("network: true keeps the host's interfaces")
    func network() throws {
        var setup = try SandboxSetup()
        defer { setup.cleanUp() }
        setup.network = true
        let result = setup.hook("probe_sandbox")
        #expect(result.outcome == .succeeded, "\(result.output)")
        let hostInterfaces = (try String(contentsOfFile: "/proc/net/dev", encoding: .utf8)).split(separator: "\n").compactMap { line -> String? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return line[..<colon].trimmingCharacters(in: .whitespaces)
        }
        #expect(setup.probe()["interfaces"] == hostInterfaces.joined(separator: ","))
        #expect(setup.probe()["sys"] == "ENOENT")
        // Name resolution works: the resolver's files are there.
        let etc = (setup.probe()["etc"] ?? "").split(separator: ",").map(String.init)
        for file in ["resolv.conf", "hosts", "nsswitch.conf"] where FileManager.default.fileExists(atPath: "/etc/" + file) {
            #expect(etc.contains(file), "\(etc)")
        }
    }

    @Test("an unprivileged user, under the service unit's UMask=0077: uid 65534 writes its own data directory and reads /etc; one it does not own is reported")
    func unprivilegedUser() throws {
        // The runner as the unit starts it, with umask 077: the directories of the sandbox's root
        // must still be 0755 (Sandbox.swift), or a module that is not root could not read /etc.
        let runner = try #require(TestModule.runnerExecutable)
        let scripts = try TestModule.temporaryDirectory("umask-runner")
        defer { try? FileManager.default.removeItem(atPath: scripts) }
        let wrapper = scripts + "/plugin-host-runner"
        try "#!/bin/sh\numask 077\nexec '\(runner)' \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        #expect(chmod(wrapper, 0o755) == 0)
        let setup = try SandboxSetup(options: SandboxOptions(user: .nobody), runnerExecutable: wrapper)
        defer { setup.cleanUp() }
        #expect(chown(setup.dataDirectory, 65534, 65534) == 0)
        let result = setup.hook("probe_sandbox")
        #expect(result.outcome == .succeeded, "\(result.output)")
        let probe = setup.probe()
        #expect(probe["uid"] == "65534")
        #expect((probe["etc"] ?? "").split(separator: ",").contains("ld.so.cache"), "/etc in the sandbox: \(probe["etc"] ?? "nothing")")
        #expect(probe["gid"] == "65534")
        #expect(probe["write_data"] == "created")
        #expect(probe["cap_eff"] == "0000000000000000")
        #expect(probe["cap_bnd"] == "0000000000000000")

        // Back to root's: the probe cannot even write probe.txt, and the runner said why.
        #expect(chown(setup.dataDirectory, 0, 0) == 0)
        #expect(unlink(setup.dataDirectory + "/probe.txt") == 0)
        let denied = setup.hook("probe_sandbox")
        #expect(denied.outcome == .returned(1), "\(denied.output)")
        #expect(denied.output.contains("plugin-host-runner: sandbox: writable data directory not applied: the module runs as uid 65534"))
    }

    @Test("start: ready, heartbeats; SIGTERM reaches the module through both runners; the cgroups hold the limits and the runner, and go")
    func startAndStop() throws {
        let setup = try SandboxSetup()
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .ready)
        #expect(instance.nextEvent(before: ChildProcessRunnerTests.within(10)) == .heartbeat)
        let cgroups = try #require(instance.cgroups)
        // The outer runner, the init and the module process.
        let processes = cgroups.processes()
        #expect(processes.contains(instance.processID))
        #expect(processes.count >= 3, "\(processes)")
        for (controller, directory) in cgroups.directories {
            let read = { (file: String) in (try? String(contentsOfFile: directory + "/" + file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) }
            switch (controller, cgroups.versions[controller]) {
            case (.memory, .v1?): #expect(read("memory.limit_in_bytes") == "33554432")
            case (.memory, .v2?): #expect(read("memory.max") == "33554432")
            case (.pids, _): #expect(read("pids.max") == "21")
            case (.cpu, .v1?): #expect(read("cpu.cfs_quota_us") == "50000")
            case (.cpu, .v2?): #expect(read("cpu.max") == "50000 100000")
            default: Issue.record("unexpected \(controller)")
            }
        }
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        #expect(instance.output.contains("probe_stop called"), "\(instance.output)")
        #expect(instance.output.contains("probe_start returns after should_stop"))
        #expect(setup.leftoverCgroups().isEmpty, "\(setup.leftoverCgroups())")
        for directory in cgroups.joinDirectories { #expect(!FileManager.default.fileExists(atPath: directory)) }
    }

    @Test("the host sees what it sees unsandboxed: a crash is SIGABRT, start returning 1 is status 3, a missing symbol is status 2")
    func exitStatusesPassThrough() throws {
        let setup = try SandboxSetup(behavior: "crash-after-ready")
        defer { setup.cleanUp() }
        let crashing = try setup.start("module_start", stop: "module_stop")
        #expect(crashing.nextEvent(before: ChildProcessRunnerTests.within(20)) == .ready)
        #expect(crashing.nextEvent(before: ChildProcessRunnerTests.within(20)) == .exited(.signaled(SIGABRT)))
        #expect(crashing.output.contains("testmodule: crashing on purpose"))

        try TestModule.directory(at: setup.moduleDirectory, behavior: "exit-early")
        let early = try setup.start("module_start", stop: "module_stop")
        #expect(early.nextEvent(before: ChildProcessRunnerTests.within(20)) == .exited(.exited(3)))

        let missing = setup.hook("module_does_not_exist")
        #expect(missing.outcome == .crashed(.exited(2)), "\(missing.output)")
        #expect(missing.output.contains(setup.moduleDirectory + "/lib/libtestmodule.so"))

        #expect(setup.leftoverCgroups().isEmpty, "\(setup.leftoverCgroups())")
    }

    @Test("a hook that hangs is killed at its timeout, sandbox and all")
    func hangingHook() throws {
        let setup = try SandboxSetup(behavior: "hook-health=hang")
        defer { setup.cleanUp() }
        let result = setup.hook("module_health", timeout: 1)
        #expect(result.outcome == .timedOut, "\(result.output)")
        #expect(result.output.contains("hook health ran"))
        #expect(setup.leftoverCgroups().isEmpty, "\(setup.leftoverCgroups())")
    }

    @Test("PID 1 reaps the orphans the module leaves: no zombie")
    func orphansAreReaped() throws {
        let setup = try SandboxSetup(behavior: "probe-orphans")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .ready)
        let zombies = try #require(setup.waitForDataFile("zombies.txt"))
        #expect(zombies.hasPrefix("zombies=0 "), "\(zombies)")
        #expect(instance.stop(timeout: .seconds(10)) == .exited(0))
        #expect(setup.leftoverCgroups().isEmpty)
    }

    @Test("a fork bomb is held by pids.max; the host forks on; the hook is killed at its timeout and everything is cleaned up")
    func forkBomb() throws {
        guard try SandboxEnvironment.need(.pids, for: "forkBomb") else { return }
        let setup = try SandboxSetup()
        defer { setup.cleanUp() }
        let result = setup.hook("probe_fork_bomb", timeout: 3)
        #expect(result.outcome == .timedOut, "\(result.output)")
        let report = try #require(setup.dataFile("forkbomb.txt"))
        #expect(report.contains("errno=EAGAIN"), "\(report)")
        let forks = Int(report.split(separator: " ")[0].dropFirst("forks=".count)) ?? -1
        #expect((0..<20).contains(forks), "\(report)")
        #expect(!result.output.contains("cannot remove"), "\(result.output)")
        #expect(setup.leftoverCgroups().isEmpty, "\(setup.leftoverCgroups())")
    }

    @Test("a fork bomb in a started module: the host still forks while it runs, and stop ends it all")
    func forkBombWhileHostRuns() throws {
        guard try SandboxEnvironment.need(.pids, for: "forkBombWhileHostRuns") else { return }
        let setup = try SandboxSetup(behavior: "probe-fork-bomb")
        defer { setup.cleanUp() }
        let instance = try setup.start()
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(instance, within: 20) == .ready)
        #expect(setup.waitForDataFile("forkbomb.txt")?.contains("errno=EAGAIN") == true)
        let cgroups = try #require(instance.cgroups)
        #expect(cgroups.processes().count <= 20)
        let other = try Tool.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo still forking"])
        #expect(other.stdout == "still forking\n")
        _ = instance.stop(timeout: .seconds(2))
        #expect(setup.leftoverCgroups().isEmpty, "\(setup.leftoverCgroups())")
        #expect(instance.oomKills() == nil || instance.oomKills() == 0)
    }

    @Test("a memory hog is killed by its memory limit (OOM kill counted) while another sandboxed module keeps running")
    func memoryHog() throws {
        guard try SandboxEnvironment.need(.memory, for: "memoryHog") else { return }
        let bystander = try SandboxSetup()
        defer { bystander.cleanUp() }
        let calm = try bystander.start()
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(calm, within: 20) == .ready)

        let setup = try SandboxSetup(behavior: "probe-allocate-forever")
        defer { setup.cleanUp() }
        let hog = try setup.start()
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(hog, within: 20) == .ready)
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(hog, within: 60) == .exited(.signaled(SIGKILL)), "\(hog.output)")
        #expect((hog.oomKills() ?? 0) >= 1, "\(hog.output)")
        #expect(hog.output.contains("plugin-host: sandbox: the memory limit (33554432 bytes) was reached"), "\(hog.output)")
        let allocated = Int(setup.dataFile("allocated.txt")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        #expect(allocated < 32, "allocated \(allocated) MiB")
        #expect(setup.leftoverCgroups().isEmpty, "\(setup.leftoverCgroups())")

        // The other module did not notice.
        #expect(calm.nextEvent(before: ChildProcessRunnerTests.within(10)) == .heartbeat)
        #expect(calm.stop(timeout: .seconds(10)) == .exited(0))
        #expect(bystander.leftoverCgroups().isEmpty)
    }

    @Test("what cannot be applied is reported and the run goes on; strict, it stops the run instead")
    func reportedOrStrict() throws {
        // No cgroup file system where these options look, and a read-only path that does not exist.
        let nowhere = try TestModule.temporaryDirectory("no-cgroups")
        defer { try? FileManager.default.removeItem(atPath: nowhere) }
        let paths = CgroupSystemPaths(root: nowhere + "/cgroup", procCgroups: nowhere + "/cgroups", procCmdline: nowhere + "/cmdline",
                                      procSwaps: nowhere + "/swaps", deviceTreeModel: nowhere + "/model")
        let lenient = try SandboxSetup(options: SandboxOptions(readOnlyPaths: [nowhere + "/missing"], cgroupPaths: paths))
        defer { lenient.cleanUp() }
        let result = lenient.hook("probe_sandbox")
        #expect(result.outcome == .succeeded, "\(result.output)")
        let refusals = SandboxOptions.refusals(in: result.output)
        #expect(refusals.contains { $0.hasPrefix("plugin-host: sandbox: the memory limit (33554432 bytes) not applied: ") }, "\(refusals)")
        #expect(refusals.contains { $0.hasPrefix("plugin-host: sandbox: the process limit (16 processes and threads, 5 more for the runner) not applied: ") })
        #expect(refusals.contains { $0.hasPrefix("plugin-host: sandbox: the CPU limit (50 % of one CPU) not applied: ") })
        #expect(refusals.contains("plugin-host-runner: sandbox: \(nowhere)/missing in the sandbox not applied: it does not exist on the host"), "\(refusals)")
        #expect(lenient.probe()["module_dir"] == "/module")

        // Strict: the host refuses to start without its limits...
        let strictLimits = try SandboxSetup(options: SandboxOptions(strict: true, cgroupPaths: paths))
        defer { strictLimits.cleanUp() }
        let refused = strictLimits.hook("probe_sandbox")
        #expect(refused.outcome == .crashed(.exited(127)), "\(refused.output)")
        #expect(refused.output.contains("the sandbox is strict and not every limit can be applied"))
        #expect(strictLimits.dataFile("probe.txt") == nil)
        // ...and the runner before module code runs (status 5) when the kernel refuses a part.
        let strictRunner = try SandboxSetup(options: SandboxOptions(readOnlyPaths: [nowhere + "/missing"], strict: true))
        defer { strictRunner.cleanUp() }
        let stopped = strictRunner.hook("probe_sandbox")
        #expect(stopped.outcome == .crashed(.exited(5)), "\(stopped.output)")
        #expect(stopped.output.contains("the spec is strict and 1 part(s) of the sandbox were refused: the module does not run"))
        #expect(strictRunner.dataFile("probe.txt") == nil)
        #expect(strictRunner.leftoverCgroups().isEmpty)
    }

    @Test("the channel through the sandbox: the host (SO_PEERCRED: the outer runner it spawned) decides the module process's hardware requests and calls its typed commands")
    func channelThroughTheSandbox() throws {
        try SandboxEnvironment.ready()
        let moduleID = "com.example.sandbox-" + UUID().uuidString.prefix(8).lowercased()
        let setup = try HardwareRequestTests.Setup(behavior: "heartbeat hw-gpio gpiochip0:18:output hw-i2c 1:0x50 hw-gpio gpiochip0:17:output",
                                                   sandbox: SandboxOptions())
        defer { setup.cleanUp() }
        let hardware = try setup.start(setup.manifest(id: moduleID))
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(hardware, within: 20) == .ready, "\(hardware.output)")
        #expect(HardwareRequestTests.waitForOutput(hardware, "hw: still running"), "\(hardware.output)")
        #expect(hardware.output.contains(HardwareRequestTests.deniedLine), "\(hardware.output)")
        #expect(hardware.output.contains(HardwareRequestTests.deniedI2C), "\(hardware.output)")
        // Declared, and tried by the host on its own /dev: the sandbox's /dev has no gpiochip either way.
        #expect(hardware.output.contains("hw: gpio_request(gpiochip0, 17, output) = -"), "\(hardware.output)")
        #expect(!hardware.output.contains("hw: gpio_request(gpiochip0, 17, output) = -13"), "\(hardware.output)")
        #expect(setup.audit.entries().map(\.decision) == ["denied", "denied"])
        #expect(hardware.stop(timeout: .seconds(10)) == .exited(0))

        var manifest = setup.manifest(id: moduleID, start: "module_start", stop: "module_stop")
        manifest.capabilities = .init(storageQuotaBytes: 1 << 20)
        let commands = try setup.start(manifest)
        #expect(ChildProcessRunnerTests.nextNonHeartbeat(commands, within: 20) == .ready, "\(commands.output)")
        #expect(try commands.call(command: "add", arguments: [.int32(40), .int32(2)], manifest: manifest) == .int32(42))
        #expect(try commands.call(command: "greet", arguments: [.string("sandbox")], manifest: manifest) == .string("hello, sandbox"))
        #expect(throws: ModuleError.self) { try commands.call(command: "add", arguments: [.int32(1)], manifest: manifest) }
        #expect(try commands.call(command: "calls", arguments: [], manifest: manifest) == .int32(2))
        #expect(commands.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("CgroupSet on this system: limits written, a process added, remove kills it and the directories go")
    func cgroupSetLifecycle() throws {
        let setup = try SandboxSetup()
        defer { setup.cleanUp() }
        let limits = ModuleManifest.ResourceLimits(memoryBytes: 48 << 20, cpuPercent: 200, maxProcesses: 8, maxOpenFiles: 64)
        let set = CgroupSet.create(for: setup.moduleID, instance: "lifecycle", limits: limits, extraTasks: 1)
        if SandboxEnvironment.complete {
            #expect(set.problems.isEmpty, "\(set.problems)")
        }
        #expect(!set.directories.isEmpty, "\(set.problems)")
        for directory in set.joinDirectories {
            #expect(directory.hasSuffix("/plugin-host/\(setup.moduleID)@lifecycle"))
        }
        if let pids = set.directories[.pids] {
            #expect((try? String(contentsOfFile: pids + "/pids.max", encoding: .utf8)) == "9\n")
        }
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["600"]
        try sleeper.run()
        #expect(set.add(pid: sleeper.processIdentifier).isEmpty)
        #expect(set.processes() == [sleeper.processIdentifier])
        #expect(set.oomKills() == 0)
        #expect(set.remove().isEmpty)
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGKILL)
        #expect(setup.leftoverCgroups().isEmpty)
    }
}
