import ArgumentParser
import IoTSDK

/// The demo itself (the default command).
struct RunDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Read the sensors, drive the LED from a threshold, report button presses, keep a history (the default command).",
        discussion: """
        Output: a dashboard that redraws in place when stdout is a terminal; plain lines when it is \
        not (or with --plain, TERM=dumb); one JSON object a line with --json \
        (Documentation/Demo.md lists the keys). NO_COLOR turns the dashboard's colors off.
        """,
        aliases: ["blink"]
    )

    @Option(help: "BCM number of the LED's GPIO.")
    var led = 17

    @Option(help: "BCM number of the button's GPIO (wired to ground; the pull-up is enabled).")
    var button = 27

    @Option(help: "Where to run: auto (hardware if present, else the simulated board), chardev, sysfs or simulated.")
    var backend: BackendOption = .auto

    @Option(help: "Seconds to run; 0 runs until Ctrl-C. Default: until Ctrl-C on hardware, 10 on the simulated board.")
    var duration: Double?

    @Option(name: .customLong("sensor"),
            help: ArgumentHelp("An I2C sensor to read, as KIND[@BUS][:ADDRESS] (e.g. bme280@1:0x76); repeatable. On the simulated board a simulated BME280 is read when none is given.",
                               valueName: "kind@bus:address"))
    var sensors: [SensorSpec] = []

    @Option(help: "Seconds between sensor readings.")
    var readInterval = 1.0

    @Option(help: ArgumentHelp("The LED is on while QUANTITY is above (>) or below (<) VALUE, in the quantity's unit: temperature (°C), pressure (hPa), humidity (%RH), illuminance (lx), voltage (V), acceleration-x|y|z (g), rotation-x|y|z (°/s). The first sensor that measures it counts. With no sensor, the LED follows the button.",
                               valueName: "comparison"))
    var threshold: Threshold = .standard

    @Flag(help: "The LED follows the button instead of --threshold (what it does when no sensor is configured).")
    var ledFollowsButton = false

    @Option(help: "The database that keeps the readings. Default: $XDG_DATA_HOME/sdk-demo/readings.sqlite (~/.local/share/… without XDG_DATA_HOME), simulated.sqlite there on the simulated board.")
    var database: String?

    @Flag(help: "Keep no readings (and show no history).")
    var noStorage = false

    @Flag(help: "One JSON object a line: start, reading, led, button, history, module, error, stop.")
    var json = false

    @Flag(help: "Plain lines even when stdout is a terminal.")
    var plain = false

    @OptionGroup var host: ModuleCommand.HostOptions

    @Flag(help: "Do not look for the plugin host and the demo module.")
    var noModule = false

    func validate() throws {
        guard (0...27).contains(led), (0...27).contains(button) else {
            throw ValidationError("--led and --button take BCM numbers 0-27 (the GPIOs on the 40-pin header)")
        }
        guard led != button else { throw ValidationError("--led and --button must be different GPIOs") }
        guard readInterval >= 0.05 else { throw ValidationError("--read-interval must be at least 0.05 s") }
        if let duration, duration < 0 || !duration.isFinite { throw ValidationError("--duration must be 0 (until Ctrl-C) or more") }
        if json && plain { throw ValidationError("--json and --plain exclude each other") }
        if noStorage && database != nil { throw ValidationError("--database and --no-storage exclude each other") }
        var seen: [String: SensorSpec] = [:]
        for spec in sensors {
            let key = "\(spec.bus):\(spec.address)"
            if let other = seen[key] {
                throw ValidationError("--sensor \(other) and --sensor \(spec) are both at \(spec.address) on bus \(spec.bus): give one of them its other address (e.g. \(spec.kind.rawValue):0x45)")
            }
            seen[key] = spec
        }
        if !sensors.isEmpty, !sensors.contains(where: { $0.kind.quantities.contains { $0.name == threshold.quantity.name } }) {
            let measured = sensors.map { "\($0.kind.rawValue) measures \($0.kind.quantities.map(\.name).joined(separator: ", "))" }
            throw ValidationError("--threshold \(threshold.quantity.name): no --sensor measures \(threshold.quantity.name) (\(measured.joined(separator: "; "))); compare one of those")
        }
    }

    func run() async throws {
        let stop = StopSignal()
        let console = DemoConsole(mode: DemoConsole.choose(json: json, plain: plain))
        let board = try DemoBoard.open(backend)
        let simulated = board.simulator != nil
        // On the simulated board with no --sensor: a simulated chip that measures the threshold's quantity.
        let simulatedKind = SensorKind.allCases.first { $0.quantities.contains { $0.name == threshold.quantity.name } } ?? .bme280
        let specs = sensors.isEmpty && simulated ? [SensorSpec(argument: simulatedKind.rawValue)].compactMap { $0 } : sensors
        let sensorSet: DemoSensorSet
        do { sensorSet = try await DemoSensorSet.open(specs, simulated: simulated) } catch { fail(error) }
        var storage: DemoStorage?
        if !noStorage {
            let path = database ?? DemoStorage.defaultPath(simulated: simulated)
            do {
                if database == nil { try DemoStorage.makeFolder(of: path) }
                storage = try await DemoStorage.open(path: path)
            } catch { fail(error) }
        }
        let watch = noModule ? nil : host.watch
        let session = DemoSession(gpio: board.gpio, simulator: board.simulator, banner: board.banner, led: led, button: button,
                                  duration: duration ?? (simulated ? 10 : 0), sensors: sensorSet, readInterval: readInterval,
                                  threshold: ledFollowsButton ? nil : threshold, storage: storage, watch: watch, console: console)
        do {
            try await session.run(stop: stop)
        } catch let error as HardwareError where error.code == .busy {
            fail("\(error) (when plugin-host runs the demo module it holds BCM 17 and 27: give the demo other pins, e.g. --led 22 --button 23)")
        } catch {
            fail(error)
        }
    }
}

extension Threshold {
    /// `temperature>25`.
    static let standard = Threshold(quantity: .temperature, comparison: .above, value: 25)
}
