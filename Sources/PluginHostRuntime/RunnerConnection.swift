#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import Glibc
import ModuleProtocol
import PluginHostStore

/// The host's end of one runner's IPC channel (ModuleProtocol's `Channel`), after the handshake.
///
/// A reader thread of its own receives everything the runner sends, as long as the connection
/// lasts, whatever the rest of the host is doing (waiting in `nextEvent`, running a hook, judging
/// health, or nothing at all):
/// - `ready` and `heartbeat` are queued as events (`takeEvents`), `log` as output lines
///   (`takeLines`, `log <level> <text>`), `returned` is kept (`returnedValue`);
/// - `gpioRequest`, `gpioReconfigure` and `i2cTransfer` are answered at once by the module's `HardwareBroker`:
///   `gpioGranted` with the line's descriptor, `i2cResult`, `denied` (undeclared: audited, and a
///   `plugin-host: denied` line in the output) or `failed` with the kernel's errno;
/// - `mqttPublish`, `mqttSubscribe` and `mqttUnsubscribe` are decided by the run's
///   `UplinkSession` (the manifest's `capabilities.mqtt`; refusals audited) and handed to the
///   host's uplink in a task of their own on the uplink's thread, then answered `done`, `denied`
///   or `failed`;
/// - `commandResult` completes the `call` that waits for it;
/// - `syscallDenied` (from the sandbox's init) is counted and audited by the broker, with a
///   `plugin-host: syscall filter:` line in the output.
/// Whenever something arrives it writes a byte to a pipe (`wakeDescriptor`), so that a thread
/// polling the runner's other descriptors wakes too.
///
/// The channel's descriptor is released only when this object is, never while the reader may
/// use it: `shutdown` (not `close`) ends the reader.
final class RunnerConnection: @unchecked Sendable {
    /// Why the handshake failed.
    struct HandshakeFailure: Error, CustomStringConvertible {
        var description: String
        /// The runner closed the bootstrap socket (it exited, most likely) before saying hello.
        var runnerClosed: Bool
    }

    let channel: Channel
    let broker: HardwareBroker
    /// Whether the run is under the syscall filter in enforcing mode, which confines an I2C
    /// descriptor to the declared addresses (`i2cOpen` is granted only then).
    let syscallFiltered: Bool
    /// The run's MQTT through the host's uplink; set once in `accept`, before the reader starts.
    private(set) var session: UplinkSession?
    private let condition = MonotonicCondition()
    // Guarded by `condition`.
    private var events: [ModuleEvent] = []
    private var lines: [String] = []
    private var lineBytes = 0
    private var returned: Int32?
    private var calls: [UInt32: Message.CommandOutcome?] = [:]
    private var nextCallID: UInt32 = 1
    private var done = false
    private var endReason: String?

    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// How long the host waits for a runner's `hello`.
    static let handshakeTimeout: Duration = .seconds(30)

    /// The handshake on the host's end of the bootstrap socket: receives `hello` with the runner's
    /// end of the connection, checks that it was created by `runnerPID` (the process the host
    /// spawned) running as this process's user, and that it names `moduleID`; answers `welcome`
    /// with the run's sandbox (or `denied`, and fails) and starts reading. The bootstrap socket is
    /// closed either way.
    static func accept(bootstrap: Channel, runnerPID: pid_t, moduleID: String, broker: HardwareBroker, sandbox: SandboxSpec?,
                       uplink: ModuleUplink = .notConfigured, timeout: Duration) -> Result<RunnerConnection, HandshakeFailure> {
        defer { bootstrap.close() }
        let accepted: (channel: Channel, moduleID: String)
        do {
            accepted = try Channel.acceptRunner(bootstrap: bootstrap, expectedPID: runnerPID, expectedUID: geteuid(), timeout: max(timeout, .milliseconds(1)))
        } catch .closed {
            return .failure(HandshakeFailure(description: "the runner closed its bootstrap socket before it connected", runnerClosed: true))
        } catch {
            return .failure(HandshakeFailure(description: "the runner's connection was refused: \(error)", runnerClosed: false))
        }
        guard accepted.moduleID == moduleID else {
            let reason = "this runner was started for module \(moduleID), not \(accepted.moduleID)"
            try? accepted.channel.send(.denied(requestID: 0, reason: Self.clipped(reason)), timeout: .seconds(1))
            return .failure(HandshakeFailure(description: "the runner's connection was refused: \(reason)", runnerClosed: false))
        }
        do {
            try accepted.channel.send(.welcome(sandbox: sandbox), timeout: .seconds(5))
        } catch {
            return .failure(HandshakeFailure(description: "cannot answer the runner's hello: \(error)", runnerClosed: error == .closed))
        }
        guard let wake = Subprocess.makePipe() else {
            return .failure(HandshakeFailure(description: "cannot create a pipe: \(String(cString: strerror(errno)))", runnerClosed: false))
        }
        let connection = RunnerConnection(channel: accepted.channel, broker: broker, syscallFiltered: sandbox?.syscallFilter == .enforce, wake: wake)
        connection.session = UplinkSession(moduleID: moduleID, capabilities: broker.capabilities, uplink: uplink, audit: broker.audit,
                                           channel: accepted.channel) { [weak connection] line in connection?.note(line) }
        let created = startDetachedThread(name: "runner \(moduleID)") { connection.readLoop() }
        guard created == 0 else {
            return .failure(HandshakeFailure(description: "cannot start a thread for the runner's messages: \(String(cString: strerror(created)))", runnerClosed: false))
        }
        return .success(connection)
    }

    private init(channel: Channel, broker: HardwareBroker, syscallFiltered: Bool, wake: (read: Int32, write: Int32)) {
        self.syscallFiltered = syscallFiltered
        self.channel = channel
        self.broker = broker
        wakeRead = wake.read
        wakeWrite = wake.write
        for fd in [wakeRead, wakeWrite] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    // MARK: What arrived

    /// A descriptor that becomes readable whenever something arrived (poll it with the runner's
    /// others); `drainWake` empties it.
    var wakeDescriptor: Int32 { wakeRead }

    func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.locked(body)
    }

    /// Changes the state and wakes every waiter: `call`, `waitUntilDone`, and pollers.
    private func update(_ body: () -> Void) {
        locked {
            body()
            condition.broadcast()
        }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    func takeEvents() -> [ModuleEvent] {
        locked {
            defer { events.removeAll() }
            return events
        }
    }

    func takeLines() -> [String] {
        locked {
            defer {
                lines.removeAll()
                lineBytes = 0
            }
            return lines
        }
    }

    /// What the runner reported with `returned`, if it did.
    var returnedValue: Int32? { locked { returned } }

    /// True once the reader has stopped: the runner's end is closed (the runner and everything
    /// it forked have exited) or the connection failed.
    var isDone: Bool { locked { done } }

    /// Waits until the reader has read everything (`isDone`), at most `timeout`.
    @discardableResult
    func waitUntilDone(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        return locked {
            while !done {
                if !condition.wait(until: deadline) { return done }
            }
            return true
        }
    }

    /// Ends the connection: the reader stops, the runner sees it closed.
    func shutdown() {
        channel.shutdown()
    }

    // MARK: Commands

    enum CallFailure: Error {
        /// The module answered with an error (symbol missing, string result too long, ...).
        case module(String)
        /// The connection ended before the answer came (the module exited, most likely).
        case lost(String)
        case timedOut
        case notSent(String)
    }

    /// Sends `callCommand` and waits for its `commandResult`, at most `timeout`.
    func call(symbol: String, arguments: [CommandValue], returns: ValueType, timeout: Duration) -> Result<CommandValue, CallFailure> {
        let registered = locked { () -> UInt32? in
            guard !done else { return nil }
            let id = nextCallID
            nextCallID &+= 1
            calls[id] = .some(nil)
            return id
        }
        guard let id = registered else { return .failure(.lost(locked { endReason } ?? "the connection to the runner has ended")) }
        do {
            try channel.send(.callCommand(requestID: id, symbol: symbol, arguments: arguments, returns: returns), timeout: .seconds(5))
        } catch {
            locked { _ = calls.removeValue(forKey: id) }
            return .failure(.notSent("\(error)"))
        }
        let deadline = ContinuousClock.now + timeout
        return locked {
            defer { calls[id] = nil }
            while true {
                if let entry = calls[id], let outcome = entry {
                    switch outcome {
                    case let .value(value): return .success(value)
                    case let .error(text): return .failure(.module(text))
                    }
                }
                if done { return .failure(.lost(endReason ?? "the connection to the runner has ended")) }
                if !condition.wait(until: deadline) { return .failure(.timedOut) }
            }
        }
    }

    // MARK: The reader

    private func readLoop() {
        var reason: String?
        while true {
            let received: (message: Message, fd: Int32?)
            do {
                received = try channel.receiveMessage(from: .runner)
            } catch .closed {
                break
            } catch {
                reason = "the runner sent what the protocol does not allow (\(error)); connection closed"
                channel.shutdown()
                break
            }
            if let problem = handle(received.message, fd: received.fd) {
                reason = problem
                channel.shutdown()
                break
            }
        }
        session?.close()
        update {
            done = true
            endReason = reason ?? "the runner closed the connection"
            if let reason { appendLine("plugin-host: " + reason) }
        }
    }

    /// Handles one message; a reason to close the connection, or nil.
    private func handle(_ message: Message, fd: Int32?) -> String? {
        switch message {
        case .ready:
            update { events.append(.ready) }
        case .heartbeat:
            // Nobody may take events for a while (the engine runs a hook): a long queue keeps
            // one heartbeat at its end, which says all the others would.
            update { if events.count < Self.maxQueuedEvents || events.last != .heartbeat { events.append(.heartbeat) } }
        case let .log(level, text):
            let line = "log \(level.rawValue) " + String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
            update { appendLine(line) }
        case let .returned(value):
            update { returned = value }
        case let .commandResult(id, outcome):
            update {
                if let entry = calls[id], entry == nil { calls[id] = .some(outcome) }
            }
        case let .gpioRequest(id, chip, line, direction, initialValue):
            grant(id, broker.requestGPIO(chip: chip, line: line, direction: direction, initialValue: initialValue, requestID: id))
        case let .gpioRequestLines(id, chip, offsets, config):
            grant(id, broker.requestGPIOLines(chip: chip, offsets: offsets, config: config, requestID: id))
        case let .i2cOpen(id, bus):
            grant(id, broker.openI2C(bus: bus, confined: syscallFiltered), as: Message.i2cGranted, what: "i2c open")
        case let .gpioReconfigure(id, grant, config):
            switch broker.reconfigureGPIOLines(grant: grant, config: config) {
            case .success: answer(.done(requestID: id))
            case let .failure(refusal): refuse(id, refusal, what: "gpio reconfigure")
            }
        case let .gpioChipInfo(id, index):
            inform(id, broker.gpioChipInfo(index: index), what: "gpio chip info")
        case let .gpioLineInfo(id, chip, offset):
            inform(id, broker.gpioLineInfo(chip: chip, offset: offset), what: "gpio line info")
        case let .i2cTransfer(id, bus, address, segments):
            switch broker.i2cTransfer(bus: bus, address: address, segments: segments) {
            case let .success(reads):
                do {
                    try channel.send(.i2cResult(requestID: id, reads: reads), timeout: .seconds(5))
                } catch .closed {
                } catch {
                    refuse(id, .failed("the result does not fit one message: \(error)", errno: EMSGSIZE), what: "i2c transfer")
                }
            case let .failure(refusal):
                refuse(id, refusal, what: "i2c transfer")
            }
        case let .mqttPublish(id, topic, payload, qos, retain, expiry):
            mqtt(id, what: "mqtt publish") { await $0.publish(topic: topic, payload: payload, qos: qos, retain: retain, expiry: expiry) }
        case let .mqttSubscribe(id, filter):
            mqtt(id, what: "mqtt subscribe") { await $0.subscribe(filter: filter) }
        case let .mqttUnsubscribe(id, filter):
            mqtt(id, what: "mqtt unsubscribe") { await $0.unsubscribe(filter: filter) }
        case let .syscallDenied(call, count, enforced):
            let added = broker.recordSyscallDenied(call: call, total: count, enforced: enforced)
            if added > 0 {
                let line = enforced ? "plugin-host: syscall filter: denied \(call) (EPERM), \(count) time(s) in this run"
                    : "plugin-host: syscall filter: would deny \(call) (log-only mode, the call ran), \(count) time(s) in this run"
                update { appendLine(line) }
            }
        case .hello:
            if let fd { close(fd) }
            return "the runner sent hello again"
        case .sandboxProbe:
            return "the runner sent a probe's result on a module's connection"
        case .welcome, .gpioGranted, .info, .done, .i2cGranted, .i2cResult, .denied, .failed, .callCommand, .stop, .mqttMessage:
            // Messages of the host: receiveMessage(from: .runner) refuses them already.
            return "the runner sent a message of the host"
        }
        return nil
    }

    /// Answers a request for a descriptor (a GPIO line request's, or an I2C bus's): the
    /// descriptor with `message`, or the refusal.
    private func grant(_ id: UInt32, _ result: Result<Int32, HardwareBroker.Refusal>,
                       as message: (UInt32) -> Message = Message.gpioGranted, what: String = "gpio request") {
        switch result {
        case let .success(fd):
            answer(message(id), fd: fd)
            close(fd)
        case let .failure(refusal):
            refuse(id, refusal, what: what)
        }
    }

    /// Decides an MQTT request in a task of its own on the uplink's thread (the uplink may take
    /// its time; the reader stays free), then answers `done` or the refusal. The module's call
    /// waits for the answer, so one thread's requests stay in order.
    private func mqtt(_ id: UInt32, what: String, _ body: @escaping @Sendable (UplinkSession) async -> UplinkError?) {
        guard let session else {
            refuse(id, .failed(UplinkSession.notConnected.message, errno: ENOTCONN), what: what)
            return
        }
        Task(executorPreference: session.uplink.executor) { [self] in
            if let error = await body(session) {
                refuse(id, error.code == .denied ? .denied(error.message) : .failed(error.message, errno: error.errno), what: what)
            } else {
                answer(.done(requestID: id))
            }
        }
    }

    /// Adds `line` to the run's output.
    func note(_ line: String) {
        update { appendLine(line) }
    }

    /// Answers an info request with the kernel's structure, or the refusal.
    private func inform(_ id: UInt32, _ result: Result<[UInt8], HardwareBroker.Refusal>, what: String) {
        switch result {
        case let .success(bytes): answer(.info(requestID: id, bytes: bytes), fd: nil)
        case .failure(.failed(_, ERANGE)) where what == "gpio chip info":
            // The end of the chip list, which every enumeration reaches: not worth a line.
            answer(.failed(requestID: id, code: ERANGE, reason: "no more chips"))
        case let .failure(refusal): refuse(id, refusal, what: what)
        }
    }

    /// Events kept before consecutive heartbeats are merged.
    static let maxQueuedEvents = 64

    /// Adds an output line; while nobody takes them, only the last 64 KiB are kept (what the
    /// output keeps anyway). Call with the lock held.
    private func appendLine(_ line: String) {
        lines.append(line)
        lineBytes += line.utf8.count + 1
        while lineBytes > RunnerOutputTail.limit, lines.count > 1 {
            lineBytes -= lines.removeFirst().utf8.count + 1
        }
    }

    private func answer(_ message: Message, fd: Int32? = nil) {
        // A runner that does not read within 5 s loses the answer; its request times out.
        try? channel.send(message, fd: fd, timeout: .seconds(5))
    }

    private func refuse(_ id: UInt32, _ refusal: HardwareBroker.Refusal, what: String) {
        switch refusal {
        case let .denied(reason):
            update { appendLine("plugin-host: denied \(what): \(reason)") }
            answer(.denied(requestID: id, reason: Self.clipped(reason)))
        case let .failed(reason, code):
            update { appendLine("plugin-host: \(what) failed: \(reason)") }
            let valid = (1...Message.maxErrorCode).contains(code) ? code : EIO
            answer(.failed(requestID: id, code: valid, reason: Self.clipped(reason)))
        }
    }

    /// `text` cut to what one protocol string holds.
    static func clipped(_ text: String) -> String {
        guard text.utf8.count > Message.maxStringBytes else { return text }
        var result = ""
        for character in text {
            if result.utf8.count + character.utf8.count > Message.maxStringBytes - 3 { break }
            result.append(character)
        }
        return result + "…"
    }
}
