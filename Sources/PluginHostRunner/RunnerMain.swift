// The runner: runs a module's code in a child process of plugin-host (see Options.swift for the
// command line and ChildProcessRunner in PluginHost for the other side of the pipes). Both the
// `plugin-host-runner` executable and `plugin-host` itself (when started under the name
// plugin-host-runner, as the Debian package's link does) run it, so that a device can carry one
// executable whose code pages the host and every runner share.

// `@preconcurrency` because `stdout` is a C global variable, which Swift 6 refuses to touch
// otherwise; it is used once, here, before any other thread exists.
import CIoTLinux
import ModuleProtocol
@preconcurrency import Glibc

/// The runner's whole life: parses its command line, connects to the host, builds the sandbox
/// and runs the module's hook or entry points; it never returns (the exit status says how it
/// went: `RunnerExitStatus`).
public func runnerMain() -> Never {
    // The module dies with the host: if plugin-host is killed (SIGKILL, a crash), its runners get
    // SIGKILL instead of living on as orphans that nobody supervises. If the host died before the
    // request took effect (we were already reparented), stop now. The host passes its pid in
    // PLUGIN_HOST_PID; without it, the parent at this moment is taken as the host.
    let host = getenv("PLUGIN_HOST_PID").flatMap { pid_t(String(cString: $0)) } ?? getppid()
    _ = ciot_set_parent_death_signal(SIGKILL)
    let parsed = Options.parse(Array(CommandLine.arguments.dropFirst()))
    // The sandbox's init process (Sandbox.swift) has the outer runner, not the host, as its parent;
    // in a new PID namespace getppid() is 0 there. It checks its parent through its status pipe.
    if case let .success(options) = parsed, options.sandboxStatusFD != nil {
        sandboxInitCheckParent(options)
    } else if getppid() != host {
        exit(RunnerExitStatus.hostGone.rawValue)
    }

    // Line-buffered, so that the module's printf lines reach the host as they are written, and are
    // not lost in a buffer when the module crashes.
    setvbuf(stdout, nil, _IOLBF, 0)
    // A host that went away must not kill the module mid-write; writes just fail.
    signal(SIGPIPE, SIG_IGN)

    switch parsed {
    case let .failure(error):
        diagnose("\(error.message)\n\(Options.usage)")
        finish(.usage)
    case .success(var options):
        if options.mode == .probeSandbox { probeSandbox(eventsFD: options.eventsFD) }
        guard fcntl(options.eventsFD, F_GETFD) != -1 else {
            diagnose("--events-fd \(options.eventsFD) is not an open file descriptor")
            finish(.usage)
        }
        // The process the host started connects to the host first of all (HostLink.swift): before
        // the sandbox, so that SO_PEERCRED names the pid the host spawned. Afterwards `--events-fd`
        // is the connection; the sandbox's init and module process inherit it connected.
        // The host's welcome says whether and how to sandbox the module; the init has the same spec
        // from its command line.
        let sandbox = options.sandboxStatusFD == nil ? connectToHost(options) : options.sandboxSpec
        // Sandboxed: first thing, while this process has a single thread (no dlopen, no thread yet).
        // The runner the host started joins the cgroups, creates the namespaces and re-executes
        // itself as the init (PID 1) of the new PID namespace; that builds the new root and forks the
        // process that runs the module, which alone returns here, with the paths as the module sees them.
        if let sandbox {
            if options.sandboxStatusFD == nil { runSandboxOuter(options, sandbox) }
            options = runSandboxInit(options, sandbox)
        }
        // Programs the module executes do not inherit the connection (children it forks still do).
        let link = HostLink.install(fd: options.eventsFD)
        switch options.mode {
        case .hook: runHook(options, link: link)
        case .start: runStart(options, link: link)
        case .probeSandbox: probeSandbox(eventsFD: options.eventsFD)
        }
    }
}
