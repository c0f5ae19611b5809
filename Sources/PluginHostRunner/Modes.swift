import LinuxSupport
import CIoTModule
import Glibc
import ModuleProtocol

// MARK: - hook

/// Calls one hook on this (the main) thread and reports what it returned (`returned`).
/// Exit status: 0 if it returned 0, 1 otherwise.
func runHook(_ options: Options, link: HostLink) -> Never {
    if options.wasmFuel != nil { runWasmHook(options, link: link) }
    let handle = loadLibrary(options.library, for: options.symbol, hostPath: options.libraryOnHost)
    let hook = lookUp(options.symbol, in: handle, library: options.library, hostPath: options.libraryOnHost)
    let host = makeHostTable(options, step: options.step)
    attachSDK(handle, host)
    link.startReading(library: nil, refusal: "commands are called on a running module only; this runner runs the \(options.step) hook")
    let result = hook(host)
    // The module's buffered output first, so that it is in the pipe before the host sees the result.
    fflush(nil)
    link.send(.returned(value: result))
    finish(result == 0 ? .success : .hookFailed)
}

// MARK: - start

/// What the start thread needs; passed through pthread_create's context pointer.
private final class StartCall {
    let entry: iotsdk_entry_fn
    let host: UnsafePointer<iotsdk_host>
    init(entry: iotsdk_entry_fn, host: UnsafePointer<iotsdk_host>) {
        self.entry = entry
        self.host = host
    }
}

let wakeForSignal: UInt8 = UInt8(ascii: "T")
let wakeForStartReturn: UInt8 = UInt8(ascii: "R")

/// Runs the module until SIGTERM.
///
/// start() runs on a thread of its own: it may return at once (the module started threads) or
/// block until should_stop() is true. The main thread sleeps on a self-pipe that the SIGTERM
/// handler and the start thread write to; all the work happens here, never in the handler.
/// - start returned non-zero (before any stop): `returned N` on the channel, exit 3.
/// - SIGTERM/SIGINT, or `stop` on the channel: should_stop() becomes true, stop() runs on this
///   thread, a still-running start() gets up to 5 s to return, exit 0.
/// Typed commands (`callCommand`) are called on threads of their own as soon as the reader runs,
/// just before start() is called (the host's supervisor calls them only once the module is ready).
func runStart(_ options: Options, link: HostLink) -> Never {
    if options.wasmFuel != nil { runWasmStart(options, link: link) }
    let handle = loadLibrary(options.library, for: options.start, hostPath: options.libraryOnHost)
    let start = lookUp(options.start, in: handle, library: options.library, hostPath: options.libraryOnHost)
    let stop = lookUp(options.stop, in: handle, library: options.library, hostPath: options.libraryOnHost)
    let host = makeHostTable(options, step: "run")
    attachSDK(handle, host)

    let wake = makeWakePipe()
    // After the self-pipe exists, so that a `stop` from the host can wake this thread.
    link.startReading(library: handle, refusal: "")

    let call = Unmanaged.passRetained(StartCall(entry: start, host: host)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { context in
        let call = Unmanaged<StartCall>.fromOpaque(context!).takeRetainedValue()
        let result = call.entry(call.host)
        startResult.store(result, ordering: .sequentiallyConsistent)
        _ = withUnsafeBytes(of: wakeForStartReturn) { writeAll(wakeWriteFD.load(ordering: .relaxed), $0) }
        return nil
    }, call)
    guard created == 0 else {
        diagnose("cannot create the thread for '\(options.start)': \(String(cString: strerror(created)))")
        finish(.moduleUnusable)
    }
    pthread_detach(thread)

    var startRunning = true
    while true {
        switch readWakeByte(wake[0], timeout: nil) {
        case wakeForStartReturn:
            startRunning = false
            let result = startResult.load(ordering: .sequentiallyConsistent)
            if result != 0 {
                diagnose("'\(options.start)' returned \(result): the module did not start")
                link.send(.returned(value: result))
                finish(.startFailed)
            }
            // start() returned 0: the module runs on threads of its own. Stay until SIGTERM.
        case wakeForSignal:
            stopRequested.store(true, ordering: .sequentiallyConsistent)
            link.inbox.wake(stopping: true)
            let result = stop(host)
            if result != 0 { diagnose("'\(options.stop)' returned \(result)") }
            if startRunning {
                let deadline = ContinuousClock.now + .seconds(5)
                while startRunning {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { break }
                    if readWakeByte(wake[0], timeout: left) == wakeForStartReturn { startRunning = false }
                }
                if startRunning { diagnose("'\(options.start)' did not return within 5 s after the module was asked to stop; exiting anyway") }
            }
            finish(.success)
        default:
            break
        }
    }
}

/// The self-pipe that wakes the main thread in start mode, and the SIGTERM/SIGINT handler that
/// writes `T` to it. Call before any other thread exists.
func makeWakePipe() -> [Int32] {
    var wake: [Int32] = [-1, -1]
    // No other thread exists yet, so pipe + FD_CLOEXEC cannot race with a fork.
    guard pipe(&wake) == 0 else {
        diagnose("cannot create a pipe: \(String(cString: strerror(errno)))")
        finish(.moduleUnusable)
    }
    for fd in wake { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    // Never block the signal handler: if the pipe is full the main thread is awake anyway.
    _ = fcntl(wake[1], F_SETFL, fcntl(wake[1], F_GETFL) | O_NONBLOCK)
    wakeWriteFD.store(wake[1], ordering: .sequentiallyConsistent)

    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in
        let saved = errno
        var byte: UInt8 = 0x54 // "T" (wakeForSignal); a literal, so the handler touches no lazily initialized global
        _ = write(wakeWriteFD.load(ordering: .relaxed), &byte, 1)
        errno = saved
    }
    action.sa_flags = SA_RESTART
    sigemptyset(&action.sa_mask)
    sigaction(SIGTERM, &action, nil)
    sigaction(SIGINT, &action, nil)
    return wake
}

/// One byte from the self-pipe, waiting at most `timeout` (nil: for ever); nil on timeout.
func readWakeByte(_ fd: Int32, timeout: Duration?) -> UInt8? {
    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    var milliseconds: Int32 = -1
    if let timeout {
        let (seconds, attoseconds) = timeout.components
        milliseconds = Int32(clamping: max(0, seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }
    let ready = poll(&descriptor, 1, milliseconds)
    guard ready > 0 else { return nil } // timeout, or EINTR: the caller loops
    var byte: UInt8 = 0
    return read(fd, &byte, 1) == 1 ? byte : nil
}
