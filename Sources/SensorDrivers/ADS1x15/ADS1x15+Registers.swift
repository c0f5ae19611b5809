import IoTSDK

/// The register map shared by the ADS1115 and ADS1015 (datasheets' "Register Map": four 16-bit
/// registers, most significant byte first, selected by the pointer byte's P[1:0]).
extension ADS1x15 {
    enum Register {
        /// Conversion register (P = 00b): the last result, two's complement. Read-only.
        static let conversion: UInt8 = 0x00
        /// Config register (P = 01b).
        static let config: UInt8 = 0x01
        /// Lo_thresh register (P = 10b), reset 8000h.
        static let lowThreshold: UInt8 = 0x02
        /// Hi_thresh register (P = 11b), reset 7FFFh.
        static let highThreshold: UInt8 = 0x03

        /// Config after power-up or a general-call reset: OS = 1, AIN0-AIN1, ±2.048 V, single-shot,
        /// DR = 100b, comparator disabled.
        static let configResetValue: UInt16 = 0x8583
        static let lowThresholdResetValue: UInt16 = 0x8000
        static let highThresholdResetValue: UInt16 = 0x7FFF
    }

    /// Config register fields.
    enum ConfigBits {
        /// Write 1: start a single conversion; read 0: converting, 1: idle.
        static let operationalStatus: UInt16 = 1 << 15
        static let muxShift: UInt16 = 12
        static let pgaShift: UInt16 = 9
        /// 1: single-shot mode (power-down between conversions); 0: continuous.
        static let singleShotMode: UInt16 = 1 << 8
        static let dataRateShift: UInt16 = 5
        static let windowComparator: UInt16 = 1 << 4
        static let activeHigh: UInt16 = 1 << 3
        static let latching: UInt16 = 1 << 2
        /// COMP_QUE = 11b: comparator off.
        static let comparatorDisabled: UInt16 = 0b11
        /// Every bit but OS, whose read value is a status.
        static let storedBits: UInt16 = 0x7FFF
    }

    /// The config word for a single-shot conversion of `input` at `range`, `rate` (pure; the pin bits
    /// come from `alertPin`). With `start` the OS bit is set, which starts a conversion.
    static func configWord(start: Bool, input: Input, range: FullScaleRange, rateCode: UInt16,
                           alertPin: AlertPin) -> UInt16 {
        var word = input.mux << ConfigBits.muxShift
            | range.pga << ConfigBits.pgaShift
            | ConfigBits.singleShotMode
            | (rateCode & 0b111) << ConfigBits.dataRateShift
        switch alertPin {
        case .disabled:
            word |= ConfigBits.comparatorDisabled
        case .comparator(let mode, _, _, let polarity, let latching, let assertAfter):
            if mode == .window { word |= ConfigBits.windowComparator }
            if polarity == .activeHigh { word |= ConfigBits.activeHigh }
            if latching { word |= ConfigBits.latching }
            word |= assertAfter.rawValue
        case .conversionReady(let polarity):
            if polarity == .activeHigh { word |= ConfigBits.activeHigh }
            word |= AssertAfter.one.rawValue
        }
        if start { word |= ConfigBits.operationalStatus }
        return word
    }

    /// The Lo_thresh and Hi_thresh values for `alertPin` (pure): the reset values when the pin is
    /// disabled, 0000h/8000h (MSBs 0 and 1) for conversion-ready, the coded thresholds otherwise.
    /// - Throws: `SensorError(.invalidSetting)` for thresholds outside ±FS or with `low` ≥ `high`.
    static func thresholdRegisters(for alertPin: AlertPin, range: FullScaleRange, part: Part)
        throws(SensorError) -> (low: UInt16, high: UInt16) {
        switch alertPin {
        case .disabled:
            return (Register.lowThresholdResetValue, Register.highThresholdResetValue)
        case .conversionReady:
            return (0x0000, 0x8000)
        case .comparator(_, let low, let high, _, _, _):
            let lowCode = try thresholdCode(low, range: range, part: part)
            let highCode = try thresholdCode(high, range: range, part: part)
            guard lowCode < highCode else {
                throw SensorError(.invalidSetting, chip: part.description, "comparator thresholds must satisfy low < high (in codes of \(range.lsb(for: part)) at \(range)); got low \(low), high \(high)")
            }
            return (UInt16(bitPattern: lowCode), UInt16(bitPattern: highCode))
        }
    }
}
