import ArgumentParser

/// `--threshold QUANTITY>VALUE` or `QUANTITY<VALUE`: the LED is on while the first configured
/// sensor that measures QUANTITY reads above (or below) VALUE, given in the quantity's unit.
struct Threshold: ExpressibleByArgument, Sendable, CustomStringConvertible {
    enum Comparison: String, Sendable {
        case above = ">"
        case below = "<"
    }

    let quantity: DemoQuantity
    let comparison: Comparison
    /// In the quantity's unit (°C for a temperature).
    let value: Double

    init(quantity: DemoQuantity, comparison: Comparison, value: Double) {
        self.quantity = quantity
        self.comparison = comparison
        self.value = value
    }

    init?(argument: String) {
        guard let at = argument.firstIndex(where: { $0 == ">" || $0 == "<" }),
              let comparison = Comparison(rawValue: String(argument[at])),
              let quantity = DemoQuantity.named(argument[..<at].filter { $0 != " " }),
              let value = Double(argument[argument.index(after: at)...].filter { $0 != " " }), value.isFinite else { return nil }
        self.quantity = quantity
        self.comparison = comparison
        self.value = value
    }

    /// `temperature>25.0`, as `--help` shows the default.
    var defaultValueDescription: String { "\(quantity.name)\(comparison.rawValue)\(value)" }

    /// Whether a base value of the quantity makes the LED turn on.
    func isMet(byBaseValue base: Double) -> Bool {
        let reading = quantity.value(base)
        return comparison == .above ? reading > value : reading < value
    }

    /// `temperature > 25.00 °C`.
    var description: String { "\(quantity.name) \(comparison.rawValue) \(quantity.format(quantity.baseValue(value)))" }
}
