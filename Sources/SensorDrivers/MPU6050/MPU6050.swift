import IoTSDK

/// InvenSense MPU-6050 (and MPU-6000 on I2C): 3-axis accelerometer, 3-axis gyroscope and die
/// temperature, as a `Sensor`.
///
/// ```swift
/// let imu = try await MPU6050(device: bus.device(MPU6050.defaultAddress))
/// let reading = try await imu.read()
/// print(reading.value.acceleration, reading.value.angularVelocity, reading.value.temperature)
/// ```
///
/// The chip samples continuously at ``Configuration/sampleRate``; ``read()`` returns its most
/// recent sample, from one 14-byte burst read of 0x3B…0x48 (one SMBus I2C-block read on
/// SMBus-only adapters). Every transfer is a register access, so SMBus-only adapters work.
///
/// Not used: the FIFO, interrupts, motion detection, the auxiliary I2C master, self-test, cycle
/// (low-power accelerometer) mode.
public actor MPU6050: Sensor {
    /// AD0 low: 0x68.
    public static let defaultAddress: I2CAddress = 0x68
    /// AD0 high: 0x69.
    public static let alternateAddress: I2CAddress = 0x69

    /// The bus device.
    public nonisolated let device: I2CDevice
    /// What WHO_AM_I said at start.
    public nonisolated let identity: Identity
    /// The settings in force.
    public private(set) var configuration: Configuration

    /// "MPU-6050 at 0x68 on i2c-1", for errors.
    private nonisolated let chip: String

    /// Connects to an MPU-6050 and starts it: checks WHO_AM_I (0x75), resets the chip
    /// (PWR_MGMT_1.DEVICE_RESET, 100 ms, then polls the bit until it clears, Register Map 4.28),
    /// wakes it with ``Configuration/clockSource`` (PWR_MGMT_1 with SLEEP 0), writes SMPLRT_DIV,
    /// CONFIG, GYRO_CONFIG and ACCEL_CONFIG in one burst and reads them back, then waits the
    /// gyroscope's 30 ms start-up time.
    ///
    /// - Throws: `SensorError(.wrongChip)` for another WHO_AM_I (see ``IdentityCheck``);
    ///   `SensorError(.timeout)` when DEVICE_RESET does not clear; `SensorError(.invalidData)`
    ///   when the configuration registers do not read back as written; `HardwareError` from
    ///   the bus (`.noAcknowledge` when nothing answers); `CancellationError` if the task is
    ///   cancelled during the waits.
    public init(device: I2CDevice, configuration: Configuration = Configuration()) async throws {
        let chip = "MPU-6050 at \(device.location)"
        let whoAmI = try device.readRegister(Register.whoAmI)
        identity = try Self.identity(whoAmI: whoAmI, check: configuration.identityCheck, chip: chip)

        if configuration.resetsOnStart {
            try device.writeRegister(Register.powerManagement1, PowerManagement1.deviceReset)
            try await Task.sleep(for: Self.resetTime)
            try await Self.waitForResetToClear(device: device, chip: chip)
        }
        try Self.write(configuration, to: device, chip: chip)
        try await Task.sleep(for: max(Self.startupTime, Self.samplePeriod(configuration)))

        self.device = device
        self.configuration = configuration
        self.chip = chip
    }

    /// Reads the latest sample: checks that the chip is awake (PWR_MGMT_1), then reads
    /// 0x3B…0x48 in one burst and converts it with the ranges in force.
    ///
    /// - Throws: `SensorError(.invalidData)` when the chip is asleep, which means it was reset
    ///   (a power glitch) and its data registers no longer change: create the driver again;
    ///   `HardwareError` from the bus.
    public func read() async throws -> Reading<Measurement> {
        let power = try device.readRegister(Register.powerManagement1)
        guard power & PowerManagement1.sleep == 0 else {
            throw SensorError(.invalidData, chip: chip,
                              "the chip is asleep (PWR_MGMT_1 = \(Self.hex(power))), so its data registers hold an old sample: "
                              + "it was reset, probably by a power glitch; create the driver again to restart it")
        }
        let bytes = try device.readRegisters(Register.accelerometerXHigh, count: Self.burstLength)
        let measurement = try Self.decode(bytes, accelerometerRange: configuration.accelerometerRange,
                                          gyroscopeRange: configuration.gyroscopeRange)
        return try Reading(value: measurement)
    }

    /// Applies new ranges, filter, sample rate divider and clock source (``Configuration/identityCheck``
    /// and ``Configuration/resetsOnStart`` only matter at start), then waits one sample period
    /// so that the next ``read()`` returns a sample taken with them.
    ///
    /// - Throws: `SensorError(.invalidData)` when the registers do not read back as written;
    ///   `HardwareError` from the bus; `CancellationError` if cancelled during the wait.
    public func configure(_ configuration: Configuration) async throws {
        try Self.write(configuration, to: device, chip: chip)
        self.configuration = configuration
        try await Task.sleep(for: Self.samplePeriod(configuration))
    }

    // MARK: - Sequences

    /// Polls PWR_MGMT_1 until DEVICE_RESET reads 0.
    private static func waitForResetToClear(device: I2CDevice, chip: String) async throws {
        try await StatusPolling.wait(until: .now + resetPollDeadline, interval: resetPollInterval, timeout: {
            SensorError(.timeout, chip: chip,
                        "DEVICE_RESET (PWR_MGMT_1 bit 7) still reads 1 \(resetTime + resetPollDeadline) after the reset: "
                            + "check the supply (VDD 2.375…3.46 V) and VLOGIC, then power-cycle the board")
        }) {
            try device.readRegister(Register.powerManagement1) & PowerManagement1.deviceReset == 0
        }
    }

    /// Wakes the chip with the clock source, writes 0x19…0x1C, and reads them back.
    private static func write(_ configuration: Configuration, to device: I2CDevice, chip: String) throws {
        try device.writeRegister(Register.powerManagement1, UInt8(configuration.clockSource.rawValue))
        let wanted = configuration.configurationRegisters
        try device.writeRegisters(Register.sampleRateDivider, wanted)
        let found = try device.readRegisters(Register.sampleRateDivider, count: wanted.count)
        guard found == wanted else {
            throw SensorError(.invalidData, chip: chip,
                              "SMPLRT_DIV…ACCEL_CONFIG (0x19…0x1C) read \(found.map(hex)) after writing \(wanted.map(hex)): "
                              + "the chip did not take the configuration (a clone with another register map, or a bus fault)")
        }
    }

    /// One sample period at `configuration`'s sample rate.
    private static func samplePeriod(_ configuration: Configuration) -> Duration {
        .seconds(1 / configuration.sampleRate.hertz)
    }
}
