/// The logical level of a line: `.active` is high unless the line is active-low.
public enum LineValue: Sendable, Hashable, CustomStringConvertible {
    case inactive
    case active

    public init(_ isActive: Bool) { self = isActive ? .active : .inactive }

    public var isActive: Bool { self == .active }

    /// The other value.
    public var toggled: LineValue { self == .active ? .inactive : .active }

    public var description: String { self == .active ? "active" : "inactive" }

    public static let high = LineValue.active
    public static let low = LineValue.inactive
}

/// Whether a line is read or driven.
public enum LineDirection: Sendable, Hashable {
    case input
    case output
}

/// The internal pull resistor of an input line.
public enum LineBias: Sendable, Hashable {
    case pullUp
    case pullDown
    /// Explicitly no pull resistor.
    case disabled
}

/// How an output line drives its pin.
public enum LineDrive: Sendable, Hashable {
    case pushPull
    /// Drives low, floats high (wired-AND, I2C-style buses, LEDs to a higher rail).
    case openDrain
    /// Drives high, floats low.
    case openSource
}

/// Which transitions of an input line produce events.
public enum LineEdge: Sendable, Hashable {
    case none
    case rising
    case falling
    case both

    var includesRising: Bool { self == .rising || self == .both }
    var includesFalling: Bool { self == .falling || self == .both }
}

/// The clock that the kernel stamps edge events with.
public enum EventClock: Sendable, Hashable {
    /// CLOCK_MONOTONIC: time since boot; never jumps. The kernel's default.
    case monotonic
    /// CLOCK_REALTIME: wall-clock time; comparable with timestamps from other machines.
    case realtime
}

/// The configuration of one requested line.
public struct LineSettings: Sendable, Hashable {
    public var direction: LineDirection
    /// The value an output starts with (glitch-free: set in the same call as the direction).
    public var initialValue: LineValue
    /// nil leaves the pull resistor as it is.
    public var bias: LineBias?
    public var drive: LineDrive
    public var activeLow: Bool
    public var edge: LineEdge
    /// Debounce period for inputs; nil for none. The kernel rounds to microseconds.
    public var debounce: Duration?
    public var eventClock: EventClock

    public init(
        direction: LineDirection = .input,
        initialValue: LineValue = .inactive,
        bias: LineBias? = nil,
        drive: LineDrive = .pushPull,
        activeLow: Bool = false,
        edge: LineEdge = .none,
        debounce: Duration? = nil,
        eventClock: EventClock = .monotonic
    ) {
        self.direction = direction
        self.initialValue = initialValue
        self.bias = bias
        self.drive = drive
        self.activeLow = activeLow
        self.edge = edge
        self.debounce = debounce
        self.eventClock = eventClock
    }

    /// An output that starts at `initial`.
    public static func output(
        initial: LineValue = .inactive, drive: LineDrive = .pushPull, activeLow: Bool = false
    ) -> LineSettings {
        LineSettings(direction: .output, initialValue: initial, drive: drive, activeLow: activeLow)
    }

    /// An input, optionally with a pull resistor, edge events and debouncing.
    public static func input(
        bias: LineBias? = nil, edge: LineEdge = .none, debounce: Duration? = nil,
        activeLow: Bool = false, eventClock: EventClock = .monotonic
    ) -> LineSettings {
        LineSettings(direction: .input, bias: bias, activeLow: activeLow, edge: edge, debounce: debounce, eventClock: eventClock)
    }

    /// Throws when the settings contradict each other (edges on an output, drive mode on an input…).
    public func validate(line: String) throws(HardwareError) {
        switch direction {
        case .output:
            if edge != .none {
                throw HardwareError(.invalidArgument, "\(line): edge detection needs an input line; request it as .input(edge: …)", location: line)
            }
            if debounce != nil {
                throw HardwareError(.invalidArgument, "\(line): debounce applies to inputs only", location: line)
            }
        case .input:
            if drive != .pushPull {
                throw HardwareError(.invalidArgument, "\(line): open-drain/open-source drive applies to outputs only", location: line)
            }
        }
        if let debounce, debounce < .zero || debounce > .seconds(4294) {
            throw HardwareError(.invalidArgument, "\(line): debounce must be between 0 and 4294 s", location: line)
        }
    }
}

/// A GPIO chip as the kernel describes it.
public struct GPIOChipInfo: Sendable, Hashable, CustomStringConvertible {
    /// The kernel's name for the chip, e.g. `gpiochip0`. For chips seen only through the legacy
    /// sysfs interface this is the sysfs name, `gpiochip<base>`.
    public var name: String
    /// The driver's label, e.g. `pinctrl-rp1`: the stable way to find a chip.
    public var label: String
    public var lineCount: Int
    /// The character device, when the kernel has one for this chip (`/dev/gpiochip0`).
    public var devicePath: String?
    /// The legacy sysfs directory for this chip (`/sys/class/gpio/gpiochip512`), when present.
    public var sysfsPath: String?
    /// The first legacy sysfs GPIO number of this chip, read from `…/base`. Never assume it.
    public var sysfsBase: Int?

    public init(name: String, label: String, lineCount: Int, devicePath: String? = nil, sysfsPath: String? = nil, sysfsBase: Int? = nil) {
        self.name = name
        self.label = label
        self.lineCount = lineCount
        self.devicePath = devicePath
        self.sysfsPath = sysfsPath
        self.sysfsBase = sysfsBase
    }

    public var description: String { "\(name) [\(label)] (\(lineCount) lines)" }
}

/// What the kernel reports about one line.
public struct GPIOLineInfo: Sendable, Hashable, CustomStringConvertible {
    public var chip: String
    public var offset: UInt32
    /// The line's name from the device tree or driver, e.g. `GPIO17`; nil when unnamed.
    public var name: String?
    /// Who holds the line (a process's consumer string or a kernel driver), nil when free.
    public var consumer: String?
    public var isUsed: Bool
    public var direction: LineDirection
    public var bias: LineBias?
    public var drive: LineDrive
    public var activeLow: Bool
    public var edge: LineEdge
    public var debounce: Duration?

    public init(chip: String, offset: UInt32, name: String? = nil, consumer: String? = nil, isUsed: Bool = false,
                direction: LineDirection = .input, bias: LineBias? = nil, drive: LineDrive = .pushPull,
                activeLow: Bool = false, edge: LineEdge = .none, debounce: Duration? = nil) {
        self.chip = chip
        self.offset = offset
        self.name = name
        self.consumer = consumer
        self.isUsed = isUsed
        self.direction = direction
        self.bias = bias
        self.drive = drive
        self.activeLow = activeLow
        self.edge = edge
        self.debounce = debounce
    }

    public var description: String {
        var parts = ["\(chip) line \(offset)"]
        parts.append(name.map { "\"\($0)\"" } ?? "unnamed")
        parts.append(direction == .output ? "output" : "input")
        if isUsed { parts.append("used by \"\(consumer ?? "?")\"") }
        if activeLow { parts.append("active-low") }
        if let bias { parts.append("\(bias)") }
        if drive != .pushPull { parts.append("\(drive)") }
        if edge != .none { parts.append("edge \(edge)") }
        return parts.joined(separator: " ")
    }
}

/// One edge seen on a requested input line.
public struct GPIOEdgeEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case rising
        case falling
    }

    public var kind: Kind
    /// The line's offset on its chip.
    public var offset: UInt32
    /// When the edge happened, in nanoseconds on `clock` (stamped by the kernel on the
    /// character device; when the wake-up was seen on sysfs).
    public var timestampNanoseconds: UInt64
    public var clock: EventClock
    /// Position of this event among all events of the request, counting from 1. A gap between
    /// two consecutive events means the kernel's buffer overflowed and events were lost.
    public var sequence: UInt32
    /// Position among the events of this line alone.
    public var lineSequence: UInt32

    public init(kind: Kind, offset: UInt32, timestampNanoseconds: UInt64, clock: EventClock, sequence: UInt32, lineSequence: UInt32) {
        self.kind = kind
        self.offset = offset
        self.timestampNanoseconds = timestampNanoseconds
        self.clock = clock
        self.sequence = sequence
        self.lineSequence = lineSequence
    }

    /// How many events were lost between `previous` and this one (0 when none).
    public func eventsMissed(since previous: GPIOEdgeEvent) -> UInt32 {
        let step = sequence &- previous.sequence
        return step == 0 ? 0 : step - 1
    }
}
