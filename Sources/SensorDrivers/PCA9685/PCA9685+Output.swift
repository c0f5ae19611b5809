import IoTSDK

extension PCA9685 {
    /// What one channel (or all of them) should output.
    public enum Output: Sendable, Hashable {
        /// Always off: the full-off bit (bit 4 of LEDn_OFF_H).
        case off
        /// Always on: the full-on bit (bit 4 of LEDn_ON_H).
        case on
        /// A duty cycle 0…1 that starts `delay` (0…<1) into each period. 0 gives ``off`` and 1
        /// gives ``on``; everything else is rounded to the nearest of the 4096 counts, as the
        /// datasheet's examples in 7.3.3 do.
        case dutyCycle(Ratio, delay: Ratio = .zero)
        /// Raw counts (0…4095 each) at which the output turns on and off; see ``ChannelRegisters``.
        case counts(on: Int, off: Int)
        /// A high pulse of this width at the start of every period, rounded to the nearest
        /// count at the frequency in use. Zero gives ``off``; a pulse as long as the period
        /// gives ``on``.
        case pulseWidth(Duration)
    }

    /// A command for ``PCA9685/apply(_:)``. Channels are 0…15.
    public enum Command: Sendable, Hashable {
        /// Sets one channel: one four-byte write to its LEDn registers.
        case set(channel: Int, Output)
        /// Sets all 16 channels at once: one four-byte write to ALL_LED_ON_L…ALL_LED_OFF_H.
        case setAll(Output)
        /// Turns the servo on `channel` to `degrees`, through the channel's
        /// ``ServoCalibration`` (``Configuration/servo`` unless ``Configuration/servoCalibrations``
        /// has one for it).
        case servo(channel: Int, degrees: Double)
    }
}
