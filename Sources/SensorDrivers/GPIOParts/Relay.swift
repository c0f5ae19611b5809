import IoTSDK

/// The state of the circuit a relay switches.
public enum RelayState: Sendable, Hashable, CustomStringConvertible {
    /// The load circuit is interrupted (no current to the load).
    case open
    /// The load circuit is made (the load is powered).
    case closed

    public var description: String { self == .open ? "open" : "closed" }
}

/// A relay (or a relay module's input) on a GPIO output, as an `Actuator` with a declared safe
/// state that it takes at start-up, on ``enterSafeState()``, and whenever the host shuts down.
///
/// ```swift
/// // A common "low level trigger" module; the heater on the normally-open contact.
/// let heater = try Relay(gpio: gpio, line: .bcm(22),
///                        configuration: .init(safeState: .open, activeLow: true))
/// try await heater.apply(.closed)
/// try await heater.enterSafeState()     // open again
/// ```
///
/// Commands name the *load circuit* (``RelayState``); the configuration says how that maps to
/// the coil and the pin: which contact the load is on (normally open or normally closed) and
/// whether the board energises the coil on a low input (most opto-isolated modules).
public actor Relay: Actuator {
    public typealias Command = RelayState

    /// How the relay is wired.
    public struct Configuration: Sendable, Hashable {
        /// Which contact the load is wired to.
        public enum Contact: Sendable, Hashable {
            /// NO: energising the coil closes the load circuit.
            case normallyOpen
            /// NC: energising the coil opens the load circuit.
            case normallyClosed
        }

        /// The state taken at start-up and by ``Relay/enterSafeState()``: usually `.open`
        /// (heater, pump, motor off).
        public var safeState: RelayState
        /// Which contact the load is on.
        public var contact: Contact
        /// True when the board energises the coil while its input is low (the usual opto-isolated
        /// "low level trigger" modules).
        public var activeLow: Bool
        /// Push-pull, or open-drain to drive a 5 V board's input through its own pull-up.
        public var drive: LineDrive
        /// The consumer name other programs see.
        public var consumer: String

        public init(safeState: RelayState = .open, contact: Contact = .normallyOpen, activeLow: Bool = false,
                    drive: LineDrive = .pushPull, consumer: String = "relay") {
            self.safeState = safeState
            self.contact = contact
            self.activeLow = activeLow
            self.drive = drive
            self.consumer = consumer
        }

        /// Whether the coil is energised when the load circuit is in `state`.
        public func coilEnergised(for state: RelayState) -> Bool {
            (state == .closed) == (contact == .normallyOpen)
        }
    }

    public nonisolated let line: GPIOLineSelector
    public nonisolated let configuration: Configuration
    private let request: GPIOLineRequest
    /// The state last applied.
    public private(set) var state: RelayState

    /// Requests `line` as an output that starts in the safe state (set in the same request, so
    /// the relay never chatters at start-up).
    ///
    /// - Throws: `HardwareError` from the request.
    public init(gpio: GPIO, line: GPIOLineSelector, configuration: Configuration = Configuration()) throws(HardwareError) {
        self.line = line
        self.configuration = configuration
        self.request = try gpio.output(line, initial: LineValue(configuration.coilEnergised(for: configuration.safeState)),
                                       drive: configuration.drive, activeLow: configuration.activeLow,
                                       consumer: configuration.consumer)
        self.state = configuration.safeState
    }

    /// The safe state.
    public nonisolated var safeState: RelayState { configuration.safeState }

    /// Opens or closes the load circuit.
    /// - Throws: `HardwareError` from the GPIO write (the state is then unchanged).
    public func apply(_ command: RelayState) async throws {
        try set(command)
    }

    /// Puts the relay in its safe state. Idempotent; never waits, so it completes even in a
    /// cancelled task.
    /// - Throws: `HardwareError` when the GPIO write fails (the host then reports the relay unsafe).
    public func enterSafeState() async throws {
        try set(configuration.safeState)
    }

    /// Whether the coil is energised now, read back from the line.
    /// - Throws: `HardwareError` from the GPIO read.
    public func isCoilEnergised() throws(HardwareError) -> Bool {
        try request.get().isActive
    }

    /// Gives the line back (the kernel leaves the pin as it was; call ``enterSafeState()`` first).
    public func release() {
        request.release()
    }

    private func set(_ command: RelayState) throws(HardwareError) {
        try request.set(LineValue(configuration.coilEnergised(for: command)))
        state = command
    }
}
