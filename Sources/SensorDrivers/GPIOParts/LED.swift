import IoTSDK

/// An LED on a GPIO output: on, off, toggle, and blink patterns timed with `Task.sleep`, so that
/// blinking never holds a thread.
///
/// ```swift
/// let led = try LED(gpio: gpio, line: .bcm(17))      // LED + resistor from BCM 17 to GND
/// try await led.on()
/// await led.startBlinking(.heartbeat)                 // in the background until told otherwise
/// try await led.blink(.regular(on: .milliseconds(50), off: .milliseconds(50), repeating: .times(3)))
/// ```
///
/// `activeLow` is for an LED wired from 3.3 V to the pin (lit when the pin is low). Any of
/// ``on()``, ``off()``, ``toggle()``, ``set(_:)``, ``blink(_:)`` and ``startBlinking(_:)`` ends
/// a pattern that is playing.
public actor LED {
    /// The line the LED is on.
    public nonisolated let line: GPIOLineSelector
    private let request: GPIOLineRequest
    private var lit: Bool
    /// Bumped whenever something else takes over the LED; a pattern stops when it changes.
    private var owner: UInt64 = 0
    private var background: Task<Void, Never>?

    /// Requests `line` as an output with the LED off (or on, with `initiallyOn`).
    ///
    /// - Throws: `HardwareError` from the request (`.busy` naming who holds the line,
    ///   `.notFound`, `.permissionDenied`).
    public init(gpio: GPIO, line: GPIOLineSelector, activeLow: Bool = false, initiallyOn: Bool = false,
                consumer: String = "led") throws(HardwareError) {
        self.line = line
        self.request = try gpio.output(line, initial: LineValue(initiallyOn), activeLow: activeLow, consumer: consumer)
        self.lit = initiallyOn
    }

    /// Whether the LED was last set lit.
    public var isOn: Bool { lit }

    /// Lights the LED (ends a pattern).
    /// - Throws: `HardwareError` from the GPIO write.
    public func on() throws(HardwareError) { try set(true) }

    /// Turns the LED off (ends a pattern).
    public func off() throws(HardwareError) { try set(false) }

    /// Inverts the LED (ends a pattern).
    public func toggle() throws(HardwareError) { try set(!lit) }

    /// Lights the LED or turns it off (ends a pattern).
    public func set(_ on: Bool) throws(HardwareError) {
        takeOver()
        try drive(on)
    }

    /// Plays `pattern` in this task and returns when it is done (a `.forever` pattern plays
    /// until the task is cancelled or another call takes the LED over). The LED is off at the end.
    ///
    /// - Throws: `CancellationError` if the task is cancelled (the LED is turned off first);
    ///   `HardwareError` from a GPIO write.
    public func blink(_ pattern: BlinkPattern) async throws {
        let me = takeOver()
        do {
            try await play(pattern, as: me)
        } catch {
            if owner == me { try? drive(false) }
            throw error
        }
    }

    /// Plays `pattern` in the background and returns at once; it runs until it ends, the LED is
    /// set, another pattern starts, or ``stopBlinking()``. A GPIO error stops it with the LED off.
    public func startBlinking(_ pattern: BlinkPattern) {
        let me = takeOver()
        background = Task { [weak self] in
            guard let self else { return }
            do {
                try await self.play(pattern, as: me)
            } catch {
                await self.turnOffIfStillOwned(by: me)
            }
        }
    }

    /// Ends a pattern and turns the LED off.
    /// - Throws: `HardwareError` from the GPIO write.
    public func stopBlinking() throws(HardwareError) {
        try set(false)
    }

    /// Whether a background pattern is playing.
    public var isBlinking: Bool {
        guard let background else { return false }
        return !background.isCancelled
    }

    /// Gives the line back; later calls throw `.closed`.
    public func release() {
        takeOver()
        request.release()
    }

    // MARK: - Internals

    /// Ends whatever pattern plays and returns the new owner token.
    @discardableResult
    private func takeOver() -> UInt64 {
        owner &+= 1
        background?.cancel()
        background = nil
        return owner
    }

    private func drive(_ on: Bool) throws(HardwareError) {
        try request.set(LineValue(on))
        lit = on
    }

    private func turnOffIfStillOwned(by token: UInt64) {
        guard owner == token else { return }
        try? drive(false)
        background = nil
    }

    /// Plays the steps while `token` owns the LED; sleeps between them.
    private func play(_ pattern: BlinkPattern, as token: UInt64) async throws {
        var pass = 0
        while pattern.passes.map({ pass < $0 }) ?? true {
            for step in pattern.steps {
                guard owner == token else { return }
                try drive(step.isOn)
                try await Task.sleep(for: step.duration)
            }
            pass += 1
        }
        if owner == token {
            try drive(false)
            background = nil
        }
    }
}
