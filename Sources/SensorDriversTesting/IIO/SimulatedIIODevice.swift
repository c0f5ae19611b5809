import IoTSDK
import Synchronization

/// An IIO device directory (`bus/iio/devices/iio:deviceN`) in a ``FakeSysfsTree``, with the
/// attribute files a kernel driver would create, for testing the IIO sensor and for the demo.
///
/// Use the models of real drivers (`bmp280(in:index:)`, ``bme680(in:index:)``,
/// `ads1015(in:index:)`) or build any device from a dictionary of attributes.
public final class SimulatedIIODevice: Sendable {
    /// The N of `iio:deviceN`.
    public let index: Int
    /// The `name` file.
    public let name: String
    private let tree: FakeSysfsTree
    private let model: Mutex<Model>

    /// The device directory relative to the tree root.
    public var relativeDirectory: String { "bus/iio/devices/iio:device\(index)" }

    enum Model {
        case generic
        case bmp280(newKernel: Bool)
        case bme680
        case ads1015(fullScaleMillivolts: [String: Double], realBits: Int)
    }

    /// Creates `iio:device<index>` with a `name` file and `attributes` (file name → contents).
    /// - Throws: `HardwareError` when the files cannot be written.
    public init(in tree: FakeSysfsTree, index: Int, name: String, attributes: [String: String] = [:]) throws(HardwareError) {
        self.index = index
        self.name = name
        self.tree = tree
        self.model = Mutex(.generic)
        try tree.write(name + "\n", to: relativeDirectory + "/name")
        for (file, text) in attributes {
            try set(file, to: text)
        }
    }

    /// Writes one attribute (a newline is added, as the kernel prints one).
    public func set(_ attribute: String, to text: String) throws(HardwareError) {
        try tree.write(text + "\n", to: relativeDirectory + "/" + attribute)
    }

    /// Removes one attribute.
    public func remove(_ attribute: String) {
        tree.remove(relativeDirectory + "/" + attribute)
    }

    /// The text of one attribute, or nil.
    public func value(of attribute: String) -> String? {
        tree.read(relativeDirectory + "/" + attribute)
    }

    // MARK: - IIO number formats (drivers/iio/industrialio-core.c, iio_format_value)

    /// IIO_VAL_INT: a plain integer.
    public static func formatInteger(_ value: Int) -> String { "\(value)" }

    /// IIO_VAL_FRACTIONAL and IIO_VAL_FRACTIONAL_LOG2: the quotient with nine decimals
    /// ("100.523437500", "-0.062500000").
    public static func formatNanos(_ value: Double) -> String {
        let nanos = Int64((value * 1e9).rounded())
        let magnitude = nanos.magnitude
        var fraction = String(magnitude % 1_000_000_000)
        while fraction.count < 9 { fraction = "0" + fraction }
        return (nanos < 0 ? "-" : "") + "\(magnitude / 1_000_000_000).\(fraction)"
    }

    // MARK: - Models of real kernel drivers

    /// What the kernel's bmp280 driver (drivers/iio/pressure/bmp280-core.c) exposes for a
    /// BMP280: `in_temp_input` (m°C, integer) and `in_pressure_input` (kPa, IIO_VAL_FRACTIONAL),
    /// each with `_oversampling_ratio`; newer kernels add `_raw` and `_scale` next to `_input`.
    public static func bmp280(in tree: FakeSysfsTree, index: Int = 0, newKernel: Bool = true) throws(HardwareError) -> SimulatedIIODevice {
        let device = try SimulatedIIODevice(in: tree, index: index, name: "bmp280", attributes: [
            "in_temp_oversampling_ratio": "2", "in_pressure_oversampling_ratio": "16",
            "in_temp_oversampling_ratio_available": "1 2 4 8 16",
            "in_pressure_oversampling_ratio_available": "1 2 4 8 16",
        ])
        device.model.withLock { $0 = .bmp280(newKernel: newKernel) }
        try device.setEnvironment(celsius: 21.5, hectopascals: 1013.25)
        return device
    }

    /// What the kernel's bme680 driver (drivers/iio/chemical/bme680_core.c) exposes:
    /// `in_temp_input` (m°C), `in_pressure_input` (kPa), `in_humidityrelative_input` — in
    /// *percent*, comp_humidity/1000, unlike the ABI's milli percent — and
    /// `in_resistance_input` (gas sensor, ohms), with `_raw`/`_scale` for the first three.
    public static func bme680(in tree: FakeSysfsTree, index: Int = 0) throws(HardwareError) -> SimulatedIIODevice {
        let device = try SimulatedIIODevice(in: tree, index: index, name: "bme680", attributes: [
            "in_temp_oversampling_ratio": "8", "in_pressure_oversampling_ratio": "4",
            "in_humidityrelative_oversampling_ratio": "2", "oversampling_ratio_available": "1 2 4 8 16",
        ])
        device.model.withLock { $0 = .bme680 }
        try device.setEnvironment(celsius: 21.5, hectopascals: 1013.25, humidityPercent: 45, gasOhms: 82986)
        return device
    }

    /// What the kernel's ads1015 driver (drivers/iio/adc/ti-ads1015.c) exposes for an ADS1015
    /// (12-bit) or, with `realBits: 16`, an ADS1115: `in_voltageN_raw`, `in_voltageN_scale` and
    /// `in_voltageN_sampling_frequency` for AIN0…AIN3 and for the differential pairs 0-1, 0-3,
    /// 1-3 and 2-3. The scale is the programmable gain amplifier's full-scale range in mV over
    /// 2^(bits−1) (datasheet "Full-Scale Range and LSB Size": ±2.048 V → 1 mV per count on the
    /// ADS1015); the driver's default is ±2.048 V.
    public static func ads1015(in tree: FakeSysfsTree, index: Int = 0, realBits: Int = 12) throws(HardwareError) -> SimulatedIIODevice {
        let device = try SimulatedIIODevice(in: tree, index: index, name: realBits == 16 ? "ads1115" : "ads1015")
        let channels = ["voltage0", "voltage1", "voltage2", "voltage3",
                        "voltage0-voltage1", "voltage0-voltage3", "voltage1-voltage3", "voltage2-voltage3"]
        device.model.withLock { $0 = .ads1015(fullScaleMillivolts: Dictionary(uniqueKeysWithValues: channels.map { ($0, 2048) }), realBits: realBits) }
        for channel in channels {
            try device.set("in_\(channel)_sampling_frequency", to: realBits == 16 ? "128" : "1600")
            try device.set("in_\(channel)_scale", to: formatNanos(2048 / Double(1 << (realBits - 1))))
            try device.set("in_\(channel)_raw", to: "0")
        }
        return device
    }

    // MARK: - Changing the simulated world

    /// Sets temperature, pressure and (bme680) humidity and gas resistance, written in the units
    /// and formats of the modelled kernel driver.
    public func setEnvironment(celsius: Double, hectopascals: Double, humidityPercent: Double = 45,
                               gasOhms: Int = 82986) throws(HardwareError) {
        let model = self.model.withLock { $0 }
        switch model {
        case .bmp280(let newKernel):
            let milliCelsius = Int((celsius * 1000).rounded())
            try set("in_temp_input", to: Self.formatInteger(milliCelsius))
            try set("in_pressure_input", to: Self.formatNanos(hectopascals / 10))
            if newKernel {
                // Raw in the driver's compensated units (0.01 °C, Pa/256) with the scale to the ABI unit.
                try set("in_temp_raw", to: Self.formatInteger(Int((celsius * 100).rounded())))
                try set("in_temp_scale", to: "10")
                try set("in_pressure_raw", to: Self.formatInteger(Int((hectopascals * 100 * 256).rounded())))
                try set("in_pressure_scale", to: Self.formatNanos(1.0 / 256_000))
            }
        case .bme680:
            let centiCelsius = Int((celsius * 100).rounded())
            try set("in_temp_input", to: Self.formatInteger(centiCelsius * 10))
            try set("in_temp_raw", to: Self.formatInteger(centiCelsius))
            try set("in_temp_scale", to: "10")
            let pascals = Int((hectopascals * 100).rounded())
            try set("in_pressure_input", to: Self.formatNanos(Double(pascals) / 1000))
            try set("in_pressure_raw", to: Self.formatInteger(pascals))
            try set("in_pressure_scale", to: Self.formatNanos(0.001))
            let milliPercent = Int((humidityPercent * 1000).rounded())
            try set("in_humidityrelative_input", to: Self.formatNanos(Double(milliPercent) / 1000))
            try set("in_humidityrelative_raw", to: Self.formatInteger(milliPercent))
            try set("in_humidityrelative_scale", to: Self.formatNanos(0.001))
            try set("in_resistance_input", to: Self.formatInteger(gasOhms))
        case .generic, .ads1015:
            break
        }
    }

    /// Sets the voltage at an ADS1x15 input (`voltage0`…, or a pair such as `voltage0-voltage1`):
    /// the raw code is the voltage over the LSB size, clipped to the signed range of the chip's
    /// bits (the datasheet's output codes: 7FFh/800h at ± full scale on the ADS1015).
    public func setInput(_ channel: String, volts: Double) throws(HardwareError) {
        let model = self.model.withLock { $0 }
        guard case .ads1015(let fullScale, let bits) = model, let range = fullScale[channel] else {
            throw HardwareError(.invalidArgument, "\(name) has no ADC input \(channel)")
        }
        let lsbMillivolts = range / Double(1 << (bits - 1))
        let code = Int((volts * 1000 / lsbMillivolts).rounded())
        let limit = 1 << (bits - 1)
        try set("in_\(channel)_raw", to: Self.formatInteger(min(max(code, -limit), limit - 1)))
    }

    /// Changes an ADS1x15 input's programmable gain: ±6144, 4096, 2048, 1024, 512 or 256 mV full
    /// scale; the scale attribute follows.
    public func setFullScale(_ channel: String, millivolts: Double) throws(HardwareError) {
        let bits = try model.withLock { (model: inout Model) throws(HardwareError) -> Int in
            guard case .ads1015(var fullScale, let bits) = model, fullScale[channel] != nil,
                  [6144, 4096, 2048, 1024, 512, 256].contains(millivolts) else {
                throw HardwareError(.invalidArgument, "\(name): no ADC input \(channel) or no such full-scale range \(millivolts) mV")
            }
            fullScale[channel] = millivolts
            model = .ads1015(fullScaleMillivolts: fullScale, realBits: bits)
            return bits
        }
        try set("in_\(channel)_scale", to: Self.formatNanos(millivolts / Double(1 << (bits - 1))))
    }
}
