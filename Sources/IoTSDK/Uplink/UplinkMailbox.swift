import Synchronization

/// Where the uplink's drain loop waits: events posted from any thread (the MQTT connection's,
/// an enqueuing task, a timer) are collected, and `next()` returns all that arrived since the
/// last call, waiting when there are none. One waiter at a time.
final class UplinkMailbox<Event: Sendable>: Sendable {
    private struct State {
        var events: [Event] = []
        var waiter: CheckedContinuation<[Event], Never>?
    }

    private let state = Mutex(State())

    func post(_ event: Event) {
        let waiter = state.withLock { state -> CheckedContinuation<[Event], Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.events.append(event)
            return nil
        }
        waiter?.resume(returning: [event])
    }

    /// Everything posted since the last call; waits for at least one event.
    func next() async -> [Event] {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [Event]? in
                if !state.events.isEmpty {
                    defer { state.events = [] }
                    return state.events
                }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
