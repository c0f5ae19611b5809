#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import Glibc
import PluginHostImages
import PluginHostStore

// The cgroups that hold a module's resource limits (`resources` of the manifest), on cgroup v2
// (the unified hierarchy: Raspberry Pi OS Bookworm, Debian 12, Ubuntu 22.04 and later) or v1
// (a hierarchy per controller: older systems, some containers). Each controller is detected on
// its own, so a hybrid system (v1 hierarchies plus an empty v2 at /sys/fs/cgroup/unified) uses
// whichever has it. Nothing here is silent: a controller that is missing has a reason, and a
// limit that cannot be applied becomes a line in `CgroupSet.problems`.

/// The controllers the sandbox uses.
public enum CgroupController: String, Codable, Sendable, CaseIterable {
    case memory, pids, cpu
}

public enum CgroupVersion: String, Codable, Sendable {
    case v1, v2
}

/// Where the kernel's cgroup interfaces are; the tests point them at a fake layout.
public struct CgroupSystemPaths: Codable, Sendable, Equatable {
    /// Where the cgroup file systems are mounted (v2 at the root itself, or v1 hierarchies in
    /// directories named after their controllers, with v2 maybe at `unified`).
    public var root: String
    /// `#subsys_name hierarchy num_cgroups enabled`, one controller a line.
    public var procCgroups: String
    public var procCmdline: String
    public var procSwaps: String
    /// The board's name on device-tree systems ("Raspberry Pi 4 Model B Rev 1.4").
    public var deviceTreeModel: String

    public init(root: String = "/sys/fs/cgroup", procCgroups: String = "/proc/cgroups", procCmdline: String = "/proc/cmdline",
                procSwaps: String = "/proc/swaps", deviceTreeModel: String = "/proc/device-tree/model") {
        self.root = root
        self.procCgroups = procCgroups
        self.procCmdline = procCmdline
        self.procSwaps = procSwaps
        self.deviceTreeModel = deviceTreeModel
    }

    public static let system = CgroupSystemPaths()

    /// The same files under `root` instead of `/` (a simulated root, or a device image).
    public static func under(_ root: String) -> CgroupSystemPaths {
        let system = CgroupSystemPaths.system
        return CgroupSystemPaths(root: root + system.root, procCgroups: root + system.procCgroups, procCmdline: root + system.procCmdline,
                                 procSwaps: root + system.procSwaps, deviceTreeModel: root + system.deviceTreeModel)
    }
}

/// Whether one controller can be used, where, and if not, why.
public struct CgroupControllerStatus: Codable, Sendable, Equatable {
    public var controller: CgroupController
    /// nil: not available (see `reason`).
    public var version: CgroupVersion?
    /// v2: the unified hierarchy's directory; v1: the controller's hierarchy.
    public var hierarchy: String?
    /// Why it is not available, with what to do about it.
    public var reason: String?
    /// What to do about it alone (the end of `reason`), for `plugin-host doctor`.
    public var fix: String?

    public var isAvailable: Bool { version != nil }

    /// What is wrong, without the fix.
    public var problem: String? {
        guard let reason, let fix, reason.hasSuffix(": " + fix) else { return reason }
        return String(reason.dropLast(fix.count + 2))
    }

    public init(controller: CgroupController, version: CgroupVersion?, hierarchy: String?, reason: String?, fix: String? = nil) {
        self.controller = controller
        self.version = version
        self.hierarchy = hierarchy
        self.reason = reason
        self.fix = fix
    }

    /// Not available: `why`, and `fix` to do about it.
    static func missing(_ controller: CgroupController, _ why: String, fix: String) -> CgroupControllerStatus {
        CgroupControllerStatus(controller: controller, version: nil, hierarchy: nil, reason: why + ": " + fix, fix: fix)
    }
}

/// What the system offers, controller by controller.
public struct CgroupDetection: Codable, Sendable, Equatable {
    public var paths: CgroupSystemPaths
    /// The cgroup v2 hierarchy, if one is mounted (`root`, or `root/unified` on a hybrid system).
    public var unifiedHierarchy: String?
    /// One per `CgroupController`, in `allCases` order.
    public var controllers: [CgroupControllerStatus]

    public subscript(_ controller: CgroupController) -> CgroupControllerStatus {
        controllers.first { $0.controller == controller }
            ?? CgroupControllerStatus(controller: controller, version: nil, hierarchy: nil, reason: "not detected")
    }

    /// Looks at the files under `paths`; reads only, never writes.
    public static func detect(_ paths: CgroupSystemPaths = .system) -> CgroupDetection {
        let root = paths.root
        let unified: String? = if Files.exists(root + "/cgroup.controllers") {
            root
        } else if Files.exists(root + "/unified/cgroup.controllers") {
            root + "/unified"
        } else {
            nil
        }
        let unifiedControllers = unified.flatMap { (try? Files.read($0 + "/cgroup.controllers")) }.map(words) ?? []
        // v1 hierarchies: directories with cgroup.procs and without cgroup.controllers, named
        // after their controllers ("memory", "cpu,cpuacct"); the exact name first.
        let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
            .map { root + "/" + $0 }
            .filter { Files.isDirectory($0) && Files.exists($0 + "/cgroup.procs") && !Files.exists($0 + "/cgroup.controllers") }
        let kernel = (try? Files.read(paths.procCgroups)).map(parseProcCgroups)
        let commandLine = words((try? Files.read(paths.procCmdline)) ?? "")
        let model = (try? Files.read(paths.deviceTreeModel))?.trimmed

        let runAsRoot = "plugin-host must run as root to set limits"
        let statuses = CgroupController.allCases.map { controller -> CgroupControllerStatus in
            let name = controller.rawValue
            if let unified, unifiedControllers.contains(name) {
                let control = unified + "/cgroup.subtree_control"
                if access(control, W_OK) == 0 {
                    return CgroupControllerStatus(controller: controller, version: .v2, hierarchy: unified, reason: nil)
                }
                return .missing(controller, "cgroup v2 has it, but \(control) is not writable (\(String(cString: strerror(errno))))", fix: runAsRoot)
            }
            let named = hierarchies.first { lastPathComponent($0) == name }
                ?? hierarchies.first { lastPathComponent($0).split(separator: ",").contains { $0 == name } }
            if let hierarchy = named {
                if access(hierarchy, W_OK) == 0 {
                    return CgroupControllerStatus(controller: controller, version: .v1, hierarchy: hierarchy, reason: nil)
                }
                return .missing(controller, "the cgroup v1 hierarchy \(hierarchy) is not writable (\(String(cString: strerror(errno))))", fix: runAsRoot)
            }
            return explainMissing(controller, kernel: kernel, commandLine: commandLine, model: model,
                                  unified: unified, anyHierarchy: !hierarchies.isEmpty, paths: paths)
        }
        return CgroupDetection(paths: paths, unifiedHierarchy: unified, controllers: statuses)
    }

    /// `/proc/cgroups`: controller name → enabled.
    static func parseProcCgroups(_ text: String) -> [String: Bool] {
        var enabled: [String: Bool] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 4 { enabled[String(fields[0])] = fields[3] == "1" }
        }
        return enabled
    }

    private static func explainMissing(_ controller: CgroupController, kernel: [String: Bool]?, commandLine: [String], model: String?,
                                       unified: String?, anyHierarchy: Bool, paths: CgroupSystemPaths) -> CgroupControllerStatus {
        let name = controller.rawValue
        let option = switch controller {
        case .memory: "CONFIG_MEMCG"
        case .pids: "CONFIG_CGROUP_PIDS"
        case .cpu: "CONFIG_CGROUP_SCHED with CONFIG_CFS_BANDWIDTH"
        }
        if let kernel {
            switch kernel[name] {
            case nil:
                return .missing(controller, "the kernel has no \(name) controller (\(paths.procCgroups) does not list it): it was built without \(option)",
                                fix: "boot a kernel built with \(option)")
            case false?:
                if commandLine.contains("cgroup_disable=\(name)") {
                    return .missing(controller, "disabled by cgroup_disable=\(name) on the kernel command line (\(paths.procCmdline))",
                                    fix: "remove it and reboot")
                }
                if controller == .memory && !commandLine.contains("cgroup_enable=memory") {
                    let board = model.map { $0.contains("Raspberry Pi") ? "this is a \($0); Raspberry Pi" : "Raspberry Pi" } ?? "Raspberry Pi"
                    return .missing(controller, "disabled (\(paths.procCgroups) says enabled 0) and the kernel command line (\(paths.procCmdline)) lacks cgroup_enable=memory: \(board) kernels keep the memory controller off unless it is asked for",
                                    fix: "add `cgroup_enable=memory cgroup_memory=1` to the single line of /boot/firmware/cmdline.txt (/boot/cmdline.txt before Raspberry Pi OS Bookworm) and reboot")
                }
                return .missing(controller, "disabled (\(paths.procCgroups) says enabled 0)",
                                fix: "look for cgroup_disable= or cgroup_no_v1= on the kernel command line (\(paths.procCmdline)), remove it and reboot")
            case true?:
                break
            }
        }
        if unified == nil && !anyHierarchy {
            return .missing(controller, "no cgroup file system is mounted at \(paths.root)", fix: "mount cgroup v2 there (mount -t cgroup2 cgroup2 \(paths.root))")
        }
        if let unified {
            return .missing(controller, "the kernel has it, but it is not in \(unified)/cgroup.controllers and no cgroup v1 hierarchy for it is mounted under \(paths.root) (it may be bound to a v1 hierarchy mounted elsewhere)",
                            fix: "find that hierarchy (grep \(name) /proc/mounts) and unmount it, or boot with systemd.unified_cgroup_hierarchy=1")
        }
        return .missing(controller, "the kernel has it, but no cgroup v1 hierarchy for it is mounted under \(paths.root)",
                        fix: "mount one (mkdir -p \(paths.root)/\(name) && mount -t cgroup -o \(name) cgroup \(paths.root)/\(name))")
    }
}

// MARK: - A module's cgroups

/// The cgroups of one run of a module: `<v2>/plugin-host/<name>` for the controllers on v2, and
/// `<v1 hierarchy>/plugin-host/<name>` for each on v1, with the manifest's limits written in.
/// The runner joins them itself (SandboxSpec.cgroups) before it creates its namespaces.
public struct CgroupSet: Sendable, Equatable {
    /// The leaf's name: the module id, or `<id>@<instance>`.
    public let name: String
    /// The leaf directory of each controller in use.
    public let directories: [CgroupController: String]
    public let versions: [CgroupController: CgroupVersion]
    /// Each limit (or part of one) that is not applied, one sentence each, with the reason.
    public let problems: [String]

    /// The distinct leaf directories: the ones a process joins.
    public var joinDirectories: [String] { Array(Set(directories.values)).sorted() }

    /// The period of the CPU limit, in microseconds: `cpuPercent` 100 is one CPU.
    public static let cpuPeriodMicroseconds: UInt64 = 100_000

    /// Creates the cgroups of a run of `moduleID` and sets `limits`; `extraTasks` is added to
    /// `maxProcesses` (the pids controller counts every thread, the runner's own too). Never
    /// throws: what cannot be done is in `problems`.
    public static func create(for moduleID: String, instance: String? = nil, limits: ModuleManifest.ResourceLimits, extraTasks: UInt32 = 0,
                              detection: CgroupDetection = .detect(), rootName: String = "plugin-host") -> CgroupSet {
        let name = instance.map { moduleID + "@" + $0 } ?? moduleID
        var problems: [String] = []
        guard isPlainName(name), isPlainName(rootName) else {
            return CgroupSet(name: name, directories: [:], versions: [:],
                             problems: ["no resource limits applied: '\(rootName)/\(name)' is not a plain directory name"])
        }
        var directories: [CgroupController: String] = [:]
        var versions: [CgroupController: CgroupVersion] = [:]
        var reported: Set<CgroupController> = []
        func fail(_ controller: CgroupController, _ reason: String) {
            problems.append("\(describe(controller, limits, extraTasks)) not applied: \(reason)")
            reported.insert(controller)
        }

        // v2: one leaf for every controller, enabled in the root's and plugin-host's subtree_control.
        let onV2 = CgroupController.allCases.filter { detection[$0].version == .v2 }
        if !onV2.isEmpty, let unified = detection.unifiedHierarchy {
            let base = unified + "/" + rootName
            var enabled = enable(onV2, in: unified, fail: fail)
            if !enabled.isEmpty, let code = makeDirectory(base) {
                enabled.forEach { fail($0, "mkdir \(base): \(String(cString: strerror(code)))") }
                enabled = []
            }
            enabled = enable(enabled, in: base, fail: fail)
            if !enabled.isEmpty {
                let leaf = base + "/" + name
                if let reason = prepareLeaf(leaf, version: .v2) {
                    enabled.forEach { fail($0, reason) }
                } else {
                    for controller in enabled {
                        directories[controller] = leaf
                        versions[controller] = .v2
                    }
                }
            }
        }
        // v1: a leaf in each controller's hierarchy.
        for controller in CgroupController.allCases where detection[controller].version == .v1 {
            guard let hierarchy = detection[controller].hierarchy else { continue }
            let base = hierarchy + "/" + rootName
            let leaf = base + "/" + name
            if let code = makeDirectory(base) {
                fail(controller, "mkdir \(base): \(String(cString: strerror(code)))")
            } else if let reason = prepareLeaf(leaf, version: .v1) {
                fail(controller, reason)
            } else {
                directories[controller] = leaf
                versions[controller] = .v1
            }
        }

        // The limits.
        let swapConfigured = ((try? Files.read(detection.paths.procSwaps)) ?? "").split(separator: "\n").count > 1
        for write in limitWrites(limits, extraTasks: extraTasks, versions: versions) {
            guard let directory = directories[write.controller] else { continue }
            let file = directory + "/" + write.file
            if write.optional && !Files.exists(file) {
                if swapConfigured {
                    problems.append("\(write.purpose) not applied: \(file) is absent (the kernel does no swap accounting; on v1 boot with swapaccount=1)")
                }
                continue
            }
            if let code = Files.writeReturningErrno(write.value, to: file) {
                fail(write.controller, "writing \(write.value) to \(file): \(String(cString: strerror(code)))")
            }
        }
        for controller in CgroupController.allCases where directories[controller] == nil && !reported.contains(controller) {
            fail(controller, detection[controller].reason ?? "no cgroup for the \(controller.rawValue) controller")
        }
        return CgroupSet(name: name, directories: directories, versions: versions, problems: problems)
    }

    /// One write of a limit: `value` into `file` of the controller's leaf.
    struct LimitWrite: Equatable {
        var controller: CgroupController
        var file: String
        var value: String
        /// Written only if the file exists (swap accounting).
        var optional = false
        var purpose: String
    }

    /// What `create` writes, in order, for the controllers in `versions`.
    static func limitWrites(_ limits: ModuleManifest.ResourceLimits, extraTasks: UInt32, versions: [CgroupController: CgroupVersion]) -> [LimitWrite] {
        var writes: [LimitWrite] = []
        let memory = describe(.memory, limits, extraTasks)
        switch versions[.memory] {
        case .v2?:
            writes.append(LimitWrite(controller: .memory, file: "memory.max", value: "\(limits.memoryBytes)", purpose: memory))
            writes.append(LimitWrite(controller: .memory, file: "memory.swap.max", value: "0", optional: true, purpose: "the swap limit (none)"))
        case .v1?:
            // memsw (memory + swap) must not be below limit_in_bytes, so it comes second.
            writes.append(LimitWrite(controller: .memory, file: "memory.limit_in_bytes", value: "\(limits.memoryBytes)", purpose: memory))
            writes.append(LimitWrite(controller: .memory, file: "memory.memsw.limit_in_bytes", value: "\(limits.memoryBytes)", optional: true,
                                     purpose: "the swap limit (memory and swap together \(limits.memoryBytes) bytes)"))
        case nil:
            break
        }
        if versions[.pids] != nil {
            let tasks = UInt64(limits.maxProcesses) + UInt64(extraTasks)
            writes.append(LimitWrite(controller: .pids, file: "pids.max", value: "\(tasks)", purpose: describe(.pids, limits, extraTasks)))
        }
        let quota = UInt64(limits.cpuPercent) * cpuPeriodMicroseconds / 100
        switch versions[.cpu] {
        case .v2?:
            writes.append(LimitWrite(controller: .cpu, file: "cpu.max", value: "\(quota) \(cpuPeriodMicroseconds)", purpose: describe(.cpu, limits, extraTasks)))
        case .v1?:
            writes.append(LimitWrite(controller: .cpu, file: "cpu.cfs_period_us", value: "\(cpuPeriodMicroseconds)", purpose: describe(.cpu, limits, extraTasks)))
            writes.append(LimitWrite(controller: .cpu, file: "cpu.cfs_quota_us", value: "\(quota)", purpose: describe(.cpu, limits, extraTasks)))
        case nil:
            break
        }
        return writes
    }

    static func describe(_ controller: CgroupController, _ limits: ModuleManifest.ResourceLimits, _ extraTasks: UInt32) -> String {
        switch controller {
        case .memory: "the memory limit (\(limits.memoryBytes) bytes)"
        case .pids: "the process limit (\(limits.maxProcesses) processes and threads\(extraTasks > 0 ? ", \(extraTasks) more for the runner" : ""))"
        case .cpu: "the CPU limit (\(limits.cpuPercent) % of one CPU)"
        }
    }

    /// Moves `pid` into every cgroup of the set; the problems, if any.
    public func add(pid: pid_t) -> [String] {
        joinDirectories.compactMap { directory in
            Files.writeReturningErrno("\(pid)", to: directory + "/cgroup.procs").map { "cannot move process \(pid) into \(directory): \(String(cString: strerror($0)))" }
        }
    }

    /// The processes in the set now (host pids).
    public func processes() -> [pid_t] {
        Array(Set(joinDirectories.flatMap(Self.processes(in:)))).sorted()
    }

    /// How many processes the kernel's OOM killer ended in the memory cgroup (v2 memory.events,
    /// v1 memory.oom_control `oom_kill`); nil without a memory cgroup or that counter (v1 before
    /// Linux 4.13).
    public func oomKills() -> Int? {
        guard let directory = directories[.memory], let version = versions[.memory] else { return nil }
        let file = directory + (version == .v2 ? "/memory.events" : "/memory.oom_control")
        guard let text = try? Files.read(file) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "oom_kill" { return Int(fields[1]) }
        }
        return nil
    }

    /// Kills whatever is still in the set (v2 cgroup.kill where the kernel has it, else SIGKILL
    /// to every pid in cgroup.procs, until none is left) and removes the leaf directories. The
    /// `plugin-host` directories stay for the next run. The problems, if any.
    @discardableResult
    public func remove(timeout: Duration = .seconds(5)) -> [String] {
        joinDirectories.compactMap { Self.removeLeaf($0, version: version(of: $0), timeout: timeout) }
    }

    private func version(of directory: String) -> CgroupVersion {
        directories.first { $0.value == directory }.flatMap { versions[$0.key] } ?? .v1
    }

    // MARK: Helpers

    static func processes(in directory: String) -> [pid_t] {
        ((try? Files.read(directory + "/cgroup.procs")) ?? "").split(separator: "\n").compactMap { pid_t($0.trimmed) }
    }

    private static func removeLeaf(_ directory: String, version: CgroupVersion, timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        // v2 says when the last process has left: cgroup.events ("populated 0") is modified, which
        // inotify reports. Set up before the kill, so the change is not missed.
        let emptied = version == .v2 ? FileEvents(directory + "/cgroup.events", mask: UInt32(IN_MODIFY)) : nil
        if version == .v2, Files.exists(directory + "/cgroup.kill") { try? Files.write("1", to: directory + "/cgroup.kill") }
        while true {
            let pids = processes(in: directory)
            if pids.isEmpty {
                if rmdir(directory) == 0 || errno == ENOENT { return nil }
                if errno != EBUSY { return "cannot remove the cgroup \(directory): \(String(cString: strerror(errno)))" }
            }
            for pid in pids { kill(pid, SIGKILL) }
            if ContinuousClock.now >= deadline {
                return "cannot remove the cgroup \(directory): processes \(pids.map(String.init).joined(separator: " ")) are still in it after \(timeout)"
            }
            if let emptied {
                emptied.wait(until: deadline)
            } else {
                // cgroup v1 has no such event: look again in 5 ms.
                usleep(5_000)
            }
        }
    }

    /// Makes a fresh leaf; one left by a host that died is emptied and removed first. The reason
    /// on failure.
    private static func prepareLeaf(_ leaf: String, version: CgroupVersion) -> String? {
        if Files.isDirectory(leaf), let problem = removeLeaf(leaf, version: version, timeout: .seconds(5)) { return problem }
        if let code = makeDirectory(leaf) { return "mkdir \(leaf): \(String(cString: strerror(code)))" }
        return nil
    }

    /// Enables `controllers` for the children of `directory` (v2); those that could not be are
    /// reported through `fail` and left out of the result.
    private static func enable(_ controllers: [CgroupController], in directory: String, fail: (CgroupController, String) -> Void) -> [CgroupController] {
        let control = directory + "/cgroup.subtree_control"
        let active = words((try? Files.read(control)) ?? "")
        return controllers.filter { controller in
            if active.contains(controller.rawValue) { return true }
            guard let code = Files.writeReturningErrno("+" + controller.rawValue, to: control) else { return true }
            fail(controller, "cannot enable it in \(control): \(String(cString: strerror(code)))")
            return false
        }
    }

    /// mkdir; nil if made or already there, else the errno value.
    private static func makeDirectory(_ path: String) -> Int32? {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return nil }
        return errno
    }

    private static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0") && name.utf8.count <= 255
    }
}

// MARK: - What the sandbox can do here

/// What this system offers the sandbox, and why not where it does not: for `plugin-host` to
/// report at start-up, and for the tests to decide what they can check.
public struct SandboxFeatures: Codable, Sendable, Equatable {
    public struct Feature: Codable, Sendable, Equatable {
        public var available: Bool
        public var detail: String

        public init(available: Bool, detail: String) {
            self.available = available
            self.detail = detail
        }
    }

    /// The sandbox's namespaces (mnt, pid, ipc, uts, net, cgroup) and user.
    public static let namespaceNames = ["mnt", "pid", "ipc", "uts", "net", "cgroup", "user"]

    public var isRoot: Bool
    public var namespaces: [String: Feature]
    public var noNewPrivileges: Feature
    public var cgroups: CgroupDetection

    /// One line for each thing the sandbox cannot have here (user namespaces are not used, so
    /// they are not listed).
    public var missing: [String] {
        var lines: [String] = []
        if !isRoot { lines.append("plugin-host does not run as root: no namespaces, mounts or cgroup limits") }
        for name in Self.namespaceNames where name != "user" {
            if let feature = namespaces[name], !feature.available { lines.append("\(name) namespace: \(feature.detail)") }
        }
        if !noNewPrivileges.available { lines.append("no_new_privs: \(noNewPrivileges.detail)") }
        for status in cgroups.controllers where !status.isAvailable {
            lines.append("\(status.controller.rawValue) cgroup: \(status.reason ?? "unavailable")")
        }
        return lines
    }

    public init(isRoot: Bool, namespaces: [String: Feature], noNewPrivileges: Feature, cgroups: CgroupDetection) {
        self.isRoot = isRoot
        self.namespaces = namespaces
        self.noNewPrivileges = noNewPrivileges
        self.cgroups = cgroups
    }

    /// Looks at /proc/self/ns and /proc/self/status, the cgroup file systems and, given the
    /// runner, really tries each namespace in a child process (`plugin-host-runner probe-sandbox`).
    public static func detect(runner: String? = nil, cgroupPaths: CgroupSystemPaths = .system,
                              namespaceDirectory: String = "/proc/self/ns", procStatus: String = "/proc/self/status") -> SandboxFeatures {
        detect(probe: runner.flatMap(probe), isRoot: geteuid() == 0, cgroupPaths: cgroupPaths,
               namespaceDirectory: namespaceDirectory, procStatus: procStatus)
    }

    /// The same, from what `plugin-host-runner probe-sandbox` found (nil: not probed), for a
    /// system given by its files (`plugin-host doctor --root`, the tests).
    public static func detect(probe: SandboxProbe?, isRoot: Bool, cgroupPaths: CgroupSystemPaths,
                              namespaceDirectory: String, procStatus: String) -> SandboxFeatures {
        var namespaces: [String: Feature] = [:]
        for name in namespaceNames {
            let path = namespaceDirectory + "/" + name
            namespaces[name] = Files.exists(path)
                ? Feature(available: true, detail: "the kernel has it (\(path))")
                : Feature(available: false, detail: "the kernel lacks it (no \(path))")
        }
        let status = (try? Files.read(procStatus)) ?? ""
        var noNewPrivileges = status.contains("\nNoNewPrivs:")
            ? Feature(available: true, detail: "the kernel has it (NoNewPrivs in \(procStatus))")
            : Feature(available: false, detail: "\(procStatus) has no NoNewPrivs line (Linux before 4.10 may still have it)")
        if let probe {
            for namespace in probe.namespaces where namespaces[namespace.name] != nil {
                namespaces[namespace.name] = namespace.refusal.map { Feature(available: false, detail: "unshare was refused (probed): \($0)") }
                    ?? Feature(available: true, detail: "unshare works (probed)")
            }
            noNewPrivileges = probe.noNewPrivilegesRefusal.map { Feature(available: false, detail: "no_new_privs refused \($0)") }
                ?? Feature(available: true, detail: "prctl(PR_GET_NO_NEW_PRIVS) works (probed)")
        }
        return SandboxFeatures(isRoot: isRoot, namespaces: namespaces, noNewPrivileges: noNewPrivileges, cgroups: .detect(cgroupPaths))
    }

    /// What `runner probe-sandbox` found (spawned as every runner is: `RunnerProcess`), as it
    /// sends it on the bootstrap socket (`Message.sandboxProbe`), within 10 s; nil if it cannot
    /// be run or does not answer.
    public static func probe(_ runner: String) -> SandboxProbe? {
        let fd = ChildProcessRunner.eventsDescriptor
        guard case var .success(child) = RunnerProcess.spawn(executable: runner, arguments: ["probe-sandbox", "--events-fd", String(fd)],
                                                             eventsDescriptor: fd) else { return nil }
        defer { child.closeDescriptors() }
        let deadline = ContinuousClock.now + .seconds(10)
        let result = child.receiveProbe(until: deadline)
        while !child.reapIfExited() {
            child.readAvailable()
            if ContinuousClock.now >= deadline {
                child.killAndReap()
                break
            }
            RunnerProcess.wait(for: child.pollSet, until: deadline)
        }
        return result
    }
}

/// The words of a kernel list ("cpu memory pids", a command line).
private func words(_ text: String) -> [String] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
}
