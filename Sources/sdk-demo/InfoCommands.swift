import ArgumentParser
import IoTSDK

struct GPIOInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpio-info",
        abstract: "List GPIO chips and their lines: names, users, directions (like gpioinfo)."
    )

    @Option(help: "auto, chardev, sysfs or simulated.")
    var backend: BackendOption = .auto

    func run() throws {
        let board = try DemoBoard.open(backend)
        print(board.banner)
        do {
            for chip in try board.gpio.chips() {
                let base = chip.sysfsBase.map { ", sysfs base \($0)" } ?? ""
                print("\(chip.name) [\(chip.label)] \(chip.lineCount) lines\(base)")
                for line in try board.gpio.lines(of: chip) {
                    print("  \(line)")
                }
            }
        } catch {
            print("sdk-demo: \(error)")
            throw ExitCode(1)
        }
    }
}

struct I2CScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "i2c-scan",
        abstract: "List I2C adapters and the devices that answer on one (like i2cdetect -y)."
    )

    @Option(help: "Bus number to scan (the N of /dev/i2c-N). Without it, only the adapters are listed.")
    var bus: Int?

    func run() throws {
        let adapters = I2CAdapters.list()
        if adapters.isEmpty {
            print("No I2C adapters. On a Raspberry Pi: sudo raspi-config nonint do_i2c 0, then reboot.")
        }
        for adapter in adapters {
            let claimed = adapter.claimed.isEmpty ? "" : "; claimed: " + adapter.claimed.map(\.description).joined(separator: ", ")
            print("\(adapter)\(adapter.devicePath == nil ? " (no /dev node: sudo modprobe i2c-dev)" : "")\(claimed)")
        }
        guard let bus else { return }
        do {
            let i2c = try LinuxI2CBus(bus: bus)
            print("Scanning \(i2c.name) (\(i2c.functionality)):")
            let found = try i2c.scan()
            print(found.isEmpty ? "  no devices answered" : found.map { "  \($0)" }.joined(separator: "\n"))
        } catch {
            print("sdk-demo: \(error)")
            throw ExitCode(1)
        }
    }
}
