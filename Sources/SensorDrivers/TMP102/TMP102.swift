import IoTSDK

/// TI TMP102 digital temperature sensor (also register-compatible: TMP112): 12-bit or 13-bit
/// (extended mode) two's complement at 0.0625 °C, continuous or one-shot conversions, and a
/// thermostat with T_LOW/T_HIGH limits on an ALERT pin.
///
/// ```swift
/// let sensor = try await TMP102(device: bus.device(0x48), configuration: .init(mode: .oneShot))
/// print(try await sensor.read().value.temperature)
/// ```
///
/// Only 16-bit register reads and writes are used, so it works on SMBus-only adapters too.
///
/// ## Presence
/// The TMP102 has no identity register. The driver checks the configuration register's fixed bits
/// instead: R1/R0 are read-only and always 11b, bits 3-0 always 0 (power-up value 60A0h). It checks
/// them before writing, and again after writing its configuration with R1/R0 = 00b: a TMP102 still
/// reads 11b, while a chip that stores those bits (an ADS1x15, which shares the addresses) does not.
public actor TMP102: Sensor {
    /// Keeps one-shot conversions from interleaving across the actor's suspension points.
    private let access = SerialAccess()
    /// The device the driver talks to.
    public nonisolated let device: I2CDevice
    /// The configuration in force.
    public private(set) var configuration: Configuration

    private let chip: String
    /// In continuous mode, when the first conversion after a configuration change is done.
    private var firstConversionDone: ContinuousClock.Instant?

    /// Checks that a TMP102 answers, then writes `configuration` (configuration register, T_LOW, T_HIGH).
    ///
    /// Registers: reads configuration (01h), writes and reads it back, writes T_LOW (02h) and T_HIGH (03h).
    /// - Throws: `SensorError(.invalidSetting)` for limits outside the data format;
    ///   `SensorError(.wrongChip)` when the configuration register lacks the TMP102's fixed bits;
    ///   `HardwareError` from the bus (`.noAcknowledge` when nothing answers at the address).
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        try configuration.validate()
        let chip = "TMP102 at \(device.location)"
        let found = try device.readRegister16(Register.configuration)
        guard Self.hasFixedConfigBits(found) else {
            throw Self.notATMP102(chip, "reads \(Self.hex(found))")
        }
        self.device = device
        self.configuration = configuration
        self.chip = chip
        try write(configuration, checkingPresence: true)
    }

    // MARK: - Reading

    /// Measures the temperature.
    ///
    /// Continuous mode: reads the temperature register (00h), after waiting out the first conversion
    /// (35 ms at most) following creation or a configuration change. One-shot mode: writes the
    /// configuration register with OS = 1, sleeps the typical 26 ms, polls OS until it reads 1, then
    /// reads the temperature register.
    /// - Throws: `SensorError(.timeout)` when OS stays 0 past 135 ms; `HardwareError` from the bus;
    ///   `CancellationError` while waiting; `QuantityError`/`TimestampError` as `Reading` does.
    public func read() async throws -> Reading<Measurement> {
        try await access.run { try await measure() }
    }

    private func measure() async throws -> Reading<Measurement> {
        switch configuration.mode {
        case .continuous:
            if let done = firstConversionDone {
                if ContinuousClock.now < done { try await Task.sleep(until: done) }
                firstConversionDone = nil
            }
        case .oneShot:
            try device.writeRegister16(Register.configuration, Self.configWord(configuration, startOneShot: true))
            let started = ContinuousClock.now
            try await Task.sleep(for: Self.typicalConversionTime)
            try await waitForOneShot(since: started)
        }
        let raw = try device.readRegister16(Register.temperature)
        let temperature = try Temperature.celsius(Self.celsius(temperatureRegister: raw))
        return try Reading(value: Measurement(temperature: temperature))
    }

    private func waitForOneShot(since start: ContinuousClock.Instant) async throws {
        try await StatusPolling.wait(until: start + Self.conversionDeadline, interval: Self.pollInterval, timeout: {
            SensorError(.timeout, chip: chip, "the one-shot conversion did not finish within \(Self.conversionDeadline) (the datasheet's maximum is 35 ms): OS in the configuration register (01h) stayed 0. Check the supply")
        }) {
            try device.readRegister16(Register.configuration) & ConfigBits.oneShot != 0
        }
    }

    // MARK: - Configuration

    /// Writes a new configuration: mode, data format and thermostat.
    ///
    /// Registers: writes configuration (01h), T_LOW (02h), T_HIGH (03h). Changing the format (EM)
    /// takes effect with the next conversion; ``read()`` tells the formats apart by bit D0.
    /// - Throws: `SensorError(.invalidSetting)` for limits outside the format; `HardwareError`.
    public func configure(_ configuration: Configuration) throws {
        try configuration.validate()
        try write(configuration, checkingPresence: false)
    }

    /// Reads T_LOW and T_HIGH (02h, 03h), decoded in the configured format.
    /// - Throws: `HardwareError`; `QuantityError` for an impossible value.
    public func readLimits() throws -> Limits {
        let extended = configuration.extendedMode
        let low = try device.readRegister16(Register.lowLimit)
        let high = try device.readRegister16(Register.highLimit)
        return Limits(low: try .celsius(Self.celsius(limitRegister: low, extended: extended)),
                      high: try .celsius(Self.celsius(limitRegister: high, extended: extended)))
    }

    /// Whether the thermostat's comparator is active (T reached T_HIGH and has not yet fallen below
    /// T_LOW, counting the fault queue), from the AL bit of the configuration register (01h),
    /// corrected for the polarity. It is the comparator state in interrupt mode too.
    /// - Throws: `HardwareError`.
    public func isAlertActive() throws -> Bool {
        let status = try device.readRegister16(Register.configuration)
        let flag = status & ConfigBits.alert != 0
        return configuration.alert.polarity == .activeLow ? !flag : flag
    }

    // MARK: - Internals

    private func write(_ configuration: Configuration, checkingPresence: Bool) throws {
        let word = Self.configWord(configuration)
        try device.writeRegister16(Register.configuration, word)
        if checkingPresence {
            let readBack = try device.readRegister16(Register.configuration)
            guard Self.hasFixedConfigBits(readBack), readBack & ConfigBits.writable == word & ConfigBits.writable else {
                throw Self.notATMP102(chip, "read back \(Self.hex(readBack)) after \(Self.hex(word)) was written")
            }
        }
        try device.writeRegister16(Register.lowLimit, Self.limitRegister(configuration.alert.low, extended: configuration.extendedMode))
        try device.writeRegister16(Register.highLimit, Self.limitRegister(configuration.alert.high, extended: configuration.extendedMode))
        self.configuration = configuration
        if case .continuous = configuration.mode {
            firstConversionDone = .now + Self.maximumConversionTime
        } else {
            firstConversionDone = nil
        }
    }

    private static func notATMP102(_ chip: String, _ what: String) -> SensorError {
        SensorError(.wrongChip, chip: chip, "the configuration register (01h) \(what): a TMP102 always reads R1/R0 = 11b and bits 3-0 = 0 (60A0h after power-up). Another chip answers at this address (an ADS1x15 also uses 0x48-0x4B and reads 8583h after power-up), or the address is wrong")
    }

    private static func hex(_ value: UInt16) -> String {
        hexDigits(value, width: 4) + "h"
    }
}
