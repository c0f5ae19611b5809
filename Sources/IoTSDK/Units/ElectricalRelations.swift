// MARK: - Ohm's law and electric power

// The relations that current-sense and power-monitor drivers (INA219, INA226) compute:
// V = I × R and P = V × I, with their inverses. Division by a zero quantity follows `Double`.

extension ElectricCurrent {
    /// Ohm's law: the voltage across `resistance` carrying this current (V = I × R).
    public static func * (current: ElectricCurrent, resistance: ElectricResistance) -> Voltage {
        Voltage(baseValue: current.baseValue * resistance.baseValue)
    }

    /// The power of this current at `voltage` (P = I × V).
    public static func * (current: ElectricCurrent, voltage: Voltage) -> Power {
        Power(baseValue: current.baseValue * voltage.baseValue)
    }
}

extension Voltage {
    /// Ohm's law: the current through `resistance` at this voltage (I = V / R).
    public static func / (voltage: Voltage, resistance: ElectricResistance) -> ElectricCurrent {
        ElectricCurrent(baseValue: voltage.baseValue / resistance.baseValue)
    }

    /// Ohm's law: the resistance that carries `current` at this voltage (R = V / I).
    public static func / (voltage: Voltage, current: ElectricCurrent) -> ElectricResistance {
        ElectricResistance(baseValue: voltage.baseValue / current.baseValue)
    }

    /// The power of `current` at this voltage (P = V × I).
    public static func * (voltage: Voltage, current: ElectricCurrent) -> Power {
        Power(baseValue: voltage.baseValue * current.baseValue)
    }
}

extension Power {
    /// The current that this power draws at `voltage` (I = P / V).
    public static func / (power: Power, voltage: Voltage) -> ElectricCurrent {
        ElectricCurrent(baseValue: power.baseValue / voltage.baseValue)
    }

    /// The voltage at which this power draws `current` (V = P / I).
    public static func / (power: Power, current: ElectricCurrent) -> Voltage {
        Voltage(baseValue: power.baseValue / current.baseValue)
    }
}
