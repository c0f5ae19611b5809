#if os(Linux)
import CIoTLinux
import Glibc
import SystemPackage

/// Starting and reaping child processes: posix_spawn with descriptors placed where the child
/// expects them, pipes and socket pairs that never leak into other children, pidfds to poll.
package enum Subprocess {
    /// A step of `spawn` that failed, with its errno.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var errno: Int32
        /// What failed: "pipe", "socketpair", "posix_spawn".
        package var step: String
        package init(errno: Int32, step: String) { self.errno = errno; self.step = step }
        package var description: String { "\(step): \(Errno(rawValue: errno).text)" }
    }

    /// A started child: its pid, and a close-on-exec pidfd to poll for its exit (-1 before Linux 5.3).
    package struct Child: Sendable {
        package var pid: pid_t
        package var pidFD: Int32
    }

    /// Starts `executable` with `arguments` (argv[0] is `executable`) and `environment`.
    /// - Parameters:
    ///   - descriptors: (source, target) pairs the child gets with dup2; every source must be 3
    ///     or above so that no dup2 clobbers another's source (`makePipe` and `makeSocketPair`
    ///     give such descriptors).
    ///   - closeFrom: descriptors from this number up are closed in the child, so that one that
    ///     another thread opened without close-on-exec does not leak (where the C library can).
    ///   - Standard input is /dev/null unless `descriptors` places one on 0; the child leads a new process group (so that killing the
    ///     group ends what it forked); its signal mask is empty and every signal's disposition is
    ///     the default again (signals the parent ignores, SIGPIPE say).
    package static func spawn(_ executable: String, arguments: [String], environment: [String], descriptors: [(source: Int32, target: Int32)], closeFrom: Int32?) -> Result<Child, Failure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (source, target) in descriptors { posix_spawn_file_actions_adddup2(&actions, source, target) }
        if !descriptors.contains(where: { $0.target == 0 }) { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if let closeFrom { _ = ciot_spawn_add_close_from(&actions, closeFrom) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { return .failure(Failure(errno: result, step: "posix_spawn")) }
        let pidFD = ciot_pidfd_open(pid)
        if pidFD >= 0 { _ = fcntl(pidFD, F_SETFD, FD_CLOEXEC) }
        return .success(Child(pid: pid, pidFD: pidFD))
    }

    /// What `capture` collected: the wait status and standard output (standard error too with
    /// `mergingErrors`).
    package struct Captured: Sendable {
        package var status: Int32
        package var output: [UInt8]
        /// The child outlived `timeout` and was killed.
        package var timedOut: Bool
    }

    /// Runs `executable` to its end with `input` on its standard input and collects its standard
    /// output (at most `limit` bytes; what is beyond is discarded); its standard error is
    /// discarded, or collected too with `mergingErrors`.
    /// - Parameters:
    ///   - timeout: the child is killed (SIGKILL) when it has not closed its output by then.
    ///   - started: called with the child's pid once it runs (to signal it from another thread).
    package static func capture(_ executable: String, arguments: [String], environment: [String] = Subprocess.environment, input: [UInt8] = [],
                                mergingErrors: Bool = false, limit: Int = 1 << 20, timeout: Duration? = nil,
                                started: (pid_t) -> Void = { _ in }) -> Result<Captured, Failure> {
        guard let stdin = makePipe() else { return .failure(Failure(errno: errno, step: "pipe")) }
        guard let stdout = makePipe() else {
            let code = errno
            close(stdin.read)
            close(stdin.write)
            return .failure(Failure(errno: code, step: "pipe"))
        }
        var null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if null >= 0 && null < 3 {
            let moved = fcntl(null, F_DUPFD_CLOEXEC, 3)
            close(null)
            null = moved
        }
        var descriptors: [(source: Int32, target: Int32)] = [(stdin.read, 0), (stdout.write, 1)]
        if mergingErrors { descriptors.append((stdout.write, 2)) } else if null >= 3 { descriptors.append((null, 2)) }
        let spawned = spawn(executable, arguments: arguments, environment: environment, descriptors: descriptors, closeFrom: 3)
        close(stdin.read)
        close(stdout.write)
        if null >= 0 { close(null) }
        defer { close(stdout.read) }
        let child: Child
        switch spawned {
        case let .success(running): child = running
        case let .failure(failure):
            close(stdin.write)
            return .failure(failure)
        }
        if child.pidFD >= 0 { close(child.pidFD) }
        started(child.pid)
        // A child that exits without reading its input gives EPIPE here (SIGPIPE is ignored by
        // the processes that use this), not a dead caller.
        _ = writeAll(stdin.write, input)
        close(stdin.write)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        var timedOut = false
        while true {
            var ready = pollfd(fd: stdout.read, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, pollMilliseconds(until: deadline))
            if polled == 0 { timedOut = true; break }
            if polled < 0 { if errno == EINTR { continue } else { break } }
            let count = read(stdout.read, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            output += chunk[..<min(count, max(limit - output.count, 0))]
        }
        if timedOut { kill(child.pid, SIGKILL) }
        return .success(Captured(status: reap(child.pid) ?? -1, output: output, timedOut: timedOut))
    }

    /// This process's environment as "NAME=value" entries.
    package static var environment: [String] {
        var entries: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            entries.append(String(cString: entry))
            cursor += 1
        }
        return entries
    }

    /// A close-on-exec pipe whose ends are both >= 3.
    package static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard ciot_pipe_cloexec(&fds) == 0 else { return nil }
        guard let moved = movedAbove2(fds) else { return nil }
        return (moved[0], moved[1])
    }

    /// A close-on-exec AF_UNIX SOCK_SEQPACKET socketpair whose ends are both >= 3.
    package static func makeSocketPair() -> (Int32, Int32)? {
        var fds: [Int32] = [-1, -1]
        guard ciot_socket_pair(&fds) == 0 else { return nil }
        guard let moved = movedAbove2(fds) else { return nil }
        return (moved[0], moved[1])
    }

    /// `fds` with every descriptor below 3 moved to 3 or above (close-on-exec); nil (all closed) on failure.
    private static func movedAbove2(_ descriptors: [Int32]) -> [Int32]? {
        var fds = descriptors
        for index in fds.indices where fds[index] < 3 {
            let moved = fcntl(fds[index], F_DUPFD_CLOEXEC, 3)
            close(fds[index])
            fds[index] = moved
        }
        guard fds.allSatisfy({ $0 >= 3 }) else {
            fds.filter { $0 >= 0 }.forEach { close($0) }
            return nil
        }
        return fds
    }

    /// waitpid(2) for `pid`, again after EINTR: its wait status, or nil (errno set) when it is not
    /// this process's child any more (somebody else reaped it).
    package static func reap(_ pid: pid_t, options: Int32 = 0) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, options)
            if result == pid { return status }
            if result == 0 { return nil }
            if errno != EINTR { return nil }
        }
    }

    /// "exit status 3" or "signal 9", for a wait status.
    package static func describe(waitStatus status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(signal)"
    }
}
#endif
