import IoTSDK

/// NXP PCA9685: 16-channel, 12-bit PWM controller on I2C (LED dimming, hobby servos, MOSFET
/// gates), as an `Actuator`.
///
/// ```swift
/// let pwm = try await PCA9685(device: bus.device(0x40), configuration: .servos)   // 50 Hz
/// try await pwm.apply(.servo(channel: 0, degrees: 90))
/// try await pwm.apply(.set(channel: 15, .dutyCycle(.percent(25))))
/// try await pwm.enterSafeState()                                                   // all outputs off
/// ```
///
/// **Safe state**: every output full off (ALL_LED_OFF_H bit 4 set, one register write). With
/// ``Configuration/invertOutputs`` the pins then sit high; with an open-drain driver they float.
/// A servo that gets no pulses is unpowered, not held at a position.
///
/// The PCA9685 has no identity register. ``init(device:configuration:)`` checks what the
/// datasheet fixes instead (MODE2 bits 7…5 read 000; PRE_SCALE is never below 3) and throws
/// `SensorError(.wrongChip)` when either is violated.
///
/// Every transfer is a one-byte register access or a write of four registers, which SMBus-only
/// adapters can do (SMBus byte data and I2C-block calls). MODE1.AI (auto-increment) is set at
/// start so that one channel is written in one four-byte write.
///
/// Not supported: the sub-addresses (MODE1 SUB1…3 are cleared), the software reset (it uses the
/// general-call address 0x00), switching to EXTCLK (a board whose MODE1.EXTCLK is already set
/// keeps it; give its frequency as ``Configuration/oscillator``).
public actor PCA9685: Actuator {
    /// Keeps frequency changes (which wait with the chip asleep) from interleaving.
    private let access = SerialAccess()
    /// The default address, all address pins low: 0x40. A5…A0 select 0x40…0x77; 0x70 is also
    /// the LED All Call address while ALLCALL is set.
    public static let defaultAddress: I2CAddress = 0x40

    /// The channels, 0…15.
    public static let channels = 0...15

    /// The bus device.
    public nonisolated let device: I2CDevice
    /// The settings the driver started with.
    public nonisolated let configuration: Configuration

    /// The PRE_SCALE value in use.
    public private(set) var prescale: UInt8

    /// The PWM frequency in use: the nearest step to the one asked for.
    public var frequency: Frequency { Self.frequency(prescale: prescale, oscillator: configuration.oscillator) }

    /// MODE1 as the driver keeps it while running (SLEEP and RESTART clear).
    private let mode1: UInt8

    /// "PCA9685 at 0x40 on i2c-1", for errors.
    private nonisolated let chip: String

    /// Connects to a PCA9685 and configures it: checks that a PCA9685 answers, turns all
    /// outputs off (``Startup/allOff``), writes MODE2, sets MODE1 (auto-increment, All Call)
    /// and the frequency, and wakes the chip.
    ///
    /// Changing PRE_SCALE follows the datasheet (7.3.1.1 and 7.3.5): MODE1.SLEEP is set (and,
    /// if the chip was running, the driver waits one PWM period, after which the chip has set
    /// RESTART), PRE_SCALE is written, MODE1 is read to check RESTART, SLEEP is cleared, and
    /// after the oscillator's 500 µs start-up RESTART is written with 1 if it was set. When the
    /// chip is already awake at the right PRE_SCALE, it is not put to sleep.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for an invalid configuration (before any
    ///   transfer); `SensorError(.wrongChip)` when the chip's registers cannot be a PCA9685's;
    ///   `HardwareError` from the bus (`.noAcknowledge` when nothing answers);
    ///   `CancellationError` if the task is cancelled during the waits.
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        let chip = "PCA9685 at \(device.location)"
        let prescale = try Self.locate(chip) { () throws(SensorError) in try configuration.validated() }

        let mode1 = try device.readRegister(Register.mode1)
        let mode2 = try device.readRegister(Register.mode2)
        let currentPrescale = try device.readRegister(Register.preScale)
        try Self.checkPlausible(mode2: mode2, prescale: currentPrescale, chip: chip, device: device)

        if configuration.startup == .allOff {
            try device.writeRegister(Register.allLEDOffHigh, Self.fullBit)
        }
        try device.writeRegister(Register.mode2, configuration.mode2)
        let base = Mode1.autoIncrement | (mode1 & Mode1.externalClock)
            | (configuration.respondsToAllCall ? Mode1.allCall : 0)
        let awake = mode1 & Mode1.sleep == 0
        if awake && currentPrescale == prescale {
            try device.writeRegister(Register.mode1, base)
        } else {
            try await Self.writePrescale(prescale, base: base, runningAt: awake ? currentPrescale : nil,
                                         oscillator: configuration.oscillator, device: device)
        }

        self.device = device
        self.configuration = configuration
        self.chip = chip
        self.prescale = prescale
        self.mode1 = base
    }

    // MARK: - Actuator

    /// Carries out `command` with one four-byte register write (LEDn or ALL_LED registers).
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a channel outside 0…15, an angle outside
    ///   the servo's calibration, or an invalid ``Output`` (checked before any transfer, so the
    ///   outputs are unchanged); `HardwareError` from the bus.
    public func apply(_ command: Command) async throws {
        switch command {
        case .set(let channel, let output):
            let channel = try checked(channel)
            let registers = try located { () throws(SensorError) in try Self.registers(for: output, frequency: frequency) }
            try device.writeRegisters(Register.ledOnLow(channel: channel), registers.bytes)
        case .setAll(let output):
            let registers = try located { () throws(SensorError) in try Self.registers(for: output, frequency: frequency) }
            try device.writeRegisters(Register.allLEDOnLow, registers.bytes)
        case .servo(let channel, let degrees):
            let channel = try checked(channel)
            let calibration = configuration.servoCalibrations[channel] ?? configuration.servo
            let registers = try located { () throws(SensorError) in
                try Self.registers(pulseWidth: try calibration.pulseWidth(forDegrees: degrees), frequency: frequency)
            }
            try device.writeRegisters(Register.ledOnLow(channel: channel), registers.bytes)
        }
    }

    /// Turns every output full off: one write of 0x10 to ALL_LED_OFF_H (datasheet 7.3.4,
    /// and the "orderly shutdown" of 7.3.1.1). Idempotent, with no wait, so it finishes even in
    /// a cancelled task.
    ///
    /// - Throws: `HardwareError` from the bus.
    public func enterSafeState() async throws {
        try device.writeRegister(Register.allLEDOffHigh, Self.fullBit)
    }

    // MARK: - Frequency and read-back

    /// Changes the PWM frequency of all channels, with the sleep/PRE_SCALE/restart sequence
    /// described at ``init(device:configuration:)``. Running channels restart with their
    /// registers unchanged, so their pulse widths in time scale with the period: re-apply
    /// servo and pulse-width commands afterwards.
    ///
    /// - Throws: `SensorError(.invalidSetting)` when the frequency gives no PRE_SCALE in
    ///   3…255 (about 24…1526 Hz at 25 MHz), before any transfer; `HardwareError` from the bus;
    ///   `CancellationError` if the task is cancelled during the waits (the chip may then be
    ///   left asleep, outputs stopped).
    public func setFrequency(_ frequency: Frequency) async throws {
        let value = try located { () throws(SensorError) in
            try Self.prescale(for: frequency, oscillator: configuration.oscillator)
        }
        try await access.run {
            try await Self.writePrescale(value, base: mode1, runningAt: prescale,
                                         oscillator: configuration.oscillator, device: device)
            prescale = value
        }
    }

    /// Reads a channel's four registers back from the chip.
    ///
    /// - Throws: `SensorError(.invalidSetting)` for a channel outside 0…15; `HardwareError`
    ///   from the bus.
    public func channelRegisters(_ channel: Int) async throws -> ChannelRegisters {
        let channel = try checked(channel)
        let bytes = try device.readRegisters(Register.ledOnLow(channel: channel), count: 4)
        guard let registers = ChannelRegisters(bytes: bytes) else {
            throw SensorError(.invalidData, chip: chip, "reading channel \(channel) returned \(bytes.count) bytes, not 4")
        }
        return registers
    }

    // MARK: - Sequences

    /// The PRE_SCALE sequence of datasheet 7.3.1.1 and 7.3.5. `runningAt` is the PRE_SCALE the
    /// chip was running at, or `nil` if it was asleep.
    private static func writePrescale(_ value: UInt8, base: UInt8, runningAt running: UInt8?,
                                      oscillator: Frequency, device: I2CDevice) async throws {
        try device.writeRegister(Register.mode1, base | Mode1.sleep)
        if let running {
            // The chip stops, and sets RESTART if channels were on, at the end of the PWM
            // period under way (7.3.1.1).
            try await Task.sleep(for: .seconds(1 / frequency(prescale: running, oscillator: oscillator).hertz))
        }
        try device.writeRegister(Register.preScale, value)
        let asleep = try device.readRegister(Register.mode1)
        try device.writeRegister(Register.mode1, base)
        try await Task.sleep(for: oscillatorStartup)
        if asleep & Mode1.restart != 0 {
            try device.writeRegister(Register.mode1, base | Mode1.restart)
        }
    }

    /// Throws `.wrongChip` when MODE2 or PRE_SCALE hold values a PCA9685 cannot have.
    private static func checkPlausible(mode2: UInt8, prescale: UInt8, chip: String, device: I2CDevice) throws(SensorError) {
        let cause = "another chip answers at \(device.address) (an INA219 or a sensor with the same address) "
            + "or the address is wrong (A5…A0 select 0x40…0x77)"
        guard mode2 & Mode2.reservedMask == 0 else {
            throw SensorError(.wrongChip, chip: chip,
                              "MODE2 (0x01) reads \(hex(mode2)), but a PCA9685's bits 7…5 always read 000 (expected 0x00…0x1F): \(cause)")
        }
        guard prescale >= minimumPrescale else {
            throw SensorError(.wrongChip, chip: chip,
                              "PRE_SCALE (0xFE) reads \(hex(prescale)), but a PCA9685 holds 0x03…0xFF (power-on 0x1E): \(cause)")
        }
    }

    // MARK: - Helpers

    private func checked(_ channel: Int) throws(SensorError) -> Int {
        guard Self.channels.contains(channel) else {
            throw SensorError(.invalidSetting, chip: chip, "channel \(channel) does not exist: channels are 0…15")
        }
        return channel
    }

    private func located<T>(_ body: () throws(SensorError) -> T) throws(SensorError) -> T {
        try Self.locate(chip, body)
    }

    /// Runs `body`, putting `chip` into any `SensorError` it throws.
    private static func locate<T>(_ chip: String, _ body: () throws(SensorError) -> T) throws(SensorError) -> T {
        do {
            return try body()
        } catch {
            var located = error
            located.chip = chip
            throw located
        }
    }

    /// `0x0a`-style hex for messages.
    static func hex(_ value: UInt8) -> String {
        "0x" + hexDigits(value, width: 2)
    }
}
