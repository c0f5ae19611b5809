import IoTSDK

/// A push button on a GPIO input: debounced press, release and long-press events as an
/// `AsyncSequence` built on the line's edge events.
///
/// ```swift
/// // A button from BCM 27 to GND, with the SoC's internal pull-up.
/// let button = try Button(gpio: gpio, line: .bcm(27))
/// for try await event in try button.events() {
///     switch event.kind {
///     case .pressed: print("down")
///     case .longPressed: print("held")
///     case .released(let held): print("up after \(held)")
///     }
/// }
/// ```
///
/// Debouncing is done by the kernel where it can (the character device's debounce filter) and
/// in software elsewhere (legacy sysfs, the simulated board): a level counts once it has held
/// for the debounce time. Waiting uses edge events and `Task.sleep`, never a blocked thread.
public final class Button: Sendable {
    /// How the button is connected.
    public enum Wiring: Sendable, Hashable {
        /// Between the pin and GND, with the SoC's internal pull-up: pressed reads low. The
        /// usual choice on a Raspberry Pi.
        case toGroundWithPullUp
        /// Between the pin and 3.3 V, with the internal pull-down: pressed reads high.
        case toSupplyWithPullDown
        /// To GND with an external pull-up resistor (the internal bias is left alone, which the
        /// legacy sysfs interface needs): pressed reads low.
        case toGroundWithExternalPullUp
        /// To 3.3 V with an external pull-down resistor: pressed reads high.
        case toSupplyWithExternalPullDown

        var bias: LineBias? {
            switch self {
            case .toGroundWithPullUp: return .pullUp
            case .toSupplyWithPullDown: return .pullDown
            case .toGroundWithExternalPullUp, .toSupplyWithExternalPullDown: return nil
            }
        }

        var pressedIsLow: Bool { self == .toGroundWithPullUp || self == .toGroundWithExternalPullUp }
    }

    /// Who filters contact bounce.
    public enum DebounceMode: Sendable, Hashable {
        /// The kernel on the character-device backend, software on the others.
        case automatic
        /// The kernel's debounce filter (character device only; the sysfs backend refuses it
        /// and the simulated board ignores it).
        case kernel
        /// A quiet-period timer in this process.
        case software
    }

    public struct Configuration: Sendable, Hashable {
        public var wiring: Wiring
        /// How long a level must hold to count: 1 ms…1 s; 20 ms suits most tactile switches.
        public var debounce: Duration
        public var debounceMode: DebounceMode
        /// How long a press lasts before a `.longPressed` event; longer than `debounce`; nil for none.
        public var longPress: Duration?
        /// The consumer name other programs see.
        public var consumer: String

        public init(wiring: Wiring = .toGroundWithPullUp, debounce: Duration = .milliseconds(20),
                    debounceMode: DebounceMode = .automatic, longPress: Duration? = .seconds(1),
                    consumer: String = "button") {
            self.wiring = wiring
            self.debounce = debounce
            self.debounceMode = debounceMode
            self.longPress = longPress
            self.consumer = consumer
        }
    }

    public let line: GPIOLineSelector
    public let configuration: Configuration
    /// Whether the kernel debounces (else this process does).
    public let usesKernelDebounce: Bool
    private let request: GPIOLineRequest

    /// Requests `line` as an input with both edges reported, pressed = active.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a debounce time outside 1 ms…1 s or a long
    ///   press not longer than it; `HardwareError` from the request (`.unsupported` for the
    ///   internal pull on the legacy sysfs backend: use an external-resistor wiring).
    public init(gpio: GPIO, line: GPIOLineSelector, configuration: Configuration = Configuration()) throws {
        guard configuration.debounce >= .milliseconds(1), configuration.debounce <= .seconds(1) else {
            throw SensorError(.invalidSetting, chip: "button on \(line)", "the debounce time must be 1 ms…1 s; got \(configuration.debounce)")
        }
        if let longPress = configuration.longPress, longPress <= configuration.debounce {
            throw SensorError(.invalidSetting, chip: "button on \(line)", "the long-press time (\(longPress)) must be longer than the debounce time (\(configuration.debounce))")
        }
        let kernel: Bool
        switch configuration.debounceMode {
        case .automatic: kernel = gpio.backend.kind == .characterDevice
        case .kernel: kernel = true
        case .software: kernel = false
        }
        self.line = line
        self.configuration = configuration
        self.usesKernelDebounce = kernel
        self.request = try gpio.input(line, bias: configuration.wiring.bias, edge: .both,
                                      debounce: kernel ? configuration.debounce : nil,
                                      activeLow: configuration.wiring.pressedIsLow, consumer: configuration.consumer)
    }

    /// Whether the button is down now (the line's level, not debounced).
    /// - Throws: `HardwareError` from the GPIO read.
    public func isPressed() throws(HardwareError) -> Bool {
        try request.get().isActive
    }

    /// The debounced events from now on. Calling it again ends the previous sequence.
    ///
    /// - Parameter bufferSize: how many events may wait unread before the oldest are dropped.
    /// - Throws: `HardwareError` when the line cannot deliver edge events (`.closed` after
    ///   ``release()``).
    public func events(bufferSize: Int = 64) throws(HardwareError) -> ButtonEvents {
        let edges = try request.events()
        let initiallyPressed = try request.get().isActive
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ButtonEvent.self, bufferingPolicy: .bufferingNewest(max(1, bufferSize)))
        let source = ButtonEventSource(request: request, initiallyPressed: initiallyPressed,
                                       debounce: configuration.debounce, kernelDebounced: usesKernelDebounce,
                                       longPress: configuration.longPress, continuation: continuation)
        let reader = Task { await source.run(edges: edges) }
        continuation.onTermination = { _ in
            reader.cancel()
            source.finish(throwing: nil)
        }
        return ButtonEvents(stream: stream)
    }

    /// Gives the line back and ends the event sequence.
    public func release() {
        request.release()
    }
}
