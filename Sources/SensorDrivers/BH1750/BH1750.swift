import IoTSDK

/// A ROHM BH1750FVI ambient light sensor on I2C (datasheet "BH1750FVI Technical Note").
///
/// ```swift
/// let light = try await BH1750(device: bus.device(0x23))
/// print(try await light.read().value)           // "350.0 lx"
/// ```
///
/// The chip has no registers: it takes one-byte opcodes and answers a plain 2-byte read
/// (high byte first), so it needs an I2C-capable adapter (I2C_RDWR); on an SMBus-only adapter
/// the initialiser throws `SensorError(.unsupported)`. It has no identity register and no
/// checksum.
public actor BH1750: Sensor {
    /// The device this driver talks to.
    public nonisolated let device: I2CDevice
    /// "BH1750 at 0x23 on i2c-1", for messages.
    public nonisolated let chip: String
    /// The settings in use.
    public internal(set) var configuration: Configuration

    /// The address with ADDR low (≤ 0.3 VCC): 0100011.
    public static let defaultAddress: I2CAddress = 0x23
    /// The address with ADDR high (≥ 0.7 VCC): 1011100.
    public static let alternateAddress: I2CAddress = 0x5C

    let access = SerialAccess()
    /// In continuous mode: when the next result that started after the previous read is ready.
    var nextResult: ContinuousClock.Instant?

    /// Connects to the chip and configures it: Power On (0x01), Reset (0x07, clears the data
    /// register), the two MTreg opcodes, then the continuous measurement command, or Power Down
    /// (0x00) in one-time mode.
    ///
    /// - Throws: `SensorError(.unsupported)` on an SMBus-only adapter; `HardwareError` with code
    ///   `.noAcknowledge` when nothing answers at the address.
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        self.device = device
        self.chip = "BH1750 at \(device.location)"
        self.configuration = configuration
        try device.requirePlainI2C(chip: chip, protocol: "one-byte opcodes and a 2-byte read without a register address")
        try await access.run {
            try send(BH1750.Opcode.powerOn)
            try send(BH1750.Opcode.reset)
            try applyConfiguration()
        }
    }

    // MARK: - Reading

    /// Measures the illuminance.
    ///
    /// One-time mode: Power On, the one-time command (0x20 / 0x21 / 0x23), a wait of the maximum
    /// measurement time (180 or 24 ms × MTreg / 69), a 2-byte read; the chip then powers down.
    /// Continuous mode: waits until a measurement that began after the previous read has finished,
    /// then reads 2 bytes, so that no result is returned twice (after ``powerDown()`` it first
    /// powers on and restarts measuring).
    ///
    /// - Throws: `HardwareError` for a failed transfer; `SensorError(.invalidData)` if the bus returns
    ///   fewer than 2 bytes; `TimestampError`; `CancellationError`.
    public func read() async throws -> Reading<Illuminance> {
        try await access.run {
            let wait = Self.maximumMeasurementDuration(configuration.resolution, measurementTime: configuration.measurementTime)
            switch configuration.mode {
            case .oneTime:
                try send(Opcode.powerOn)
                try send(Opcode.measure(configuration.resolution, .oneTime))
                try await Task.sleep(for: wait)
            case .continuous:
                if nextResult == nil {                  // powered down: start measuring again
                    try send(Opcode.powerOn)
                    try applyConfiguration()
                }
                if let ready = nextResult, ContinuousClock.now < ready {
                    try await Task.sleep(until: ready, clock: .continuous)
                }
            }
            let count = try readCount()
            if configuration.mode == .continuous { nextResult = ContinuousClock.now + wait }
            return try Reading(value: Self.illuminance(count: count, resolution: configuration.resolution,
                                                       measurementTime: configuration.measurementTime))
        }
    }

    // MARK: - Settings and power

    /// Changes resolution, mode and measurement time: loads MTreg (0x40 | MT[7:5], 0x60 | MT[4:0])
    /// and restarts continuous measurement with the new settings (or powers down in one-time mode).
    /// - Throws: `HardwareError` for a failed transfer; `CancellationError`.
    public func setConfiguration(_ configuration: Configuration) async throws {
        try await access.run {
            self.configuration = configuration
            try send(Opcode.powerOn)
            try applyConfiguration()
        }
    }

    /// Changes only the measurement-time register; see ``setConfiguration(_:)``.
    /// - Throws: `HardwareError`; `CancellationError`.
    public func setMeasurementTime(_ time: MeasurementTime) async throws {
        var new = configuration
        new.measurementTime = time
        try await setConfiguration(new)
    }

    /// Powers the chip down (0x00): it stops measuring and draws about 0.01 µA. The next
    /// ``read()`` powers it on again by itself (in continuous mode it then waits a full measurement).
    /// - Throws: `HardwareError`; `CancellationError`.
    public func powerDown() async throws {
        try await access.run {
            try send(Opcode.powerDown)
            nextResult = nil
        }
    }

    /// Powers the chip on (0x01) and, in continuous mode, restarts measuring.
    /// - Throws: `HardwareError`; `CancellationError`.
    public func powerOn() async throws {
        try await access.run {
            try send(Opcode.powerOn)
            try applyConfiguration()
        }
    }

    /// Clears the data register (Power On 0x01, then Reset 0x07: reset is ignored in power-down)
    /// and restarts the configured mode.
    /// - Throws: `HardwareError`; `CancellationError`.
    public func reset() async throws {
        try await access.run {
            try send(Opcode.powerOn)
            try send(Opcode.reset)
            try applyConfiguration()
        }
    }

    // MARK: - Bus primitives (run inside `access`)

    private func send(_ opcode: UInt8) throws(HardwareError) {
        try device.write([opcode])          // one opcode per message: the chip needs a stop after each
    }

    private func readCount() throws -> UInt16 {
        let bytes = try device.read(count: 2)
        guard bytes.count == 2 else {
            throw SensorError(.invalidData, chip: chip, "expected 2 bytes (high, low), got \(bytes.count)")
        }
        return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
    }

    /// Loads MTreg, then starts continuous measurement or powers down for one-time mode.
    private func applyConfiguration() throws(HardwareError) {
        for opcode in configuration.measurementTime.opcodes { try send(opcode) }
        switch configuration.mode {
        case .continuous:
            try send(Opcode.measure(configuration.resolution, .continuous))
            nextResult = ContinuousClock.now + Self.maximumMeasurementDuration(configuration.resolution,
                                                                                 measurementTime: configuration.measurementTime)
        case .oneTime:
            try send(Opcode.powerDown)
            nextResult = nil
        }
    }
}
