import IoTSDK

/// Who runs the checks: the verdicts differ where the two tools need different things.
public enum DoctorTool: String, Sendable, Codable {
    /// Runs on the simulated board when there is no GPIO, and opens devices as the user.
    case sdkDemo = "sdk-demo"
    /// Runs as root (its systemd unit) and hands GPIO lines to modules through the character device.
    case pluginHost = "plugin-host"
}

// MARK: - gpio: chips and backend

extension HardwareChecks {
    /// `/dev/gpiochipN` entries of the system (on a simulated root they may be plain files).
    static func chipNodes(_ system: DoctorSystem) -> [String] {
        system.entries("/dev").filter { $0.hasPrefix("gpiochip") && Int($0.dropFirst("gpiochip".count)) != nil }
    }

    /// GPIO chips and the backend that will be used. FAIL only on a Raspberry Pi with no GPIO at
    /// all (the kernel or a container hides it); no GPIO elsewhere is a warn.
    public static func gpio(_ system: DoctorSystem, tool: DoctorTool) -> DoctorCheck {
        let paths = system.linuxPaths
        let nodes = chipNodes(system)
        let hasSysfs = system.exists("/sys/class/gpio/export")
        if nodes.isEmpty {
            if hasSysfs {
                let chips = (try? GPIO.linux(.sysfs, paths: paths).chips()) ?? []
                let found = "only the legacy sysfs interface (\(system.path("/sys/class/gpio")))" + describe(chips)
                let fix = "boot a kernel with CONFIG_GPIO_CDEV=y (Linux 5.10 or later; Raspberry Pi OS and Debian kernels have it)"
                return switch tool {
                case .sdkDemo: DoctorCheck("gpio", .warn, found + ": sdk-demo uses the sysfs backend (no bias, debounce or kernel timestamps)", fix: fix)
                case .pluginHost: DoctorCheck("gpio", .warn, found + ": the host's broker needs the character device, so modules cannot be granted GPIO lines", fix: fix)
                }
            }
            let missing = "no \(system.path("/dev"))/gpiochip* and no \(system.path("/sys/class/gpio"))"
            if let model = system.boardModel, system.isRaspberryPi {
                return DoctorCheck("gpio", .fail, "this is a \(model) but there is no GPIO: \(missing)",
                                   fix: "in a container, pass the chips in (--device /dev/gpiochip0); on the Pi itself, boot the Raspberry Pi OS kernel (sudo apt install --reinstall raspberrypi-kernel)")
            }
            return switch tool {
            case .sdkDemo: DoctorCheck("gpio", .warn, "no GPIO (\(missing)): sdk-demo will use the simulated board",
                                       fix: "nothing to do to try the demo; for real pins run it on a board with GPIO, such as a Raspberry Pi")
            case .pluginHost: DoctorCheck("gpio", .warn, "no GPIO (\(missing)): modules that declare GPIO lines will be refused them",
                                          fix: "run the host on a board with GPIO, such as a Raspberry Pi, for modules that use it")
            }
        }

        // The character device: chip labels from its ioctls, or from sysfs where it is not real.
        let nodeList = nodes.map { system.path("/dev/" + $0) }.joined(separator: ", ")
        var found = "backend chardev (GPIO character device, uAPI v2): "
        var chips: [GPIOChipInfo] = []
        if CharacterDeviceGPIO.isAvailable(paths: paths) {
            do throws(HardwareError) {
                chips = try GPIO.linux(.characterDevice, paths: paths).chips()
                found += chips.map(\.description).joined(separator: ", ")
            } catch {
                found += "\(nodeList) (chip info unreadable: \(error.message))"
            }
        } else {
            chips = hasSysfs ? ((try? GPIO.linux(.sysfs, paths: paths).chips()) ?? []) : []
            found += "\(nodeList) (not character devices, a simulated root: chip info not read)" + describe(chips)
        }
        guard !chips.isEmpty else { return DoctorCheck("gpio", .ok, found) }
        if let board = BoardDefinition.raspberryPi.first(where: { board in chips.contains { $0.label == board.chipLabel } }) {
            return DoctorCheck("gpio", .ok, found + "; BCM numbers map to the \(board.name) chip (\(board.chipLabel))")
        }
        return switch tool {
        case .sdkDemo: DoctorCheck("gpio", .warn, found + "; none is a Raspberry Pi's GPIO chip, so sdk-demo (which uses BCM numbers) will use the simulated board",
                                   fix: "in your own code name lines by chip label and offset (.chip(label:offset:)); sdk-demo gpio-info lists them")
        case .pluginHost: DoctorCheck("gpio", .ok, found + "; modules name these chips in their manifests")
        }
    }

    /// `: sysfs chips gpiochip512 [pinctrl-bcm2711] (58 lines), …`, or nothing.
    private static func describe(_ chips: [GPIOChipInfo]) -> String {
        chips.isEmpty ? "" : "; sysfs lists " + chips.map(\.description).joined(separator: ", ")
    }
}

// MARK: - gpio-lines: lines already held

extension HardwareChecks {
    /// A line a tool means to use, to look for among the held ones.
    public struct WantedLine: Sendable, Equatable {
        /// How the user knows it (`BCM 17, sdk-demo's LED`).
        public var name: String
        public var chip: String
        public var offset: UInt32

        public init(name: String, chip: String, offset: UInt32) {
            self.name = name
            self.chip = chip
            self.offset = offset
        }
    }

    /// sdk-demo's default LED and button pins.
    public static let sdkDemoPins: [(bcm: Int, role: String)] = [(17, "sdk-demo's LED"), (27, "sdk-demo's button")]

    /// Lines already held, and by whom: only a real chip reports it, so a simulated root or an
    /// unreadable chip is a skip. A held line that the tool wants (sdk-demo's pins) is a warn.
    public static func heldLines(_ system: DoctorSystem, tool: DoctorTool) -> DoctorCheck {
        let nodes = chipNodes(system)
        guard !nodes.isEmpty else { return DoctorCheck("gpio-lines", .skip, "no GPIO character device, so no line to look at") }
        let paths = system.linuxPaths
        guard CharacterDeviceGPIO.isAvailable(paths: paths) else {
            return DoctorCheck("gpio-lines", .skip, "cannot check: \(system.path("/dev/" + nodes[0])) is not a character device (a simulated root); only a real chip reports who holds its lines")
        }
        let gpio: GPIO
        var chips: [(GPIOChipInfo, [GPIOLineInfo])] = []
        do throws(HardwareError) {
            gpio = try GPIO.linux(.characterDevice, paths: paths)
            for chip in try gpio.chips() { chips.append((chip, try gpio.lines(of: chip))) }
        } catch {
            return DoctorCheck("gpio-lines", .skip, "cannot check: \(error.message) (see gpio-access)")
        }
        let wanted: [WantedLine] = tool == .sdkDemo ? sdkDemoPins.compactMap { pin in
            (try? gpio.resolve(.bcm(pin.bcm))).map { WantedLine(name: "BCM \(pin.bcm) (\(pin.role))", chip: $0.chip.name, offset: $0.offset) }
        } : []
        return heldLines(chips, wanted: wanted)
    }

    /// The verdict on the lines the chips report.
    public static func heldLines(_ chips: [(GPIOChipInfo, [GPIOLineInfo])], wanted: [WantedLine]) -> DoctorCheck {
        let held = chips.flatMap { $0.1.filter(\.isUsed) }
        func describe(_ line: GPIOLineInfo) -> String {
            "\(line.chip) line \(line.offset)" + (line.name.map { " \"\($0)\"" } ?? "") + " by \"\(line.consumer ?? "?")\""
        }
        let taken = wanted.compactMap { want in
            held.first { $0.chip == want.chip && $0.offset == want.offset }.map { (want, $0) }
        }
        if !taken.isEmpty {
            return DoctorCheck("gpio-lines", .warn, taken.map { "\($0.0.name) is held: \(describe($0.1))" }.joined(separator: "; "),
                               fix: "stop the program or remove the dtoverlay that holds it (sdk-demo gpio-info shows every line's user), or pick free pins: sdk-demo --led 22 --button 23")
        }
        let lineCount = chips.reduce(0) { $0 + $1.1.count }
        guard !held.isEmpty else { return DoctorCheck("gpio-lines", .ok, "all \(lineCount) lines of \(chips.count) chip(s) are free") }
        let shown = held.prefix(8).map(describe).joined(separator: ", ")
        let more = held.count > 8 ? ", and \(held.count - 8) more (sdk-demo gpio-info lists them)" : ""
        return DoctorCheck("gpio-lines", .ok, "\(held.count) of \(lineCount) lines in use: \(shown)\(more)")
    }
}
