import IoTSDK

// MARK: - Settings

extension TMP102 {
    /// Conversions per second in continuous mode (config CR1/CR0).
    public enum ConversionRate: UInt16, Sendable, Hashable, CaseIterable {
        /// 0.25 Hz, one conversion every 4 s (CR = 00b).
        case hz0_25 = 0b00
        /// 1 Hz (CR = 01b).
        case hz1 = 0b01
        /// 4 Hz (CR = 10b, the power-up setting).
        case hz4 = 0b10
        /// 8 Hz (CR = 11b).
        case hz8 = 0b11

        /// The time between conversions.
        public var interval: Duration {
            switch self {
            case .hz0_25: .seconds(4)
            case .hz1: .seconds(1)
            case .hz4: .milliseconds(250)
            case .hz8: .milliseconds(125)
            }
        }
    }

    /// How the chip converts.
    public enum Mode: Sendable, Hashable {
        /// Converts on its own at `rate`; ``TMP102/read()`` returns the latest conversion.
        case continuous(ConversionRate)
        /// Shut down (SD = 1, about 0.5 µA) between readings; ``TMP102/read()`` starts a one-shot
        /// conversion (OS = 1) and waits for it.
        case oneShot
    }

    /// What the ALERT pin reports (config TM).
    public enum ThermostatMode: Sendable, Hashable {
        /// Active from T ≥ T_HIGH until T < T_LOW (TM = 0, power-up setting).
        case comparator
        /// Pulses: active on crossing T_HIGH (and later T_LOW) until any register is read (TM = 1).
        case interrupt
    }

    /// ALERT pin polarity (config POL).
    public enum Polarity: Sendable, Hashable {
        /// Pulls low when active (POL = 0, power-up setting).
        case activeLow
        /// High when active (POL = 1).
        case activeHigh
    }

    /// Consecutive faulty conversions needed to change the alert (config F1/F0).
    public enum FaultQueue: UInt16, Sendable, Hashable, CaseIterable {
        /// One fault (F1/F0 = 00b, power-up setting).
        case one = 0b00
        /// Two consecutive faults (01b).
        case two = 0b01
        /// Four consecutive faults (10b).
        case four = 0b10
        /// Six consecutive faults (11b).
        case six = 0b11
    }

    /// The thermostat: limits and how the ALERT pin (open-drain, needs a pull-up) reports them.
    public struct Alert: Sendable, Hashable {
        /// Comparator or interrupt.
        public var thermostat: ThermostatMode
        /// Pin polarity.
        public var polarity: Polarity
        /// Consecutive faults before the alert changes.
        public var faults: FaultQueue
        /// T_LOW: the alert clears below it. Stored to 0.0625 °C (rounded to the nearest step).
        public var low: Temperature
        /// T_HIGH: the alert sets at or above it. Stored to 0.0625 °C.
        public var high: Temperature

        /// The power-up settings: comparator, active low, one fault, T_LOW = 75 °C, T_HIGH = 80 °C.
        public init(thermostat: ThermostatMode = .comparator, polarity: Polarity = .activeLow, faults: FaultQueue = .one,
                    low: Temperature = Temperature(baseValue: 348.15), high: Temperature = Temperature(baseValue: 353.15)) {
            self.thermostat = thermostat
            self.polarity = polarity
            self.faults = faults
            self.low = low
            self.high = high
        }
    }

    /// How the driver sets the chip up.
    public struct Configuration: Sendable, Hashable {
        /// Continuous at a rate, or one-shot.
        public var mode: Mode
        /// Extended mode (EM = 1): 13-bit data, so temperatures above 128 °C (up to 150 °C, the
        /// sensor's limit) can be read and set as limits; normal mode's 12 bits end at 127.9375 °C.
        public var extendedMode: Bool
        /// Thermostat settings.
        public var alert: Alert

        /// A configuration; the defaults are the power-up settings.
        public init(mode: Mode = .continuous(.hz4), extendedMode: Bool = false, alert: Alert = Alert()) {
            self.mode = mode
            self.extendedMode = extendedMode
            self.alert = alert
        }

        /// Checks the limits against the data format.
        /// - Throws: `SensorError(.invalidSetting)` for a limit outside the format's range
        ///   (−128 … +127.9375 °C, or −256 … +255.9375 °C in extended mode) or T_LOW > T_HIGH.
        public func validate() throws(SensorError) {
            _ = try TMP102.limitRegister(alert.low, extended: extendedMode)
            _ = try TMP102.limitRegister(alert.high, extended: extendedMode)
            guard alert.low <= alert.high else {
                throw SensorError(.invalidSetting, chip: "TMP102", "T_LOW (\(alert.low)) must not be above T_HIGH (\(alert.high)): the alert sets at T_HIGH and clears below T_LOW")
            }
        }
    }
}

// MARK: - Values

extension TMP102 {
    /// One temperature measurement.
    public struct Measurement: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The temperature, to 0.0625 °C.
        public let temperature: Temperature

        /// Creates a measurement.
        public init(temperature: Temperature) {
            self.temperature = temperature
        }

        /// "21.50 °C".
        public var description: String { temperature.description }
    }

    /// The thermostat limits as stored in the chip.
    public struct Limits: Sendable, Hashable {
        /// T_LOW.
        public let low: Temperature
        /// T_HIGH.
        public let high: Temperature
    }
}
