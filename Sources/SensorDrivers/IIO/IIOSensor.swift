import IoTSDK

/// A `Sensor` over chosen channels of any Linux IIO device: the kernel driver does the chip
/// work, this reads its sysfs attributes and returns typed quantities.
///
/// ```swift
/// let bmp = try IIOSensor(named: "bmp280", channels: ["temp", "pressure"])
/// let reading = try await bmp.read()
/// print(reading.value.temperature(), reading.value.pressure())   // 23.45 °C 1005.23 hPa
/// ```
///
/// Each channel is read from `_input` when the driver offers one (already processed), else as
/// `(_raw + _offset) × _scale` with the channel's own or the shared offset and scale, and
/// converted with the unit the IIO ABI fixes for its type (Documentation/ABI/testing/
/// sysfs-bus-iio: temp in m°C, voltage in mV, pressure in kPa, humidityrelative in m%,
/// illuminance in lux, accel in m/s², anglvel in rad/s, …). Known kernel drivers that deviate
/// are corrected (``IIOUnitCorrection``).
///
/// Many IIO drivers make a conversion inside read(2) (bmp280 up to tens of ms, bme680 with its
/// gas heater over 150 ms, ads1015 one sample period), so the reads run on a thread of their own
/// (`OffPoolThread`), never on the cooperative pool.
public actor IIOSensor: Sensor {
    public typealias Value = IIOMeasurement

    /// Settings of an IIO sensor.
    public struct Configuration: Sendable, Hashable {
        /// Unit corrections for drivers that deviate from the ABI.
        public var unitCorrections: [IIOUnitCorrection]
        /// How long one reading of all channels may take.
        public var readTimeout: Duration

        public init(unitCorrections: [IIOUnitCorrection] = IIOUnitCorrection.knownKernelDeviations,
                    readTimeout: Duration = .seconds(5)) {
            self.unitCorrections = unitCorrections
            self.readTimeout = readTimeout
        }
    }

    /// The device.
    public nonisolated let device: IIODevice
    /// The channels each ``read()`` reads.
    public nonisolated let channels: [IIOChannel]
    public nonisolated let configuration: Configuration

    /// A sensor over `channels` of `device` (all its channels when nil).
    ///
    /// - Throws: `SensorError(.invalidSetting)` naming the channels the device has when one is
    ///   not among them, or when the list is empty.
    public init(device: IIODevice, channels names: [String]? = nil, configuration: Configuration = Configuration()) throws(SensorError) {
        let chip = "\(device.name) (\(device.id))"
        let available = device.channels.map(\.name).joined(separator: ", ")
        var chosen: [IIOChannel] = []
        for name in names ?? device.channels.map(\.name) {
            guard let channel = device.channel(name) else {
                throw SensorError(.invalidSetting, chip: chip, "no channel '\(name)'; the channels are: \(available.isEmpty ? "none" : available)")
            }
            chosen.append(channel)
        }
        guard !chosen.isEmpty else {
            throw SensorError(.invalidSetting, chip: chip, "no channel to read; the channels are: \(available.isEmpty ? "none" : available)")
        }
        self.device = device
        self.channels = chosen
        self.configuration = configuration
    }

    /// A sensor over `channels` of the first IIO device whose `name` is `name`.
    ///
    /// - Throws: `HardwareError(.notFound)` listing the devices present;
    ///   `SensorError(.invalidSetting)` for a channel the device does not have.
    public init(named name: String, channels: [String]? = nil, configuration: Configuration = Configuration(),
                paths: LinuxPaths = .system) throws {
        try self.init(device: try IIODevices.named(name, paths: paths), channels: channels, configuration: configuration)
    }

    nonisolated var chipName: String { "\(device.name) (\(device.id))" }

    // MARK: - Reading

    /// Reads every chosen channel once.
    ///
    /// - Throws: `HardwareError` when the kernel driver fails a read (`.ioError`, `.busy` while a
    ///   buffered capture runs, `.invalidArgument` for a skipped measurement); `SensorError(.invalidData)`
    ///   when an attribute is not a number; `SensorError(.timeout)`; `QuantityError` for an
    ///   impossible value (a temperature below absolute zero); `TimestampError`; `CancellationError`.
    public func read() async throws -> Reading<IIOMeasurement> {
        let texts = try await readAttributes(of: channels)
        var values: [String: IIOQuantity] = [:]
        for (channel, text) in zip(channels, texts) {
            values[channel.name] = try quantity(of: channel, from: text)
        }
        return try Reading(value: IIOMeasurement(values: values))
    }

    /// Reads one channel (any channel of the device, chosen or not).
    /// - Throws: `SensorError(.invalidSetting)` when the device has no such channel; otherwise as ``read()``.
    public func read(channel name: String) async throws -> Reading<IIOQuantity> {
        guard let channel = device.channel(name) else {
            throw SensorError(.invalidSetting, chip: chipName, "no channel '\(name)'; the channels are: \(device.channels.map(\.name).joined(separator: ", "))")
        }
        let texts = try await readAttributes(of: [channel])
        return try Reading(value: try quantity(of: channel, from: texts[0]))
    }

    /// The attribute texts a channel needs, read in one job on a dedicated thread.
    struct ChannelTexts: Sendable {
        var input: String?
        var raw: String?
        var offset: String?
        var scale: String?
    }

    private func readAttributes(of channels: [IIOChannel]) async throws -> [ChannelTexts] {
        let base = device.path
        let chip = chipName
        let timeout = configuration.readTimeout
        return try await OffPoolThread.run(timeout: timeout, onTimeout: {
            SensorError(.timeout, chip: chip, "reading \(channels.map(\.name).joined(separator: ", ")) took longer than \(timeout): the kernel driver is stuck waiting for the chip")
        }) {
            try channels.map { channel in
                if let input = channel.inputAttribute {
                    return ChannelTexts(input: try SysfsText.read(base + "/" + input, what: "reading \(channel.name)"))
                }
                var texts = ChannelTexts()
                if let raw = channel.rawAttribute { texts.raw = try SysfsText.read(base + "/" + raw, what: "reading \(channel.name)") }
                if let offset = channel.offsetAttribute { texts.offset = try SysfsText.read(base + "/" + offset, what: "reading \(channel.name)'s offset") }
                if let scale = channel.scaleAttribute { texts.scale = try SysfsText.read(base + "/" + scale, what: "reading \(channel.name)'s scale") }
                return texts
            }
        }
    }

    /// The typed value of one channel from its attribute texts.
    func quantity(of channel: IIOChannel, from texts: ChannelTexts) throws -> IIOQuantity {
        let number = { (text: String?, attribute: String?) throws(SensorError) -> Double? in
            guard let text else { return nil }
            guard let value = IIOConversion.parseValue(text) else {
                throw SensorError(.invalidData, chip: self.chipName, "\(attribute ?? channel.name) reads '\(text)', which is not a number")
            }
            return value
        }
        var value: Double
        if let input = try number(texts.input, channel.inputAttribute) {
            value = input
        } else if let raw = try number(texts.raw, channel.rawAttribute) {
            value = IIOConversion.processed(raw: raw, offset: try number(texts.offset, channel.offsetAttribute) ?? 0,
                                            scale: try number(texts.scale, channel.scaleAttribute) ?? 1)
        } else {
            throw SensorError(.invalidData, chip: chipName, "channel \(channel.name) has neither _input nor _raw")
        }
        for correction in configuration.unitCorrections
        where correction.deviceName == device.name && correction.channelType == channel.type {
            value *= correction.factor
        }
        return try channel.type.quantity(fromABIValue: value)
    }
}
