import IoTSDK
import Synchronization

/// Turns a button line's edge events into debounced press, release and long-press events.
///
/// Software debouncing: every edge restarts a quiet-period timer; when no edge has come for the
/// debounce time, the line's level is read and, if it differs from the last settled state, an
/// event is emitted with the timestamp of the first edge of the burst. Kernel debouncing (the
/// character device): the kernel only reports settled edges, so each edge is an event.
/// Timers are tasks that sleep; nothing blocks a thread.
final class ButtonEventSource: Sendable {
    private struct State {
        var logic: ButtonStateMachine
        /// Bumped by every edge; a quiet-period timer settles only if none came after it.
        var edgeGeneration: UInt64 = 0
        var burstStartNanoseconds: UInt64?
        var burstStartInstant: ContinuousClock.Instant?
        var settleTimer: Task<Void, Never>?
        var longPressTimer: Task<Void, Never>?
        var finished = false
    }

    private let request: GPIOLineRequest
    private let debounce: Duration
    private let kernelDebounced: Bool
    private let continuation: AsyncThrowingStream<ButtonEvent, any Error>.Continuation
    private let state: Mutex<State>

    init(request: GPIOLineRequest, initiallyPressed: Bool, debounce: Duration, kernelDebounced: Bool,
         longPress: Duration?, continuation: AsyncThrowingStream<ButtonEvent, any Error>.Continuation) {
        self.request = request
        self.debounce = debounce
        self.kernelDebounced = kernelDebounced
        self.continuation = continuation
        self.state = Mutex(State(logic: ButtonStateMachine(pressed: initiallyPressed, longPress: longPress)))
    }

    /// Reads edges until the line's event stream ends (release, or a newer `events()`).
    func run(edges: GPIOEdgeEvents) async {
        do {
            for try await edge in edges {
                handle(edge)
            }
            finish(throwing: nil)
        } catch {
            finish(throwing: error is CancellationError ? nil : error)
        }
    }

    /// Ends the stream and every timer.
    func finish(throwing error: (any Error)?) {
        let timers = state.withLock { s -> [Task<Void, Never>] in
            s.finished = true
            defer { s.settleTimer = nil; s.longPressTimer = nil }
            return [s.settleTimer, s.longPressTimer].compactMap { $0 }
        }
        timers.forEach { $0.cancel() }
        continuation.finish(throwing: error)
    }

    // MARK: - Edges

    private func handle(_ edge: GPIOEdgeEvent) {
        if kernelDebounced {
            settle(pressed: edge.kind == .rising, at: edge.timestampNanoseconds, instant: .now)
            return
        }
        let debounce = self.debounce
        state.withLock { s in
            guard !s.finished else { return }
            s.edgeGeneration &+= 1
            if s.burstStartNanoseconds == nil {
                s.burstStartNanoseconds = edge.timestampNanoseconds
                s.burstStartInstant = .now
            }
            let generation = s.edgeGeneration
            s.settleTimer?.cancel()
            s.settleTimer = Task { [weak self] in
                do { try await Task.sleep(for: debounce) } catch { return }
                self?.quietPeriodEnded(generation: generation)
            }
        }
    }

    /// No edge for the debounce time: read the level and settle on it.
    private func quietPeriodEnded(generation: UInt64) {
        let level: LineValue
        do {
            level = try request.get()
        } catch {
            finish(throwing: error)
            return
        }
        let burst = state.withLock { s -> (UInt64, ContinuousClock.Instant)? in
            guard s.edgeGeneration == generation, let nanoseconds = s.burstStartNanoseconds,
                  let instant = s.burstStartInstant else { return nil }
            s.burstStartNanoseconds = nil
            s.burstStartInstant = nil
            s.settleTimer = nil
            return (nanoseconds, instant)
        }
        guard let (nanoseconds, instant) = burst else { return }
        settle(pressed: level.isActive, at: nanoseconds, instant: instant)
    }

    // MARK: - Settled levels and long presses

    private func settle(pressed: Bool, at nanoseconds: UInt64, instant: ContinuousClock.Instant) {
        let event = state.withLock { s -> ButtonEvent? in
            guard !s.finished else { return nil }
            let (event, timerID) = s.logic.settled(pressed: pressed, at: nanoseconds)
            if event != nil {
                s.longPressTimer?.cancel()
                s.longPressTimer = nil
            }
            if let timerID, let longPress = s.logic.longPress {
                s.longPressTimer = Task { [weak self] in
                    do { try await Task.sleep(until: instant + longPress, clock: .continuous) } catch { return }
                    self?.longPressTimerFired(for: timerID)
                }
            }
            return event
        }
        if let event { continuation.yield(event) }
    }

    private func longPressTimerFired(for id: UInt64) {
        let event = state.withLock { s -> ButtonEvent? in
            guard !s.finished else { return nil }
            s.longPressTimer = nil
            return s.logic.longPressTimerFired(for: id)
        }
        if let event { continuation.yield(event) }
    }
}

/// A button's debounced events as an `AsyncSequence`; ends when the button is released or
/// `events()` is called again, and throws if the line fails.
public struct ButtonEvents: AsyncSequence, Sendable {
    public typealias Element = ButtonEvent
    let stream: AsyncThrowingStream<ButtonEvent, any Error>

    public func makeAsyncIterator() -> AsyncThrowingStream<ButtonEvent, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }
}
