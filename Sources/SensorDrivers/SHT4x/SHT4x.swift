import IoTSDK

/// A Sensirion SHT40, SHT41, SHT43 or SHT45 humidity and temperature sensor on I2C (datasheet
/// "SHT4x", section "Sensor Operation" / "Command Overview").
///
/// ```swift
/// let sht = try await SHT4x(device: bus.device(0x44))
/// print(sht.serialNumber)
/// let reading = try await sht.read()            // Reading<SensirionMeasurement>
/// ```
///
/// The chip takes one-byte commands and answers with a 6-byte read that has no register address
/// (`I2CDevice.write`, then `I2CDevice.read(count:)`), so it needs an I2C-capable adapter
/// (I2C_RDWR); on an SMBus-only adapter the initialiser throws `SensorError(.unsupported)`. Every
/// word is checked against its CRC-8 (the SHT3x's, ``SensirionCRC``); a mismatch throws
/// `SensorError(.checksumMismatch)` and the value is discarded.
public actor SHT4x: Sensor {
    /// The device this driver talks to.
    public nonisolated let device: I2CDevice
    /// "SHT4x at 0x44 on i2c-1", for messages.
    public nonisolated let chip: String
    /// The 32-bit serial number, read once when the driver was created.
    public nonisolated let serialNumber: UInt32
    /// The settings in use; change them with ``setPrecision(_:)``.
    public internal(set) var configuration: Configuration

    /// The address of the SHT4x-A… variants (SHT40-AD1B, SHT41-AD1B, SHT45-AD1B, …). The
    /// address is fixed per ordering code: B variants use 0x45, C variants 0x46.
    public static let defaultAddress: I2CAddress = 0x44

    let access = SerialAccess()
    /// Until when the chip is busy with a command the driver sent.
    var busyUntil: ContinuousClock.Instant?

    /// Connects to the chip: Soft Reset (0x94), wait 1 ms, read the serial number (0x89).
    ///
    /// The chip has no identity register; a serial-number reply whose CRCs match shows that a
    /// Sensirion chip answers.
    ///
    /// - Throws: `SensorError(.unsupported)` on an SMBus-only adapter; `HardwareError` with code
    ///   `.noAcknowledge` when nothing answers (or another chip, such as an SHT3x, rejects the
    ///   one-byte command); `SensorError(.checksumMismatch)` if the serial number fails its CRC;
    ///   `CancellationError`.
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        let chip = "SHT4x at \(device.location)"
        try device.requirePlainI2C(chip: chip, protocol: "one-byte commands followed by a 6-byte read without a register address")
        try device.write([Command.softReset.rawValue])
        try await Task.sleep(for: Self.maximumSoftResetDuration)
        self.device = device
        self.chip = chip
        self.configuration = configuration
        self.serialNumber = try await Self.serialNumber(of: device, chip: chip)
    }

    // MARK: - Measuring

    /// Measures temperature and humidity with the configured precision (0xFD / 0xF6 / 0xE0),
    /// waiting the datasheet's maximum measurement time before reading 6 bytes.
    ///
    /// - Throws: `SensorError(.checksumMismatch)` if either word fails its CRC;
    ///   `SensorError(.timeout)` if the chip still NACKs the read after the maximum time;
    ///   `HardwareError` for a failed transfer; `TimestampError`; `CancellationError`.
    public func read() async throws -> Reading<SensirionMeasurement> {
        try await access.run {
            let precision = configuration.precision
            return try await measure(.measure(precision), busyFor: Self.maximumMeasurementDuration(precision))
        }
    }

    /// Runs the heater at `power` for `duration`, then returns the high-precision measurement the
    /// chip takes just before it turns the heater off (0x39, 0x32, 0x2F, 0x24, 0x1E, 0x15).
    ///
    /// The reading shows the heated sensor, not the ambient air: use it to drive off condensation
    /// or for a plausibility check. The datasheet limits the heater's duty cycle (section "Heater
    /// Operation"); the driver does not enforce it.
    ///
    /// - Throws: as ``read()``.
    public func readHeated(power: HeaterPower, duration: HeaterDuration) async throws -> Reading<SensirionMeasurement> {
        try await access.run {
            try await measure(.heat(power, duration), busyFor: Self.maximumHeaterDuration(duration))
        }
    }

    /// Reads the serial number again (0x89).
    /// - Throws: `SensorError(.checksumMismatch)`; `HardwareError`; `CancellationError`.
    public func readSerialNumber() async throws -> UInt32 {
        try await access.run {
            try await waitUntilIdle()
            return try await Self.serialNumber(of: device, chip: chip)
        }
    }

    /// Sends Read Serial Number (0x89), waits, reads and checks the two words.
    private static func serialNumber(of device: I2CDevice, chip: String) async throws -> UInt32 {
        try device.write([Command.readSerialNumber.rawValue])
        try await Task.sleep(for: serialNumberDelay)
        let words = try SensirionCRC.words(in: try device.read(count: 6), chip: chip, what: ["serial number high", "serial number low"])
        return UInt32(words[0]) << 16 | UInt32(words[1])
    }

    /// Soft-resets the chip (0x94) and waits its maximum reset time (1 ms).
    /// - Throws: `HardwareError`; `CancellationError`.
    public func softReset() async throws {
        try await access.run {
            try await waitUntilIdle()
            try device.write([Command.softReset.rawValue])
            busyUntil = ContinuousClock.now + Self.maximumSoftResetDuration
            try await waitUntilIdle()
        }
    }

    /// Changes the precision of later ``read()`` calls (no bus traffic).
    public func setPrecision(_ precision: Precision) {
        configuration.precision = precision
    }

    // MARK: - Bus sequence

    private func measure(_ command: Command, busyFor wait: Duration) async throws -> Reading<SensirionMeasurement> {
        try await waitUntilIdle()
        try device.write([command.rawValue])
        busyUntil = ContinuousClock.now + wait
        try await waitUntilIdle()
        let words = try readResult(after: command, waited: wait)
        return try Reading(value: Self.measurement(temperatureRaw: words[0], humidityRaw: words[1]))
    }

    /// Reads and checks the two result words; a NACKed read header after the wait is a timeout.
    private func readResult(after command: Command, waited wait: Duration) throws -> [UInt16] {
        do {
            return try SensirionCRC.words(in: try device.read(count: 6), chip: chip, what: ["temperature", "humidity"])
        } catch let error as HardwareError where error.code == .noAcknowledge {
            throw SensorError(.timeout, chip: chip,
                "no result \(wait) after command \(command) (the chip NACKed the read header): it did not finish in the "
                + "datasheet's maximum time, or it was reset or disconnected meanwhile")
        }
    }

    /// Sleeps until the last command's busy time is over (a cancelled read leaves the chip busy).
    private func waitUntilIdle() async throws {
        if let until = busyUntil {
            if ContinuousClock.now < until { try await Task.sleep(until: until, clock: .continuous) }
            busyUntil = nil
        }
    }
}
