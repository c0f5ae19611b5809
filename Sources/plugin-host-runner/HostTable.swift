import CIoTModule
import Glibc
import Synchronization

// The host table's callbacks are `@convention(c)` functions: they cannot capture, so what they
// need lives in globals. All of it is atomic (lock-free loads and stores) rather than
// `nonisolated(unsafe)`, because the module calls the callbacks from any of its threads and the
// SIGTERM handler reads `wakeWriteFD` on whichever thread the signal lands.

/// The pipe to the host (`--events-fd`): `ready`, `heartbeat`, `returned N`, `start-failed N`.
let eventsFD = Atomic<Int32>(-1)
/// Set once the host asked the module to stop (SIGTERM); the module reads it via `should_stop`.
let stopRequested = Atomic<Bool>(false)
/// The write end of the self-pipe that wakes the main thread (start mode): the signal handler
/// writes `T`, the start thread writes `R` after start() returned.
let wakeWriteFD = Atomic<Int32>(-1)
/// What start() returned, stored before the start thread writes `R`.
let startResult = Atomic<Int32>(0)

/// Writes all of `bytes` to `fd`, retrying on EINTR. A line shorter than PIPE_BUF (every event
/// line) goes out in one write(2), so lines from different threads never interleave. Errors
/// (the host went away: EPIPE, SIGPIPE is ignored) are dropped; nothing can be done about them.
/// Async-signal-safe: no allocation, no locks.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    guard fd >= 0, var base = bytes.baseAddress else { return }
    var left = bytes.count
    while left > 0 {
        let written = write(fd, base, left)
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        left -= written
        base += written
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}

/// Sends a fixed event line (`ready\n`, `heartbeat\n`) to the host without allocating.
func emit(_ line: StaticString) {
    line.withUTF8Buffer { writeAll(eventsFD.load(ordering: .relaxed), UnsafeRawBufferPointer($0)) }
}

/// Sends an event line with a value (`returned 0\n`).
func emit(_ event: String, _ value: Int32) {
    writeAll(eventsFD.load(ordering: .relaxed), Array("\(event) \(value)\n".utf8))
}

/// A diagnostic line of the runner itself, on stderr (which the host merges into the output).
func diagnose(_ message: String) {
    writeAll(2, Array("plugin-host-runner: \(message)\n".utf8))
}

/// Ends the process now: flushes stdio (the module's printf output) and calls _exit, which skips
/// atexit handlers and C++ static destructors that could race with threads the module left running.
func finish(_ status: Int32) -> Never {
    fflush(nil)
    _exit(status)
}

/// The host table the module receives. It and its strings live until the process ends.
func makeHostTable(_ options: Options, step: String) -> UnsafePointer<iotsdk_host> {
    var host = iotsdk_host()
    host.abi = UInt32(IOTSDK_MODULE_ABI)
    host.size = UInt32(MemoryLayout<iotsdk_host>.size)
    host.context = nil
    host.module_id = UnsafePointer(strdup(options.moduleID))
    host.module_version = UnsafePointer(strdup(options.moduleVersion))
    host.module_dir = UnsafePointer(strdup(options.moduleDirectory))
    host.data_dir = UnsafePointer(strdup(options.dataDirectory))
    host.step = UnsafePointer(strdup(step))
    host.ready = { _ in emit("ready\n") }
    host.heartbeat = { _ in emit("heartbeat\n") }
    host.log = { _, level, message in
        var line = Array("log \(level) ".utf8)
        if let message {
            // One line per call: a message's own line breaks would read as separate lines.
            line += UnsafeBufferPointer(start: UnsafeRawPointer(message).assumingMemoryBound(to: UInt8.self), count: strlen(message))
                .map { $0 == 10 || $0 == 13 ? 32 : $0 }
        } else {
            line += Array("(null)".utf8)
        }
        line.append(10)
        writeAll(2, line)
    }
    host.should_stop = { _ in stopRequested.load(ordering: .acquiring) ? 1 : 0 }
    let table = UnsafeMutablePointer<iotsdk_host>.allocate(capacity: 1)
    table.initialize(to: host)
    return UnsafePointer(table)
}

/// Loads the module's library; on failure explains why on stderr and exits with status 2.
/// `hostPath`: where the library is on the host, when `path` is its path inside the sandbox.
func loadLibrary(_ path: String, for symbol: String, hostPath: String? = nil) -> UnsafeMutableRawPointer {
    if let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) { return handle }
    let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
    let host = hostPath ?? path
    let sandboxed = hostPath.map { " (\($0) on the host; the sandbox holds the module directory, /usr and /lib*: libraries from elsewhere belong in the module, linked with an rpath of $ORIGIN)" } ?? ""
    diagnose("cannot load the module library '\(path)'\(sandboxed) (to call '\(symbol)'): \(reason). Check that the file exists, is a shared library built for this machine, and that the libraries it needs are installed (ldd '\(host)').")
    finish(2)
}

/// Looks up an entry point or hook; on failure explains why on stderr and exits with status 2.
func lookUp(_ symbol: String, in handle: UnsafeMutableRawPointer, library: String, hostPath: String? = nil) -> iotsdk_entry_fn {
    _ = dlerror()
    if let address = dlsym(handle, symbol) {
        return unsafeBitCast(address, to: iotsdk_entry_fn.self)
    }
    let reason = dlerror().map { String(cString: $0) } ?? "the symbol's address is null"
    let host = hostPath ?? library
    diagnose("symbol '\(symbol)' not found in the module library '\(host)': \(reason). Is the symbol exported? For C, give it default visibility and no static; for Swift use @_cdecl(\"\(symbol)\"). Check with: nm -D --defined-only '\(host)' | grep \(symbol)")
    finish(2)
}
