import Foundation
import LinuxSupport
import SystemPackage
import Testing

/// A fresh directory under the system's temporary directory, removed by the test that made it.
private func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "linux-support-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

@Suite("Files: kernel and state files")
struct FilesTests {
    @Test("a procfs file, which reports a size of 0, is read to its end")
    func readsKernelFileToTheEnd() throws {
        let text = try Files.read("/proc/self/status")
        #expect(text.hasPrefix("Name:"))
        #expect(text.contains("\nPid:\t\(getpid())\n"))
    }

    @Test("a kernel attribute takes one write and reads back without its newline")
    func writesKernelAttribute() throws {
        // The calling thread's name: a real kernel attribute that takes one value per write.
        let path = "/proc/thread-self/comm"
        let before = try Files.readAttribute(path)
        defer { try? Files.write(before, to: path) }
        try Files.write("ls-test", to: path)
        #expect(try Files.readAttribute(path) == "ls-test")
    }

    @Test("a missing file fails with its errno, what was done and the path")
    func missingFileFails() throws {
        let path = "/proc/self/no-such-attribute"
        let failure = try #require(throws: FileFailure.self) { try Files.read(path) }
        #expect(failure.errno == .noSuchFileOrDirectory)
        #expect(failure.operation == "opening")
        #expect(failure.path == path)
        #expect(Files.readAttributeIfPresent(path) == nil)
        #expect(Files.writeReturningErrno("1", to: path) == ENOENT)
    }

    @Test("listing orders numbered names by number")
    func naturalOrder() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        for name in ["gpiochip10", "gpiochip2", "label", "gpiochip1"] {
            try DurableFiles.writeAtomically(Array("x".utf8), to: directory + "/" + name)
        }
        #expect(try Files.listing(directory) == ["gpiochip1", "gpiochip2", "gpiochip10", "label"])
        #expect(Files.list(directory + "/missing") == [])
        #expect(throws: FileFailure.self) { try Files.listing(directory + "/missing") }
    }

    @Test("links and directories are told apart with and without following links")
    func linksAndDirectories() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        try DurableFiles.makeDirectory(directory + "/a/b")
        try DurableFiles.switchLink(directory + "/link", to: "a/b")
        #expect(Files.isDirectory(directory + "/link"))
        #expect(!Files.isDirectory(directory + "/link", followingLinks: false))
        #expect(Files.exists(directory + "/link", followingLinks: false))
        #expect(Files.linkTarget(directory + "/link") == "a/b")
        #expect(Files.linkTarget(directory + "/a") == nil)
        #expect(Files.realPath(directory + "/link") == Files.realPath(directory + "/a/b"))
    }

    @Test("paths split as the tools expect")
    func paths() {
        #expect(parentDirectory(of: "/a/b/c") == "/a/b")
        #expect(parentDirectory(of: "/a/b/") == "/a")
        #expect(parentDirectory(of: "/a") == "/")
        #expect(parentDirectory(of: "name") == ".")
        #expect(lastPathComponent("/a/b/") == "b")
    }
}

@Suite("DurableFiles")
struct DurableFilesTests {
    @Test("an atomic write replaces the content and leaves no temporary file")
    func writeAtomically() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        let path = directory + "/state.json"
        try DurableFiles.writeAtomically(Array("old".utf8), to: path)
        try DurableFiles.writeAtomically(Array("new".utf8), to: path, durable: false)
        #expect(try Files.read(path) == "new")
        #expect(try Files.listing(directory) == ["state.json"])
    }

    @Test("removing a tree does not follow a link out of it")
    func removeTreeKeepsLinkTargets() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        try DurableFiles.makeDirectory(directory + "/outside")
        try DurableFiles.writeAtomically(Array("keep".utf8), to: directory + "/outside/file")
        try DurableFiles.makeDirectory(directory + "/tree/deep/er")
        try DurableFiles.writeAtomically(Array("x".utf8), to: directory + "/tree/deep/er/file")
        try DurableFiles.switchLink(directory + "/tree/deep/escape", to: directory + "/outside")
        try DurableFiles.removeTree(directory + "/tree")
        #expect(!Files.exists(directory + "/tree", followingLinks: false))
        #expect(try Files.read(directory + "/outside/file") == "keep")
        // Nothing there is not an error.
        try DurableFiles.removeTree(directory + "/tree")
    }

    @Test("a copied tree has the files, modes (of directories too) and links of the original")
    func copyTree() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        try DurableFiles.makeDirectory(directory + "/from/sub")
        try DurableFiles.writeAtomically(Array(repeating: 7, count: 100_000), to: directory + "/from/sub/big")
        #expect(chmod(directory + "/from/sub/big", 0o600) == 0)
        #expect(chmod(directory + "/from", 0o700) == 0)
        #expect(chmod(directory + "/from/sub", 0o750) == 0)
        try DurableFiles.switchLink(directory + "/from/link", to: "sub/big")
        try DurableFiles.copyTree(directory + "/from", to: directory + "/to")
        #expect(try Files.readBytes(directory + "/to/sub/big") == Array(repeating: 7, count: 100_000))
        #expect(Files.status(directory + "/to/sub/big")?.permissions.rawValue == 0o600)
        #expect(Files.status(directory + "/to")?.permissions.rawValue == 0o700)
        #expect(Files.status(directory + "/to/sub")?.permissions.rawValue == 0o750)
        #expect(Files.linkTarget(directory + "/to/link") == "sub/big")
        let failure = try #require(throws: FileFailure.self) { try DurableFiles.copyTree(directory + "/from", to: directory + "/to") }
        #expect(failure.errno == .fileExists)
    }

    @Test("changeOwner gives a tree to a user, never through a link, and leaves multiply-linked files alone",
          .enabled(if: geteuid() == 0, "changing owners needs root"))
    func changeOwner() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        try DurableFiles.makeDirectory(directory + "/outside/inner")
        try DurableFiles.writeAtomically([1], to: directory + "/outside/file")
        try DurableFiles.makeDirectory(directory + "/tree/sub")
        try DurableFiles.writeAtomically([2], to: directory + "/tree/sub/own")
        #expect(symlink(directory + "/outside", directory + "/tree/dirlink") == 0)
        #expect(symlink(directory + "/outside/file", directory + "/tree/filelink") == 0)
        #expect(link(directory + "/outside/file", directory + "/tree/hardlink") == 0)

        let changed = try DurableFiles.changeOwner(ofTree: directory + "/tree", uid: 60999, gid: 60998, mode: 0o700)
        #expect(changed == 5) // tree, sub, own, and the two links themselves
        for path in ["/tree", "/tree/sub", "/tree/sub/own", "/tree/dirlink", "/tree/filelink"] {
            let status = Files.status(directory + path, followingLinks: false)
            #expect(status?.userID.rawValue == 60999 && status?.groupID.rawValue == 60998, "\(path)")
        }
        #expect(Files.status(directory + "/tree")?.permissions.rawValue == 0o700)
        for path in ["/outside", "/outside/inner", "/outside/file"] {
            #expect(Files.status(directory + path, followingLinks: false)?.userID.rawValue == 0, "\(path) changed through a link")
        }
        // Nothing left to change: nothing is written.
        #expect(try DurableFiles.changeOwner(ofTree: directory + "/tree", uid: 60999, gid: 60998, mode: 0o700) == 0)
    }
}

@Suite("Subprocess")
struct SubprocessTests {
    @Test("a child gets the descriptors and environment it is given, and its exit status is read")
    func spawnsAndReaps() throws {
        let pipe = try #require(Subprocess.makePipe())
        #expect(pipe.read >= 3 && pipe.write >= 3)
        let spawned = Subprocess.spawn("/bin/sh", arguments: ["-c", "echo \"$GREETING\" >&3; exit 3"], environment: ["GREETING=hello"],
                                       descriptors: [(pipe.write, 3)], closeFrom: 4)
        close(pipe.write)
        let child = try spawned.get()
        defer { if child.pidFD >= 0 { close(child.pidFD) } }
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = read(pipe.read, &bytes, bytes.count)
        close(pipe.read)
        #expect(String(decoding: bytes[..<max(count, 0)], as: UTF8.self) == "hello\n")
        // The pidfd becomes readable when the child exits.
        if child.pidFD >= 0 {
            var watched = pollfd(fd: child.pidFD, events: Int16(POLLIN), revents: 0)
            #expect(poll(&watched, 1, 10_000) == 1)
        }
        let status = try #require(Subprocess.reap(child.pid))
        #expect(Subprocess.describe(waitStatus: status) == "exit status 3")
    }

    @Test("capture feeds the input, collects the output up to its limit, and kills a child that outlives its timeout")
    func capture() throws {
        signal(SIGPIPE, SIG_IGN)
        let echoed = try Subprocess.capture("/bin/sh", arguments: ["-c", "tr a-z A-Z; echo oops >&2; exit 3"], input: Array("registry\n".utf8)).get()
        #expect(String(decoding: echoed.output, as: UTF8.self) == "REGISTRY\n" && Subprocess.describe(waitStatus: echoed.status) == "exit status 3")
        let merged = try Subprocess.capture("/bin/sh", arguments: ["-c", "echo out; echo err >&2"], mergingErrors: true).get()
        #expect(String(decoding: merged.output, as: UTF8.self) == "out\nerr\n")
        let limited = try Subprocess.capture("/bin/sh", arguments: ["-c", "head -c 100000 /dev/zero"], limit: 1000).get()
        #expect(limited.output.count == 1000 && limited.status == 0)
        // A child that never reads its input and does not end.
        let hung = try Subprocess.capture("/bin/sh", arguments: ["-c", "exec sleep 30"], input: [UInt8](repeating: 1, count: 8), timeout: .milliseconds(300)).get()
        #expect(hung.timedOut && Subprocess.describe(waitStatus: hung.status) == "signal 9")
    }

    @Test("a program that does not exist is a posix_spawn failure with ENOENT")
    func missingProgram() {
        let result = Subprocess.spawn("/nonexistent/program", arguments: [], environment: [], descriptors: [], closeFrom: nil)
        guard case let .failure(failure) = result else {
            Issue.record("spawning a missing program succeeded")
            return
        }
        #expect(failure.step == "posix_spawn")
        #expect(failure.errno == ENOENT)
    }

    @Test("the environment is this process's")
    func environment() {
        #expect(Subprocess.environment.contains { $0.hasPrefix("PATH=") })
    }
}

@Suite("UnixSocket and SystemdNotify", .serialized)
struct UnixSocketTests {
    @Test("a stream socket binds to a path, and a client connects and sends")
    func bindConnectSend() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? DurableFiles.removeTree(directory) }
        let path = directory + "/control"
        let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(server) }
        #expect(UnixSocket.bind(server, path) == 0)
        #expect(listen(server, 1) == 0)
        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(client) }
        #expect(UnixSocket.connect(client, path) == 0)
        let accepted = accept(server, nil, nil)
        defer { close(accepted) }
        #expect(Array("ping\n".utf8).withUnsafeBytes { UnixSocket.sendAll(client, $0) })
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = recv(accepted, &bytes, bytes.count, 0)
        #expect(String(decoding: bytes[..<max(count, 0)], as: UTF8.self) == "ping\n")
        // A path longer than sun_path is refused, not cut short.
        #expect(UnixSocket.connect(client, "/" + String(repeating: "x", count: 200)) == -1)
        #expect(errno == ENAMETOOLONG)
    }

    @Test("sd_notify reaches an abstract-namespace socket, and the watchdog interval is half WATCHDOG_USEC")
    func systemdNotify() throws {
        let name = "linux-support-test-\(getpid())"
        let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(receiver) }
        #expect(UnixSocket.bind(receiver, "@" + name) == 0)
        setenv("NOTIFY_SOCKET", "@" + name, 1)
        setenv("WATCHDOG_USEC", "3000000", 1)
        setenv("WATCHDOG_PID", String(getpid()), 1)
        defer {
            unsetenv("NOTIFY_SOCKET")
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        SystemdNotify.send("READY=1\nSTATUS=testing")
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = recv(receiver, &bytes, bytes.count, Int32(MSG_DONTWAIT))
        #expect(String(decoding: bytes[..<max(count, 0)], as: UTF8.self) == "READY=1\nSTATUS=testing")
        #expect(SystemdNotify.watchdogInterval == .milliseconds(1500))
        setenv("WATCHDOG_PID", "1", 1)
        #expect(SystemdNotify.watchdogInterval == nil)
    }
}
