import IoTSDK

/// TI ADS1115 (16-bit) and ADS1015 (12-bit) I2C analog-to-digital converters: four inputs through a
/// multiplexer, a programmable gain amplifier, single-shot conversions.
///
/// ```swift
/// let adc = try await ADS1x15(device: bus.device(0x48),
///                             configuration: .init(part: .ads1115, input: .ain0, dataRate: .sps860))
/// let reading = try await adc.read()                       // Reading<ADS1x15.Sample>
/// let battery = try await adc.read(.ain1, range: .plusMinus4_096V).value.voltage
/// ```
///
/// Each conversion writes the config register with OS = 1, sleeps the datasheet's conversion time
/// (1/DR + 10 %), then polls the OS bit until the chip reports idle or a deadline passes. Only
/// 16-bit register reads and writes are used, so the driver works on SMBus-only adapters too.
///
/// ## Presence
/// The ADS1x15 has no identity register. At creation the driver reads the config register (8583h
/// right after power-up or a general-call reset, recorded in ``configAtStart``), writes its own
/// settings and reads them back: an ADS1x15 stores every config bit except OS, so a mismatch means
/// another chip (a TMP102 shares the addresses 0x48-0x4B) and throws `.wrongChip`. A value other
/// than 8583h is not an error: the chip keeps its registers while powered, so a restarted program
/// finds its own last settings. See the README.
public actor ADS1x15: Sensor {
    /// Keeps conversions from interleaving across the actor's suspension points.
    private let access = SerialAccess()
    /// The device the driver talks to.
    public nonisolated let device: I2CDevice
    /// The validated configuration.
    public nonisolated let configuration: Configuration
    /// The config register as found before the driver wrote it: 8583h after power-up or reset.
    public nonisolated let configAtStart: UInt16
    /// The part the threshold registers behave like: on the ADS1015 the low four bits of Lo_thresh
    /// are read-only zeros, on the ADS1115 they store what is written. Boards sold as ADS1115 but
    /// carrying an ADS1015 show up here; the driver reports it and carries on (voltages are scaled
    /// right either way, only resolution and data rates differ).
    public nonisolated let probedPart: Part

    private let chip: String
    private let rateCode: UInt16
    /// Set while a conversion is outstanding; still set at the next read if the last one was
    /// cancelled or failed, so that the next read first waits for the chip to be idle.
    private var conversionMayBeRunning = false

    /// Whether ``configAtStart`` is the power-up value 8583h.
    public nonisolated var foundPowerOnState: Bool { configAtStart == Register.configResetValue }

    /// Checks that an ADS1x15 answers, then writes `configuration` (config register in single-shot
    /// power-down, and the threshold registers).
    ///
    /// Registers: reads and writes config (01h), writes and reads Lo_thresh (02h) once to probe the
    /// part, writes Lo_thresh and Hi_thresh (02h, 03h).
    /// - Throws: `SensorError(.invalidSetting)` for a setting the part lacks; `SensorError(.wrongChip)`
    ///   when the config register does not keep what was written; `HardwareError` from the bus
    ///   (`.noAcknowledge` when nothing answers at the address).
    public init(device: I2CDevice, configuration: Configuration) async throws {
        try configuration.validate()
        let chip = "\(configuration.part) at \(device.location)"
        let rateCode = try configuration.dataRate.code(on: configuration.part)
        let thresholds = try Self.thresholdRegisters(for: configuration.alertPin, range: configuration.range, part: configuration.part)

        let found = try device.readRegister16(Register.config)
        let idle = Self.configWord(start: false, input: configuration.input, range: configuration.range,
                                   rateCode: rateCode, alertPin: configuration.alertPin)
        try device.writeRegister16(Register.config, idle)
        let readBack = try device.readRegister16(Register.config)
        guard readBack & ConfigBits.storedBits == idle & ConfigBits.storedBits else {
            throw SensorError(.wrongChip, chip: chip, "the config register (01h) read back \(Self.hex(readBack)) after \(Self.hex(idle)) was written (it held \(Self.hex(found)) before): an ADS1x15 stores every bit but OS. Another chip answers at this address (a TMP102/TMP112 or LM75 also uses 0x48-0x4B), or the address is wrong")
        }

        try device.writeRegister16(Register.lowThreshold, 0x0005)
        let probe = try device.readRegister16(Register.lowThreshold)
        try device.writeRegister16(Register.lowThreshold, thresholds.low)
        try device.writeRegister16(Register.highThreshold, thresholds.high)

        self.device = device
        self.configuration = configuration
        self.configAtStart = found
        self.probedPart = probe & 0x000F == 0 ? .ads1015 : .ads1115
        self.chip = chip
        self.rateCode = rateCode
        // OS = 0: a conversion (or continuous mode) was running when the driver came; the first
        // read waits for it to end rather than pick up its result.
        self.conversionMayBeRunning = found & ConfigBits.operationalStatus == 0
    }

    // MARK: - Reading

    /// Converts the configured input at the configured range.
    ///
    /// Registers: writes config (01h) with OS = 1, polls config until OS = 1, reads conversion (00h).
    /// - Throws: `SensorError(.timeout)` when OS stays 0 past the deadline; `HardwareError` from the
    ///   bus; `CancellationError` while waiting; `TimestampError` if the clock cannot be read.
    public func read() async throws -> Reading<Sample> {
        try await read(configuration.input, range: configuration.range)
    }

    /// Converts `input` at `range` (the configuration's range when `nil`), at the configured data rate.
    ///
    /// Registers and errors as ``read()``.
    public func read(_ input: Input, range: FullScaleRange? = nil) async throws -> Reading<Sample> {
        // One conversion at a time: a second caller must not change the mux mid-conversion.
        try await access.run { try await convert(input, range: range) }
    }

    private func convert(_ input: Input, range: FullScaleRange?) async throws -> Reading<Sample> {
        let range = range ?? configuration.range
        let rate = configuration.dataRate
        if conversionMayBeRunning {
            try await waitForIdle(since: .now, rate: rate)
        }
        let start = Self.configWord(start: true, input: input, range: range, rateCode: rateCode,
                                    alertPin: configuration.alertPin)
        conversionMayBeRunning = true
        try device.writeRegister16(Register.config, start)
        let started = ContinuousClock.now
        try await Task.sleep(for: Self.maximumConversionTime(rate))
        try await waitForIdle(since: started, rate: rate)
        let register = try device.readRegister16(Register.conversion)
        conversionMayBeRunning = false
        let sample = Sample(voltage: Self.voltage(code: register, range: range, part: configuration.part),
                            input: input, range: range, code: Int16(bitPattern: register),
                            isClipped: Self.isClipped(code: register, part: configuration.part))
        return try Reading(value: sample)
    }

    /// Polls OS until the chip is idle.
    /// - Throws: `SensorError(.timeout)` past `since` + the deadline for `rate`.
    private func waitForIdle(since start: ContinuousClock.Instant, rate: DataRate) async throws {
        try await StatusPolling.wait(until: start + Self.conversionDeadline(rate), interval: Self.pollInterval(rate), timeout: {
            SensorError(.timeout, chip: chip, "no conversion result within \(Self.conversionDeadline(rate)) at \(rate): the OS bit of the config register (01h) stayed 0. Check the supply and that the chip is an \(configuration.part) (an ADS1115 set up as ADS1015 runs slower)")
        }) {
            try device.readRegister16(Register.config) & ConfigBits.operationalStatus != 0
        }
    }

    static func hex(_ value: UInt16) -> String {
        hexDigits(value, width: 4) + "h"
    }
}
