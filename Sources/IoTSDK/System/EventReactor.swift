#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import CIoTLinux
import Synchronization

/// One background thread that waits in poll(2) on every descriptor whose events someone is
/// reading (GPIO line requests, sysfs `value` files), so that waiting for an edge never blocks
/// Swift's cooperative thread pool. Handlers run on that thread and must be short: they read what
/// the kernel has and hand it to an `AsyncStream`.
final class EventReactor: Sendable {
    enum Action: Sendable {
        case keep
        case remove
    }

    typealias Handler = @Sendable (_ revents: Int16) -> Action

    private struct Registration {
        var fd: Int32
        var events: Int16
        var handler: Handler
    }

    private struct State {
        var registrations: [Int: Registration] = [:]
        var nextToken = 1
        /// Bumped by every change; the thread records which one its current poll set reflects.
        var generation: UInt64 = 0
        var pollingGeneration: UInt64 = 0
        var runningHandler: Int?
        var started = false
        var thread: pthread_t?
    }

    static let shared = EventReactor()

    private let state = Mutex(State())
    /// eventfd written to wake the thread when the set of descriptors changes.
    private let wakeFD: Int32

    private init() {
        wakeFD = ciot_eventfd()
    }

    /// Starts watching `fd` for `events` (POLLIN, POLLPRI…). Returns a token for `unregister`.
    func register(fd: Int32, events: Int16, handler: @escaping Handler) throws(HardwareError) -> Int {
        guard wakeFD >= 0 else {
            throw HardwareError(.ioError, "could not create the eventfd that edge-event waiting needs", errno: errno)
        }
        let (token, mustStart) = state.withLock { state -> (Int, Bool) in
            let token = state.nextToken
            state.nextToken += 1
            state.registrations[token] = Registration(fd: fd, events: events, handler: handler)
            state.generation += 1
            let mustStart = !state.started
            state.started = true
            return (token, mustStart)
        }
        if mustStart {
            try startThread()
        }
        wake()
        return token
    }

    /// Stops watching. When it returns (from any thread but the reactor's own) the handler is not
    /// running and will not run again, and the thread no longer polls the descriptor, so the
    /// caller may close it and the kernel releases the file at once.
    func unregister(_ token: Int) {
        let target = state.withLock { state -> UInt64 in
            if state.registrations.removeValue(forKey: token) != nil { state.generation += 1 }
            return state.generation
        }
        if isReactorThread { return }
        wake()
        while true {
            let done = state.withLock { state in
                state.runningHandler != token && (state.pollingGeneration >= target || !state.started)
            }
            if done { return }
            usleep(100)
        }
    }

    private var isReactorThread: Bool {
        guard let thread = state.withLock({ $0.thread }) else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Syscall.write(wakeFD, $0) }
    }

    private func startThread() throws(HardwareError) {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let reactor = Unmanaged<EventReactor>.fromOpaque(raw).takeRetainedValue()
            reactor.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<EventReactor>.fromOpaque(context).release()
            state.withLock { $0.started = false }
            throw HardwareError(.ioError, "could not start the edge-event thread", errno: rc)
        }
        pthread_detach(thread)
        state.withLock { $0.thread = thread }
    }

    private func run() {
        var fds: [pollfd] = []
        var tokens: [Int] = []
        while true {
            fds.removeAll(keepingCapacity: true)
            tokens.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            tokens.append(0)
            state.withLock { state in
                for (token, registration) in state.registrations {
                    fds.append(pollfd(fd: registration.fd, events: registration.events, revents: 0))
                    tokens.append(token)
                }
                state.pollingGeneration = state.generation
            }
            let n = fds.withUnsafeMutableBufferPointer { buffer in
                poll(buffer.baseAddress, nfds_t(buffer.count), -1)
            }
            if n < 0 {
                if errno == EINTR { continue }
                usleep(1000)
                continue
            }
            if fds[0].revents != 0 {
                var value: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &value) { Syscall.read(wakeFD, $0) }
            }
            for index in 1..<fds.count where fds[index].revents != 0 {
                let token = tokens[index]
                let handler = state.withLock { state -> Handler? in
                    guard let registration = state.registrations[token] else { return nil }
                    state.runningHandler = token
                    return registration.handler
                }
                guard let handler else { continue }
                let action = handler(fds[index].revents)
                state.withLock { state in
                    state.runningHandler = nil
                    if action == .remove, state.registrations.removeValue(forKey: token) != nil {
                        state.generation += 1
                    }
                }
            }
        }
    }
}
