import IoTSDK

// MARK: - Configuration

extension ADS1x15 {
    /// How the driver sets the chip up. Every conversion is a single-shot conversion (config MODE = 1):
    /// the chip powers down between readings.
    public struct Configuration: Sendable, Hashable {
        /// Which chip is on the bus; it selects the data rates and the code size.
        public var part: Part
        /// The input ``ADS1x15/read()`` converts.
        public var input: Input
        /// The full-scale range ``ADS1x15/read()`` uses, and against which comparator thresholds are coded.
        public var range: FullScaleRange
        /// Conversions per second; must be one of ``Part/dataRates``.
        public var dataRate: DataRate
        /// What the ALERT/RDY pin does.
        public var alertPin: AlertPin

        /// A configuration; `dataRate` defaults to the part's power-up rate (128 SPS on the ADS1115,
        /// 1600 SPS on the ADS1015). Validated when the driver is created.
        public init(part: Part, input: Input = .ain0, range: FullScaleRange = .plusMinus2_048V,
                    dataRate: DataRate? = nil, alertPin: AlertPin = .disabled) {
            self.part = part
            self.input = input
            self.range = range
            self.dataRate = dataRate ?? part.defaultDataRate
            self.alertPin = alertPin
        }

        /// Checks the settings against the part.
        /// - Throws: `SensorError(.invalidSetting)` for a data rate the part lacks or comparator
        ///   thresholds outside ±FS or not in order.
        public func validate() throws(SensorError) {
            _ = try dataRate.code(on: part)
            _ = try ADS1x15.thresholdRegisters(for: alertPin, range: range, part: part)
        }
    }
}

// MARK: - ALERT/RDY pin

extension ADS1x15 {
    /// The ALERT/RDY pin's function (config COMP_MODE, COMP_POL, COMP_LAT, COMP_QUE and the
    /// Lo_thresh/Hi_thresh registers). The pin is open-drain: it needs a pull-up.
    public enum AlertPin: Sendable, Hashable {
        /// Comparator off (COMP_QUE = 11b), pin high-impedance: the power-up state.
        case disabled
        /// The digital comparator: after `assertAfter` conversions beyond the thresholds the pin asserts.
        ///
        /// - `.traditional`: asserts above `high`, releases below `low` (hysteresis).
        /// - `.window`: asserts above `high` or below `low`.
        ///
        /// Thresholds are coded against the configuration's full-scale range: the comparator is
        /// digital, so a conversion made with another range compares other volts.
        case comparator(ComparatorMode, low: Voltage, high: Voltage, polarity: Polarity = .activeLow,
                        latching: Bool = false, assertAfter: AssertAfter = .one)
        /// Conversion-ready: the pin follows the OS bit, so it signals the end of each single-shot
        /// conversion (Hi_thresh MSB = 1, Lo_thresh MSB = 0, COMP_QUE ≠ 11b).
        case conversionReady(polarity: Polarity = .activeLow)
    }

    /// COMP_MODE.
    public enum ComparatorMode: Sendable, Hashable {
        /// Hysteresis comparator (COMP_MODE = 0).
        case traditional
        /// Window comparator (COMP_MODE = 1).
        case window
    }

    /// COMP_POL.
    public enum Polarity: Sendable, Hashable {
        /// The pin pulls low when asserted (COMP_POL = 0, power-up setting).
        case activeLow
        /// The pin goes high when asserted (COMP_POL = 1).
        case activeHigh
    }

    /// COMP_QUE: how many successive conversions beyond a threshold assert the pin.
    public enum AssertAfter: UInt16, Sendable, Hashable {
        /// One conversion (COMP_QUE = 00b).
        case one = 0b00
        /// Two successive conversions (01b).
        case two = 0b01
        /// Four successive conversions (10b).
        case four = 0b10
    }
}

// MARK: - Sample

extension ADS1x15 {
    /// One conversion: the voltage, and the code and settings it came from.
    public struct Sample: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The differential input voltage AINP − AINN.
        public let voltage: Voltage
        /// The input that was converted.
        public let input: Input
        /// The full-scale range of the conversion.
        public let range: FullScaleRange
        /// The conversion register as two's complement; on the ADS1015 the 12-bit result is
        /// left-justified (the low four bits are zero).
        public let code: Int16
        /// Whether the code is a full-scale code (7FFFh or 8000h; 7FF0h or 8000h on the ADS1015):
        /// the input may lie beyond the range, so the voltage is a bound, not a measurement.
        public let isClipped: Bool

        /// Creates a sample.
        public init(voltage: Voltage, input: Input, range: FullScaleRange, code: Int16, isClipped: Bool) {
            self.voltage = voltage
            self.input = input
            self.range = range
            self.code = code
            self.isClipped = isClipped
        }

        /// "1.250 V on AIN0-GND (±2.048 V)", with "clipped" when it is.
        public var description: String {
            "\(voltage) on \(input) (\(range))" + (isClipped ? " clipped" : "")
        }
    }
}
