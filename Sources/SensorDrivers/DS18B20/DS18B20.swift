import LinuxSupport
import IoTSDK

/// A Maxim DS18B20 1-Wire thermometer (and the DS18S20, DS1822, DS1825 and DS28EA00), read
/// through the Linux kernel's `w1_therm` driver in sysfs: `/sys/bus/w1/devices/28-…/w1_slave`.
///
/// ```swift
/// for id in W1Devices.thermometers() {
///     let sensor = try await DS18B20(id, configuration: .init(resolution: .bits11))
///     print(id, try await sensor.read().value)      // 21.62 °C
/// }
/// ```
///
/// Each `read()` makes the kernel start a conversion and wait for it (up to 750 ms at 12 bits)
/// inside read(2); the driver does that read on a thread of its own (see `OffPoolThread`), so
/// the cooperative pool is never blocked. It then checks the kernel's CRC verdict and the CRC-8
/// of the nine scratchpad bytes itself, and converts the temperature from the bytes (not from the
/// kernel's `t=`), rejecting the power-up value +85 °C and values outside the part's range.
public actor DS18B20: Sensor {
    public typealias Value = Temperature

    /// Settings applied when the driver is created.
    public struct Configuration: Sendable, Hashable {
        /// The resolution to set, or nil to keep the sensor's (stored in its EEPROM; 12 bits from
        /// the factory). Set through the `resolution` attribute (Linux 5.9+), else by writing
        /// the bit count to `w1_slave` as older kernels expect; kept in the sensor's RAM only.
        public var resolution: Resolution?
        /// How to treat the power-up value +85 °C.
        public var powerOnCheck: PowerOnValueCheck
        /// How long one read may take before it fails with `SensorError(.timeout)`; nil for five
        /// maximum conversion times (the kernel retries a failed CRC) plus one second.
        public var readTimeout: Duration?

        public init(resolution: Resolution? = nil, powerOnCheck: PowerOnValueCheck = .rejectAlways, readTimeout: Duration? = nil) {
            self.resolution = resolution
            self.powerOnCheck = powerOnCheck
            self.readTimeout = readTimeout
        }
    }

    /// The slave's ID, e.g. `28-0316a2795dff`.
    public nonisolated let id: W1SlaveID
    /// The part, from the family code.
    public nonisolated let family: W1ThermometerFamily
    /// The slave's sysfs directory.
    public nonisolated let directory: String
    public nonisolated let configuration: Configuration
    /// The last resolution known (from a scratchpad or the `resolution` attribute).
    private var knownResolution: Resolution

    /// Opens the thermometer `id` and applies `configuration`.
    ///
    /// - Throws: `SensorError(.wrongChip)` when the family code is not a thermometer's;
    ///   `HardwareError(.notFound)` when the slave or its `w1_slave` file is missing (listing the
    ///   slaves present, or saying to load `w1_therm`); `SensorError(.unsupported)` when a
    ///   resolution is asked of a DS18S20 or the part does not take it (a clone fixed at 12 bits);
    ///   `HardwareError` from writing the setting.
    public init(_ id: W1SlaveID, configuration: Configuration = Configuration(), paths: LinuxPaths = .system) async throws {
        let name = "\(W1ThermometerFamily(rawValue: id.family)?.partName ?? "1-Wire slave") \(id)"
        guard let family = id.thermometerFamily else {
            throw SensorError(.wrongChip, chip: name, "family code 0x\(W1ThermometerFamily.hex(id.family)) is \(W1ThermometerFamily.otherPart(id.family)), not a thermometer (expected 0x28 DS18B20, or 0x10 DS18S20, 0x22 DS1822, 0x3B DS1825, 0x42 DS28EA00): pick another ID from W1Devices.thermometers()")
        }
        let directory = W1Devices.directory(paths: paths) + "/" + id.rawValue
        guard Files.exists(directory) else {
            let present = W1Devices.all(paths: paths).map(\.rawValue)
            throw HardwareError(.notFound, "no 1-Wire slave \(id) in \(W1Devices.directory(paths: paths)); slaves present: \(present.isEmpty ? "none (is the w1 bus enabled? on a Raspberry Pi add dtoverlay=w1-gpio to config.txt; check the 4.7 kΩ pull-up)" : present.joined(separator: ", "))", location: directory)
        }
        guard Files.exists(directory + "/w1_slave") else {
            throw HardwareError(.notFound, "\(directory) has no w1_slave file: the w1_therm driver is not bound to it (sudo modprobe w1_therm)", location: directory)
        }
        self.id = id
        self.family = family
        self.directory = directory
        self.configuration = configuration
        self.knownResolution = .bits12
        if let resolution = configuration.resolution {
            try await setResolution(resolution)
        } else if family.hasProgrammableResolution, let text = SysfsText.readIfPresent(directory + "/resolution"),
                  let bits = Int(text), let current = Resolution(rawValue: bits) {
            knownResolution = current
        }
    }

    /// Every thermometer the kernel lists, each opened with `configuration`.
    /// - Throws: what ``init(_:configuration:paths:)`` throws for any of them.
    public static func connected(configuration: Configuration = Configuration(), paths: LinuxPaths = .system) async throws -> [DS18B20] {
        var sensors: [DS18B20] = []
        for id in W1Devices.thermometers(paths: paths) {
            sensors.append(try await DS18B20(id, configuration: configuration, paths: paths))
        }
        return sensors
    }

    nonisolated var chipName: String { "\(family.partName) \(id)" }

    // MARK: - Measuring

    /// Converts and reads the temperature (reads `w1_slave`, off the cooperative pool).
    ///
    /// - Throws: `SensorError(.checksumMismatch)` when the kernel or the driver finds a CRC
    ///   error; `SensorError(.invalidData)` for the power-up value, an all-zero scratchpad or a
    ///   value outside the part's range; `SensorError(.timeout)` after the read timeout;
    ///   `HardwareError` when the kernel read fails (sensor gone: `.notFound`/`.ioError`);
    ///   `TimestampError`; `CancellationError`.
    public func read() async throws -> Reading<Temperature> {
        let scratchpadReport = try await readReport()
        let temperature = try Self.temperature(from: scratchpadReport, family: family,
                                               powerOnCheck: configuration.powerOnCheck, chip: chipName)
        return try Reading(value: temperature)
    }

    /// One fresh `w1_slave` report, parsed, with the resolution it shows remembered. Its CRC is
    /// not judged here: ``read()`` does that.
    /// - Throws: as ``read()`` for the read itself and for text not in the kernel's format.
    public func readReport() async throws -> W1SlaveReport {
        let path = directory + "/w1_slave"
        let timeout = configuration.readTimeout ?? knownResolution.maximumConversionTime * 5 + .seconds(1)
        let chip = chipName
        let text = try await OffPoolThread.run(timeout: timeout, onTimeout: {
            SensorError(.timeout, chip: chip, "reading \(path) took longer than \(timeout): the kernel's 1-Wire master is stuck or the bus is overloaded")
        }) {
            try SysfsText.read(path, what: "reading the scratchpad")
        }
        let report = try W1SlaveReport.parse(text, chip: chipName)
        if family.hasProgrammableResolution && report.kernelCRCMatched && report.scratchpad.isCRCValid {
            knownResolution = report.scratchpad.resolution
        }
        return report
    }

    // MARK: - Resolution and power

    /// The current resolution: the `resolution` attribute where the kernel has it (Linux 5.9+),
    /// else the configuration register of a fresh scratchpad (a conversion, up to 750 ms).
    ///
    /// - Throws: `SensorError(.unsupported)` for a DS18S20 (fixed 9 bits, extended by
    ///   COUNT_REMAIN); `HardwareError` when the attribute reports a kernel error;
    ///   `SensorError(.checksumMismatch)` when the fallback scratchpad fails its CRC.
    public func resolution() async throws -> Resolution {
        guard family.hasProgrammableResolution else { throw fixedResolution() }
        let path = directory + "/resolution"
        if Files.exists(path) {
            let text = try await OffPoolThread.run {
                try SysfsText.read(path, what: "reading the resolution")
            }
            guard let bits = Int(text), let resolution = Resolution(rawValue: bits) else {
                throw HardwareError(.ioError, "\(path) reads '\(text)' instead of 9…12: the kernel could not read the sensor's configuration (a negative value is its errno)", location: path)
            }
            knownResolution = resolution
            return resolution
        }
        let report = try await readReport()
        guard report.kernelCRCMatched && report.scratchpad.isCRCValid else {
            throw SensorError(.checksumMismatch, chip: chipName, "the scratchpad read for the resolution failed its CRC: check the pull-up and wiring")
        }
        return report.scratchpad.resolution
    }

    /// Sets the resolution in the sensor's RAM (lost at power-off) and checks that it took.
    ///
    /// Writes the `resolution` attribute (Linux 5.9+) and reads it back; on older kernels writes
    /// the bit count to `w1_slave`, which they take as the same command.
    ///
    /// - Throws: `SensorError(.unsupported)` for a DS18S20, or when the read-back differs (clones
    ///   fixed in 12-bit mode); `HardwareError` from the writes.
    public func setResolution(_ resolution: Resolution) async throws {
        guard family.hasProgrammableResolution else { throw fixedResolution() }
        let attribute = directory + "/resolution"
        let text = "\(resolution.bits)\n"
        if Files.exists(attribute) {
            let readBack = try await OffPoolThread.run {
                try SysfsText.write(text, to: attribute, what: "setting the resolution")
                return try SysfsText.read(attribute, what: "reading back the resolution")
            }
            guard Int(readBack) == resolution.bits else {
                throw SensorError(.unsupported, chip: chipName, "asked for \(resolution) but the sensor reports \(readBack) bits: this part does not take the setting (some DS18B20 clones are fixed at 12 bits)")
            }
        } else {
            let path = directory + "/w1_slave"
            try await OffPoolThread.run {
                try SysfsText.write(text, to: path, what: "setting the resolution")
            }
        }
        knownResolution = resolution
    }

    /// Whether the sensor draws its power from the data line (2-wire "parasite" mode), from the
    /// `ext_power` attribute (Linux 5.9+): true for parasite power, false for VDD; nil when the
    /// kernel has no such attribute.
    /// - Throws: `HardwareError` when the attribute cannot be read.
    public func isParasitePowered() async throws -> Bool? {
        let path = directory + "/ext_power"
        guard Files.exists(path) else { return nil }
        let text = try await OffPoolThread.run {
            try SysfsText.read(path, what: "reading the power mode")
        }
        switch text {
        case "0": return true
        case "1": return false
        default:
            throw HardwareError(.ioError, "\(path) reads '\(text)' instead of 0 or 1: the kernel could not ask the sensor for its power mode", location: path)
        }
    }

    private func fixedResolution() -> SensorError {
        SensorError(.unsupported, chip: chipName, "the \(family.partName) has a fixed 9-bit register (0.5 °C) extended by COUNT_REMAIN; its resolution cannot be set")
    }
}
