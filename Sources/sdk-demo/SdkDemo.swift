import ArgumentParser
import Dispatch
import IoTSDK
import SensorDrivers
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

@main
struct SdkDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdk-demo",
        abstract: "Blink an LED and report button presses: on a Raspberry Pi, or on the simulated board.",
        discussion: """
        Wiring on a Raspberry Pi (BCM numbers, not header pin numbers): an LED with a 330 Ω resistor \
        from BCM 17 (header pin 11) to ground, and a push button from BCM 27 (header pin 13) to ground \
        (the internal pull-up is enabled). With no GPIO hardware the demo says so and runs on the \
        built-in simulated board, where a simulated finger presses the button now and then.
        Exit codes: 0 done, 1 a hardware error (the message says what to do), 64 bad options.
        """,
        version: IoTSDKVersion.current,
        subcommands: [Blink.self, GPIOInfo.self, I2CScan.self, DoctorCommand.self],
        defaultSubcommand: Blink.self
    )
}

/// Where the demo runs: the Linux kernel's GPIO or the simulated board.
enum BackendOption: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, chardev, sysfs, simulated
}

struct Blink: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blink",
        abstract: "Blink the LED and print button presses (the default command)."
    )

    @Option(help: "BCM number of the LED's GPIO.")
    var led = 17

    @Option(help: "BCM number of the button's GPIO (wired to ground; the pull-up is enabled).")
    var button = 27

    @Option(help: "Where to run: auto (hardware if present, else the simulated board), chardev, sysfs or simulated.")
    var backend: BackendOption = .auto

    @Option(help: "Seconds to run; 0 runs until Ctrl-C. Default: until Ctrl-C on hardware, 10 on the simulated board.")
    var duration: Double?

    @Option(help: "Seconds between LED toggles.")
    var interval = 0.5

    @Option(name: .customLong("sensor"),
            help: ArgumentHelp("An I2C sensor to read, as KIND[@BUS][:ADDRESS] (e.g. bme280@1:0x76); repeatable. On the simulated board a simulated BME280 is read when none is given.",
                               valueName: "kind@bus:address"))
    var sensors: [SensorSpec] = []

    @Option(help: "Seconds between sensor readings.")
    var readInterval = 2.0

    func validate() throws {
        guard (0...27).contains(led), (0...27).contains(button) else {
            throw ValidationError("--led and --button take BCM numbers 0-27 (the GPIOs on the 40-pin header)")
        }
        guard led != button else { throw ValidationError("--led and --button must be different GPIOs") }
        guard interval >= 0.01 else { throw ValidationError("--interval must be at least 0.01 s") }
        guard readInterval >= 0.05 else { throw ValidationError("--read-interval must be at least 0.05 s") }
        if let duration, duration < 0 { throw ValidationError("--duration must be 0 (until Ctrl-C) or more") }
        var seen: [String: SensorSpec] = [:]
        for spec in sensors {
            let key = "\(spec.bus):\(spec.address)"
            if let other = seen[key] {
                throw ValidationError("--sensor \(other) and --sensor \(spec) are both at \(spec.address) on bus \(spec.bus): give one of them its other address (e.g. \(spec.kind.rawValue):0x45)")
            }
            seen[key] = spec
        }
    }

    func run() async throws {
        let board = try DemoBoard.open(backend)
        print(board.banner)
        let limit = duration ?? (board.simulator != nil ? 10 : 0)
        do {
            let specs = sensors.isEmpty && board.simulator != nil ? [SensorSpec(argument: "bme280")].compactMap { $0 } : sensors
            let sensorSet = try await DemoSensorSet.open(specs, simulated: board.simulator != nil)
            try await BlinkDemo(gpio: board.gpio, simulator: board.simulator, led: led, button: button,
                                interval: interval, duration: limit, sensors: sensorSet, readInterval: readInterval).run()
        } catch let error as HardwareError {
            print("sdk-demo: \(error)")
            throw ExitCode(1)
        } catch let error as SensorError {
            print("sdk-demo: \(error)")
            throw ExitCode(1)
        }
    }
}

/// The GPIO the demo runs on, and the simulator when it is the simulated board.
struct DemoBoard {
    var gpio: GPIO
    var simulator: SimulatedGPIO?
    var banner: String

    static func open(_ choice: BackendOption) throws -> DemoBoard {
        func simulated(_ why: String) -> DemoBoard {
            let simulator = SimulatedGPIO()
            return DemoBoard(gpio: .simulated(simulator), simulator: simulator,
                             banner: "sdk-demo: \(why): using the simulated board (a Raspberry Pi 4 header in memory).")
        }
        switch choice {
        case .simulated:
            return simulated("--backend simulated")
        case .chardev, .sysfs:
            do {
                let gpio = try GPIO.linux(choice == .chardev ? .characterDevice : .sysfs)
                return DemoBoard(gpio: gpio, simulator: nil, banner: "sdk-demo: using the Linux GPIO \(choice) backend.")
            } catch {
                print("sdk-demo: \(error)")
                throw ExitCode(1)
            }
        case .auto:
            let gpio: GPIO
            do {
                gpio = try GPIO.linux()
            } catch {
                return simulated("no GPIO hardware found (no /dev/gpiochip* and no /sys/class/gpio)")
            }
            if case .failure(let error) = Result(catching: { () throws(HardwareError) in try gpio.resolve(.bcm(17)) }),
               error.code == .unknownBoard {
                let labels = ((try? gpio.chips()) ?? []).map(\.label).joined(separator: ", ")
                return simulated("this machine has GPIO chips (\(labels)) but none is a Raspberry Pi's")
            }
            return DemoBoard(gpio: gpio, simulator: nil, banner: "sdk-demo: Raspberry Pi GPIO found; using the \(gpio.backend.kind.rawValue) backend.")
        }
    }
}

/// The blink-and-button loop.
struct BlinkDemo {
    let gpio: GPIO
    let simulator: SimulatedGPIO?
    let led: Int
    let button: Int
    let interval: Double
    /// Seconds; 0 means until Ctrl-C.
    let duration: Double
    let sensors: DemoSensorSet
    let readInterval: Double

    func run() async throws {
        let ledLine = try gpio.resolve(.bcm(led))
        let buttonLine = try gpio.resolve(.bcm(button))
        let ledRequest = try gpio.output(.bcm(led), initial: .inactive, consumer: "sdk-demo-led")
        let buttonRequest = try gpio.input(.bcm(button), bias: .pullUp, edge: .both,
                                           debounce: simulator == nil ? .milliseconds(10) : nil,
                                           activeLow: true, consumer: "sdk-demo-button")
        print("LED on BCM \(led) (\(ledLine)), button on BCM \(button) (\(buttonLine)), backend \(gpio.backend.kind.rawValue)")
        for sensor in sensors.sensors { print("Sensor: \(sensor.label)") }
        print(duration > 0 ? "Running for \(format(duration)) s; Ctrl-C stops early." : "Running until Ctrl-C.")

        let start = ContinuousClock.now
        func stamp() -> String {
            let elapsed = ContinuousClock.now - start
            return "[" + format(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) + "s]"
        }
        let stop = StopSignal()
        let events = try buttonRequest.events()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var last: GPIOEdgeEvent?
                var presses = 0
                for try await event in events {
                    if let last, event.eventsMissed(since: last) > 0 {
                        print("\(stamp()) (\(event.eventsMissed(since: last)) button events were lost)")
                    }
                    last = event
                    if event.kind == .rising {
                        presses += 1
                        print("\(stamp()) button pressed (press #\(presses))")
                    } else {
                        print("\(stamp()) button released")
                    }
                }
            }
            if !sensors.sensors.isEmpty {
                group.addTask {
                    while !Task.isCancelled && !stop.isSet {
                        let elapsed = ContinuousClock.now - start
                        sensors.tick?(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                        for sensor in sensors.sensors {
                            do {
                                print("\(stamp()) \(sensor.label): \(try await sensor.readLine())")
                            } catch {
                                print("\(stamp()) \(sensor.label): \(error)")
                            }
                        }
                        try await Task.sleep(for: .milliseconds(Int64(readInterval * 1000)))
                    }
                }
            }
            if let simulator {
                group.addTask {
                    // A simulated finger: press for 150 ms every 2.3 s (the button pulls to ground).
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(2150))
                        try simulator.drive(chip: ledLine.chip.label, offset: buttonLine.offset, to: false)
                        try await Task.sleep(for: .milliseconds(150))
                        try simulator.drive(chip: ledLine.chip.label, offset: buttonLine.offset, to: nil)
                    }
                }
            }
            group.addTask {
                var value = LineValue.inactive
                let deadline = duration > 0 ? start + .milliseconds(Int64(duration * 1000)) : nil
                while !stop.isSet {
                    if let deadline, ContinuousClock.now >= deadline { break }
                    value = value.toggled
                    try ledRequest.set(value)
                    let observed = try simulator.map { try $0.level(chip: ledLine.chip.label, offset: ledLine.offset) }
                    print("\(stamp()) LED \(value == .active ? "on" : "off")" + (observed.map { $0 ? " (pin high)" : " (pin low)" } ?? ""))
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                }
                // Leave the LED off, whatever stopped the demo.
                try ledRequest.set(.inactive)
                print("\(stamp()) LED off; \(stop.isSet ? "stopped by Ctrl-C" : "done").")
                buttonRequest.release()
            }
            try await group.next()
            try await group.next()
            group.cancelAll()
        }
        ledRequest.release()
    }
}

func format(_ seconds: Double) -> String {
    let hundredths = Int((seconds * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Set by SIGINT/SIGTERM so the loop can leave the LED off and exit cleanly.
final class StopSignal: @unchecked Sendable {
    // The sources are created once in init and only kept alive afterwards.
    private let flag = Atomic<Bool>(false)
    private var sources: [DispatchSourceSignal] = []

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.set() }
            source.resume()
            sources.append(source)
        }
    }

    private func set() { flag.store(true, ordering: .relaxed) }

    var isSet: Bool { flag.load(ordering: .relaxed) }
}
