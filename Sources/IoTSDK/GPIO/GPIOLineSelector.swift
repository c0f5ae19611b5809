/// Names a GPIO line in one of the ways people know it.
public enum GPIOLineSelector: Sendable, Hashable, CustomStringConvertible {
    /// A Raspberry Pi BCM GPIO number (the "GPIO17" in pinout diagrams), resolved by chip label
    /// through the board map; never a header pin number.
    case bcm(Int)
    /// An offset on the chip with this label (e.g. `pinctrl-rp1`, `gpio-sim`).
    case chip(label: String, offset: Int)
    /// An offset on the chip with this kernel name (`gpiochip0`). Chip numbers can change between
    /// boots and kernels; prefer `.chip(label:offset:)`.
    case chipName(String, offset: Int)
    /// The line whose name (from the device tree or driver) is this, on whichever chip has it.
    case named(String)

    public var description: String {
        switch self {
        case .bcm(let n): return "BCM \(n)"
        case .chip(let label, let offset): return "line \(offset) of chip '\(label)'"
        case .chipName(let name, let offset): return "line \(offset) of \(name)"
        case .named(let name): return "line '\(name)'"
        }
    }
}

/// A selector resolved to a chip and an offset on it.
public struct ResolvedLine: Sendable, Hashable, CustomStringConvertible {
    public var chip: GPIOChipInfo
    public var offset: UInt32

    public var description: String { "\(chip.name) [\(chip.label)] line \(offset)" }
}
