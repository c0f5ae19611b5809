import CIoTLinux
import Glibc
import LinuxSupport
import ModuleProtocol

// The hook and start modes for a WebAssembly module (Modes.swift has the native ones, whose
// protocol with the host they keep: `returned`, the exit statuses, stop within 5 s).

/// Calls one hook on this thread and reports what it returned, as `runHook` does. A trap (out of
/// fuel among them) ends the runner with status 4 and the reason on stderr.
func runWasmHook(_ options: Options, link: HostLink) -> Never {
    let scheduler = WasmScheduler()
    let module = WasmModule.load(options, step: options.step, scheduler: scheduler)
    scheduler.module = module
    link.inbox.onAdd = { [scheduler] in scheduler.poke() }
    link.startReading(library: nil, refusal: "commands are called on a running module only; this runner runs the \(options.step) hook")
    let result: Int32
    do {
        result = try module.callEntry(options.symbol, role: "hook '\(options.step)'")
    } catch {
        module.exitOnFailure(error)
    }
    fflush(nil)
    link.send(.returned(value: result))
    finish(result == 0 ? .success : .hookFailed)
}

private let wakeForStopDone: UInt8 = UInt8(ascii: "S")

/// Runs the module until it is asked to stop.
///
/// One thread, the wasm thread, makes every call into the module: start(), then the typed
/// commands (while start sleeps, and after it returned), then stop() once the host asks the
/// module to stop. The main thread sleeps on the self-pipe as in `runStart`:
/// - start returned non-zero: `returned N`, exit 3;
/// - SIGTERM/SIGINT or `stop`: should_stop() becomes true and a sleeping start() wakes; once
///   start has returned, stop() runs; exit 0 when it returned, or after 5 s anyway.
/// - a trap anywhere: the reason on stderr, exit 4.
func runWasmStart(_ options: Options, link: HostLink) -> Never {
    let wake = makeWakePipe()
    let scheduler = WasmScheduler()
    let module = WasmModule.load(options, step: "run", scheduler: scheduler)
    scheduler.module = module
    link.inbox.onAdd = { [scheduler] in scheduler.poke() }
    link.startReading(commands: WasmCommands(scheduler: scheduler))

    let created = startDetachedThread {
        _ = ciot_set_thread_name("wasm")
        let result: Int32
        do {
            result = try module.callEntry(options.start, role: "entry point 'start'")
        } catch {
            module.exitOnFailure(error)
        }
        startResult.store(result, ordering: .sequentiallyConsistent)
        _ = withUnsafeBytes(of: wakeForStartReturn) { writeAll(wakeWriteFD.load(ordering: .relaxed), $0) }
        guard result == 0 else { return }
        // start() returned 0: the module is driven by its commands from now on, until it is asked to stop.
        scheduler.serveUntilStop()
        do {
            let stopped = try module.callEntry(options.stop, role: "entry point 'stop'")
            if stopped != 0 { diagnose("'\(options.stop)' returned \(stopped)") }
        } catch {
            module.exitOnFailure(error)
        }
        _ = withUnsafeBytes(of: wakeForStopDone) { writeAll(wakeWriteFD.load(ordering: .relaxed), $0) }
    }
    guard created == 0 else {
        diagnose("cannot create the thread for the WebAssembly module: \(String(cString: strerror(created)))")
        finish(.moduleUnusable)
    }

    var stopping = false
    var deadline = ContinuousClock.now
    while true {
        let byte = readWakeByte(wake[0], timeout: stopping ? max(deadline - ContinuousClock.now, .zero) : nil)
        switch byte {
        case wakeForStartReturn:
            let result = startResult.load(ordering: .sequentiallyConsistent)
            if result != 0 {
                diagnose("'\(options.start)' returned \(result): the module did not start")
                link.send(.returned(value: result))
                finish(.startFailed)
            }
        case wakeForSignal where !stopping:
            stopping = true
            deadline = ContinuousClock.now + .seconds(5)
            stopRequested.store(true, ordering: .sequentiallyConsistent)
            link.inbox.wake(stopping: true)
            scheduler.requestStop()
        case wakeForStopDone:
            finish(.success)
        case nil where stopping && ContinuousClock.now >= deadline:
            diagnose("'\(options.start)' and '\(options.stop)' did not return within 5 s after the module was asked to stop; exiting anyway")
            finish(.success)
        default:
            break
        }
    }
}
