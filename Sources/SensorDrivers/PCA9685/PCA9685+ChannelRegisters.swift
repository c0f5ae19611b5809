import IoTSDK

extension PCA9685 {
    /// The four registers of one channel, LEDn_ON_L/H and LEDn_OFF_L/H (datasheet 7.3.3, Table 7).
    ///
    /// The 12-bit counter runs 0…4095 once per PWM period; the output turns on when it reaches
    /// ``on`` and off when it reaches ``off`` (which may lie in the next period: ``off`` < ``on``
    /// is allowed). Bit 4 of LEDn_ON_H (``fullOn``) holds the output on, bit 4 of LEDn_OFF_H
    /// (``fullOff``) holds it off and takes precedence over full on.
    public struct ChannelRegisters: Sendable, Hashable, CustomStringConvertible {
        /// The count at which the output turns on, 0…4095.
        public let on: UInt16
        /// The count at which the output turns off, 0…4095.
        public let off: UInt16
        /// LEDn_ON_H bit 4: always on (the counts are ignored).
        public let fullOn: Bool
        /// LEDn_OFF_H bit 4: always off; takes precedence over ``fullOn``.
        public let fullOff: Bool

        /// Registers with the output always off (the power-on state: LEDn_OFF_H = 0x10).
        public static let alwaysOff = ChannelRegisters(unchecked: 0, 0, fullOn: false, fullOff: true)
        /// Registers with the output always on (LEDn_ON_H = 0x10).
        public static let alwaysOn = ChannelRegisters(unchecked: 0, 0, fullOn: true, fullOff: false)

        /// Registers from raw counts.
        ///
        /// - Throws: `SensorError(.invalidSetting)` if a count is outside 0…4095, or if `on`
        ///   equals `off` without a full-on or full-off bit (the datasheet, 7.3.4, says the two
        ///   counts must never be programmed with the same value).
        public init(on: Int, off: Int, fullOn: Bool = false, fullOff: Bool = false) throws(SensorError) {
            let range = 0...(PCA9685.countsPerPeriod - 1)
            guard range.contains(on), range.contains(off) else {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "PWM counts on \(on), off \(off) are out of range: each must be 0…4095 (12 bits)")
            }
            guard on != off || fullOn || fullOff else {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "PWM counts on and off are both \(on): the datasheet (7.3.4) forbids equal counts; use .off or .on instead")
            }
            self.init(unchecked: UInt16(on), UInt16(off), fullOn: fullOn, fullOff: fullOff)
        }

        /// Decodes the four bytes read from LEDn_ON_L…LEDn_OFF_H; `nil` unless there are four.
        /// Reserved bits 7…5 of the high bytes are ignored.
        public init?(bytes: [UInt8]) {
            guard bytes.count == 4 else { return nil }
            self.init(unchecked: UInt16(bytes[1] & 0x0F) << 8 | UInt16(bytes[0]),
                      UInt16(bytes[3] & 0x0F) << 8 | UInt16(bytes[2]),
                      fullOn: bytes[1] & PCA9685.fullBit != 0,
                      fullOff: bytes[3] & PCA9685.fullBit != 0)
        }

        init(unchecked on: UInt16, _ off: UInt16, fullOn: Bool, fullOff: Bool) {
            self.on = on
            self.off = off
            self.fullOn = fullOn
            self.fullOff = fullOff
        }

        /// The bytes for LEDn_ON_L, LEDn_ON_H, LEDn_OFF_L, LEDn_OFF_H, in that order: one
        /// four-byte write with auto-increment.
        public var bytes: [UInt8] {
            [UInt8(on & 0xFF), UInt8(on >> 8) | (fullOn ? PCA9685.fullBit : 0),
             UInt8(off & 0xFF), UInt8(off >> 8) | (fullOff ? PCA9685.fullBit : 0)]
        }

        /// The fraction of each period the output is logically on (before MODE2 inversion).
        public var dutyCycle: Ratio {
            if fullOff { return .fraction(0) }
            if fullOn { return .fraction(1) }
            let period = PCA9685.countsPerPeriod
            let high = (Int(off) - Int(on) + period) % period
            return .fraction(Double(high) / Double(period))
        }

        /// Such as `"on 409, off 1228"`, `"full on"`, `"full off"`.
        public var description: String {
            if fullOff { return "full off" }
            if fullOn { return "full on" }
            return "on \(on), off \(off)"
        }
    }
}
