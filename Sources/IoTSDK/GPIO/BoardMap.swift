/// How one board's GPIO numbers map onto a chip: data, not code. The SDK ships the Raspberry Pi
/// maps; an app can pass its own for other boards (or future Pis) to `GPIO(backend:boards:)`.
public struct BoardDefinition: Sendable, Hashable {
    /// Human name, used in messages.
    public var name: String
    /// The label of the chip that carries the board's numbered GPIOs.
    public var chipLabel: String
    /// The GPIO numbers this board exposes (BCM numbering on a Pi).
    public var numbers: ClosedRange<Int>
    /// The chip offset of number 0; number n is at `offsetOfZero + n`.
    public var offsetOfZero: Int
    /// The canonical line name of number n, with `{n}` replaced (`GPIO{n}`).
    public var lineNamePattern: String
    /// Other names the device tree gives some lines (Pi 4: 2 is "SDA1", 14 is "TXD1"…).
    public var alternateNames: [Int: [String]]

    public init(name: String, chipLabel: String, numbers: ClosedRange<Int>, offsetOfZero: Int = 0,
                lineNamePattern: String = "GPIO{n}", alternateNames: [Int: [String]] = [:]) {
        self.name = name
        self.chipLabel = chipLabel
        self.numbers = numbers
        self.offsetOfZero = offsetOfZero
        self.lineNamePattern = lineNamePattern
        self.alternateNames = alternateNames
    }

    func canonicalName(of number: Int) -> String {
        lineNamePattern.replacingOccurrences(of: "{n}", with: String(number))
    }

    /// Whether a line name fits number `number`: its canonical or an alternate name, or a name
    /// that does not look like another number's canonical name.
    func lineName(_ lineName: String, fits number: Int) -> Bool {
        if lineName == canonicalName(of: number) { return true }
        if alternateNames[number]?.contains(lineName) == true { return true }
        return !numbers.contains { lineName == canonicalName(of: $0) }
    }
}

extension BoardDefinition {
    /// Names the Raspberry Pi device trees give header lines besides `GPIOn`.
    static let raspberryPiAlternateNames: [Int: [String]] = [
        0: ["ID_SDA"], 1: ["ID_SCL"], 2: ["SDA1", "SDA"], 3: ["SCL1", "SCL"], 4: ["GPIO_GCLK"],
        7: ["SPI_CE1_N"], 8: ["SPI_CE0_N"], 9: ["SPI_MISO"], 10: ["SPI_MOSI"], 11: ["SPI_SCLK"],
        14: ["TXD1", "TXD0"], 15: ["RXD1", "RXD0"],
    ]

    /// Raspberry Pi 5 (RP1 south bridge).
    public static let raspberryPi5 = BoardDefinition(
        name: "Raspberry Pi 5", chipLabel: "pinctrl-rp1", numbers: 0...27, alternateNames: raspberryPiAlternateNames)
    /// Raspberry Pi 4 and 400, Compute Module 4.
    public static let raspberryPi4 = BoardDefinition(
        name: "Raspberry Pi 4", chipLabel: "pinctrl-bcm2711", numbers: 0...57, alternateNames: raspberryPiAlternateNames)
    /// Raspberry Pi 3, Zero 2 W and older (BCM2835/6/7 GPIO block).
    public static let raspberryPi3 = BoardDefinition(
        name: "Raspberry Pi 3 or older", chipLabel: "pinctrl-bcm2835", numbers: 0...53, alternateNames: raspberryPiAlternateNames)

    /// The maps `.bcm(n)` tries, in this order.
    public static let raspberryPi: [BoardDefinition] = [raspberryPi5, raspberryPi4, raspberryPi3]
}

extension String {
    /// Foundation-free replacement of every occurrence of `target`.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
