// plugin-host-runner: runs a module's code in a child process of plugin-host (see Options.swift
// for the command line and ChildProcessRunner in PluginHost for the other side of the pipes).

// `@preconcurrency` because `stdout` is a C global variable, which Swift 6 refuses to touch
// otherwise; it is used once, here, before any other thread exists.
import CIoTLinux
@preconcurrency import Glibc

// The module dies with the host: if plugin-host is killed (SIGKILL, a crash), its runners get
// SIGKILL instead of living on as orphans that nobody supervises. If the host died before the
// request took effect (we were already reparented), stop now. The host passes its pid in
// PLUGIN_HOST_PID; without it, the parent at this moment is taken as the host.
let host = getenv("PLUGIN_HOST_PID").flatMap { pid_t(String(cString: $0)) } ?? getppid()
_ = ciot_set_parent_death_signal(SIGKILL)
if getppid() != host { exit(70) }

// Line-buffered, so that the module's printf lines reach the host as they are written, and are
// not lost in a buffer when the module crashes.
setvbuf(stdout, nil, _IOLBF, 0)
// A host that went away must not kill the module mid-write; writes just fail.
signal(SIGPIPE, SIG_IGN)

switch Options.parse(Array(CommandLine.arguments.dropFirst())) {
case let .failure(error):
    diagnose("\(error.message)\n\(Options.usage)")
    finish(64)
case let .success(options):
    guard fcntl(options.eventsFD, F_GETFD) != -1 else {
        diagnose("--events-fd \(options.eventsFD) is not an open file descriptor")
        finish(64)
    }
    // Programs the module executes do not inherit the host's pipe (children it forks still do).
    _ = fcntl(options.eventsFD, F_SETFD, FD_CLOEXEC)
    eventsFD.store(options.eventsFD, ordering: .sequentiallyConsistent)
    switch options.mode {
    case .hook: runHook(options)
    case .start: runStart(options)
    }
}
