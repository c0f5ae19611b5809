import LinuxSupport
import CIoTLinux
import Glibc
import ModuleProtocol
import Synchronization

// The sandbox (`SandboxSpec` from ModuleProtocol, which the host's `welcome` carries). Three processes:
//
//   outer runner   the process the host started, outside every namespace. Joins the cgroups the
//                  host made, unshares the namespaces (mount, PID, IPC, UTS, cgroup, and network
//                  unless the module may use it), re-executes itself as the init, forwards the
//                  host's SIGTERM/SIGINT to it and, at the end, exits as the module process did
//                  (same status, same signal), so that the host sees what it sees unsandboxed.
//   init (PID 1)   the runner again (posix_spawn of /proc/self/exe: the child is PID 1 of the new
//                  PID namespace). Builds the new root on a tmpfs, pivots into it, sets the
//                  hostname, installs the syscall filter (SyscallFilter.swift) and answers for
//                  it on a thread of its own, forks the module process, forwards signals to it, reaps every
//                  zombie of the namespace, and when the module process ends reports its wait
//                  status to the outer runner on a pipe, kills what is left and exits.
//   module process forked by the init: sets its rlimits, drops every capability, sets
//                  no_new_privs, optionally switches user, and returns to main.swift, which
//                  loads the library and calls the hook or entry points as usual.
//
// The module is not PID 1 itself: the kernel ignores signals that PID 1 has no handler for, so
// a module aborting (SIGABRT) or a default SIGTERM would not end it the way it ends an ordinary process.
//
// Whatever the kernel refuses is reported on stderr as `plugin-host-runner: sandbox: <part> not
// applied: <reason>` (the host keeps these lines with the output) and the run goes on with what
// there is, unless the spec is strict: then the runner exits with status 5 before module code runs.

/// Reports the parts of the sandbox the kernel refused.
struct SandboxReport {
    let strict: Bool
    private(set) var refusals = 0

    init(strict: Bool) { self.strict = strict }

    mutating func refused(_ part: String, _ reason: String) {
        refusals += 1
        diagnose("sandbox: \(part) not applied: \(reason)")
    }

    /// `call` failed with `code`.
    mutating func refused(_ part: String, call: String, _ code: Int32) {
        refused(part, "\(call): \(String(cString: strerror(code)))")
    }

    /// A strict spec stops here if anything was refused.
    func stopIfStrict() {
        guard strict, refusals > 0 else { return }
        diagnose("sandbox: the spec is strict and \(refusals) part(s) of the sandbox were refused: the module does not run")
        finish(.sandboxFailed)
    }
}

/// The namespaces the sandbox creates, by their /proc/self/ns name.
let sandboxNamespaces: [(name: String, flag: Int32)] = [
    ("mnt", CIOT_CLONE_NEWNS), ("pid", CIOT_CLONE_NEWPID), ("ipc", CIOT_CLONE_NEWIPC),
    ("uts", CIOT_CLONE_NEWUTS), ("cgroup", CIOT_CLONE_NEWCGROUP), ("net", CIOT_CLONE_NEWNET),
]

/// The signals the outer runner and the init pass on to the next process in.
private let forwardedSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

/// Where a forwarding signal handler sends the signal (the init, or the module process); 0 until
/// that process exists, and then the signal waits in `pendingSignal`.
private let forwardTarget = Atomic<Int32>(0)
private let pendingSignal = Atomic<Int32>(0)

private func installForwarders() {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { signal in
        let saved = errno
        let target = forwardTarget.load(ordering: .sequentiallyConsistent)
        if target > 0 { kill(target, signal) } else { pendingSignal.store(signal, ordering: .sequentiallyConsistent) }
        errno = saved
    }
    action.sa_flags = SA_RESTART
    sigemptyset(&action.sa_mask)
    for signal in forwardedSignals { sigaction(signal, &action, nil) }
}

/// Sets the target of the forwarders and passes on a signal that came before it existed.
private func startForwarding(to target: pid_t) {
    forwardTarget.store(target, ordering: .sequentiallyConsistent)
    let pending = pendingSignal.exchange(0, ordering: .sequentiallyConsistent)
    if pending != 0 { kill(target, pending) }
}

private func setSignalMask(blockAll: Bool) {
    var set = sigset_t()
    if blockAll { sigfillset(&set) } else { sigemptyset(&set) }
    sigprocmask(SIG_SETMASK, &set, nil)
}

private func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

// MARK: - The outer runner

/// The process the host started: cgroups, namespaces, then the init. Never returns.
func runSandboxOuter(_ options: Options, _ spec: SandboxSpec) -> Never {
    var report = SandboxReport(strict: spec.strict)
    _ = ciot_set_rlimit(CIOT_RLIMIT_CORE, 0, 0)

    // 1. The cgroups, before any namespace: everything this process creates from now on is
    //    counted and limited, and the host never has to move a process that is already running.
    for directory in spec.cgroups {
        if let code = Files.writeReturningErrno("\(getpid())\n", to: directory + "/cgroup.procs") {
            report.refused("cgroup \(directory)", call: "writing the runner's pid to \(directory)/cgroup.procs", code)
        }
    }

    // 2. The namespaces: all at once, else one by one to find out which the kernel refuses.
    let wanted = sandboxNamespaces.filter { !(spec.network && $0.name == "net") }
    var created: [String] = []
    if ciot_unshare(wanted.reduce(0) { $0 | $1.flag }) == 0 {
        created = wanted.map(\.name)
    } else {
        for namespace in wanted {
            if ciot_unshare(namespace.flag) == 0 {
                created.append(namespace.name)
            } else {
                let consequence = switch namespace.name {
                case "mnt": "; the module sees the host's file system"
                case "pid": "; the module sees the host's processes"
                case "net": "; the module can use the host's network"
                case "uts": "; the hostname is the host's"
                default: ""
                }
                report.refused("\(namespace.name) namespace", "unshare: \(errorText(errno))\(consequence)")
            }
        }
    }
    report.stopIfStrict()

    // 3. The init: this runner again, told where to report the module's exit. It inherits every
    //    descriptor the host gave this process (the connection to the host, and any other the host passes:
    //    the host closes all the rest before it executes the runner), as the unsandboxed runner
    //    has them; this process has a single thread, so no other exec can inherit them meanwhile.
    for name in (try? Files.listing("/proc/self/fd")) ?? [] {
        guard let fd = Int32(name), fd > 2 else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) }
    }
    var status: [Int32] = [-1, -1]
    guard pipe(&status) == 0 else {
        diagnose("sandbox: cannot create a pipe: \(errorText(errno))")
        finish(.sandboxFailed)
    }
    _ = fcntl(status[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(options.eventsFD, F_SETFD, 0)
    _ = fcntl(status[1], F_SETFD, 0)

    // Signals for the init wait, blocked, until it has its handlers: PID 1 would drop them.
    installForwarders()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &all)
    var defaults = sigset_t()
    sigfillset(&defaults)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    guard let encodedSpec = try? spec.encoded() else {
        diagnose("sandbox: the spec cannot be passed on to the sandbox's init")
        finish(.sandboxFailed)
    }
    let arguments = CommandLine.arguments + ["--sandbox-spec", hex(encodedSpec), "--sandbox-status-fd", String(status[1]),
                                             "--sandbox-namespaces", created.joined(separator: ",")]
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = sandboxEnvironment().map { strdup($0) } + [nil]
    var initPID: pid_t = 0
    let spawned = posix_spawn(&initPID, "/proc/self/exe", &actions, &attributes, argv, envp)
    argv.forEach { free($0) }
    envp.forEach { free($0) }
    posix_spawn_file_actions_destroy(&actions)
    posix_spawnattr_destroy(&attributes)
    close(status[1])
    // The module process alone keeps the connection: the host sees it close when the module's
    // processes are gone.
    close(options.eventsFD)
    guard spawned == 0 else {
        diagnose("sandbox: cannot start the sandbox's init (posix_spawn /proc/self/exe): \(errorText(spawned))")
        finish(.sandboxFailed)
    }
    startForwarding(to: initPID)

    // 4. Wait, then end as the module process ended.
    guard let initStatus = Subprocess.reap(initPID) else {
        diagnose("sandbox: waiting for the sandbox's init: \(errorText(errno))")
        finish(.sandboxFailed)
    }
    let line = String(decoding: readAll(status[0]), as: UTF8.self)
    if line.hasPrefix("status "), let moduleStatus = Int32(line.dropFirst("status ".count).prefix { $0 != "\n" }) {
        exitAs(moduleStatus)
    }
    // The init ended without a report: it stopped the run itself (status 5, 70), or was killed.
    let initExitCode = (initStatus >> 8) & 0xff
    if initStatus & 0x7f != 0 || ![5, 70].contains(initExitCode) {
        diagnose("sandbox: the sandbox's init ended (\(Subprocess.describe(waitStatus: initStatus))) without reporting how the module process ended")
    }
    exitAs(initStatus)
}

/// The environment of the sandbox: only the locale and time zone of the host's, and a PATH of
/// the system directories (the host's environment may hold anything, secrets included). The
/// module process adds HOME=/data and TMPDIR=/tmp.
private func sandboxEnvironment() -> [String] {
    // The Swift runtime's crash backtracer executes swift-backtrace, which is not in the sandbox.
    var environment = ["PATH=/usr/local/bin:/usr/bin:/bin", "SWIFT_BACKTRACE=enable=no"]
    for entry in ((try? Files.readBytes("/proc/self/environ")) ?? []).split(separator: 0) {
        let variable = String(decoding: entry, as: UTF8.self)
        if variable.hasPrefix("LANG=") || variable.hasPrefix("LC_") || variable.hasPrefix("TZ=") { environment.append(variable) }
    }
    return environment
}

/// Everything left to read on `fd` until end of file.
private func readAll(_ fd: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count > 0 { bytes += buffer[..<count] } else if count < 0, errno == EINTR { continue } else { return bytes }
    }
}

/// Exits with the same status as a process whose wait status is `status`: the same exit code,
/// or killed by the same signal (without a second core dump).
private func exitAs(_ status: Int32) -> Never {
    let number = status & 0x7f
    if number == 0 { finish((status >> 8) & 0xff) }
    fflush(nil)
    _ = ciot_set_dumpable(0)
    signal(number, SIG_DFL)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, number)
    sigprocmask(SIG_UNBLOCK, &set, nil)
    kill(getpid(), number)
    _exit(128 + number)
}

// MARK: - The init

/// The init checks that the outer runner is still there (a parent-death signal asked for after
/// the parent died never comes): its status pipe has no reader any more if not.
func sandboxInitCheckParent(_ options: Options) {
    guard let fd = options.sandboxStatusFD else { return }
    var descriptor = pollfd(fd: fd, events: 0, revents: 0)
    if poll(&descriptor, 1, 0) > 0, descriptor.revents & Int16(POLLERR | POLLNVAL) != 0 { exit(RunnerExitStatus.hostGone.rawValue) }
}

/// The init: builds the sandbox, forks the module process and supervises it. Returns only in
/// the module process, with the options as the module sees them (paths inside the sandbox).
func runSandboxInit(_ options: Options, _ spec: SandboxSpec) -> Options {
    let statusFD = options.sandboxStatusFD!
    _ = fcntl(statusFD, F_SETFD, FD_CLOEXEC)
    // Executed as /proc/self/exe, it would show as "exe" in ps.
    _ = ciot_set_thread_name("sandbox-init")
    var report = SandboxReport(strict: spec.strict)
    let namespaces = Set(options.sandboxNamespaces)
    let pidNamespace = namespaces.contains("pid")
    // fork() below is safe because no thread exists yet; make sure it stays so.
    if let tasks = try? Files.listing("/proc/self/task"), tasks.count > 1 {
        diagnose("sandbox: the init has \(tasks.count) threads before fork; forking is not async-signal-safe then")
    }

    var rooted = false
    if namespaces.contains("mnt") {
        rooted = SandboxRoot.build(spec, pidNamespace: pidNamespace, report: &report)
    }
    if namespaces.contains("uts") {
        let name = String(decoding: spec.hostname.utf8.prefix(64), as: UTF8.self)
        if sethostname(name, name.utf8.count) != 0 { report.refused("hostname", call: "sethostname", errno) }
    }
    if namespaces.contains("net"), ciot_loopback_up() != 0 {
        report.refused("loopback interface", call: "bringing lo up", errno)
    }
    // Without a PID namespace the orphans of the module still come to this process.
    if !pidNamespace { _ = ciot_set_child_subreaper() }
    report.stopIfStrict()
    // The last part of the sandbox: from here on this process and the module's are filtered.
    let listener = SyscallFilter.install(spec, report: &report)
    report.stopIfStrict()

    // The outer runner started this process with every signal blocked; the handlers come first.
    installForwarders()
    let child = fork()
    if child == 0 {
        for signal in forwardedSignals { Glibc.signal(signal, SIG_DFL) }
        setSignalMask(blockAll: false)
        _ = ciot_set_thread_name("plugin-host-run")
        close(statusFD)
        if let listener { close(listener) }
        _ = ciot_set_parent_death_signal(SIGKILL)
        var sandboxed = options
        sandboxed.sandboxStatusFD = nil
        if rooted {
            let prefix = spec.moduleDirectory.hasSuffix("/") ? spec.moduleDirectory : spec.moduleDirectory + "/"
            if options.library.hasPrefix(prefix) {
                sandboxed.library = "/module/" + options.library.dropFirst(prefix.count)
                sandboxed.libraryOnHost = options.library
            } else {
                report.refused("library path", "'\(options.library)' is not inside the module directory '\(spec.moduleDirectory)', so it is not in the sandbox")
            }
            sandboxed.moduleDirectory = "/module"
            sandboxed.dataDirectory = "/data"
            setenv("HOME", "/data", 1)
            setenv("TMPDIR", "/tmp", 1)
        }
        // When memory runs out (in the module's cgroup, or everywhere), the OOM killer takes the
        // module process before the runners, which then report how it ended.
        if let code = Files.writeReturningErrno("1000\n", to: "/proc/self/oom_score_adj") {
            report.refused("OOM preference (oom_score_adj 1000)", call: "writing /proc/self/oom_score_adj", code)
        }
        restrictProcess(spec, rooted: rooted, report: &report)
        report.stopIfStrict()
        return sandboxed
    }
    guard child > 0 else {
        diagnose("sandbox: cannot fork the module process: \(errorText(errno))")
        finish(.sandboxFailed)
    }
    // The connection is the module process's; the init keeps it only to report the filter's
    // denials, and ends soon after the module process.
    var reporter: SyscallDenialReporter?
    if let listener {
        reporter = SyscallDenialReporter(listener: listener, channel: Channel(adopting: options.eventsFD), enforced: spec.syscallFilter == .enforce)
        reporter?.start()
    } else {
        close(options.eventsFD)
    }
    startForwarding(to: child)
    setSignalMask(blockAll: false)
    supervise(child, statusFD: statusFD, pidNamespace: pidNamespace, reporter: reporter)
}

/// PID 1's loop: reaps every process of the namespace (orphans are reparented here) until the
/// module process ends; reports its wait status, kills what is left and exits.
private func supervise(_ child: pid_t, statusFD: Int32, pidNamespace: Bool, reporter: SyscallDenialReporter?) -> Never {
    var status: Int32 = 0
    while true {
        let reaped = waitpid(-1, &status, 0)
        if reaped == child { break }
        if reaped == -1 {
            if errno == EINTR { continue }
            diagnose("sandbox: the init lost track of the module process: \(errorText(errno))")
            finish(.sandboxFailed)
        }
    }
    reporter?.flush()
    writeAll(statusFD, Array("status \(status)\n".utf8))
    // From PID 1, -1 is every other process of the namespace (the kernel would also kill them
    // when this process exits).
    if pidNamespace { kill(-1, SIGKILL) }
    finish(.success)
}

/// The module process: limits, then no way back to any privilege.
private func restrictProcess(_ spec: SandboxSpec, rooted: Bool, report: inout SandboxReport) {
    if let files = spec.openFiles, ciot_set_rlimit(CIOT_RLIMIT_NOFILE, files, files) != 0 {
        report.refused("open-file limit (RLIMIT_NOFILE \(files))", call: "setrlimit", errno)
    }
    if ciot_set_rlimit(CIOT_RLIMIT_CORE, 0, 0) != 0 { report.refused("core dump limit (RLIMIT_CORE 0)", call: "setrlimit", errno) }

    // uid 0 gets no capability from executing a program, and cannot get ambient ones back.
    let securebits = CIOT_SECBIT_NOROOT | CIOT_SECBIT_NOROOT_LOCKED | CIOT_SECBIT_KEEP_CAPS_LOCKED
        | CIOT_SECBIT_NO_CAP_AMBIENT_RAISE | CIOT_SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
    if ciot_set_securebits(securebits) != 0 { report.refused("securebits (no capabilities for uid 0)", call: "prctl(PR_SET_SECUREBITS)", errno) }
    // The bounding set: every capability the kernel knows (EINVAL past the last one).
    for capability in Int32(0)..<64 where ciot_capbset_drop(capability) != 0 {
        if errno != EINVAL { report.refused("capability bounding set", call: "prctl(PR_CAPBSET_DROP, \(capability))", errno) }
        break
    }
    if ciot_cap_ambient_clear_all() != 0, errno != EINVAL {
        report.refused("ambient capabilities", call: "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno)
    }
    if let user = spec.user {
        if setgroups(0, nil) != 0 { report.refused("supplementary groups", call: "setgroups", errno) }
        if setgid(user.gid) != 0 { report.refused("group \(user.gid)", call: "setgid", errno) }
        if setuid(user.uid) != 0 { report.refused("user \(user.uid)", call: "setuid", errno) }
        // A uid change leaves the process undumpable, and its /proc/self unreadable to itself.
        _ = ciot_set_dumpable(1)
    }
    if ciot_cap_clear_all() != 0 { report.refused("dropping capabilities", call: "capset", errno) }
    if ciot_set_no_new_privs() != 0 { report.refused("no_new_privs", call: "prctl(PR_SET_NO_NEW_PRIVS)", errno) }

    var effective: UInt64 = 0, permitted: UInt64 = 0, inheritable: UInt64 = 0
    if ciot_cap_get(&effective, &permitted, &inheritable) == 0, effective | permitted | inheritable != 0 {
        report.refused("dropping capabilities", "still effective 0x\(String(effective, radix: 16)), permitted 0x\(String(permitted, radix: 16))")
    }
    if let user = spec.user, rooted, access("/data", W_OK) != 0 {
        var info = stat()
        let owner = stat("/data", &info) == 0 ? "uid \(info.st_uid)" : "someone else"
        report.refused("writable data directory", "the module runs as uid \(user.uid) and /data (\(spec.dataDirectory) on the host) belongs to \(owner): chown it to \(user.uid):\(user.gid)")
    }
}

// MARK: - The new root

enum SandboxRoot {
    /// The system directories bound read-only (or recreated as the same symlink).
    static let systemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    /// What the dynamic loader (and the C library's time functions) read in /etc.
    static let etcFiles = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"]
    /// What name resolution and TLS read, for a module that may use the network.
    static let networkEtcFiles = ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
                                  "/etc/ssl", "/etc/ca-certificates", "/etc/pki"]
    /// Directories that may hold the new root until the pivot (it hides what is under it).
    static let stagingCandidates = ["/mnt", "/media", "/srv", "/run", "/var/tmp", "/tmp", "/opt", "/home"]
    /// /proc files that only configure or reveal the host: bound read-only on themselves.
    static let procReadOnly = ["sys", "sysrq-trigger", "irq", "bus", "fs"]
    /// /proc files that reveal the kernel: covered with /dev/null.
    static let procMasked = ["kcore", "keys", "timer_list", "sched_debug", "latency_stats"]

    /// Builds the root and pivots into it; false (reported) if the module must see the host's
    /// file system after all.
    static func build(_ spec: SandboxSpec, pidNamespace: Bool, report: inout SandboxReport) -> Bool {
        func give(up step: String, _ code: Int32) -> Bool {
            report.refused("file system isolation", "\(step): \(errorText(code)); the module sees the host's file system")
            return false
        }
        // Nothing mounted here may propagate to the host's mount table.
        guard ciot_mount(nil, "/", nil, CIOT_MS_REC | CIOT_MS_PRIVATE, nil) == 0 else { return give(up: "making every mount private", errno) }
        // The directories of the new root are 0755 whatever the host's umask (the service unit
        // sets 0077): a module running as another user must still reach /etc, /usr and the
        // runner's libraries. The module process gets the host's umask back.
        let hostUmask = umask(0o022)
        defer { umask(hostUmask) }

        let libraries = mappedLibraryDirectories()
        let sources = ([spec.moduleDirectory, spec.dataDirectory] + spec.readOnlyPaths + libraries).map { Files.realPath($0) ?? $0 }
        guard let root = stagingCandidates.first(where: { candidate in
            Files.isDirectory(candidate, followingLinks: false) && !sources.contains { $0 == candidate || $0.hasPrefix(candidate + "/") }
        }) else {
            return give(up: "finding a directory for the new root (one of \(stagingCandidates.joined(separator: " ")) that holds no source)", ENOENT)
        }
        guard ciot_mount("tmpfs", root, "tmpfs", CIOT_MS_NOSUID | CIOT_MS_NODEV, "mode=0755,size=4m") == 0 else {
            return give(up: "mounting a tmpfs for the new root on \(root)", errno)
        }

        // The module's files, read-only, and its data, read-write.
        if let code = bind(spec.moduleDirectory, root + "/module", readOnly: true) {
            return give(up: "binding the module directory \(spec.moduleDirectory) read-only at /module", code)
        }
        if let code = bind(spec.dataDirectory, root + "/data", readOnly: false) {
            return give(up: "binding the data directory \(spec.dataDirectory) at /data", code)
        }

        // The system's libraries, and those the runner has loaded from elsewhere (the Swift
        // runtime of a dynamically linked runner, e.g. /usr/lib/swift/linux or /opt/swift/...).
        for directory in systemDirectories {
            var info = stat()
            guard lstat(directory, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFLNK, let target = Files.linkTarget(directory) {
                if symlink(target, root + directory) != 0 { report.refused("\(directory) in the sandbox", call: "symlink", errno) }
            } else if let code = bind(directory, root + directory, readOnly: true) {
                report.refused("\(directory) in the sandbox", call: "bind mount (read-only)", code)
            }
        }
        let covered = systemDirectories.compactMap { Files.realPath($0) }
        for directory in libraries where !covered.contains(where: { directory == $0 || directory.hasPrefix($0 + "/") }) {
            if let code = bind(directory, root + directory, readOnly: true) {
                report.refused("the runner's libraries in \(directory)", call: "bind mount (read-only)", code)
            }
        }
        for path in etcFiles + (spec.network ? networkEtcFiles : []) where Files.exists(path) {
            if let code = bind(path, root + path, readOnly: true) { report.refused("\(path) in the sandbox", call: "bind mount (read-only)", code) }
        }
        for path in spec.readOnlyPaths {
            guard Files.exists(path) else {
                report.refused("\(path) in the sandbox", "it does not exist on the host")
                continue
            }
            if let code = bind(path, root + path, readOnly: true) { report.refused("\(path) in the sandbox", call: "bind mount (read-only)", code) }
        }

        // /tmp: a tmpfs of its own, charged to the module's memory cgroup.
        makeDirectories(root + "/tmp")
        if ciot_mount("tmpfs", root + "/tmp", "tmpfs", CIOT_MS_NOSUID | CIOT_MS_NODEV, "mode=1777,size=\(spec.temporaryBytes)") != 0 {
            report.refused("/tmp", call: "mounting a tmpfs", errno)
        }

        // /dev: null, zero and urandom, nothing else.
        makeDirectories(root + "/dev")
        if ciot_mount("tmpfs", root + "/dev", "tmpfs", CIOT_MS_NOSUID | CIOT_MS_NOEXEC, "mode=0755,size=64k") != 0 {
            report.refused("/dev", call: "mounting a tmpfs", errno)
        } else {
            for device in ["null", "zero", "urandom"] {
                if let code = bind("/dev/" + device, root + "/dev/" + device, readOnly: false) {
                    report.refused("/dev/\(device)", call: "bind mount", code)
                }
            }
            if ciot_mount(nil, root + "/dev", nil, CIOT_MS_REMOUNT | CIOT_MS_RDONLY | CIOT_MS_NOSUID | CIOT_MS_NOEXEC, "mode=0755,size=64k") != 0 {
                report.refused("read-only /dev", call: "remount", errno)
            }
        }

        // /proc of the new PID namespace (this process is its PID 1), hiding other users'
        // processes where the kernel knows hidepid.
        makeDirectories(root + "/proc")
        let procFlags = CIOT_MS_NOSUID | CIOT_MS_NODEV | CIOT_MS_NOEXEC
        if ciot_mount("proc", root + "/proc", "proc", procFlags, "hidepid=invisible") == 0
            || ciot_mount("proc", root + "/proc", "proc", procFlags, "hidepid=2") == 0 {
            protectProc(root + "/proc", report: &report)
        } else if ciot_mount("proc", root + "/proc", "proc", procFlags, nil) == 0 {
            report.refused("hidepid on /proc", call: "mount", errno)
            protectProc(root + "/proc", report: &report)
        } else {
            report.refused("/proc", call: "mounting proc", errno)
        }
        if !pidNamespace { report.refused("private /proc", "no PID namespace, so /proc lists the host's processes") }

        // Into the new root; the old one is detached, so nothing of it stays reachable.
        guard chdir(root) == 0 else { return give(up: "chdir to the new root", errno) }
        if ciot_pivot_root(".", ".") == 0 {
            if ciot_umount2(".", CIOT_MNT_DETACH) != 0 {
                report.refused("detaching the host's root", call: "umount2", errno)
            }
        } else {
            // A root that is not a mount point (an initramfs): move the new root over it.
            let code = errno
            guard ciot_mount(".", "/", nil, CIOT_MS_MOVE, nil) == 0, chroot(".") == 0 else { return give(up: "pivot_root", code) }
            report.refused("pivot_root", "\(errorText(code)); moved the new root over / and chroot'ed instead")
        }
        _ = chdir("/")
        if ciot_mount(nil, "/", nil, CIOT_MS_REMOUNT | CIOT_MS_RDONLY | CIOT_MS_NOSUID | CIOT_MS_NODEV, nil) != 0 {
            report.refused("read-only /", call: "remount", errno)
        }
        return true
    }

    private static func protectProc(_ proc: String, report: inout SandboxReport) {
        for name in procReadOnly where Files.exists(proc + "/" + name) {
            if let code = bind(proc + "/" + name, proc + "/" + name, readOnly: true, create: false) {
                report.refused("read-only /proc/\(name)", call: "bind mount", code)
            }
        }
        for name in procMasked where Files.exists(proc + "/" + name) {
            if let code = bind("/dev/null", proc + "/" + name, readOnly: true, create: false) {
                report.refused("hiding /proc/\(name)", call: "bind mount", code)
            }
        }
    }

    /// Bind-mounts `source` on `target` (created as a directory or an empty file like the source),
    /// then remounts it nosuid, nodev and, if asked, read-only. The errno value on failure.
    static func bind(_ source: String, _ target: String, readOnly: Bool, create: Bool = true) -> Int32? {
        if create {
            if Files.isDirectory(source, followingLinks: true) {
                makeDirectories(target)
            } else {
                makeDirectories(parentDirectory(of: target))
                let fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                if fd >= 0 { close(fd) }
            }
        }
        guard ciot_mount(source, target, nil, CIOT_MS_BIND, nil) == 0 else { return errno }
        // Device nodes keep the flags of their mount (a nodev bind would make them useless).
        if source.hasPrefix("/dev/") && !readOnly { return nil }
        let flags = CIOT_MS_BIND | CIOT_MS_REMOUNT | CIOT_MS_NOSUID | CIOT_MS_NODEV | (readOnly ? CIOT_MS_RDONLY : 0)
        guard ciot_mount(nil, target, nil, flags, nil) == 0 else {
            let code = errno
            // A writable view of what should be read-only must not stay.
            _ = ciot_umount2(target, CIOT_MNT_DETACH)
            return code
        }
        return nil
    }

    /// The directories of the shared libraries mapped into this process now (the runner's
    /// executable itself excluded: the module process is forked, never executed).
    static func mappedLibraryDirectories() -> [String] {
        guard let maps = try? Files.readBytes("/proc/self/maps") else { return [] }
        let executable = Files.linkTarget("/proc/self/exe")
        var directories: [String] = []
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            guard path != executable, !path.hasSuffix(" (deleted)"), !path.hasPrefix("/dev/"), !path.hasPrefix("/memfd:") else { continue }
            let directory = parentDirectory(of: path)
            if !directories.contains(directory) { directories.append(directory) }
        }
        return directories
    }
}

// MARK: - File helpers

/// mkdir -p, mode 0755; errors show when something is then mounted there.
func makeDirectories(_ path: String) {
    var current = ""
    for component in path.split(separator: "/") {
        current += "/" + component
        _ = mkdir(current, 0o755)
    }
}

// MARK: - probe-sandbox

/// `plugin-host-runner probe-sandbox`: tries each namespace in a child process of its own, and
/// no_new_privs, and prints one line each: `namespace <name> ok`, `namespace <name> refused
/// <reason>`, `no_new_privs ok|refused <reason>`. The host reads it (SandboxFeatures.detect).
func probeSandbox(eventsFD: Int32) -> Never {
    let namespaces: [(name: String, flag: Int32)] = sandboxNamespaces + [(name: "user", flag: CIOT_CLONE_NEWUSER)]
    var probed: [SandboxProbe.Namespace] = []
    for (name, flag) in namespaces {
        let child = fork()
        if child == 0 { _exit(ciot_unshare(flag) == 0 ? 0 : min(errno, 255)) }
        guard child > 0 else {
            probed.append(SandboxProbe.Namespace(name: name, refusal: "fork: \(errorText(errno))"))
            continue
        }
        let status = Subprocess.reap(child) ?? 0
        let code = (status >> 8) & 0xff
        let refused = status & 0x7f == 0 && code == 0 ? nil : "unshare: \(status & 0x7f == 0 ? errorText(code) : Subprocess.describe(waitStatus: status))"
        probed.append(SandboxProbe.Namespace(name: name, refusal: refused))
    }
    let noNewPrivileges = ciot_get_no_new_privs() >= 0 ? nil : "prctl: \(errorText(errno))"
    let probe = SandboxProbe(namespaces: probed, noNewPrivilegesRefusal: noNewPrivileges)
    // For a person who runs it by hand, the same as text.
    for namespace in probe.namespaces { print("namespace \(namespace.name) \(namespace.refusal.map { "refused \($0)" } ?? "ok")") }
    print("no_new_privs \(probe.noNewPrivilegesRefusal.map { "refused \($0)" } ?? "ok")")
    // The host reads the result from the bootstrap socket (Message.sandboxProbe).
    if fcntl(eventsFD, F_GETFD) != -1 {
        do throws(ProtocolError) {
            try Channel(adopting: eventsFD).send(.sandboxProbe(probe), timeout: .seconds(5))
        } catch {
            diagnose("cannot send the probe's result to the host on descriptor \(eventsFD): \(error)")
            finish(.notConnected)
        }
    }
    finish(.success)
}
