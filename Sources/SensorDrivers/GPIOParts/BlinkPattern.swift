/// A sequence of on and off periods for an ``LED``, played once, a number of times, or until
/// stopped.
///
/// ```swift
/// try await led.blink(.regular(on: .milliseconds(100), off: .milliseconds(400), repeating: .times(3)))
/// await led.startBlinking(.heartbeat)
/// ```
public struct BlinkPattern: Sendable, Hashable {
    /// One period of the pattern.
    public struct Step: Sendable, Hashable {
        /// Whether the LED is lit during the step.
        public var isOn: Bool
        /// How long the step lasts; more than zero.
        public var duration: Duration

        public init(isOn: Bool, duration: Duration) {
            self.isOn = isOn
            self.duration = duration
        }
    }

    /// How often the steps are played.
    public enum Repetition: Sendable, Hashable {
        /// Until the LED is told otherwise (or the task is cancelled).
        case forever
        /// This many times (at least once).
        case times(Int)
    }

    /// The steps, in order.
    public let steps: [Step]
    /// How often they are played.
    public let repetition: Repetition

    /// A pattern of `steps`, played `repetition` times.
    /// - Throws: `SensorError(.invalidSetting)` for no steps, a step that is not longer than zero,
    ///   or a repetition count below 1.
    public init(steps: [Step], repeating repetition: Repetition = .forever) throws(SensorError) {
        guard !steps.isEmpty else {
            throw SensorError(.invalidSetting, chip: "LED", "a blink pattern needs at least one step")
        }
        if let step = steps.first(where: { $0.duration <= .zero }) {
            throw SensorError(.invalidSetting, chip: "LED", "every blink step must last longer than zero; got \(step.duration)")
        }
        if case .times(let count) = repetition, count < 1 {
            throw SensorError(.invalidSetting, chip: "LED", "a blink pattern is played at least once; got \(count) times")
        }
        self.init(unchecked: steps, repetition)
    }

    private init(unchecked steps: [Step], _ repetition: Repetition) {
        self.steps = steps
        self.repetition = repetition
    }

    /// On for `on`, off for `off`.
    /// - Throws: `SensorError(.invalidSetting)` as ``init(steps:repeating:)``.
    public static func regular(on: Duration, off: Duration, repeating repetition: Repetition = .forever) throws(SensorError) -> BlinkPattern {
        try BlinkPattern(steps: [Step(isOn: true, duration: on), Step(isOn: false, duration: off)], repeating: repetition)
    }

    /// 500 ms on, 500 ms off, forever.
    public static let slow = BlinkPattern(unchecked: [Step(isOn: true, duration: .milliseconds(500)), Step(isOn: false, duration: .milliseconds(500))], .forever)
    /// 100 ms on, 100 ms off, forever.
    public static let fast = BlinkPattern(unchecked: [Step(isOn: true, duration: .milliseconds(100)), Step(isOn: false, duration: .milliseconds(100))], .forever)
    /// Two short flashes a second, forever ("alive").
    public static let heartbeat = BlinkPattern(unchecked: [
        Step(isOn: true, duration: .milliseconds(100)), Step(isOn: false, duration: .milliseconds(100)),
        Step(isOn: true, duration: .milliseconds(100)), Step(isOn: false, duration: .milliseconds(700)),
    ], .forever)

    /// The length of one pass through the steps.
    public var cycleDuration: Duration { steps.reduce(.zero) { $0 + $1.duration } }

    /// How many times the steps are played; nil for forever.
    var passes: Int? {
        if case .times(let count) = repetition { return count }
        return nil
    }
}
