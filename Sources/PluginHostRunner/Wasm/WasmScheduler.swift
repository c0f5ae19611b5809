import Glibc
import ModuleProtocol
import ModuleWasm
import WasmKit

/// The wasm thread's queue. A wasm module is single-threaded, so the typed commands that the
/// host link hands over (each on a thread of its own, which waits here for the result) run on
/// the wasm thread: while the module sleeps (WASI poll_oneoff, `sleep`) or yields
/// (`sched_yield`), or once `start` has returned. A stop request ends a sleep at once.
/// pthread mutex and condition (on CLOCK_MONOTONIC), as `ReplyTable`: the waiters block.
final class WasmScheduler: @unchecked Sendable {
    private struct Job {
        var id: Int
        var symbol: String
        var arguments: [CommandValue]
        var returns: ModuleProtocol.ValueType
    }

    private let monitor = BlockingMonitor()
    private var mutex: UnsafeMutablePointer<pthread_mutex_t> { monitor.mutex }
    private var condition: UnsafeMutablePointer<pthread_cond_t> { monitor.condition }
    // Guarded by `mutex`.
    private var jobs: [Job] = []
    private var results: [Int: Message.CommandOutcome] = [:]
    private var nextID = 0
    private var stopping = false
    /// Set by `poke()`, taken by `waitForPoke`.
    private var poked = false
    /// The command the module failed in, and how.
    private var fatal: (job: Int, error: any Error)?
    private var answeredFatal = false
    /// Set on the wasm thread before it calls into the module.
    var module: WasmModule?
    /// A self-pipe that ends a wait on a descriptor (`wait(for:untilMonotonic:)`) when a command
    /// arrives or a stop is requested, as the condition ends a sleep.
    private let wake: (read: Int32, write: Int32)

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            // Close-on-exec, as every descriptor of the runner; non-blocking, so that a full pipe never blocks a writer.
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        } else {
            fds = [-1, -1]
        }
        wake = (fds[0], fds[1])
    }

    private func locked<T>(_ body: () -> T) -> T { monitor.locked(body) }

    /// With the mutex held: wakes the condition's waiters and a wait on a descriptor.
    private func signal() {
        pthread_cond_broadcast(condition)
        var byte: UInt8 = 1
        if wake.write >= 0 { _ = write(wake.write, &byte, 1) }
    }

    // MARK: Any thread

    /// Queues a command for the wasm thread and waits for its outcome.
    func submit(symbol: String, arguments: [CommandValue], returns: ModuleProtocol.ValueType) -> Message.CommandOutcome {
        locked {
            let id = nextID
            nextID += 1
            jobs.append(Job(id: id, symbol: symbol, arguments: arguments, returns: returns))
            signal()
            while results[id] == nil { pthread_cond_wait(condition, mutex) }
            return results.removeValue(forKey: id)!
        }
    }

    /// Ends the module's sleep, and the wait for commands once `start` has returned.
    func requestStop() {
        locked {
            stopping = true
            signal()
        }
    }

    // MARK: The wasm thread

    /// Sleeps until CLOCK_MONOTONIC reaches `deadline` (nanoseconds) or a stop is requested,
    /// running the commands that arrive meanwhile.
    func sleep(untilMonotonic deadline: UInt64) {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        serve { $0 || nanoseconds(of: CLOCK_MONOTONIC) >= deadline } wait: { pthread_cond_timedwait(condition, mutex, &time) }
    }

    /// Something the wasm thread may be waiting for has happened (an MQTT message arrived).
    func poke() {
        locked {
            poked = true
            signal()
        }
    }

    enum WaitOutcome { case ready, timedOut, stopping }

    /// Waits until `poke()` (since the last wait), CLOCK_MONOTONIC reaches `deadline`
    /// (nanoseconds; nil: no limit) or a stop is requested, running the commands that arrive meanwhile.
    func waitForPoke(untilMonotonic deadline: UInt64?) -> WaitOutcome {
        var outcome: WaitOutcome?
        var time = timespec(tv_sec: Int((deadline ?? 0) / 1_000_000_000), tv_nsec: Int((deadline ?? 0) % 1_000_000_000))
        serve { stopping in
            if poked {
                poked = false
                outcome = .ready
            } else if stopping {
                outcome = .stopping
            } else if let deadline, nanoseconds(of: CLOCK_MONOTONIC) >= deadline {
                outcome = .timedOut
            }
            return outcome != nil
        } wait: {
            if deadline == nil { pthread_cond_wait(condition, mutex) } else { pthread_cond_timedwait(condition, mutex, &time) }
        }
        return outcome!
    }

    /// Waits until `fd` is readable (a GPIO line's edge event), CLOCK_MONOTONIC reaches
    /// `deadline` (nanoseconds; nil: no limit) or a stop is requested, running the commands that
    /// arrive meanwhile.
    func wait(for fd: Int32, untilMonotonic deadline: UInt64?) -> WaitOutcome {
        var outcome: WaitOutcome?
        serve { stopping in
            if stopping { outcome = .stopping }
            return outcome != nil
        } wait: {
            pthread_mutex_unlock(mutex)
            var fds = [pollfd(fd: fd, events: Int16(POLLIN | POLLPRI), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let now = nanoseconds(of: CLOCK_MONOTONIC)
            let timeout = deadline.map { Int32(clamping: ($0 > now ? $0 - now : 0) / 1_000_000) } ?? -1
            let ready = poll(&fds, 2, timeout)
            if fds[1].revents != 0 {
                var bytes = [UInt8](repeating: 0, count: 64)
                while read(wake.read, &bytes, bytes.count) > 0 {}
            }
            if fds[0].revents != 0 {
                outcome = .ready
            } else if ready == 0, deadline != nil, nanoseconds(of: CLOCK_MONOTONIC) >= deadline! {
                outcome = .timedOut
            }
            pthread_mutex_lock(mutex)
        }
        return outcome!
    }

    /// Runs the commands waiting now.
    func yield() {
        serve { _ in true } wait: {}
    }

    /// Runs commands until a stop is requested.
    func serveUntilStop() {
        serve { $0 } wait: { pthread_cond_wait(condition, mutex) }
    }

    /// Runs jobs until `done(stopping)`; `wait` blocks (with the mutex held) for the next change.
    private func serve(until done: (Bool) -> Bool, wait: () -> Void) {
        pthread_mutex_lock(mutex)
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                pthread_mutex_unlock(mutex)
                let outcome = run(job)
                pthread_mutex_lock(mutex)
                results[job.id] = outcome
                pthread_cond_broadcast(condition)
                if let fatal, let module {
                    pthread_mutex_unlock(mutex)
                    endAfterFatal(fatal.error, module: module)
                }
                continue
            }
            if done(stopping) { break }
            wait()
        }
        pthread_mutex_unlock(mutex)
    }

    /// Runs one command. When the module traps in it (or calls exit()), its state is unknown: the
    /// host gets the reason as the command's error, and once it has been sent (`answered`), the
    /// runner ends the module (status 4, or the exit status), as a crash would; the host restarts it.
    private func run(_ job: Job) -> Message.CommandOutcome {
        guard let module else { return .error("the WebAssembly module is not running") }
        do {
            return try module.callCommand(symbol: job.symbol, arguments: job.arguments, returns: job.returns)
        } catch {
            locked { fatal = (job.id, error) }
            return .error("the WebAssembly module \((error as? WasmFailure)?.description ?? String(describing: error)); it is ended, and the host restarts it")
        }
    }

    /// The host link sent the outcome of a command: if the module failed in it, end it now.
    func answered() {
        locked { if let fatal, results[fatal.job] == nil { answeredFatal = true; pthread_cond_broadcast(condition) } }
    }

    /// After a fatal command: waits (at most 2 s) until its answer went out, then ends the module.
    private func endAfterFatal(_ error: any Error, module: WasmModule) -> Never {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += 2
        pthread_mutex_lock(mutex)
        while !answeredFatal, pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT {}
        pthread_mutex_unlock(mutex)
        module.exitOnFailure(error)
    }
}

/// The time of `clock` in nanoseconds: the one clock reader of the wasm part of the runner.
func nanoseconds(of clock: clockid_t) -> UInt64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// The host link's way to a wasm module's commands: through the scheduler to the wasm thread.
struct WasmCommands: CommandCaller {
    let scheduler: WasmScheduler
    func call(symbol: String, arguments: [CommandValue], returns: ModuleProtocol.ValueType) -> Message.CommandOutcome {
        scheduler.submit(symbol: symbol, arguments: arguments, returns: returns)
    }
    func answered() { scheduler.answered() }
}

extension WasmModule {
    /// Calls command `symbol` with `arguments` (checked by the host against the manifest).
    /// - Throws: `WasmFailure` when the module trapped or called exit().
    func callCommand(symbol: String, arguments: [CommandValue], returns: ModuleProtocol.ValueType) throws -> Message.CommandOutcome {
        guard let function = instance.exports[function: symbol] else {
            return .error("'\(symbol)' is not exported by the WebAssembly module")
        }
        let expected = WasmABI.commandType(parameters: arguments.map(\.type), returns: returns)
        guard function.type == expected else {
            return .error("'\(symbol)' is \(WasmABI.describe(function.type)) in the WebAssembly module, but the manifest declares \(WasmABI.describe(expected))")
        }
        let previous = currentCall
        currentCall = "command '\(symbol)'"
        defer { currentCall = previous }
        var allocated: [UInt32] = []
        defer { free(allocated) }
        var values: [Value] = []
        for argument in arguments {
            switch argument {
            case .bool(let value): values.append(.i32(value ? 1 : 0))
            case .int32(let value): values.append(.i32(UInt32(bitPattern: value)))
            case .uint32(let value): values.append(.i32(value))
            case .int64(let value): values.append(.i64(UInt64(bitPattern: value)))
            case .uint64(let value): values.append(.i64(value))
            case .double(let value): values.append(.f64(value.bitPattern))
            case .string(let value):
                let address = try copyIn(Array(value.utf8) + [0])
                allocated.append(address)
                values.append(.i32(address))
            }
        }
        let results = try invoke(function, values)
        switch (returns, results.first) {
        case (.bool, .i32(let value)?): return .value(.bool(value != 0))
        case (.int32, .i32(let value)?): return .value(.int32(Int32(bitPattern: value)))
        case (.uint32, .i32(let value)?): return .value(.uint32(value))
        case (.int64, .i64(let value)?): return .value(.int64(Int64(bitPattern: value)))
        case (.uint64, .i64(let value)?): return .value(.uint64(value))
        case (.double, .f64(let value)?): return .value(.double(Double(bitPattern: value)))
        case (.string, .i32(let address)?):
            guard address != 0 else { return .error("'\(symbol)' returned NULL where the manifest declares a string") }
            guard let bytes = cString(at: address, limit: CommandValue.maximumStringBytes) else {
                return .error("'\(symbol)' returned a string that is not NUL-terminated within \(CommandValue.maximumStringBytes) bytes of the module's memory")
            }
            return .value(.string(String(decoding: bytes, as: UTF8.self)))
        default:
            return .error("'\(symbol)' returned \(results), not a \(returns.rawValue)")
        }
    }

    /// Copies `bytes` into memory the module allocates (`iotsdk_alloc`).
    private func copyIn(_ bytes: [UInt8]) throws -> UInt32 {
        guard let allocate = instance.exports[function: WasmABI.allocateExport] else {
            throw WasmFailure(description: "exports no '\(WasmABI.allocateExport)' for string arguments: include iotsdk_module.h")
        }
        guard case let .i32(address)? = try invoke(allocate, [.i32(UInt32(bytes.count))]).first, address != 0 else {
            throw WasmFailure(description: "could not allocate \(bytes.count) bytes for a string argument ('\(WasmABI.allocateExport)' returned 0)")
        }
        try withBytes(at: address, count: UInt32(bytes.count), for: WasmABI.allocateExport) { $0.copyBytes(from: bytes) }
        return address
    }

    private func free(_ addresses: [UInt32]) {
        guard !addresses.isEmpty, let release = instance.exports[function: WasmABI.freeExport] else { return }
        for address in addresses { _ = try? invoke(release, [.i32(address)]) }
    }
}
