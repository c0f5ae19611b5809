import IoTSDK

/// A chip's configuration as the shared session needs it.
protocol BMx280Configuring: Sendable {
    var registerSettings: BMx280RegisterSettings { get }
}

extension BME280Configuration: BMx280Configuring {}
extension BMP280Configuration: BMx280Configuring {}

/// The state and operations that ``BME280`` and ``BMP280`` share: the calibration, the current
/// configuration, and reads and reconfigurations taken one at a time.
///
/// An actor method that awaits (a conversion wait) can be re-entered by another caller; for a chip
/// that would interleave two conversions, or a reconfiguration with a conversion in flight. The
/// session holds a turnstile around each whole operation instead.
actor BMx280Session<Configuration: BMx280Configuring> {
    private let core: BMx280Core
    nonisolated let calibration: BME280Calibration
    private(set) var configuration: Configuration
    /// In normal mode, when the first conversion after configuring will have finished.
    private var firstConversionDone: ContinuousClock.Instant?
    private let access = SerialAccess()

    /// Validates, identifies, resets, reads the calibration and configures (``BMx280Core/start(_:)``).
    init(device: I2CDevice, kind: BMx280Kind, configuration: Configuration) async throws {
        let core = BMx280Core(device: device, kind: kind)
        let settings = configuration.registerSettings
        calibration = try await core.start(settings)
        self.core = core
        self.configuration = configuration
        firstConversionDone = BMx280Core.firstConversion(after: settings)
    }

    /// Validates `configuration`, then puts the chip to sleep and writes it.
    func configure(_ configuration: Configuration) async throws {
        try await exclusively {
            let settings = configuration.registerSettings
            try settings.validate(chip: core.chip)
            try core.apply(settings, sleepFirst: true)
            self.configuration = configuration
            firstConversionDone = BMx280Core.firstConversion(after: settings)
        }
    }

    /// One reading (``BMx280Core/measure(_:firstConversion:calibration:)``).
    func measure() async throws -> BMx280Core.Compensated {
        try await exclusively {
            let values = try await core.measure(configuration.registerSettings, firstConversion: firstConversionDone, calibration: calibration)
            firstConversionDone = nil
            return values
        }
    }

    /// Runs `operation` with the bus to itself, so that calls never interleave on the chip.
    private func exclusively<T>(_ operation: () async throws -> T) async throws -> T {
        try await access.run(operation)
    }
}
