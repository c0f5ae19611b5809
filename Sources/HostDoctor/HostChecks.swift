import LinuxSupport
import Doctor
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginHost
#if canImport(Glibc)
import Glibc
#endif

// The checks `plugin-host doctor` adds to the hardware ones: the runner, root, the kernel features
// the sandbox uses (the same detection `plugin-host status` reports: SandboxFeatures,
// CgroupDetection), the state directory and the trusted keys. FAIL marks what the host needs:
// the runner, the sandbox's namespaces, a usable state directory, readable trusted keys.

public enum HostChecks {
    /// The namespaces the sandbox cannot do without (it also uses cgroup, when there).
    static let neededNamespaces = ["mnt", "pid", "ipc", "uts", "net"]

    /// Every host check. On the running system as root with the runner found, the namespaces
    /// and no_new_privs are tried for real (`plugin-host-runner probe-sandbox`).
    public static func run(_ system: DoctorSystem, stateDirectory: String, runner: String?) -> [DoctorCheck] {
        let probe = !system.isSimulated && system.user.isRoot ? runner.flatMap(SandboxFeatures.probe) : nil
        return run(system, stateDirectory: stateDirectory, runner: runner, probe: probe)
    }

    /// The same with the probe's result given (nil: not probed).
    public static func run(_ system: DoctorSystem, stateDirectory: String, runner: String?, probe: SandboxProbe?) -> [DoctorCheck] {
        let features = SandboxFeatures.detect(probe: probe, isRoot: system.user.isRoot,
                                              cgroupPaths: system.isSimulated ? .under(system.root) : .system,
                                              namespaceDirectory: system.path("/proc/self/ns"), procStatus: system.path("/proc/self/status"))
        let unprobed = probe != nil ? nil
            : system.isSimulated ? "a simulated root" : !system.user.isRoot ? "not root" : runner == nil ? "no runner" : "the runner did not answer"
        return [runnerCheck(runner), privileges(system.user), namespaces(system, features, unprobed: unprobed), noNewPrivileges(features)]
            + CgroupController.allCases.map { cgroup(features.cgroups[$0]) }
            + [stateDirectoryCheck(stateDirectory)] + trustedKeys(stateDirectory)
    }

    // MARK: - Runner and root

    static func runnerCheck(_ runner: String?) -> DoctorCheck {
        guard let runner else {
            return DoctorCheck("runner", .fail, "plugin-host-runner is not next to plugin-host and PLUGIN_HOST_RUNNER is not set: no module can be started",
                               fix: "install plugin-host-runner in the same directory as plugin-host, or set PLUGIN_HOST_RUNNER to its path")
        }
        guard access(runner, X_OK) == 0 else {
            return DoctorCheck("runner", .fail, "\(runner) is not executable (\(String(cString: strerror(errno))))", fix: "sudo chmod 755 \(runner)")
        }
        return DoctorCheck("runner", .ok, runner)
    }

    static func privileges(_ user: DoctorUser) -> DoctorCheck {
        if user.isRoot { return DoctorCheck("root", .ok, "running as root, as the host must to build its sandbox") }
        return DoctorCheck("root", .warn, "running as \(user.description): the host needs root for namespaces and cgroups (its systemd unit runs it as root), so the checks below show what this user sees",
                           fix: "sudo plugin-host doctor")
    }

    // MARK: - Kernel features

    static func namespaces(_ system: DoctorSystem, _ features: SandboxFeatures, unprobed: String?) -> DoctorCheck {
        let directory = system.path("/proc/self/ns")
        guard FileManager.default.fileExists(atPath: directory) else {
            return DoctorCheck("namespaces", .fail, "no \(directory): /proc is not mounted (a chroot or an unbooted image?), so no namespace can be checked or used",
                               fix: "sudo mount -t proc proc \(system.path("/proc")), or run the doctor on the booted device")
        }
        let used = SandboxFeatures.namespaceNames.filter { $0 != "user" }
        let missing = used.filter { features.namespaces[$0]?.available != true }
        let how = unprobed.map { "the kernel has them (\(directory)); unshare not tried: \($0)" } ?? "unshare works (probed)"
        guard !missing.isEmpty else { return DoctorCheck("namespaces", .ok, used.joined(separator: " ") + ": " + how) }
        let found = "missing: " + missing.map { "\($0) (\(features.namespaces[$0]?.detail ?? "?"))" }.joined(separator: ", ")
        let refused = missing.contains { features.namespaces[$0]?.detail.contains("refused") == true }
        let fix = refused
            ? "run the host as root on the device itself; a container refuses unshare unless it runs privileged (docker run --privileged)"
            : "boot a kernel with CONFIG_NAMESPACES, CONFIG_UTS_NS, CONFIG_IPC_NS, CONFIG_PID_NS, CONFIG_NET_NS and CONFIG_CGROUPS (Raspberry Pi OS and Debian kernels have them)"
        if missing.contains(where: neededNamespaces.contains) {
            return DoctorCheck("namespaces", .fail, found + ": modules cannot be isolated", fix: fix)
        }
        return DoctorCheck("namespaces", .warn, found + ": modules see the host's cgroup tree", fix: fix)
    }

    static func noNewPrivileges(_ features: SandboxFeatures) -> DoctorCheck {
        let feature = features.noNewPrivileges
        if feature.available { return DoctorCheck("no_new_privs", .ok, feature.detail) }
        if feature.detail.contains("refused") {
            return DoctorCheck("no_new_privs", .fail, feature.detail + ": a module could gain privileges through a setuid file",
                               fix: "boot Linux 3.5 or later; under a seccomp or LSM policy that forbids prctl, allow PR_SET_NO_NEW_PRIVS")
        }
        return DoctorCheck("no_new_privs", .warn, feature.detail + ": the runner still sets it and reports a refusal",
                           fix: "boot Linux 4.10 or later, which shows NoNewPrivs in /proc/self/status")
    }

    static func cgroup(_ status: CgroupControllerStatus) -> DoctorCheck {
        let id = "cgroup-" + status.controller.rawValue
        if let version = status.version {
            return DoctorCheck(id, .ok, "cgroup \(version.rawValue) at \(status.hierarchy ?? "?")")
        }
        let limit = switch status.controller {
        case .memory: "memory limit"
        case .pids: "process limit"
        case .cpu: "CPU limit"
        }
        return DoctorCheck(id, .warn, "\(status.problem ?? "not available"): modules run without their \(limit)", fix: status.fix)
    }

    // MARK: - State

    /// The state directory exists and is writable, or can be created.
    static func stateDirectoryCheck(_ path: String) -> DoctorCheck {
        let elsewhere = "pass --state-dir a directory you may write"
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else {
                return DoctorCheck("state-dir", .fail, "\(path) is not a directory", fix: "move it away, or \(elsewhere)")
            }
            guard access(path, W_OK | X_OK) == 0 else {
                let reason = String(cString: strerror(errno))
                return DoctorCheck("state-dir", .fail, "\(path) is not writable (\(reason))",
                                   fix: geteuid() == 0 ? "remount its file system read-write, or \(elsewhere)" : "sudo plugin-host doctor (the host runs as root), or \(elsewhere)")
            }
            let modules = ((try? FileManager.default.contentsOfDirectory(atPath: path + "/modules")) ?? []).count
            let host = HostRuntime.runningSnapshot(stateDirectory: path).map { "a host runs on it (pid \($0.pid))" } ?? "no host runs on it"
            return DoctorCheck("state-dir", .ok, "\(path) is writable; \(modules) module(s) installed; \(host)")
        }
        var ancestor = parentDirectory(of: path)
        while !ancestor.isEmpty && ancestor != "/" && !FileManager.default.fileExists(atPath: ancestor) {
            ancestor = parentDirectory(of: ancestor)
        }
        if ancestor.isEmpty { ancestor = "/" }
        if stat(ancestor, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, access(ancestor, W_OK | X_OK) == 0 {
            return DoctorCheck("state-dir", .ok, "\(path) does not exist yet; it is made on first use (\(ancestor) is writable)")
        }
        return DoctorCheck("state-dir", .fail, "\(path) does not exist and cannot be made: \(ancestor) is not a writable directory",
                           fix: "sudo mkdir -p \(path), or \(elsewhere)")
    }

    /// The keys whose images this host accepts (`trusted-keys`), and whether each is limited to
    /// some modules and still valid (`key-scope`).
    static func trustedKeys(_ stateDirectory: String) -> [DoctorCheck] {
        let store = TrustStore(stateDirectory: stateDirectory)
        let addKey = "plugin-host trust add release.key.pub --state-dir \(stateDirectory)"
        let keys: [TrustedKey]
        do throws(ModuleError) {
            keys = try store.list()
        } catch {
            return [DoctorCheck("trusted-keys", .fail, error.message + ": images signed with the other keys cannot be verified",
                                fix: "remove the damaged file, then add the key again: \(addKey)"),
                    DoctorCheck("key-scope", .warn, "the trusted keys cannot be read (see trusted-keys), so neither can their scopes")]
        }
        guard !keys.isEmpty else {
            return [DoctorCheck("trusted-keys", .warn, "no trusted keys in \(store.directory.path): every install is refused (exit 11)", fix: addKey),
                    DoctorCheck("key-scope", .ok, "no trusted keys, so none may sign any module")]
        }
        return [DoctorCheck("trusted-keys", .ok, "\(keys.count) trusted key(s) in \(store.directory.path): " + keys.map(\.keyID).joined(separator: ", ")),
                keyScope(keys, stateDirectory: stateDirectory)]
    }

    /// Warns about keys that may sign any module (trust files from before scopes, or added
    /// without --modules) and keys past their expiry.
    static func keyScope(_ keys: [TrustedKey], stateDirectory: String, now: Date = Date()) -> DoctorCheck {
        let unscoped = keys.filter { $0.modules == nil }
        let expired = keys.filter { $0.expires?.hasPassed(at: now) == true }
        var problems: [String] = []
        var fixes: [String] = []
        if let first = unscoped.first {
            problems.append("key\(unscoped.count == 1 ? "" : "s") \(unscoped.map(\.keyID).joined(separator: ", ")) may sign any module")
            fixes.append("scope \(unscoped.count == 1 ? "it" : "each") with the modules its publisher makes: \(first.addCommand(addingPattern: "<id pattern>")) --state-dir \(stateDirectory)")
        }
        if let first = expired.first {
            problems.append(expired.map { "key \($0.keyID) expired after \($0.expires?.day ?? "?")" }.joined(separator: ", ") + ": images it signed are refused")
            fixes.append("renew a key still in use: \(first.addCommand(expires: "<YYYY-MM-DD>")) --state-dir \(stateDirectory), or remove it: plugin-host trust remove \(first.keyID) --state-dir \(stateDirectory)")
        }
        guard problems.isEmpty else {
            return DoctorCheck("key-scope", .warn, problems.joined(separator: "; "), fix: fixes.joined(separator: "; "))
        }
        return DoctorCheck("key-scope", .ok, keys.map { key in
            "\(key.keyID) may sign \(key.scopeDescription)\(key.expires.map { " until \($0.day)" } ?? "")"
        }.joined(separator: "; "))
    }
}
