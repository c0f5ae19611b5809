/// Something a ``Button`` did, after debouncing.
public struct ButtonEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The button went down.
        case pressed
        /// The button came up after being held for `heldFor`.
        case released(heldFor: Duration)
        /// The button has been held for the configured long-press time and is still down.
        case longPressed
    }

    public var kind: Kind
    /// When it happened, in nanoseconds of the GPIO event clock (CLOCK_MONOTONIC by default):
    /// the first edge of the press or release (the kernel's timestamp on the character device),
    /// or, for a long press, the press plus the long-press time.
    public var timestampNanoseconds: UInt64

    public init(kind: Kind, timestampNanoseconds: UInt64) {
        self.kind = kind
        self.timestampNanoseconds = timestampNanoseconds
    }

    public var description: String {
        switch kind {
        case .pressed: return "pressed"
        case .released(let held): return "released after \(held)"
        case .longPressed: return "long press"
        }
    }
}

/// The press/release/long-press logic of a button, fed with debounced levels and timer
/// expiries: no I/O and no clock, so tests drive it step by step.
struct ButtonStateMachine: Sendable {
    /// The debounced state.
    private(set) var isPressed: Bool
    /// How long a press lasts before it is a long press; nil for none.
    let longPress: Duration?
    private var pressedAt: UInt64?
    /// Identifies the current press, so that a timer from an earlier press does nothing.
    private(set) var pressID: UInt64 = 0

    init(pressed: Bool, longPress: Duration?) {
        isPressed = pressed
        self.longPress = longPress
    }

    /// A settled level observed at `nanoseconds`. Returns the event (nil when the level is the
    /// one already known: a glitch shorter than the debounce time) and, after a press with long
    /// presses enabled, the ID for which to start the long-press timer.
    mutating func settled(pressed: Bool, at nanoseconds: UInt64) -> (event: ButtonEvent?, startTimerFor: UInt64?) {
        guard pressed != isPressed else { return (nil, nil) }
        isPressed = pressed
        pressID &+= 1
        if pressed {
            pressedAt = nanoseconds
            return (ButtonEvent(kind: .pressed, timestampNanoseconds: nanoseconds), longPress == nil ? nil : pressID)
        }
        let held = pressedAt.map { nanoseconds >= $0 ? Duration.nanoseconds(Int64(clamping: nanoseconds - $0)) : .zero } ?? .zero
        pressedAt = nil
        return (ButtonEvent(kind: .released(heldFor: held), timestampNanoseconds: nanoseconds), nil)
    }

    /// The long-press timer of press `id` ran out: a long press if that press still lasts.
    mutating func longPressTimerFired(for id: UInt64) -> ButtonEvent? {
        guard id == pressID, isPressed, let longPress, let pressedAt else { return nil }
        let (seconds, attoseconds) = longPress.components
        let nanoseconds = UInt64(clamping: seconds) &* 1_000_000_000 &+ UInt64(clamping: attoseconds / 1_000_000_000)
        return ButtonEvent(kind: .longPressed, timestampNanoseconds: pressedAt &+ nanoseconds)
    }
}
