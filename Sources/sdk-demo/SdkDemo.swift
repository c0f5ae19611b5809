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
        abstract: "Sensor readings, an LED that follows a threshold, button events and a history: on a Raspberry Pi, or on the simulated board.",
        discussion: """
        Wiring on a Raspberry Pi (BCM numbers, not header pin numbers): an LED with a 330 Ω resistor \
        from BCM 17 (header pin 11) to ground, a push button from BCM 27 (header pin 13) to ground \
        (the internal pull-up is enabled), and I2C sensors given with --sensor. With no GPIO \
        hardware the demo says so and runs on the built-in simulated board, with a simulated BME280 \
        whose air drifts across the default threshold and a simulated finger on the button.
        Exit codes: 0 done (also after Ctrl-C or SIGTERM), 1 a hardware or storage error (the \
        message says what to do), 64 bad options.
        """,
        version: IoTSDKVersion.current,
        subcommands: [RunDemo.self, HistoryCommand.self, ModuleCommand.self, GPIOInfo.self, I2CScan.self, DoctorCommand.self],
        defaultSubcommand: RunDemo.self
    )
}

/// Where the demo runs: the Linux kernel's GPIO or the simulated board.
enum BackendOption: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, chardev, sysfs, simulated
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
                fail(error)
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

func format(_ seconds: Double) -> String {
    let hundredths = Int((seconds * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Prints `sdk-demo: <error>` on stderr and exits 1: for errors the environment causes, whose
/// message says what to do.
func fail(_ error: any Error) -> Never {
    fail("\(error)")
}

func fail(_ message: String) -> Never {
    writeOutput("sdk-demo: \(message)\n", to: STDERR_FILENO)
    SdkDemo.exit(withError: ExitCode(1))
}

/// SIGINT and SIGTERM, caught from the start of a run so that the demo can leave the LED off
/// and exit cleanly.
final class StopSignal: @unchecked Sendable {
    // The sources are created once in init and only kept alive afterwards.
    private var sources: [DispatchSourceSignal] = []
    private let signals: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    init() {
        (signals, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(1))
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [continuation] in continuation.yield(name) }
            source.resume()
            sources.append(source)
        }
    }

    /// Waits for a signal, or for `seconds` when that is more than 0; returns the signal's name,
    /// or nil when the time ran out.
    func wait(seconds: Double) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { [signals] in
                for await name in signals { return name }
                return nil
            }
            if seconds > 0 {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                    return nil
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
