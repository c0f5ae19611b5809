import IoTSDK

/// The TMP102 register map (datasheet SBOS397, "Pointer Register" and "Configuration Register"):
/// a pointer byte selects one of four 16-bit registers, most significant byte first.
extension TMP102 {
    enum Register {
        /// Temperature (P = 00b), read-only.
        static let temperature: UInt8 = 0x00
        /// Configuration (P = 01b), power-up value 60A0h.
        static let configuration: UInt8 = 0x01
        /// T_LOW (P = 10b), power-up 75 °C.
        static let lowLimit: UInt8 = 0x02
        /// T_HIGH (P = 11b), power-up 80 °C.
        static let highLimit: UInt8 = 0x03
    }

    /// Configuration register fields (byte 1 = bits 15-8, byte 2 = bits 7-0).
    enum ConfigBits {
        /// OS: write 1 in shutdown to start a one-shot conversion; reads 0 while it runs, 1 after.
        static let oneShot: UInt16 = 1 << 15
        /// R1/R0: read-only, always 11b (12-bit converter).
        static let resolution: UInt16 = 0b11 << 13
        static let faultQueueShift: UInt16 = 11
        static let polarityHigh: UInt16 = 1 << 10
        static let interruptMode: UInt16 = 1 << 9
        static let shutdown: UInt16 = 1 << 8
        static let conversionRateShift: UInt16 = 6
        /// AL: read-only comparator status, inverted by POL.
        static let alert: UInt16 = 1 << 5
        static let extendedMode: UInt16 = 1 << 4
        /// Bits 3-0 always read 0.
        static let unused: UInt16 = 0x000F
        /// The bits that store what is written: F1 F0 POL TM SD, CR1 CR0, EM.
        static let writable: UInt16 = 0x1FD0
    }

    /// Typical conversion time (Electrical Characteristics, and "One-Shot/Conversion Ready (OS)").
    static let typicalConversionTime: Duration = .milliseconds(26)
    /// Maximum conversion time (Electrical Characteristics).
    static let maximumConversionTime: Duration = .milliseconds(35)
    /// When a one-shot conversion counts as hung: the maximum plus 100 ms of scheduling slack, so
    /// that a late wake-up of the task on a loaded system does not count as a hung chip.
    static let conversionDeadline: Duration = maximumConversionTime + .milliseconds(100)
    static let pollInterval: Duration = .milliseconds(2)

    /// The configuration word for `configuration` (pure). R1/R0 are written as 0 (they are read-only,
    /// so a TMP102 still reads 11b: the driver uses that to tell it from other chips).
    static func configWord(_ configuration: Configuration, startOneShot: Bool = false) -> UInt16 {
        var word = configuration.alert.faults.rawValue << ConfigBits.faultQueueShift
        if configuration.alert.polarity == .activeHigh { word |= ConfigBits.polarityHigh }
        if configuration.alert.thermostat == .interrupt { word |= ConfigBits.interruptMode }
        if configuration.extendedMode { word |= ConfigBits.extendedMode }
        switch configuration.mode {
        case .continuous(let rate):
            word |= rate.rawValue << ConfigBits.conversionRateShift
        case .oneShot:
            word |= ConversionRate.hz4.rawValue << ConfigBits.conversionRateShift | ConfigBits.shutdown
            if startOneShot { word |= ConfigBits.oneShot }
        }
        return word
    }

    /// Whether a configuration register value has the fixed bits of a TMP102: R1/R0 = 11b and bits
    /// 3-0 = 0 (as in the power-up value 60A0h). An ADS1x15 at the same address reads 8583h.
    static func hasFixedConfigBits(_ value: UInt16) -> Bool {
        value & (ConfigBits.resolution | ConfigBits.unused) == ConfigBits.resolution
    }
}
