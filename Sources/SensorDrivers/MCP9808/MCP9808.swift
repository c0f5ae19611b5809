import IoTSDK

/// Microchip MCP9808 digital temperature sensor: ±0.5 °C (max, −20 … +100 °C), 0.5 … 0.0625 °C
/// resolution, continuous conversion or shutdown, and an alert output with upper, lower and
/// critical limits.
///
/// ```swift
/// let sensor = try await MCP9808(device: bus.device(0x18), configuration: .init(resolution: .quarter))
/// let reading = try await sensor.read()           // Reading<MCP9808.Measurement>
/// print(reading.value.temperature, reading.value.flags)
/// ```
///
/// Creation checks the manufacturer ID (register 06h = 0054h) and the device ID (upper byte of 07h
/// = 04h). Only 8- and 16-bit register reads and writes are used, so it works on SMBus-only
/// adapters too.
public actor MCP9808: Sensor {
    /// Keeps a wake-convert-sleep sequence from interleaving with another read.
    private let access = SerialAccess()
    /// The device the driver talks to.
    public nonisolated let device: I2CDevice
    /// The device revision (lower byte of register 07h).
    public nonisolated let revision: UInt8
    /// The configuration in force.
    public private(set) var configuration: Configuration

    let chip: String
    /// The CONFIG word last written (without the one-shot bits Int. Clear and the locks).
    var configWord: UInt16 = 0
    /// In continuous mode, when T_A first holds a conversion made under the current settings.
    var readyAt: ContinuousClock.Instant?

    /// Checks the identity registers, then writes `configuration` (resolution, limits, CONFIG).
    ///
    /// Registers: reads 06h, 07h, 08h, CONFIG (01h) and T_A (05h); writes 08h, the limits (02h-04h)
    /// when an alert is configured, and CONFIG, which it reads back. After a power-up (T_A still reads
    /// its reset value 0000h) or a wake-up from shutdown, the first ``read()`` waits one conversion.
    /// - Throws: `SensorError(.invalidSetting)` for limits outside the registers' range, or when the
    ///   chip's limits are locked and differ from the configuration; `SensorError(.wrongChip)` when
    ///   the identity registers hold other values; `HardwareError` from the bus (`.noAcknowledge`
    ///   when nothing answers at the address).
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        try configuration.validate()
        let chip = "MCP9808 at \(device.location)"
        let manufacturer = try device.readRegister16(Register.manufacturerID)
        guard manufacturer == Register.expectedManufacturerID else {
            throw SensorError(.wrongChip, chip: chip, "the manufacturer ID register (06h) reads \(Self.hex(manufacturer)), expected 0054h (Microchip): another chip answers at this address (0x18-0x1F is also used by accelerometers such as the LIS3DH), or the address is wrong")
        }
        let identity = try device.readRegister16(Register.deviceID)
        guard UInt8(identity >> 8) == Register.expectedDeviceID else {
            throw SensorError(.wrongChip, chip: chip, "the device ID (upper byte of register 07h) is \(Self.hex(UInt8(identity >> 8))), expected 04h: this is another Microchip temperature sensor (MCP9804 reads 02h, MCP98243 21h), or the address is wrong")
        }
        let previousResolution = Resolution(rawValue: try device.readRegister(Register.resolution) & 0b11) ?? .sixteenth
        let current = try device.readRegister16(Register.configuration)
        let ambient = try device.readRegister16(Register.ambientTemperature)

        self.device = device
        self.revision = UInt8(identity & 0xFF)
        self.configuration = configuration
        self.chip = chip
        try apply(configuration, current: current)
        if configuration.powerMode == .continuous {
            if current & ConfigBits.shutdown != 0 {
                readyAt = .now + configuration.resolution.conversionWait
            } else if ambient & 0x1FFF == 0 {
                readyAt = .now + previousResolution.conversionWait
            }
        }
    }

    // MARK: - Reading

    /// Measures the ambient temperature.
    ///
    /// Continuous mode: reads T_A (05h), after waiting out a first conversion if one is due. Shutdown
    /// between readings: clears SHDN in CONFIG (01h), waits one conversion (t_CONV + 25 %), reads T_A,
    /// sets SHDN again.
    /// - Throws: `HardwareError` from the bus; `CancellationError` while waiting;
    ///   `QuantityError`/`TimestampError` as `Reading` does.
    public func read() async throws -> Reading<Measurement> {
        try await access.run { try await measure() }
    }

    private func measure() async throws -> Reading<Measurement> {
        let raw: UInt16
        switch configuration.powerMode {
        case .continuous:
            if let readyAt {
                if ContinuousClock.now < readyAt { try await Task.sleep(until: readyAt) }
                self.readyAt = nil
            }
            raw = try device.readRegister16(Register.ambientTemperature)
        case .shutdownBetweenReadings:
            try device.writeRegister16(Register.configuration, configWord & ~ConfigBits.shutdown)
            do {
                try await Task.sleep(for: configuration.resolution.conversionWait)
                raw = try device.readRegister16(Register.ambientTemperature)
            } catch {
                // Put the chip back to sleep; the error that matters is the one being thrown.
                try? device.writeRegister16(Register.configuration, configWord)
                throw error
            }
            try device.writeRegister16(Register.configuration, configWord)
        }
        let measurement = Measurement(temperature: try .celsius(Self.celsius(ambientRegister: raw)),
                                      flags: Self.limitFlags(ambientRegister: raw))
        return try Reading(value: measurement)
    }

    // MARK: - Writing settings

    /// Writes resolution, limits and CONFIG, and checks that the chip took them.
    func apply(_ configuration: Configuration, current: UInt16) throws {
        try device.writeRegister(Register.resolution, configuration.resolution.rawValue)
        let word = Self.configWord(configuration, shutdown: configuration.powerMode == .shutdownBetweenReadings)
        var limits: [(UInt8, UInt16)] = []
        if let alert = configuration.alert {
            limits = [(Register.upperLimit, try Self.limitRegister(alert.upper)),
                      (Register.lowerLimit, try Self.limitRegister(alert.lower)),
                      (Register.criticalLimit, try Self.limitRegister(alert.critical))]
            if current & ConfigBits.alertEnable != 0 && current & ConfigBits.locks == 0 {
                // Silence the output while its limits change.
                try device.writeRegister16(Register.configuration, current & ConfigBits.settings & ~ConfigBits.alertEnable)
            }
            for (register, value) in limits { try device.writeRegister16(register, value) }
        }
        try device.writeRegister16(Register.configuration, word)
        let readBack = try device.readRegister16(Register.configuration)
        guard readBack & ConfigBits.settings == word & ConfigBits.settings else {
            throw settingsRefused("CONFIG (01h) reads \(Self.hex(readBack)) after \(Self.hex(word)) was written", locked: readBack & ConfigBits.locks != 0)
        }
        for (register, value) in limits {
            let stored = try device.readRegister16(register)
            guard stored & 0x1FFC == value else {
                throw settingsRefused("limit register \(Self.hex(register)) reads \(Self.hex(stored)) after \(Self.hex(value)) was written", locked: readBack & ConfigBits.locks != 0)
            }
        }
        self.configuration = configuration
        self.configWord = word
    }

    private func settingsRefused(_ what: String, locked: Bool) -> SensorError {
        guard locked else {
            return SensorError(.invalidData, chip: chip, "\(what): the chip did not store the settings")
        }
        return SensorError(.invalidSetting, chip: chip, "\(what): the limits are locked (CONFIG Crit. Lock/Win. Lock), which also freezes the alert settings, hysteresis and shutdown until the MCP9808 is power-cycled. Power-cycle it, or configure the settings it holds")
    }

    static func hex<T: BinaryInteger>(_ value: T) -> String {
        hexDigits(value, width: T.self == UInt8.self ? 2 : 4) + "h"
    }
}
