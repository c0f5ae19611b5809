import IoTSDK

// MARK: - Settings

extension MCP9808 {
    /// Measurement resolution (Resolution register 08h) and its conversion time
    /// ("Temperature Conversion Time" table: typical values; the datasheet gives no maximum).
    public enum Resolution: UInt8, Sendable, Hashable, CaseIterable {
        /// 0.5 °C, 30 ms (code 00b).
        case half = 0b00
        /// 0.25 °C, 65 ms (code 01b).
        case quarter = 0b01
        /// 0.125 °C, 130 ms (code 10b).
        case eighth = 0b10
        /// 0.0625 °C, 250 ms (code 11b, the power-up setting).
        case sixteenth = 0b11

        /// The step in °C.
        public var stepCelsius: Double { 0.5 / Double(1 << Int(rawValue)) }

        /// The typical conversion time t_CONV.
        public var typicalConversionTime: Duration {
            switch self {
            case .half: .milliseconds(30)
            case .quarter: .milliseconds(65)
            case .eighth: .milliseconds(130)
            case .sixteenth: .milliseconds(250)
            }
        }

        /// What the driver waits for one conversion: t_CONV + 25 %, since only typical values are
        /// published.
        var conversionWait: Duration { typicalConversionTime * 1.25 }
    }

    /// Power use between readings (CONFIG SHDN).
    public enum PowerMode: Sendable, Hashable {
        /// Converts continuously (about 200 µA); ``MCP9808/read()`` returns the latest conversion.
        case continuous
        /// Shut down (about 0.1 µA) between readings: ``MCP9808/read()`` wakes the chip, waits one
        /// conversion and shuts it down again. Not possible while the limits are locked.
        case shutdownBetweenReadings
    }

    /// Hysteresis applied when an alert condition ends (CONFIG T_HYST).
    public enum Hysteresis: UInt16, Sendable, Hashable, CaseIterable {
        /// 0 °C (T_HYST = 00b, power-up setting).
        case zero = 0b00
        /// +1.5 °C (01b).
        case celsius1_5 = 0b01
        /// +3.0 °C (10b).
        case celsius3 = 0b10
        /// +6.0 °C (11b).
        case celsius6 = 0b11

        /// The hysteresis in °C.
        public var celsius: Double { [0, 1.5, 3, 6][Int(rawValue)] }
    }

    /// Alert output mode (CONFIG Alert Mod.).
    public enum AlertMode: Sendable, Hashable {
        /// Asserted while a limit is crossed (Alert Mod. = 0).
        case comparator
        /// Asserted on each crossing until ``MCP9808/clearInterrupt()`` (Alert Mod. = 1). T_CRIT
        /// always acts as a comparator.
        case interrupt
    }

    /// Alert output polarity (CONFIG Alert Pol.).
    public enum Polarity: Sendable, Hashable {
        /// Pulls low when asserted (power-up setting).
        case activeLow
        /// High when asserted.
        case activeHigh
    }

    /// The alert output (open-drain: needs a pull-up) and the limits it compares T_A with.
    public struct Alert: Sendable, Hashable {
        /// Comparator or interrupt.
        public var mode: AlertMode
        /// Pin polarity.
        public var polarity: Polarity
        /// `true`: alert on T_CRIT only (Alert Sel. = 1); `false`: on T_UPPER, T_LOWER and T_CRIT.
        public var criticalOnly: Bool
        /// Hysteresis.
        public var hysteresis: Hysteresis
        /// T_UPPER: alert above it. Stored to 0.25 °C (rounded to the nearest step).
        public var upper: Temperature
        /// T_LOWER: alert below it. Stored to 0.25 °C.
        public var lower: Temperature
        /// T_CRIT: alert at or above it. Stored to 0.25 °C.
        public var critical: Temperature

        /// An enabled alert output with the given limits.
        public init(lower: Temperature, upper: Temperature, critical: Temperature, mode: AlertMode = .comparator,
                    polarity: Polarity = .activeLow, criticalOnly: Bool = false, hysteresis: Hysteresis = .zero) {
            self.mode = mode
            self.polarity = polarity
            self.criticalOnly = criticalOnly
            self.hysteresis = hysteresis
            self.upper = upper
            self.lower = lower
            self.critical = critical
        }
    }

    /// How the driver sets the chip up.
    public struct Configuration: Sendable, Hashable {
        /// Resolution and conversion time.
        public var resolution: Resolution
        /// Continuous or shut down between readings.
        public var powerMode: PowerMode
        /// The alert output and limits; `nil` disables the output and leaves the limit registers alone.
        public var alert: Alert?

        /// A configuration; the defaults are the power-up settings.
        public init(resolution: Resolution = .sixteenth, powerMode: PowerMode = .continuous, alert: Alert? = nil) {
            self.resolution = resolution
            self.powerMode = powerMode
            self.alert = alert
        }

        /// Checks the limits.
        /// - Throws: `SensorError(.invalidSetting)` for a limit outside −256 … +255.75 °C (the
        ///   registers' 0.25 °C two's-complement format) or T_LOWER ≥ T_UPPER.
        public func validate() throws(SensorError) {
            guard let alert else { return }
            _ = try MCP9808.limitRegister(alert.lower)
            _ = try MCP9808.limitRegister(alert.upper)
            _ = try MCP9808.limitRegister(alert.critical)
            guard alert.lower < alert.upper else {
                throw SensorError(.invalidSetting, chip: "MCP9808", "T_LOWER (\(alert.lower)) must be below T_UPPER (\(alert.upper))")
            }
        }
    }
}

// MARK: - Values

extension MCP9808 {
    /// The comparison flags in bits 15-13 of the ambient temperature register, which the chip sets
    /// whatever the alert output's configuration.
    public struct LimitFlags: OptionSet, Sendable, Hashable, Codable {
        /// Bits 15-13 of T_A, shifted down to bits 2-0.
        public let rawValue: UInt8
        /// Flags from bits 2-0 (critical, above upper, below lower).
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// T_A ≥ T_CRIT (bit 15).
        public static let critical = LimitFlags(rawValue: 1 << 2)
        /// T_A > T_UPPER (bit 14).
        public static let aboveUpper = LimitFlags(rawValue: 1 << 1)
        /// T_A < T_LOWER (bit 13).
        public static let belowLower = LimitFlags(rawValue: 1 << 0)
    }

    /// One measurement: the ambient temperature and the limit flags read with it.
    public struct Measurement: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The ambient temperature, to the configured resolution.
        public let temperature: Temperature
        /// How T_A compares with the limits.
        public let flags: LimitFlags

        /// Creates a measurement.
        public init(temperature: Temperature, flags: LimitFlags) {
            self.temperature = temperature
            self.flags = flags
        }

        /// "21.50 °C".
        public var description: String { temperature.description }
    }

    /// The limit registers as stored in the chip.
    public struct Limits: Sendable, Hashable {
        /// T_UPPER (02h).
        public let upper: Temperature
        /// T_LOWER (03h).
        public let lower: Temperature
        /// T_CRIT (04h).
        public let critical: Temperature
    }
}
