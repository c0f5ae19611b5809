import IoTSDK

// MARK: - Part

extension ADS1x15 {
    /// The member of the family on the bus. Both share one register map (datasheets' "Register Map"
    /// sections); the ADS1115 converts to 16 bits at 8…860 SPS, the ADS1015 to 12 bits at 128…3300 SPS.
    public enum Part: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        /// TI ADS1115: 16-bit, 8…860 SPS.
        case ads1115
        /// TI ADS1015: 12-bit (left-justified in the 16-bit conversion register), 128…3300 SPS.
        case ads1015

        /// "ADS1115" or "ADS1015".
        public var description: String { rawValue.uppercased() }

        /// Bits of the conversion result: 16 or 12.
        public var resolutionBits: Int { self == .ads1115 ? 16 : 12 }

        /// The data rates of the config register's DR[2:0] field, indexed by the field's value
        /// (ADS1115 / ADS1015 datasheets, Config Register field descriptions). On the ADS1015 the codes
        /// 110b and 111b both select 3300 SPS; the driver writes 110b.
        public var dataRates: [DataRate] {
            switch self {
            case .ads1115: [.sps8, .sps16, .sps32, .sps64, .sps128, .sps250, .sps475, .sps860]
            case .ads1015: [.sps128, .sps250, .sps490, .sps920, .sps1600, .sps2400, .sps3300]
            }
        }

        /// The data rate after power-up (DR = 100b): 128 SPS on the ADS1115, 1600 SPS on the ADS1015.
        public var defaultDataRate: DataRate { self == .ads1115 ? .sps128 : .sps1600 }
    }
}

// MARK: - Input multiplexer

extension ADS1x15 {
    /// What the input multiplexer (config MUX[2:0]) connects to the ADC: the four differential pairs
    /// the mux offers, or one input against GND.
    ///
    /// Single-ended inputs use only the positive half of the code range (0 … +FS); an input close to
    /// 0 V can still read slightly negative because of the offset. No input may go below GND − 0.3 V
    /// or above VDD + 0.3 V, whatever the full-scale range.
    public enum Input: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        /// AIN0 − AIN1 (MUX 000b, the power-up setting).
        case ain0MinusAin1
        /// AIN0 − AIN3 (MUX 001b).
        case ain0MinusAin3
        /// AIN1 − AIN3 (MUX 010b).
        case ain1MinusAin3
        /// AIN2 − AIN3 (MUX 011b).
        case ain2MinusAin3
        /// AIN0 − GND (MUX 100b).
        case ain0
        /// AIN1 − GND (MUX 101b).
        case ain1
        /// AIN2 − GND (MUX 110b).
        case ain2
        /// AIN3 − GND (MUX 111b).
        case ain3

        /// The MUX[2:0] value.
        var mux: UInt16 {
            switch self {
            case .ain0MinusAin1: 0b000
            case .ain0MinusAin3: 0b001
            case .ain1MinusAin3: 0b010
            case .ain2MinusAin3: 0b011
            case .ain0: 0b100
            case .ain1: 0b101
            case .ain2: 0b110
            case .ain3: 0b111
            }
        }

        /// Whether the negative input is GND.
        public var isSingleEnded: Bool { mux >= 0b100 }

        /// "AIN0-AIN1", "AIN2-GND".
        public var description: String {
            switch self {
            case .ain0MinusAin1: "AIN0-AIN1"
            case .ain0MinusAin3: "AIN0-AIN3"
            case .ain1MinusAin3: "AIN1-AIN3"
            case .ain2MinusAin3: "AIN2-AIN3"
            case .ain0: "AIN0-GND"
            case .ain1: "AIN1-GND"
            case .ain2: "AIN2-GND"
            case .ain3: "AIN3-GND"
            }
        }

        /// The single-ended input `channel` (0-3) against GND, for channel numbers that come from input.
        /// - Throws: `SensorError(.invalidSetting)` for a channel outside 0-3.
        public static func singleEnded(_ channel: Int) throws(SensorError) -> Input {
            switch channel {
            case 0: return .ain0
            case 1: return .ain1
            case 2: return .ain2
            case 3: return .ain3
            default:
                throw SensorError(.invalidSetting, chip: "ADS1x15", "single-ended channel \(channel) does not exist: the inputs are AIN0-AIN3 (0-3)")
            }
        }

        /// The differential pair `positive` − `negative`, for channel numbers that come from input.
        /// - Throws: `SensorError(.invalidSetting)` for a pair the multiplexer does not offer; the
        ///   message lists the pairs it does (0-1, 0-3, 1-3, 2-3).
        public static func differential(positive: Int, negative: Int) throws(SensorError) -> Input {
            switch (positive, negative) {
            case (0, 1): return .ain0MinusAin1
            case (0, 3): return .ain0MinusAin3
            case (1, 3): return .ain1MinusAin3
            case (2, 3): return .ain2MinusAin3
            default:
                throw SensorError(.invalidSetting, chip: "ADS1x15", "the multiplexer has no pair AIN\(positive)-AIN\(negative): the differential pairs are AIN0-AIN1, AIN0-AIN3, AIN1-AIN3 and AIN2-AIN3 (swap the wires and negate the reading for the reverse polarity)")
            }
        }
    }
}

// MARK: - Full-scale range (PGA)

extension ADS1x15 {
    /// The programmable gain amplifier's full-scale range (config PGA[2:0]).
    ///
    /// ±6.144 V and ±4.096 V only scale the codes: no input may exceed VDD + 0.3 V, so on a 3.3 V
    /// supply a reading above 3.3 V cannot occur even at ±6.144 V.
    public enum FullScaleRange: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        /// ±6.144 V (PGA 000b).
        case plusMinus6_144V
        /// ±4.096 V (PGA 001b).
        case plusMinus4_096V
        /// ±2.048 V (PGA 010b, the power-up setting).
        case plusMinus2_048V
        /// ±1.024 V (PGA 011b).
        case plusMinus1_024V
        /// ±0.512 V (PGA 100b).
        case plusMinus0_512V
        /// ±0.256 V (PGA 101b; 110b and 111b select it too).
        case plusMinus0_256V

        /// The PGA[2:0] value.
        var pga: UInt16 {
            switch self {
            case .plusMinus6_144V: 0b000
            case .plusMinus4_096V: 0b001
            case .plusMinus2_048V: 0b010
            case .plusMinus1_024V: 0b011
            case .plusMinus0_512V: 0b100
            case .plusMinus0_256V: 0b101
            }
        }

        /// The full-scale voltage FS (the range is −FS … +FS), in volts.
        public var fullScaleVolts: Double {
            switch self {
            case .plusMinus6_144V: 6.144
            case .plusMinus4_096V: 4.096
            case .plusMinus2_048V: 2.048
            case .plusMinus1_024V: 1.024
            case .plusMinus0_512V: 0.512
            case .plusMinus0_256V: 0.256
            }
        }

        /// The full-scale voltage FS.
        public var fullScale: Voltage { .volts(fullScaleVolts) }

        /// The size of one code: FS / 2¹⁵ on the ADS1115, FS / 2¹¹ on the ADS1015 (datasheets'
        /// "Full-Scale Range and Corresponding LSB Size" tables).
        public func lsb(for part: Part) -> Voltage {
            .volts(fullScaleVolts / Double(1 << (part.resolutionBits - 1)))
        }

        /// "±2.048 V".
        public var description: String { "±" + fullScale.formatted(in: .volts, fractionDigits: 3) }

        /// The range whose full scale is `fullScale` (to the microvolt), for values that come from input.
        /// - Throws: `SensorError(.invalidSetting)` for any other voltage; the message lists the ranges.
        public init(validating fullScale: Voltage) throws(SensorError) {
            guard let match = Self.allCases.first(where: { abs($0.fullScaleVolts - fullScale.volts) < 1e-6 }) else {
                let allowed = Self.allCases.map(\.description).joined(separator: ", ")
                throw SensorError(.invalidSetting, chip: "ADS1x15", "full-scale range ±\(fullScale.formatted(in: .volts, fractionDigits: 4)) is not one the PGA offers: \(allowed)")
            }
            self = match
        }
    }
}

// MARK: - Data rate

extension ADS1x15 {
    /// Conversions per second (config DR[2:0]); which rates exist depends on the ``Part``.
    /// The raw value is samples per second: 8…860 exist on the ADS1115, 128…3300 on the ADS1015.
    public enum DataRate: Int, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        case sps8 = 8, sps16 = 16, sps32 = 32, sps64 = 64, sps128 = 128, sps250 = 250, sps475 = 475
        case sps490 = 490, sps860 = 860, sps920 = 920, sps1600 = 1600, sps2400 = 2400, sps3300 = 3300

        /// Samples per second.
        public var samplesPerSecond: Int { rawValue }

        /// The nominal conversion time, 1 / data rate.
        public var period: Duration { .nanoseconds(1_000_000_000 / rawValue) }

        /// "860 SPS".
        public var description: String { "\(rawValue) SPS" }

        /// The rate of `samplesPerSecond` on `part`, for values that come from input.
        /// - Throws: `SensorError(.invalidSetting)` when `part` has no such rate; the message lists its rates.
        public init(samplesPerSecond: Int, part: Part) throws(SensorError) {
            guard let rate = part.dataRates.first(where: { $0.rawValue == samplesPerSecond }) else {
                throw ADS1x15.DataRate.unsupported(samplesPerSecond, on: part)
            }
            self = rate
        }

        /// The DR[2:0] value of this rate on `part`.
        /// - Throws: `SensorError(.invalidSetting)` when `part` has no such rate.
        func code(on part: Part) throws(SensorError) -> UInt16 {
            guard let index = part.dataRates.firstIndex(of: self) else {
                throw Self.unsupported(rawValue, on: part)
            }
            return UInt16(index)
        }

        static func unsupported(_ samplesPerSecond: Int, on part: Part) -> SensorError {
            let allowed = part.dataRates.map { String($0.rawValue) }.joined(separator: ", ")
            return SensorError(.invalidSetting, chip: part.description, "\(samplesPerSecond) SPS is not a data rate of the \(part): it offers \(allowed) SPS")
        }
    }
}
