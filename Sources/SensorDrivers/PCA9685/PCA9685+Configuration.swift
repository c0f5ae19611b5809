import IoTSDK

extension PCA9685 {
    /// How the output stage is built (MODE2 OUTDRV, datasheet 7.3.2 and 7.7).
    public enum OutputDriver: Sendable, Hashable {
        /// Open-drain: the outputs only sink current (LEDs to V+ directly, some LEDs with
        /// integrated Zener diodes must be driven this way).
        case openDrain
        /// Totem pole: 25 mA sink, 10 mA source at 5 V (the power-on setting, and what servo
        /// and MOSFET-gate boards need).
        case totemPole
    }

    /// When new register values reach the outputs (MODE2 OCH, datasheet 7.3.2).
    public enum OutputChange: Sendable, Hashable {
        /// At the I2C STOP that ends the write (the power-on setting): synchronises several chips.
        case onStop
        /// At the acknowledge of the last of a channel's four registers.
        case onAcknowledge
    }

    /// What the outputs do while the OE pin is high, i.e. disabled (MODE2 OUTNE[1:0],
    /// datasheet 7.3.2 and Table 10 in 7.4).
    public enum DisabledOutputs: Sendable, Hashable {
        /// LEDn = 0 (the power-on setting).
        case low
        /// LEDn = 1 with a totem-pole driver, high impedance with open drain.
        case high
        /// LEDn = high impedance.
        case highImpedance
    }

    /// What the driver does to the outputs when it starts.
    public enum Startup: Sendable, Hashable {
        /// Turns every output full off first (ALL_LED_OFF_H bit 4), so nothing runs on values
        /// left by an earlier program.
        case allOff
        /// Leaves the channel registers as they are: attaching to a chip that is already
        /// driving something. When the chip is awake at the requested frequency already, the
        /// driver does not put it to sleep either, so the outputs do not glitch.
        case keepOutputs
    }

    /// Settings applied by ``PCA9685/init(device:configuration:)``.
    public struct Configuration: Sendable, Hashable {
        /// The PWM output frequency; the chip runs at the nearest step it can make (see
        /// ``PCA9685/prescale(for:oscillator:)``). 24…1526 Hz with the internal oscillator.
        public var frequency: Frequency
        /// The oscillator frequency: ``PCA9685/internalOscillator`` (25 MHz), or a measured
        /// value to correct a chip whose internal oscillator runs fast or slow, or the EXTCLK
        /// frequency (at most 50 MHz) on a board whose MODE1.EXTCLK is already set.
        public var oscillator: Frequency
        /// MODE2 OUTDRV.
        public var outputDriver: OutputDriver
        /// MODE2 INVRT: invert the outputs (for LEDs wired from the output to V+ with a
        /// totem-pole driver, or an external inverting driver).
        public var invertOutputs: Bool
        /// MODE2 OCH.
        public var outputChange: OutputChange
        /// MODE2 OUTNE.
        public var disabledOutputs: DisabledOutputs
        /// MODE1 ALLCALL: answer the LED All Call address 0x70 as well (the power-on setting).
        public var respondsToAllCall: Bool
        /// What happens to the outputs at start.
        public var startup: Startup
        /// The servo calibration of channels without their own in ``servoCalibrations``.
        public var servo: ServoCalibration
        /// Calibrations of individual channels (keys 0…15).
        public var servoCalibrations: [Int: ServoCalibration]

        /// A configuration; the defaults are the chip's power-on settings (200 Hz, totem pole,
        /// not inverted, outputs change on STOP, LEDn = 0 when disabled, All Call on) with all
        /// outputs turned off at start.
        public init(frequency: Frequency = .hertz(200), oscillator: Frequency = PCA9685.internalOscillator,
                    outputDriver: OutputDriver = .totemPole, invertOutputs: Bool = false,
                    outputChange: OutputChange = .onStop, disabledOutputs: DisabledOutputs = .low,
                    respondsToAllCall: Bool = true, startup: Startup = .allOff,
                    servo: ServoCalibration = .standard, servoCalibrations: [Int: ServoCalibration] = [:]) {
            self.frequency = frequency
            self.oscillator = oscillator
            self.outputDriver = outputDriver
            self.invertOutputs = invertOutputs
            self.outputChange = outputChange
            self.disabledOutputs = disabledOutputs
            self.respondsToAllCall = respondsToAllCall
            self.startup = startup
            self.servo = servo
            self.servoCalibrations = servoCalibrations
        }

        /// For hobby servos: 50 Hz, totem pole, the standard calibration (500…2500 µs over
        /// 0…180°).
        public static var servos: Configuration { Configuration(frequency: .hertz(50)) }

        /// The MODE2 byte for these settings.
        var mode2: UInt8 {
            var value: UInt8 = 0
            if invertOutputs { value |= Mode2.invert }
            if outputChange == .onAcknowledge { value |= Mode2.outputChangeOnAcknowledge }
            if outputDriver == .totemPole { value |= Mode2.totemPole }
            switch disabledOutputs {
            case .low: break
            case .high: value |= 0x01
            case .highImpedance: value |= 0x02
            }
            return value
        }

        /// Checks the settings that a type cannot check by itself.
        ///
        /// - Throws: `SensorError(.invalidSetting)` for an oscillator outside 1…50 MHz, a
        ///   frequency that gives no PRE_SCALE in 3…255, or a servo calibration for a channel
        ///   outside 0…15.
        func validated() throws(SensorError) -> UInt8 {
            let hertz = oscillator.hertz
            guard hertz.isFinite, (1e6...50e6).contains(hertz) else {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "oscillator frequency \(oscillator) is out of range: it must be 1…50 MHz (25 MHz internal, EXTCLK at most 50 MHz)")
            }
            if let channel = servoCalibrations.keys.sorted().first(where: { !PCA9685.channels.contains($0) }) {
                throw SensorError(.invalidSetting, chip: "PCA9685",
                                  "servo calibration for channel \(channel): channels are 0…15")
            }
            return try PCA9685.prescale(for: frequency, oscillator: oscillator)
        }
    }
}
