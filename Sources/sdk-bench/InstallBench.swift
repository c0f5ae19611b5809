#if canImport(Glibc)
import Glibc
#endif
import CIoTBench
import Foundation
import PluginHost

// sdk-bench host, install memory: the peak RSS of `plugin-host install` (and the processes it
// waits for) on two images that would not fit in a small device's memory if the host held them:
// one whose layer carries a 200 MB file of incompressible bytes, and one whose layer has 20,000
// entries (the default maxEntries); and, for the floor, one with only the module's library. All
// are installed from a .tar of the image layout, the form a device receives them in.

/// Builds both images in a temporary directory, installs each with `plugin-host install` into a
/// fresh state directory and prints its peak RSS (wait4's ru_maxrss: `spawnAndWait`).
func benchInstallMemory(_ options: Options) throws {
    guard let (host, library) = hostBinaries(for: "install memory") else { return }
    let root = NSTemporaryDirectory() + "sdk-bench-install-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let key = ModuleSigningKey()

    /// Packs `fill`'s module directory (with the example library) into `<name>.tar`, installs it
    /// and returns the peak RSS in MB.
    func install(_ name: String, _ fill: (String) throws -> Void) throws -> Double {
        let directory = root + "/" + name
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: library, toPath: directory + "/lib/libExampleModuleC.so")
        try exampleManifest(id: "com.example.install", stabilityWindowSeconds: 0, maxRestarts: 1)
            .canonicalJSON().write(to: URL(fileURLWithPath: directory + "/module.json"))
        try fill(directory)
        let image = root + "/" + name + ".tar"
        try ImagePacker.write(try ImagePacker(signingKey: key).pack(moduleDirectory: directory), to: image)
        try FileManager.default.removeItem(atPath: directory)
        let state = root + "/state-" + name
        try TrustStore(stateDirectory: state).add(key.publicKey)
        let (status, maxRSSKiB) = try spawnAndWait(host, ["install", image, "--state-dir", state, "--no-sandbox"], log: root + "/" + name + ".log")
        guard status == 0 else {
            let log = (try? String(contentsOfFile: root + "/" + name + ".log", encoding: .utf8)) ?? ""
            throw BenchError("plugin-host install of the \(name) image exited with \(status): \(log)")
        }
        return Double(maxRSSKiB) / 1024
    }

    let big = try install("big-layer") { directory in
        try writePseudoRandomFile(directory + "/data.bin", bytes: 200 << 20)
    }
    let many = try install("many-entries") { directory in
        // 20,000 objects with lib/ and its library: 100 directories and 19,898 small files.
        for index in 0..<100 {
            try FileManager.default.createDirectory(atPath: directory + "/d\(index)", withIntermediateDirectories: false)
        }
        for index in 0..<19_898 {
            try Data("file \(index)\n".utf8).write(to: URL(fileURLWithPath: directory + "/d\(index % 100)/f\(index)"))
        }
    }
    let floor = try install("library-only") { _ in }
    print("install peak RSS: 200 MB layer \(format(big, "MB")), 20,000 entries \(format(many, "MB")) (goal <= 16 MB each)")
    print("install peak RSS of an image with only the library: \(format(floor, "MB")) (the floor: mostly plugin-host's and its shared libraries' code pages)")
}

/// plugin-host and libExampleModuleC.so next to sdk-bench (with plugin-host-runner), or nil
/// after printing why `benchmark` is skipped.
func hostBinaries(for benchmark: String) -> (host: String, library: String)? {
    guard let runnerPath = ChildProcessRunner.locate() else {
        print("\(benchmark): skipped (no plugin-host-runner next to sdk-bench)")
        return nil
    }
    let bin = (runnerPath as NSString).deletingLastPathComponent
    let host = bin + "/plugin-host", library = bin + "/libExampleModuleC.so"
    guard FileManager.default.isExecutableFile(atPath: host), FileManager.default.fileExists(atPath: library) else {
        print("\(benchmark): skipped (needs plugin-host and libExampleModuleC.so next to sdk-bench)")
        return nil
    }
    return (host, library)
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Writes `bytes` of xorshift64 output (incompressible, and cheap to make) in 1 MiB chunks.
func writePseudoRandomFile(_ path: String, bytes: Int) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
        throw BenchError("cannot create \(path)")
    }
    defer { try? handle.close() }
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var chunk = [UInt64](repeating: 0, count: (1 << 20) / 8)
    var left = bytes
    while left > 0 {
        for index in chunk.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            chunk[index] = state
        }
        let count = min(left, chunk.count * 8)
        try handle.write(contentsOf: chunk.withUnsafeBytes { Data($0.prefix(count)) })
        left -= count
    }
}

/// Runs `path` with `arguments`, its output to `log`, and returns its exit status and the peak
/// RSS in KiB of it and the children it waited for (wait4's rusage).
///
/// sdk-bench does not posix_spawn it: glibc's posix_spawn is a vfork (CLONE_VM), and at execve
/// the kernel records the high-water RSS of the address space being replaced, here sdk-bench's
/// own, in the new process's maxrss, so wait4 reported sdk-bench's peak for every image (28.5 MB
/// for all three, against 18-20 MB sampled in /proc). Instead /bin/sh starts it in the
/// background, by fork (its address space a copy of the small shell's), tells its pid and exits;
/// sdk-bench, a child subreaper meanwhile, takes the orphan over and waits for it.
func spawnAndWait(_ path: String, _ arguments: [String], log: String) throws -> (status: Int32, maxRSSKiB: Int) {
    guard ciot_bench_set_child_subreaper(1) == 0 else {
        throw BenchError("prctl(PR_SET_CHILD_SUBREAPER) failed: \(String(cString: strerror(errno)))")
    }
    defer { _ = ciot_bench_set_child_subreaper(0) }
    var pipeFDs: [Int32] = [-1, -1]
    guard pipe(&pipeFDs) == 0 else { throw BenchError("pipe failed: \(String(cString: strerror(errno)))") }
    for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var readEnd = pipeFDs[0]
    defer { if readEnd >= 0 { close(readEnd) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 3)
    let shell = "/bin/sh"
    let script = "\"$@\" 3>&- & echo $! >&3"
    let argv: [UnsafeMutablePointer<CChar>?] = (["sh", "-c", script, "sh", path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var shellPID: pid_t = 0
    let spawned = posix_spawn(&shellPID, shell, &actions, nil, argv, environ)
    close(pipeFDs[1])
    guard spawned == 0 else { throw BenchError("cannot start \(shell): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(shellPID, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw BenchError("wait4 for \(shell) failed: \(String(cString: strerror(errno)))") }
    }
    var text: [UInt8] = []
    var byte: UInt8 = 0
    while true {
        let count = read(readEnd, &byte, 1)
        if count == 1 { text.append(byte); continue }
        if count < 0, errno == EINTR { continue }
        break
    }
    close(readEnd)
    readEnd = -1
    guard status == 0, let pid = pid_t(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw BenchError("\(shell) did not start \(path) (status \(status), printed '\(String(decoding: text, as: UTF8.self))')")
    }
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw BenchError("wait4 for \(path) failed: \(String(cString: strerror(errno)))") }
    }
    let exited = status & 0x7F == 0
    return (exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F), usage.ru_maxrss)
}
