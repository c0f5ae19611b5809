#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import ModuleProtocol
import PluginHostImages
import PluginHostStore
import Synchronization

/// How `ChildProcessRunner` sandboxes the runs of modules (see the design note in
/// Documentation): each run gets cgroups with the manifest's `resources`, made here and removed
/// when the run ends, and the runner isolates itself as `SandboxSpec` says.
public struct SandboxOptions: Sendable, Equatable {
    /// The user of a module the host has not given one of its own (`ModuleContext.user` is nil:
    /// a context made by hand, not by the update engine). nil (the default): uid 0 with no
    /// capability at all. A module with a user of its own runs as that user, and one whose
    /// manifest asks for root (allowed at install) as uid 0; a host that is not root cannot
    /// switch users, and its modules run as its own user.
    public var user: SandboxSpec.User?
    /// nil: the module id (cut to 64 bytes).
    public var hostname: String?
    public var temporaryBytes: UInt64
    /// Host paths the sandbox also shows, read-only, at the same path.
    public var readOnlyPaths: [String]
    /// Refuse to run a module when any part of the sandbox or any limit cannot be applied.
    public var strict: Bool
    /// What the syscall filter does with a call it stops: `enforce` (EPERM, the default) or
    /// `log` (the call runs; a module author sees what the module would hit). Counted either way,
    /// in `plugin-host status` and the audit log.
    public var syscallFilter: SandboxSpec.SyscallFilter
    /// Where the cgroups go: `<hierarchy>/<cgroupRootName>/<module id>@<run>`.
    public var cgroupRootName: String
    public var cgroupPaths: CgroupSystemPaths
    /// Added to `maxProcesses` for pids.max: the outer runner, the sandbox's init and its thread
    /// that answers for the syscall filter, the thread that calls the start entry point and the
    /// thread that reads the host's messages are counted as tasks of the module's cgroup. (The short-lived thread of each typed command
    /// call counts against the module's own `maxProcesses`.)
    public var runnerTasks: UInt32

    public init(user: SandboxSpec.User? = nil, hostname: String? = nil, temporaryBytes: UInt64 = 16 << 20, readOnlyPaths: [String] = [],
                strict: Bool = false, syscallFilter: SandboxSpec.SyscallFilter = .enforce, cgroupRootName: String = "plugin-host",
                cgroupPaths: CgroupSystemPaths = .system, runnerTasks: UInt32 = 5) {
        self.user = user
        self.hostname = hostname
        self.temporaryBytes = temporaryBytes
        self.readOnlyPaths = readOnlyPaths
        self.strict = strict
        self.syscallFilter = syscallFilter
        self.cgroupRootName = cgroupRootName
        self.cgroupPaths = cgroupPaths
        self.runnerTasks = runnerTasks
    }

    /// The lines the runner writes for what the kernel refused, from a run's output.
    public static func refusals(in output: String) -> [String] {
        output.split(separator: "\n").filter { $0.hasPrefix("plugin-host-runner: sandbox: ") || $0.hasPrefix(PreparedSandbox.notePrefix) }.map(String.init)
    }
}

/// The host's side of one sandboxed run: its cgroups and the spec the runner gets in `welcome`.
struct PreparedSandbox: Sendable {
    static let notePrefix = "plugin-host: sandbox: "
    private static let runs = Atomic<Int>(0)

    let cgroups: CgroupSet
    let spec: SandboxSpec
    let limits: ModuleManifest.ResourceLimits
    /// What could not be applied, as output lines.
    let notes: [String]

    /// Makes the cgroups and the spec of one run (`label`: the hook's step, or "run").
    static func prepare(_ options: SandboxOptions, context: ModuleContext, label: String) throws(ModuleError) -> PreparedSandbox {
        let manifest = context.manifest
        let run = runs.add(1, ordering: .relaxed).newValue
        let cgroups = CgroupSet.create(for: manifest.id, instance: "\(label)-\(getpid())-\(run)", limits: manifest.resources,
                                       extraTasks: options.runnerTasks, detection: .detect(options.cgroupPaths), rootName: options.cgroupRootName)
        if options.strict && !cgroups.problems.isEmpty {
            cgroups.remove()
            throw ModuleError(.runnerFailed, "the sandbox is strict and not every limit can be applied: " + cgroups.problems.joined(separator: "; "))
        }
        let spec = SandboxSpec(moduleDirectory: context.moduleDirectory, dataDirectory: context.dataDirectory,
                               network: manifest.capabilities.network, hostname: String(decoding: (options.hostname ?? manifest.id).utf8.prefix(64), as: UTF8.self),
                               cgroups: cgroups.joinDirectories, openFiles: UInt64(manifest.resources.maxOpenFiles), user: user(options, context),
                               temporaryBytes: options.temporaryBytes, readOnlyPaths: options.readOnlyPaths, strict: options.strict,
                               syscallFilter: options.syscallFilter, i2cAddresses: Array(Set(manifest.capabilities.i2c.flatMap(\.addresses))).sorted().map(UInt16.init))
        return PreparedSandbox(cgroups: cgroups, spec: spec, limits: manifest.resources, notes: cgroups.problems.map { notePrefix + $0 })
    }

    /// The user the runner switches to: the module's own, or `options.user` for a context
    /// without one; nil (stay uid 0, without capabilities) for root, and for a host that is not
    /// root (it cannot switch).
    static func user(_ options: SandboxOptions, _ context: ModuleContext) -> SandboxSpec.User? {
        guard geteuid() == 0 else { return nil }
        guard let user = context.user else { return options.user }
        return user == .root ? nil : user
    }

    /// After the run: what the OOM killer did, then the cgroups go. Output lines.
    func finish() -> [String] {
        var lines: [String] = []
        if let kills = cgroups.oomKills(), kills > 0 {
            lines.append(Self.notePrefix + "the memory limit (\(limits.memoryBytes) bytes) was reached: the kernel's OOM killer ended \(kills) process(es) of the module")
        }
        lines += cgroups.remove().map { Self.notePrefix + $0 }
        return lines
    }
}
