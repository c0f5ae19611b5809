import Logging

/// The GPIO API app authors use: find chips and lines, and request lines as inputs or outputs.
/// One API over every backend: the Linux character device, legacy sysfs, the simulated board and
/// (inside the plugin host) the mediated backend.
///
/// ```swift
/// let gpio = try GPIO.linux()                      // chardev when present, else sysfs
/// let led = try gpio.output(.bcm(17))
/// try led.set(.active)
/// let button = try gpio.input(.bcm(27), bias: .pullUp, edge: .falling, debounce: .milliseconds(5))
/// for try await press in try button.events() { print(press) }
/// ```
public struct GPIO: Sendable {
    public let backend: any GPIOBackend
    /// The board maps `.bcm(n)` consults.
    public let boards: [BoardDefinition]
    let logger: Logger

    public init(backend: any GPIOBackend, boards: [BoardDefinition] = BoardDefinition.raspberryPi,
                logger: Logger = Logger(label: "iotsdk.gpio")) {
        self.backend = backend
        self.boards = boards
        self.logger = logger
    }

    /// Which Linux interface to use.
    public enum LinuxBackendChoice: Sendable, Hashable {
        /// Inside a plugin-host runner, through the host (`MediatedGPIO`); otherwise the
        /// character device when the kernel has one, else sysfs.
        case automatic
        case characterDevice
        case sysfs
    }

    /// GPIO through the running kernel (or the tree at `paths`).
    ///
    /// - Throws: `.notFound` when `automatic` finds neither interface, saying what to enable.
    public static func linux(_ choice: LinuxBackendChoice = .automatic, paths: LinuxPaths = .system,
                             boards: [BoardDefinition] = BoardDefinition.raspberryPi,
                             logger: Logger = Logger(label: "iotsdk.gpio")) throws(HardwareError) -> GPIO {
        let backend: any GPIOBackend
        switch choice {
        case .characterDevice:
            backend = CharacterDeviceGPIO(paths: paths, logger: logger)
        case .sysfs:
            backend = SysfsGPIO(paths: paths, logger: logger)
        case .automatic:
            if paths == .system, let host = ModuleHost.current, host.hasGPIOLineCalls {
                backend = MediatedGPIO(host: host, logger: logger)
            } else if CharacterDeviceGPIO.isAvailable(paths: paths) {
                backend = CharacterDeviceGPIO(paths: paths, logger: logger)
            } else if SysfsGPIO.isAvailable(paths: paths) {
                logger.info("no GPIO character device found; using the legacy sysfs interface")
                backend = SysfsGPIO(paths: paths, logger: logger)
            } else {
                throw HardwareError(
                    .notFound,
                    "no GPIO found: neither \(paths.dev)/gpiochip* nor \(paths.sysfs)/class/gpio exists. "
                        + "On a Raspberry Pi this means the kernel lacks GPIO support; elsewhere, use the simulated board (GPIO.simulated()).",
                    location: paths.dev)
            }
        }
        return GPIO(backend: backend, boards: boards, logger: logger)
    }

    /// GPIO through a plugin host (what `linux()` picks inside a runner).
    public static func mediated(_ host: ModuleHost, boards: [BoardDefinition] = BoardDefinition.raspberryPi,
                                logger: Logger = Logger(label: "iotsdk.gpio")) -> GPIO {
        GPIO(backend: MediatedGPIO(host: host, logger: logger), boards: boards, logger: logger)
    }

    // MARK: - Discovery

    /// Every chip, each once.
    public func chips() throws(HardwareError) -> [GPIOChipInfo] {
        try backend.chips()
    }

    /// The chip with this label.
    /// - Throws: `.notFound` listing the chips present.
    public func chip(labeled label: String) throws(HardwareError) -> GPIOChipInfo {
        let all = try chips()
        if let chip = all.first(where: { $0.label == label }) { return chip }
        throw HardwareError(.notFound, "no GPIO chip labelled '\(label)'; chips found: \(Self.describe(all))", location: label)
    }

    /// Every line of `chip`.
    public func lines(of chip: GPIOChipInfo) throws(HardwareError) -> [GPIOLineInfo] {
        try backend.lines(of: chip)
    }

    /// What the kernel reports about one line.
    public func lineInfo(_ line: GPIOLineSelector) throws(HardwareError) -> GPIOLineInfo {
        let resolved = try resolve(line)
        return try backend.lineInfo(chip: resolved.chip, offset: resolved.offset)
    }

    /// Finds the chip and offset a selector names.
    ///
    /// - Throws: `.notFound` naming the lines that exist; `.unknownBoard` for `.bcm` on a board
    ///   whose chips match no board map, listing the chips found.
    public func resolve(_ line: GPIOLineSelector) throws(HardwareError) -> ResolvedLine {
        let all = try chips()
        switch line {
        case .chip(let label, let offset):
            guard let chip = all.first(where: { $0.label == label }) else {
                throw HardwareError(.notFound, "no GPIO chip labelled '\(label)'; chips found: \(Self.describe(all))", location: label)
            }
            return try Self.checked(chip, offset)
        case .chipName(let name, let offset):
            guard let chip = all.first(where: { $0.name == name || $0.devicePath?.hasSuffix("/" + name) == true }) else {
                throw HardwareError(.notFound, "no GPIO chip named '\(name)'; chips found: \(Self.describe(all))", location: name)
            }
            return try Self.checked(chip, offset)
        case .named(let name):
            for chip in all {
                if let line = try backend.lines(of: chip).first(where: { $0.name == name }) {
                    return ResolvedLine(chip: chip, offset: line.offset)
                }
            }
            throw HardwareError(.notFound, "no GPIO line named '\(name)' on any chip (\(Self.describe(all))); list the names with `sdk-demo gpio-info` or gpioinfo", location: name)
        case .bcm(let number):
            return try resolveBoardNumber(number, chips: all)
        }
    }

    private func resolveBoardNumber(_ number: Int, chips all: [GPIOChipInfo]) throws(HardwareError) -> ResolvedLine {
        for board in boards {
            guard let chip = all.first(where: { $0.label == board.chipLabel }) else { continue }
            guard board.numbers.contains(number) else {
                throw HardwareError(.notFound, "\(board.name) has no GPIO \(number); its GPIO numbers are \(board.numbers.lowerBound)-\(board.numbers.upperBound)", location: "BCM \(number)")
            }
            let resolved = try Self.checked(chip, board.offsetOfZero + number)
            if let name = try backend.lineInfo(chip: chip, offset: resolved.offset).name, !name.isEmpty,
               !board.lineName(name, fits: number) {
                throw HardwareError(.unknownBoard, "BCM \(number) should be line \(resolved.offset) of '\(chip.label)', but that line is named '\(name)': this board does not match the \(board.name) map; use .chip(label:offset:) or pass a BoardDefinition", location: chip.name)
            }
            logger.debug("resolved BCM \(number) on \(board.name)", metadata: ["chip": "\(chip.name)", "offset": "\(resolved.offset)"])
            return resolved
        }
        let labels = boards.map { "'\($0.chipLabel)'" }.joined(separator: ", ")
        throw HardwareError(.unknownBoard, "BCM \(number): no Raspberry Pi GPIO chip found (looked for labels \(labels)); chips found: \(Self.describe(all)). On another board name the line with .chip(label:offset:) or pass a BoardDefinition", location: "BCM \(number)")
    }

    static func checked(_ chip: GPIOChipInfo, _ offset: Int) throws(HardwareError) -> ResolvedLine {
        guard offset >= 0, offset < chip.lineCount else {
            throw HardwareError(.notFound, "\(chip.name) [\(chip.label)] has no line \(offset): its lines are 0-\(chip.lineCount - 1)", location: chip.name)
        }
        return ResolvedLine(chip: chip, offset: UInt32(offset))
    }

    static func describe(_ chips: [GPIOChipInfo]) -> String {
        chips.isEmpty ? "none" : chips.map(\.description).joined(separator: ", ")
    }

    // MARK: - Requests

    /// Requests several lines of one chip, each with its own settings, in one kernel request.
    ///
    /// - Parameters:
    ///   - lines: each line and its settings, at most 64, all on one chip.
    ///   - consumer: the label other programs see as the lines' user (`gpioinfo`).
    /// - Throws: `.busy` naming the consumer that holds a line; `.invalidArgument` when lines are on
    ///   different chips, repeated, or their settings contradict; `.permissionDenied` with the fix.
    public func request(_ lines: [(GPIOLineSelector, LineSettings)], consumer: String = "iotsdk") throws(HardwareError) -> GPIOLineRequest {
        guard !lines.isEmpty else {
            throw HardwareError(.invalidArgument, "a request needs at least one line")
        }
        guard lines.count <= 64 else {
            throw HardwareError(.invalidArgument, "one request can hold at most 64 lines; split it")
        }
        var resolved: [ResolvedLine] = []
        for (selector, settings) in lines {
            let line = try resolve(selector)
            try settings.validate(line: "\(selector)")
            resolved.append(line)
        }
        let chip = resolved[0].chip
        if let other = resolved.first(where: { $0.chip != chip }) {
            throw HardwareError(.invalidArgument, "one request covers one chip: \(resolved[0]) and \(other) are on different chips; make two requests")
        }
        let offsets = resolved.map(\.offset)
        if Set(offsets).count != offsets.count {
            throw HardwareError(.invalidArgument, "a line appears twice in one request (offsets \(offsets))")
        }
        let settings = lines.map(\.1)
        let handle = try backend.requestLines(chip: chip, offsets: offsets, settings: settings, consumer: consumer)
        return GPIOLineRequest(chip: chip, offsets: offsets, settings: settings, handle: handle)
    }

    /// Requests lines that share one set of settings.
    public func request(_ lines: [GPIOLineSelector], _ settings: LineSettings, consumer: String = "iotsdk") throws(HardwareError) -> GPIOLineRequest {
        try request(lines.map { ($0, settings) }, consumer: consumer)
    }

    /// Requests one line as an output that starts at `initial`.
    public func output(_ line: GPIOLineSelector, initial: LineValue = .inactive, drive: LineDrive = .pushPull,
                       activeLow: Bool = false, consumer: String = "iotsdk") throws(HardwareError) -> GPIOLineRequest {
        try request([(line, .output(initial: initial, drive: drive, activeLow: activeLow))], consumer: consumer)
    }

    /// Requests one line as an input, optionally with a pull resistor, edge events and debouncing.
    public func input(_ line: GPIOLineSelector, bias: LineBias? = nil, edge: LineEdge = .none,
                      debounce: Duration? = nil, activeLow: Bool = false, eventClock: EventClock = .monotonic,
                      consumer: String = "iotsdk") throws(HardwareError) -> GPIOLineRequest {
        try request([(line, .input(bias: bias, edge: edge, debounce: debounce, activeLow: activeLow, eventClock: eventClock))], consumer: consumer)
    }
}
