// MARK: - Description

extension PhysicalQuantity {
    /// The value in a display unit with its symbol, such as `"21.50 °C"`, `"1013.25 hPa"`,
    /// `"45.0 %RH"` or `"12.500 mA"`.
    ///
    /// The unit is chosen from ``displayUnits`` and the precision is ``displayFractionDigits``.
    public var description: String {
        formatted(in: Self.displayUnit(for: baseValue))
    }

    /// The value in `unit` with `fractionDigits` digits after the point (at most 9) and the unit's
    /// symbol: `pressure.formatted(in: .inchesOfMercury, fractionDigits: 3) == "29.921 inHg"`.
    public func formatted(in unit: QuantityUnit<Self>, fractionDigits: Int = Self.displayFractionDigits) -> String {
        unit.format(baseValue, fractionDigits: fractionDigits)
    }

    /// The display unit for a base value: the largest unit in which the rounded value is at least 1,
    /// or the preferred (first) unit for zero, non-finite values and values below every unit.
    private static func displayUnit(for baseValue: Double) -> QuantityUnit<Self> {
        let units = displayUnits
        guard let preferred = units.first else { return baseUnit }
        guard baseValue.isFinite, baseValue != 0, units.count > 1 else { return preferred }
        let digits = displayFractionDigits
        let one = Double(FixedPointFormat.scale(fractionDigits: digits))
        let fitting = units.filter { unit in
            FixedPointFormat.scaledMagnitude(unit.value(fromBaseValue: baseValue), fractionDigits: digits) >= one
        }
        return fitting.max { $0.coefficient.magnitude < $1.coefficient.magnitude } ?? preferred
    }
}

extension QuantityUnit {
    /// Formats a base value in this unit: `"1013.25 hPa"` (no space for a unit without a symbol).
    func format(_ baseValue: Double, fractionDigits: Int = Quantity.displayFractionDigits) -> String {
        let number = FixedPointFormat.string(value(fromBaseValue: baseValue), fractionDigits: fractionDigits)
        return symbol.isEmpty ? number : number + " " + symbol
    }
}
