import LinuxSupport
import CIoTLinux
import CIoTModule
import Glibc
import ModuleFFI
import ModuleProtocol
import Synchronization

// The runner's end of the IPC channel to the host (ModuleProtocol's Channel, a SOCK_SEQPACKET
// socket; Documentation/Runtime.md, "Runner ↔ host channel").
//
// Connecting. The host passes one end of a bootstrap socketpair as `--events-fd` (3). The process
// the host started, and no other, connects (`connectToHost`): it creates the real connection
// (socketpair) and sends one end with `hello`, waits for `welcome`, and puts the connection where
// the bootstrap socket was, on the same descriptor number. SO_PEERCRED of a socketpair names the
// process that created it, so the host sees the very pid it spawned, and checks it. In sandbox
// mode that process is the outer runner, which connects before it creates any namespace; the
// descriptor survives its re-execution as the sandbox's init and the init's fork of the module
// process (both know from `--sandbox-status-fd` that `--events-fd` is already connected), and
// the outer runner and the init close their copies, so that only the module process (and what it
// forks) holds the connection. The host therefore never has to trust a pid it did not spawn, nor
// walk /proc to find one: see `Channel.acceptRunner` in ModuleProtocol.
//
// Using it. The module process installs a `HostLink` around the connection. The host table's
// callbacks send `ready`, `heartbeat` and `log` from whatever thread the module calls them on (a
// datagram goes out whole, so threads never interleave). `gpio_request` and `i2c_transfer` send
// a request with an id of their own and wait for the answer with that id; one reader thread
// receives everything the host sends and hands each answer to its waiter, so any number of the
// module's threads may wait at once. `callCommand` runs the command on a thread of its own (the
// reader stays free for answers meanwhile) and answers `commandResult`; `stop` acts as SIGTERM.

/// The process the host started: connects on the bootstrap socket at `options.eventsFD` and
/// leaves the connection on that descriptor number (close-on-exec). Returns the sandbox the host's
/// `welcome` asks for (nil: none). Exits with status 6 if the descriptor is no bootstrap socket,
/// or the host refuses or does not answer.
func connectToHost(_ options: Options) -> SandboxSpec? {
    let fd = options.eventsFD
    let bootstrap = Channel(adopting: fd)
    do throws(ProtocolError) {
        do {
            try bootstrap.verifySocketType()
        } catch {
            diagnose("--events-fd \(fd) is not the host's bootstrap socket (\(error)): plugin-host-runner is started by plugin-host, which passes one end of an AF_UNIX SOCK_SEQPACKET socketpair there")
            finish(.notConnected)
        }
        let connection = try Channel.openToHost(bootstrap: bootstrap, moduleID: options.moduleID, timeout: .seconds(10))
        let (answer, _) = try connection.receiveMessage(from: .host, timeout: .seconds(30))
        let sandbox: SandboxSpec?
        switch answer {
        case let .welcome(spec):
            sandbox = spec
        case let .denied(_, reason):
            diagnose("the host refused the connection: \(reason)")
            finish(.notConnected)
        default:
            throw .unexpectedMessage(answer.kind.rawValue)
        }
        // Single-threaded here: nothing can take the descriptor number between close and dup2.
        bootstrap.close()
        guard dup2(connection.fileDescriptor, fd) == fd else {
            diagnose("cannot move the connection to descriptor \(fd): \(String(cString: strerror(errno)))")
            finish(.notConnected)
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        connection.close()
        return sandbox
    } catch {
        diagnose("cannot connect to the host on descriptor \(fd): \(error)")
        finish(.notConnected)
    }
}

/// The connection of the module process, once installed (`HostLink.install`).
let hostLink = AtomicLazyReference<HostLink>()

final class HostLink: Sendable {
    let channel: Channel
    let replies = ReplyTable()
    /// The MQTT messages delivered until the module takes them (`mqtt_receive`).
    let inbox = MQTTInbox()
    private let nextRequestID = Atomic<UInt32>(1)
    /// What calls the module's typed commands (start mode only).
    private let commands = Mutex<(any CommandCaller)?>(nil)
    /// The request id each granted line request's descriptor was granted for: the host knows
    /// the request by it (`gpioReconfigure`).
    private let grants = Mutex<[Int32: UInt32]>([:])


    /// The request `fd` was granted for, if it is a line request the host granted.
    func grantRequest(of fd: Int32) -> UInt32? { grants.withLock { $0[fd] } }

    private init(channel: Channel) { self.channel = channel }

    /// Adopts the connected socket on `fd` (close-on-exec) as the module process's link.
    static func install(fd: Int32) -> HostLink {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return hostLink.storeIfNil(HostLink(channel: Channel(adopting: fd)))
    }

    /// Sends `message`; false if the host is gone (or the message cannot be encoded).
    @discardableResult
    func send(_ message: Message, fd: Int32? = nil) -> Bool {
        do {
            try channel.send(message, fd: fd)
            return true
        } catch {
            return false
        }
    }

    /// Starts the thread that receives what the host sends. `library`: the module's handle, for
    /// typed commands (start mode); nil refuses them with `refusal`.
    func startReading(library: UnsafeMutableRawPointer?, refusal: String) {
        startReading(commands: CommandTable(library: library, refusal: refusal))
    }

    /// `startReading` with typed commands called by `commands` (a wasm module's, Wasm/WasmRunner.swift).
    func startReading(commands caller: any CommandCaller) {
        commands.withLock { $0 = caller }
        let created = startDetachedThread { [self] in readLoop() }
        if created != 0 {
            diagnose("cannot create the thread that reads from the host: \(String(cString: strerror(created)))")
            finish(.moduleUnusable)
        }
    }

    private func readLoop() {
        _ = ciot_set_thread_name("host-link")
        var dropped = 0
        while true {
            let received: (message: Message, fd: Int32?)
            do {
                received = try channel.receiveMessage(from: .host)
            } catch .closed {
                replies.loseAll("the host closed the connection")
                inbox.wake(lost: true)
                return
            } catch {
                // The host is trusted, but a frame it sent is not what this runner understands.
                diagnose("the host sent a message this runner does not understand (\(error)); hardware requests fail from now on")
                replies.loseAll("the connection to the host failed: \(error)")
                inbox.wake(lost: true)
                channel.shutdown()
                return
            }
            switch received.message {
            case let .gpioGranted(id), let .i2cGranted(id):
                if !replies.fulfil(id, .granted(received.fd!)) { close(received.fd!) }
            case let .i2cResult(id, reads):
                replies.fulfil(id, .i2c(reads))
            case let .info(id, bytes):
                replies.fulfil(id, .info(bytes))
            case let .done(id):
                replies.fulfil(id, .done)
            case let .denied(id, reason):
                replies.fulfil(id, .denied(reason))
            case let .failed(id, code, reason):
                replies.fulfil(id, .failed(code, reason))
            case let .callCommand(id, symbol, arguments, returns):
                call(id: id, symbol: symbol, arguments: arguments, returns: returns)
            case let .mqttMessage(topic, payload, retain):
                let lost = inbox.add(.init(topic: topic, payload: payload, retain: retain))
                // One line when the count reaches another power of two, not one per message.
                if (dropped + lost).leadingZeroBitCount < dropped.leadingZeroBitCount {
                    diagnose("mqtt: the module does not take its messages (mqtt_receive): \(dropped + lost) older one(s) dropped so far; the newest \(MQTTInbox.capacity) (at most \(MQTTInbox.capacityBytes >> 20) MiB) are kept")
                }
                dropped += lost
            case .stop:
                requestStop()
            default:
                if let fd = received.fd { close(fd) }
                diagnose("the host sent an unexpected message (type 0x\(String(received.message.kind.rawValue, radix: 16))); ignored")
            }
        }
    }

    // MARK: Requests

    /// Sends the request that `make` builds with a fresh id, and waits for its answer.
    func request(_ make: (UInt32) -> Message) -> ReplyTable.Reply {
        let id = nextRequestID.add(1, ordering: .relaxed).oldValue
        guard replies.register(id) else { return replies.lostReply }
        do {
            try channel.send(make(id))
        } catch {
            replies.cancel(id)
            // Encoding errors are the caller's (it checks bounds first); anything else: the host is gone.
            if case .closed = error { return .lost("the host closed the connection") }
            return .invalid("the request cannot be sent: \(error)")
        }
        return replies.wait(id, seconds: 60)
    }

    /// `request` for a GPIO line request: the descriptor granted is noted with the request's id.
    func requestLines(_ make: (UInt32) -> Message) -> ReplyTable.Reply {
        var requestID: UInt32 = 0
        let reply = request { id in
            requestID = id
            return make(id)
        }
        if case let .granted(fd) = reply { grants.withLock { $0[fd] = requestID } }
        return reply
    }

    // MARK: Commands

    private func call(id: UInt32, symbol: String, arguments: [CommandValue], returns: ValueType) {
        guard let table = commands.withLock({ $0 }) else { return }
        // On a thread of its own: a command may take its time, and the reader must stay free to
        // pass on the answers to the hardware requests the command itself may make.
        let created = startDetachedThread { [self] in
            _ = ciot_set_thread_name("command")
            let outcome = table.call(symbol: symbol, arguments: arguments, returns: returns)
            if !send(.commandResult(requestID: id, result: outcome)) {
                // Most likely a string result beyond the protocol's bound.
                send(.commandResult(requestID: id, result: .error("the result of '\(symbol)' cannot be sent to the host (a string result may hold at most \(Message.maxStringBytes) bytes)")))
            }
            table.answered()
        }
        if created != 0 {
            send(.commandResult(requestID: id, result: .error("the runner cannot create a thread for the call: \(String(cString: strerror(created)))")))
        }
    }
}

/// Asks the module to stop, as SIGTERM does: `should_stop` becomes true and, in start mode, the
/// main thread calls the stop entry point.
func requestStop() {
    stopRequested.store(true, ordering: .sequentiallyConsistent)
    hostLink.load()?.inbox.wake(stopping: true)
    var byte = UInt8(ascii: "T")
    let fd = wakeWriteFD.load(ordering: .relaxed)
    if fd >= 0 { _ = write(fd, &byte, 1) }
}

// MARK: - Answers

/// A pthread mutex and a condition variable that waits on CLOCK_MONOTONIC, for threads that block
/// until another one answers (`ReplyTable`, `WasmScheduler`): Swift's Mutex has no condition.
final class BlockingMonitor: @unchecked Sendable {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

/// The requests that wait for an answer, by id. pthread mutex and condition rather than Swift's
/// Mutex: the waiters block, for as long as the host takes.
final class ReplyTable: @unchecked Sendable {
    enum Reply {
        case granted(Int32)
        case i2c([[UInt8]])
        /// A kernel structure (gpio_chip_info, gpio_line_info).
        case info([UInt8])
        /// Carried out (gpio_reconfigure_lines).
        case done
        case denied(String)
        case failed(Int32, String)
        /// The connection is gone (or the host did not answer in time).
        case lost(String)
        /// The request was not sent: it breaks a bound of the protocol.
        case invalid(String)
    }

    private let monitor = BlockingMonitor()
    private var mutex: UnsafeMutablePointer<pthread_mutex_t> { monitor.mutex }
    private var condition: UnsafeMutablePointer<pthread_cond_t> { monitor.condition }
    // Guarded by `mutex`.
    private var waiting: [UInt32: Reply?] = [:]
    private var lostReason: String?

    private func locked<T>(_ body: () -> T) -> T { monitor.locked(body) }

    var lostReply: Reply { .lost(locked { lostReason } ?? "the connection to the host is gone") }

    /// False once the connection is lost.
    func register(_ id: UInt32) -> Bool {
        locked {
            guard lostReason == nil else { return false }
            waiting[id] = .some(nil)
            return true
        }
    }

    func cancel(_ id: UInt32) {
        locked { _ = waiting.removeValue(forKey: id) }
    }

    /// Hands `reply` to the waiter of `id`; false if nobody waits for it (the caller then closes
    /// a granted descriptor).
    @discardableResult
    func fulfil(_ id: UInt32, _ reply: Reply) -> Bool {
        locked {
            guard let entry = waiting[id], entry == nil else { return false }
            waiting[id] = .some(reply)
            pthread_cond_broadcast(condition)
            return true
        }
    }

    /// Wakes every waiter with `.lost(reason)`; later requests fail at once.
    func loseAll(_ reason: String) {
        locked {
            lostReason = reason
            pthread_cond_broadcast(condition)
        }
    }

    /// Waits for the answer to `id`, at most `seconds`.
    func wait(_ id: UInt32, seconds: Int) -> Reply {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += seconds
        return locked {
            while true {
                if let entry = waiting[id], let reply = entry {
                    waiting[id] = nil
                    return reply
                }
                if let lostReason {
                    waiting[id] = nil
                    return .lost(lostReason)
                }
                if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT {
                    waiting[id] = nil
                    return .lost("the host did not answer within \(seconds) s")
                }
            }
        }
    }
}

// MARK: - Commands

/// Calls a module's typed commands: a native library's through libffi (`CommandTable`), a wasm
/// module's on its one thread (`WasmCommands`). The host checked the arguments against the
/// manifest; the signature comes from them and the declared return type.
protocol CommandCaller: Sendable {
    func call(symbol: String, arguments: [CommandValue], returns: ValueType) -> Message.CommandOutcome
    /// Called once the outcome of a call went to the host.
    func answered()
}

extension CommandCaller {
    func answered() {}
}

/// The module's library and the call interfaces prepared so far, one per symbol and signature.
final class CommandTable: CommandCaller, @unchecked Sendable {
    private let library: UnsafeMutableRawPointer?
    private let refusal: String
    private let prepared = Mutex<[String: (address: UInt, signature: FFISignature)]>([:])

    init(library: UnsafeMutableRawPointer?, refusal: String) {
        self.library = library
        self.refusal = refusal
    }

    /// Calls `symbol` as `returns symbol(argument types...)`. The host checked the arguments
    /// against the manifest; the signature comes from them and the declared return type.
    func call(symbol: String, arguments: [CommandValue], returns: ValueType) -> Message.CommandOutcome {
        guard let library else { return .error(refusal) }
        let key = symbol + "(" + arguments.map(\.type.rawValue).joined(separator: ",") + ")" + returns.rawValue
        let entry: (address: UInt, signature: FFISignature)
        if let known = prepared.withLock({ $0[key] }) {
            entry = known
        } else {
            _ = dlerror()
            guard let address = dlsym(library, symbol) else {
                let reason = dlerror().map { String(cString: $0) } ?? "the symbol's address is null"
                return .error("symbol '\(symbol)' not found in the module library: \(reason)")
            }
            do throws(FFIError) {
                entry = (UInt(bitPattern: address), try FFISignature(parameters: arguments.map(\.type), returns: returns))
            } catch {
                return .error(error.message)
            }
            prepared.withLock { $0[key] = entry }
        }
        do throws(FFIError) {
            return .value(try entry.signature.call(UnsafeRawPointer(bitPattern: entry.address)!, arguments))
        } catch {
            return .error(error.message)
        }
    }
}

// MARK: - last_error

/// Each thread's reason for its last failed hardware call (a malloc'ed C string).
let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

nonisolated(unsafe) let emptyCString: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

func setLastError(_ text: String) {
    let previous = pthread_getspecific(lastErrorKey)
    pthread_setspecific(lastErrorKey, strdup(text))
    free(previous)
}

func lastError() -> UnsafePointer<CChar> {
    pthread_getspecific(lastErrorKey).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) } ?? emptyCString
}
