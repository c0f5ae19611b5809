import IoTSDK

/// Code ↔ voltage and conversion timing, as pure functions (datasheets' "Data Format" sections and
/// "Input Signal Versus Ideal Output Code" tables).
extension ADS1x15 {
    // MARK: - Codes

    /// The voltage of a conversion-register value.
    ///
    /// ADS1115: the register is a 16-bit two's-complement code, LSB = FS / 2¹⁵. ADS1015: a 12-bit
    /// two's-complement code left-justified in the register, LSB = FS / 2¹¹; the low four bits are
    /// ignored (they read 0 on a genuine part).
    public static func voltage(code register: UInt16, range: FullScaleRange, part: Part) -> Voltage {
        let signed = Int16(bitPattern: register)
        let steps = part == .ads1115 ? Int(signed) : Int(signed >> 4)
        return .volts(Double(steps) * range.lsb(for: part).volts)
    }

    /// Whether `register` is a full-scale code, at which the output clips: 7FFFh / 8000h on the
    /// ADS1115, 7FFh / 800h (7FF0h / 8000h in the register) on the ADS1015.
    public static func isClipped(code register: UInt16, part: Part) -> Bool {
        let signed = Int16(bitPattern: register)
        switch part {
        case .ads1115: return signed == .max || signed == .min
        case .ads1015: return signed >> 4 == 2047 || signed >> 4 == -2048
        }
    }

    /// The register value of a comparator threshold: `voltage` rounded to the nearest code at `range`
    /// (left-justified on the ADS1015, whose threshold registers hold 12 bits).
    /// - Throws: `SensorError(.invalidSetting)` for a voltage outside −FS … +FS.
    public static func thresholdCode(_ voltage: Voltage, range: FullScaleRange, part: Part) throws(SensorError) -> Int16 {
        let full = range.fullScaleVolts
        guard voltage.volts.isFinite, voltage.volts >= -full, voltage.volts <= full else {
            throw SensorError(.invalidSetting, chip: part.description, "comparator threshold \(voltage) is outside the full-scale range \(range): use a voltage from −\(range.fullScale) to +\(range.fullScale), or a wider range")
        }
        let maxSteps = Double((1 << (part.resolutionBits - 1)) - 1)
        let steps = min(max((voltage.volts / range.lsb(for: part).volts).rounded(), -maxSteps - 1), maxSteps)
        let code = Int16(steps)
        return part == .ads1115 ? code : code << 4
    }

    // MARK: - Timing

    /// How long a single-shot conversion may take at `rate`: the nominal 1/DR plus the datasheet's
    /// ±10 % data-rate variation, plus 100 µs for the power-up from power-down and the bus.
    static func maximumConversionTime(_ rate: DataRate) -> Duration {
        rate.period * 1.1 + .microseconds(100)
    }

    /// When the driver gives up polling OS: twice the maximum conversion time plus 100 ms of
    /// scheduling slack, so that a late wake-up of the task on a loaded system does not count as a
    /// hung chip. Only a failing chip ever waits that long.
    static func conversionDeadline(_ rate: DataRate) -> Duration {
        maximumConversionTime(rate) * 2 + .milliseconds(100)
    }

    /// The pause between two reads of OS once the expected time has passed.
    static func pollInterval(_ rate: DataRate) -> Duration {
        max(rate.period / 10, .microseconds(200))
    }
}
