import IoTSDK
@testable import SensorDrivers
import SensorDriversTesting
import Synchronization
import Testing

/// The simulated Raspberry Pi 4 header chip.
private let chip = "pinctrl-bcm2711"

/// Records a button's events from a background task.
private final class EventLog: Sendable {
    private let events = Mutex<[ButtonEvent]>([])
    private let ended = Mutex(false)

    var all: [ButtonEvent] { events.withLock { $0 } }
    var kinds: [ButtonEvent.Kind] { all.map(\.kind) }
    var didEnd: Bool { ended.withLock { $0 } }

    func follow(_ sequence: ButtonEvents) -> Task<Void, Never> {
        Task {
            do {
                for try await event in sequence { events.withLock { $0.append(event) } }
            } catch {}
            ended.withLock { $0 = true }
        }
    }

    /// Waits (sleeping) until `condition` holds or `timeout` passes; returns whether it held. The
    /// timeout is generous because it only bounds a failure: on a loaded machine (the whole suite
    /// in parallel, a build beside it) the simulated edge's thread can be seconds late.
    func wait(upTo timeout: Duration = .seconds(15), until condition: (EventLog) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition(self) {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }
}

/// A GPIO backend that passes everything to a simulated board and records every value written,
/// so that a blink pattern's sequence can be checked exactly, whatever the scheduling latency.
private final class RecordingBackend: GPIOBackend {
    let board: SimulatedGPIO
    let writes = Mutex<[Bool]>([])

    init(_ board: SimulatedGPIO) { self.board = board }

    var kind: GPIOBackendKind { .simulated }
    func chips() throws(HardwareError) -> [GPIOChipInfo] { try board.chips() }
    func lineInfo(chip: GPIOChipInfo, offset: UInt32) throws(HardwareError) -> GPIOLineInfo {
        try board.lineInfo(chip: chip, offset: offset)
    }
    func requestLines(chip: GPIOChipInfo, offsets: [UInt32], settings: [LineSettings], consumer: String) throws(HardwareError) -> any GPIOLineHandle {
        RecordingHandle(try board.requestLines(chip: chip, offsets: offsets, settings: settings, consumer: consumer), writes: self)
    }

    var recorded: [Bool] { writes.withLock { $0 } }
}

private final class RecordingHandle: GPIOLineHandle {
    let inner: any GPIOLineHandle
    let backend: RecordingBackend
    init(_ inner: any GPIOLineHandle, writes backend: RecordingBackend) {
        self.inner = inner
        self.backend = backend
    }
    func getValues(mask: UInt64) throws(HardwareError) -> UInt64 { try inner.getValues(mask: mask) }
    func setValues(_ bits: UInt64, mask: UInt64) throws(HardwareError) {
        try inner.setValues(bits, mask: mask)
        backend.writes.withLock { $0.append(bits & 1 != 0) }
    }
    func reconfigure(_ settings: [LineSettings]) throws(HardwareError) { try inner.reconfigure(settings) }
    func makeEventStream(bufferSize: Int) throws(HardwareError) -> AsyncThrowingStream<GPIOEdgeEvent, any Error> {
        try inner.makeEventStream(bufferSize: bufferSize)
    }
    func release() { inner.release() }
}

/// Waits (sleeping) until `condition` holds or two seconds pass; returns whether it held.
private func eventually(_ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .seconds(2)
    while try !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return true
}

// MARK: - LED

@Suite("LED", .serialized)
struct LEDTests {
    @Test("On, off and toggle drive the pin; active-low inverts it")
    func onOffToggle() async throws {
        let board = SimulatedGPIO()
        let gpio = GPIO.simulated(board)
        let led = try LED(gpio: gpio, line: .bcm(17))
        #expect(try board.level(chip: chip, offset: 17) == false)
        try await led.on()
        #expect(try board.level(chip: chip, offset: 17) == true)
        #expect(await led.isOn)
        try await led.toggle()
        #expect(try board.level(chip: chip, offset: 17) == false)
        try await led.toggle()
        #expect(try board.level(chip: chip, offset: 17) == true)
        try await led.off()
        #expect(try board.level(chip: chip, offset: 17) == false)

        let sinking = try LED(gpio: gpio, line: .bcm(18), activeLow: true)    // 3.3 V → LED → pin
        #expect(try board.level(chip: chip, offset: 18) == true)
        try await sinking.on()
        #expect(try board.level(chip: chip, offset: 18) == false)

        let busy = #expect(throws: HardwareError.self) { try LED(gpio: gpio, line: .bcm(17)) }
        #expect(busy?.code == .busy)
        await led.release()
        await #expect(throws: HardwareError.self) { try await led.on() }
    }

    @Test("blink plays a finite pattern step by step and leaves the LED off")
    func finiteBlink() async throws {
        let board = SimulatedGPIO()
        let backend = RecordingBackend(board)
        let led = try LED(gpio: GPIO(backend: backend), line: .bcm(17))
        let pattern = try BlinkPattern.regular(on: .milliseconds(4), off: .milliseconds(4), repeating: .times(4))
        #expect(pattern.cycleDuration == .milliseconds(8))
        try await led.blink(pattern)
        #expect(backend.recorded == [true, false, true, false, true, false, true, false, false])
        #expect(try board.level(chip: chip, offset: 17) == false)
        #expect(await led.isOn == false)
    }

    @Test("startBlinking runs in the background until the LED is set")
    func backgroundBlink() async throws {
        let board = SimulatedGPIO()
        let backend = RecordingBackend(board)
        let led = try LED(gpio: GPIO(backend: backend), line: .bcm(17))
        await led.startBlinking(try .regular(on: .milliseconds(2), off: .milliseconds(2)))
        #expect(await led.isBlinking)
        #expect(await eventually { backend.recorded.count >= 6 })
        #expect(backend.recorded.prefix(6) == [true, false, true, false, true, false])
        try await led.on()
        #expect(await led.isBlinking == false)
        let afterOn = backend.recorded.count
        try await Task.sleep(for: .milliseconds(20))
        #expect(backend.recorded.count == afterOn)
        #expect(try board.level(chip: chip, offset: 17) == true)
        await led.startBlinking(.fast)
        try await led.stopBlinking()
        let afterStop = backend.recorded.count
        try await Task.sleep(for: .milliseconds(20))
        #expect(backend.recorded.count == afterStop)
        #expect(backend.recorded.last == false)
    }

    @Test("A cancelled blink turns the LED off and throws CancellationError")
    func cancelledBlink() async throws {
        let board = SimulatedGPIO()
        let led = try LED(gpio: GPIO.simulated(board), line: .bcm(17))
        let task = Task { try await led.blink(.slow) }
        #expect(try await eventually { try board.level(chip: chip, offset: 17) })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(try board.level(chip: chip, offset: 17) == false)
    }

    @Test("Invalid patterns are refused")
    func invalidPatterns() {
        #expect(throws: SensorError.self) { try BlinkPattern(steps: []) }
        #expect(throws: SensorError.self) { try BlinkPattern.regular(on: .zero, off: .milliseconds(10)) }
        let error = #expect(throws: SensorError.self) { try BlinkPattern.regular(on: .milliseconds(1), off: .milliseconds(1), repeating: .times(0)) }
        #expect(error?.code == .invalidSetting)
        #expect(BlinkPattern.heartbeat.cycleDuration == .seconds(1))
    }
}

// MARK: - Relay

@Suite("Relay")
struct RelayTests {
    @Test("Starts in the safe state; apply and enterSafeState drive the coil")
    func safeState() async throws {
        let board = SimulatedGPIO()
        let relay = try Relay(gpio: GPIO.simulated(board), line: .bcm(22))
        #expect(try board.level(chip: chip, offset: 22) == false)      // open, normally-open contact: coil off
        #expect(await relay.state == .open)
        try await relay.apply(.closed)
        #expect(try board.level(chip: chip, offset: 22) == true)
        #expect(try await relay.isCoilEnergised())
        try await relay.enterSafeState()
        try await relay.enterSafeState()
        #expect(try board.level(chip: chip, offset: 22) == false)
        #expect(await relay.state == .open)
    }

    @Test("Active-low modules: the coil is on while the pin is low")
    func activeLowModule() async throws {
        let board = SimulatedGPIO()
        let relay = try Relay(gpio: GPIO.simulated(board), line: .bcm(23), configuration: .init(activeLow: true))
        #expect(try board.level(chip: chip, offset: 23) == true)        // safe (open) = coil off = pin high
        try await relay.apply(.closed)
        #expect(try board.level(chip: chip, offset: 23) == false)
    }

    @Test("A normally-closed contact with a closed safe state keeps the coil off when safe")
    func normallyClosed() async throws {
        let board = SimulatedGPIO()
        let configuration = Relay.Configuration(safeState: .closed, contact: .normallyClosed)
        #expect(configuration.coilEnergised(for: .closed) == false)
        #expect(configuration.coilEnergised(for: .open) == true)
        let relay = try Relay(gpio: GPIO.simulated(board), line: .bcm(24), configuration: configuration)
        #expect(try board.level(chip: chip, offset: 24) == false)
        try await relay.apply(.open)
        #expect(try board.level(chip: chip, offset: 24) == true)
        #expect(relay.safeState == .closed)
    }

    @Test("enterSafeState completes in a cancelled task")
    func safeWhenCancelled() async throws {
        let board = SimulatedGPIO()
        let relay = try Relay(gpio: GPIO.simulated(board), line: .bcm(25))
        try await relay.apply(.closed)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await relay.enterSafeState()
        }
        try await task.value
        #expect(try board.level(chip: chip, offset: 25) == false)
    }
}

// MARK: - Button

@Suite("Button", .serialized)
struct ButtonTests {
    @Test("State machine: press, glitch, stale timer, long press, release")
    func stateMachine() throws {
        var machine = ButtonStateMachine(pressed: false, longPress: .milliseconds(500))
        #expect(machine.settled(pressed: false, at: 10).event == nil)
        let press = machine.settled(pressed: true, at: 1_000)
        #expect(press.event == ButtonEvent(kind: .pressed, timestampNanoseconds: 1_000))
        let timer = try #require(press.startTimerFor)
        #expect(machine.longPressTimerFired(for: timer &- 1) == nil)
        #expect(machine.longPressTimerFired(for: timer) == ButtonEvent(kind: .longPressed, timestampNanoseconds: 500_001_000))
        let release = machine.settled(pressed: false, at: 700_001_000)
        #expect(release.event == ButtonEvent(kind: .released(heldFor: .milliseconds(700)), timestampNanoseconds: 700_001_000))
        #expect(machine.longPressTimerFired(for: timer) == nil)

        var short = ButtonStateMachine(pressed: false, longPress: nil)
        #expect(short.settled(pressed: true, at: 5).startTimerFor == nil)
    }

    @Test("A bouncing press and release give one event each")
    func bouncingClick() async throws {
        let board = SimulatedGPIO()
        let button = try Button(gpio: GPIO.simulated(board), line: .bcm(27),
                                configuration: .init(debounce: .milliseconds(5), longPress: nil))
        #expect(button.usesKernelDebounce == false)
        let finger = SimulatedPushButton(board: board, offset: 27)
        let log = EventLog()
        let follower = log.follow(try button.events())
        defer { follower.cancel() }
        try finger.press(bounces: 4)
        #expect(try button.isPressed())
        #expect(await log.wait { $0.all.count >= 1 })
        try await Task.sleep(for: .milliseconds(15))
        try finger.release(bounces: 4)
        #expect(await log.wait { $0.all.count >= 2 })
        try await Task.sleep(for: .milliseconds(20))
        try #require(log.all.count == 2)
        #expect(log.kinds.first == .pressed)
        guard case .released(let held)? = log.kinds.last else {
            Issue.record("expected a release, got \(log.kinds)"); return
        }
        #expect(held > .zero)
        #expect(log.all[1].timestampNanoseconds > log.all[0].timestampNanoseconds)
    }

    @Test("A glitch shorter than the debounce time is no press")
    func glitch() async throws {
        let board = SimulatedGPIO()
        let button = try Button(gpio: GPIO.simulated(board), line: .bcm(27),
                                configuration: .init(debounce: .milliseconds(5), longPress: nil))
        let finger = SimulatedPushButton(board: board, offset: 27)
        let log = EventLog()
        let follower = log.follow(try button.events())
        defer { follower.cancel() }
        try finger.glitch()
        try await Task.sleep(for: .milliseconds(25))
        #expect(log.all.isEmpty)
        try finger.press(bounces: 0)
        #expect(await log.wait { $0.kinds == [.pressed] })
    }

    @Test("Holding past the long-press time reports it once, then the release")
    func longPress() async throws {
        let board = SimulatedGPIO()
        let button = try Button(gpio: GPIO.simulated(board), line: .bcm(27),
                                configuration: .init(debounce: .milliseconds(5), longPress: .milliseconds(40)))
        let log = EventLog()
        let follower = log.follow(try button.events())
        defer { follower.cancel() }
        let finger = SimulatedPushButton(board: board, offset: 27)
        try finger.press()
        #expect(await log.wait { $0.all.count >= 2 })
        try finger.release()
        #expect(await log.wait { $0.all.count >= 3 })
        try #require(log.all.count == 3)
        #expect(log.kinds.prefix(2) == [.pressed, .longPressed])
        #expect(log.all[1].timestampNanoseconds == log.all[0].timestampNanoseconds + 40_000_000)
        guard case .released(let held)? = log.kinds.last else {
            Issue.record("expected a release, got \(log.kinds)"); return
        }
        #expect(held >= .milliseconds(40))
    }

    @Test("A button to 3.3 V with the pull-down")
    func pullDown() async throws {
        let board = SimulatedGPIO()
        let button = try Button(gpio: GPIO.simulated(board), line: .bcm(5),
                                configuration: .init(wiring: .toSupplyWithPullDown, debounce: .milliseconds(5), longPress: nil))
        #expect(try button.isPressed() == false)
        let log = EventLog()
        let follower = log.follow(try button.events())
        defer { follower.cancel() }
        try SimulatedPushButton(board: board, offset: 5, pressedLevel: true).press()
        #expect(await log.wait { $0.kinds == [.pressed] })
        #expect(try button.isPressed())
    }

    @Test("Kernel debouncing passes settled edges straight through")
    func kernelMode() async throws {
        let board = SimulatedGPIO()
        let button = try Button(gpio: GPIO.simulated(board), line: .bcm(6),
                                configuration: .init(debounceMode: .kernel, longPress: nil))
        #expect(button.usesKernelDebounce)
        let log = EventLog()
        let follower = log.follow(try button.events())
        defer { follower.cancel() }
        let finger = SimulatedPushButton(board: board, offset: 6)
        try finger.press(bounces: 0)
        try finger.release(bounces: 0)
        #expect(await log.wait { $0.all.count == 2 })
        #expect(log.kinds.first == .pressed)
    }

    @Test("Invalid settings; a new events() or release() ends the sequence")
    func lifecycle() async throws {
        let board = SimulatedGPIO()
        let gpio = GPIO.simulated(board)
        let tooShort = #expect(throws: SensorError.self) {
            try Button(gpio: gpio, line: .bcm(27), configuration: .init(debounce: .milliseconds(50), longPress: .milliseconds(20)))
        }
        #expect(tooShort?.code == .invalidSetting)
        #expect(throws: SensorError.self) { try Button(gpio: gpio, line: .bcm(27), configuration: .init(debounce: .zero)) }

        let button = try Button(gpio: gpio, line: .bcm(27), configuration: .init(debounce: .milliseconds(5)))
        let first = EventLog()
        let firstFollower = first.follow(try button.events())
        let second = EventLog()
        let secondFollower = second.follow(try button.events())
        #expect(await first.wait { $0.didEnd })
        button.release()
        #expect(await second.wait { $0.didEnd })
        #expect(throws: HardwareError.self) { try button.events() }
        firstFollower.cancel()
        secondFollower.cancel()
    }
}
