import IoTSDK

/// A Sensirion SHT30, SHT31 or SHT35 humidity and temperature sensor on I2C (datasheet
/// "Datasheet SHT3x-DIS", section 4, "Operation and Communication").
///
/// ```swift
/// let sht = try await SHT3x(device: bus.device(0x44))
/// let reading = try await sht.read()            // Reading<SensirionMeasurement>
/// print(reading.value.temperature, reading.value.humidity)
/// ```
///
/// The chip takes 16-bit commands and answers with a read that has no register address
/// (`I2CDevice.write` of the command, then `I2CDevice.read(count:)`), so it needs an I2C-capable
/// adapter (I2C_RDWR); on an SMBus-only adapter the initialiser throws `SensorError(.unsupported)`.
/// Every 16-bit word the chip sends is checked against its CRC-8; a mismatch throws
/// `SensorError(.checksumMismatch)` and the value is discarded.
public actor SHT3x: Sensor {
    /// The device this driver talks to.
    public nonisolated let device: I2CDevice
    /// "SHT3x at 0x44 on i2c-1", for messages.
    public nonisolated let chip: String
    /// The settings in use; change them with ``setRepeatability(_:)`` and ``setMode(_:)``.
    public internal(set) var configuration: Configuration

    /// The I2C address with the ADDR pin low (datasheet Table 7).
    public static let defaultAddress: I2CAddress = 0x44
    /// The I2C address with the ADDR pin high.
    public static let alternateAddress: I2CAddress = 0x45

    let access = SerialAccess()
    /// Until when the chip is busy with a command the driver sent (reset, break, measurement).
    var busyUntil: ContinuousClock.Instant?

    /// Connects to the chip and puts it into a known state.
    ///
    /// Sends Break (stops periodic mode that an earlier program may have left running), Soft
    /// Reset, reads the status register (a CRC-checked reply proves an SHT3x-like chip answers),
    /// clears it, and starts periodic or ART mode if `configuration` asks for it. The chip has no
    /// identity register.
    ///
    /// - Throws: `SensorError(.unsupported)` on an SMBus-only adapter; `HardwareError` with code
    ///   `.noAcknowledge` when nothing answers at the address; `SensorError(.checksumMismatch)`
    ///   if the status reply fails its CRC (another chip at the address, or bus noise);
    ///   `CancellationError` if cancelled during the reset wait.
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        self.device = device
        self.chip = "SHT3x at \(device.location)"
        self.configuration = configuration
        try device.requirePlainI2C(chip: chip, protocol: "16-bit commands followed by a read without a register address")
        try await access.run {
            try await stopAndReset()
            _ = try statusRegister()
            try send(.clearStatus)
            try startConfiguredMode()
        }
    }

    // MARK: - Reading

    /// Measures (single-shot mode) or fetches the newest measurement (periodic and ART modes).
    ///
    /// Single-shot: sends the measurement command without clock stretching (Table 9), waits the
    /// datasheet's maximum measurement time, reads 6 bytes. Periodic/ART: sends Fetch Data (0xE000)
    /// and reads 6 bytes; while the chip has no new measurement it NACKs the read, and the driver
    /// polls until one period plus one measurement time has passed. Each result is returned once.
    ///
    /// - Throws: `SensorError(.checksumMismatch)` if either word fails its CRC;
    ///   `SensorError(.timeout)` if no result came in the datasheet's time; `HardwareError` for a
    ///   failed bus transfer (`.noAcknowledge` when the chip does not answer its command);
    ///   `TimestampError`; `CancellationError`.
    public func read() async throws -> Reading<SensirionMeasurement> {
        try await access.run {
            let words: [UInt16]
            if let period = configuration.mode.period {
                words = try await fetchPeriodic(period: period)
            } else {
                words = try await measureSingleShot()
            }
            return try Reading(value: Self.measurement(temperatureRaw: words[0], humidityRaw: words[1]))
        }
    }

    private func measureSingleShot() async throws -> [UInt16] {
        let wait = Self.maximumMeasurementDuration(configuration.repeatability)
        try await send(.singleShot(configuration.repeatability, clockStretching: false), busyFor: wait)
        try await waitUntilIdle()
        do {
            return try readWords(["temperature", "humidity"])
        } catch let error as HardwareError where error.code == .noAcknowledge {
            throw SensorError(.timeout, chip: chip,
                "no result \(wait) after a single-shot command (the chip NACKed the read header): the measurement did not finish "
                + "in the datasheet's maximum time, or the chip was reset or disconnected meanwhile")
        }
    }

    private func fetchPeriodic(period: Duration) async throws -> [UInt16] {
        try await waitUntilIdle()
        let limit = period + Self.maximumMeasurementDuration(configuration.repeatability)
        var words: [UInt16] = []
        try await StatusPolling.wait(until: .now + limit, interval: max(period / 20, .milliseconds(5)), timeout: {
            SensorError(.timeout, chip: chip,
                "no new measurement within \(limit) in periodic mode "
                + "(Fetch Data was NACKed): the chip may have been reset or power-cycled and left periodic mode; call setMode(_:) again")
        }) {
            try send(.fetchData)
            do {
                words = try readWords(["temperature", "humidity"])
                return true
            } catch let error as HardwareError where error.code == .noAcknowledge {
                // No new measurement yet (section 4.6): the chip NACKs the read header.
                return false
            }
        }
        return words
    }

    // MARK: - Bus primitives (run inside `access`)

    /// Writes one command.
    func send(_ command: Command) throws(HardwareError) {
        try device.write(command.bytes)
    }

    /// Writes one command after which the chip is busy for `duration`.
    func send(_ command: Command, busyFor duration: Duration) async throws {
        try await waitUntilIdle()
        try send(command)
        busyUntil = ContinuousClock.now + duration
    }

    /// Sleeps until the last command's busy time is over.
    func waitUntilIdle() async throws {
        if let until = busyUntil {
            if ContinuousClock.now < until { try await Task.sleep(until: until, clock: .continuous) }
            busyUntil = nil
        }
    }

    /// Reads `names.count` CRC-protected words.
    func readWords(_ names: [String]) throws -> [UInt16] {
        let reply = try device.read(count: names.count * 3)
        return try SensirionCRC.words(in: reply, chip: chip, what: names)
    }

    /// Break (if periodic mode may be running) and Soft Reset, with their waits.
    func stopAndReset() async throws {
        try await send(.break, busyFor: Self.breakDuration)
        try await send(.softReset, busyFor: Self.maximumSoftResetDuration)
        try await waitUntilIdle()
    }

    /// Reads the status register (Table 17).
    func statusRegister() throws -> Status {
        try send(.readStatus)
        return Status(rawValue: try readWords(["status"])[0])
    }

    /// Sends the command that starts the configured periodic or ART mode; nothing for single-shot.
    func startConfiguredMode() throws {
        switch configuration.mode {
        case .singleShot: break
        case .periodic(let rate): try send(.periodic(rate, configuration.repeatability))
        case .acceleratedResponse: try send(.accelerateResponse)
        }
    }
}
