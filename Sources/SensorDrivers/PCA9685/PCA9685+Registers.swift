// Register addresses and bits of the PCA9685, from NXP's PCA9685 product data sheet
// (Rev. 4, 16 April 2015): section 7.3 "Register definitions", Table 3 "Register summary",
// 7.3.1 "Mode register 1, MODE1", 7.3.2 "Mode register 2, MODE2", 7.3.3 "LED output and PWM
// control", 7.3.4 "ALL_LED_ON and ALL_LED_OFF control", 7.3.5 "PWM frequency PRE_SCALE".

import IoTSDK

extension PCA9685 {
    /// Register addresses (datasheet Table 3).
    enum Register {
        static let mode1: UInt8 = 0x00
        static let mode2: UInt8 = 0x01
        /// LED0_ON_L; channel n's four registers start at `led0OnLow + 4 × n`.
        static let led0OnLow: UInt8 = 0x06
        /// ALL_LED_ON_L; ALL_LED_ON_H, ALL_LED_OFF_L and ALL_LED_OFF_H follow.
        static let allLEDOnLow: UInt8 = 0xFA
        static let allLEDOffHigh: UInt8 = 0xFD
        /// PRE_SCALE: writes are blocked while MODE1.SLEEP is 0.
        static let preScale: UInt8 = 0xFE

        /// LEDn_ON_L of `channel` (0…15, validated by the caller).
        static func ledOnLow(channel: Int) -> UInt8 {
            led0OnLow &+ UInt8(truncatingIfNeeded: 4 * channel)
        }
    }

    /// MODE1 bits (datasheet 7.3.1). Power-on value 0x11: SLEEP and ALLCALL.
    enum Mode1 {
        /// Reads 1 when PWM channels were running as the chip went to sleep; writing 1 clears
        /// it and restarts them; writing 0 has no effect.
        static let restart: UInt8 = 0x80
        /// Use the EXTCLK pin; sticky until power cycle or software reset.
        static let externalClock: UInt8 = 0x40
        /// Register auto-increment.
        static let autoIncrement: UInt8 = 0x20
        /// Low-power mode, oscillator off.
        static let sleep: UInt8 = 0x10
        /// Respond to the LED All Call address (0x70 by default).
        static let allCall: UInt8 = 0x01
    }

    /// MODE2 bits (datasheet 7.3.2). Power-on value 0x04: totem pole. Bits 7…5 are reserved
    /// and read 000.
    enum Mode2 {
        static let reservedMask: UInt8 = 0xE0
        static let invert: UInt8 = 0x10
        static let outputChangeOnAcknowledge: UInt8 = 0x08
        static let totemPole: UInt8 = 0x04
        static let outputNotEnabledMask: UInt8 = 0x03
    }

    /// Bit 4 of LEDn_ON_H (full on) and of LEDn_OFF_H (full off, which takes precedence).
    static let fullBit: UInt8 = 0x10

    /// The smallest PRE_SCALE value the hardware accepts (7.3.5).
    static let minimumPrescale: UInt8 = 3

    /// Counts in one PWM period: a 12-bit counter, 0…4095 (7.3.3).
    static let countsPerPeriod = 4096

    /// Internal oscillator: 25 MHz (section 7.3.5, Equation 1).
    public static let internalOscillator = Frequency.megahertz(25)

    /// The oscillator needs at most 500 µs after SLEEP is cleared before RESTART may be
    /// written (7.3.1.1, Remark).
    static let oscillatorStartup: Duration = .microseconds(500)
}
