import LinuxSupport
import IoTSDK

/// A device of the Linux Industrial I/O subsystem: `/sys/bus/iio/devices/iio:deviceN`, with the
/// part name from its `name` file and the input channels its attribute files describe.
///
/// The kernel drivers behind it (bmp280, bme680, ads1015, …) talk to the chip; this side reads
/// their sysfs attributes, so it works for any IIO driver without chip-specific code.
public struct IIODevice: Sendable, Hashable, CustomStringConvertible {
    /// The directory name, e.g. `iio:device0`.
    public let id: String
    /// The N of `iio:deviceN` (it can change between boots: find devices by ``name``).
    public let index: Int
    /// The `name` file: the part, e.g. `bmp280`, `bme680`, `ads1015`.
    public let name: String
    /// The `label` file (Linux 5.8+, from the device tree), when present.
    public let label: String?
    /// The device's sysfs directory.
    public let path: String
    /// The input channels, sorted by name.
    public let channels: [IIOChannel]

    /// Reads the device at `path` (its `name`, `label` and attribute list).
    /// - Throws: `HardwareError(.notFound)` when the directory or its `name` file is missing.
    public init(path: String) throws(HardwareError) {
        let id = String(path.split(separator: "/").last ?? "")
        guard id.hasPrefix("iio:device"), let index = Int(id.dropFirst("iio:device".count)) else {
            throw HardwareError(.notFound, "\(path) is not an IIO device directory (iio:deviceN)", location: path)
        }
        self.id = id
        self.index = index
        self.path = path
        self.name = try SysfsText.read(path + "/name", what: "reading the IIO device name")
        self.label = SysfsText.readIfPresent(path + "/label")
        self.channels = IIOChannel.channels(inAttributes: Files.list(path))
    }

    /// The channel called `name` (`temp`, `voltage0`…), or nil.
    public func channel(_ name: String) -> IIOChannel? {
        channels.first { $0.name == name }
    }

    /// "iio:device0 bmp280: pressure, temp".
    public var description: String {
        "\(id) \(name)\(label.map { " [\($0)]" } ?? ""): \(channels.map(\.name).joined(separator: ", "))"
    }
}

/// The IIO devices the kernel has (`/sys/bus/iio/devices`).
public enum IIODevices {
    /// `<sysfs>/bus/iio/devices`.
    public static func directory(paths: LinuxPaths = .system) -> String {
        paths.sysfs + "/bus/iio/devices"
    }

    /// Every IIO device, in index order; triggers (`triggerN`) and unreadable entries are left out.
    public static func list(paths: LinuxPaths = .system) -> [IIODevice] {
        let directory = directory(paths: paths)
        return Files.list(directory)
            .filter { $0.hasPrefix("iio:device") }
            .compactMap { try? IIODevice(path: directory + "/" + $0) }
            .sorted { $0.index < $1.index }
    }

    /// The first device whose `name` is `name` (or whose `label` is, when given).
    ///
    /// - Throws: `HardwareError(.notFound)` listing the devices present and how to load a driver.
    public static func named(_ name: String, label: String? = nil, paths: LinuxPaths = .system) throws(HardwareError) -> IIODevice {
        let all = list(paths: paths)
        if let device = all.first(where: { $0.name == name && (label == nil || $0.label == label) }) {
            return device
        }
        let present = all.isEmpty ? "none" : all.map { "\($0.id) \($0.name)" }.joined(separator: ", ")
        throw HardwareError(.notFound, "no IIO device named '\(name)'\(label.map { " labelled '\($0)'" } ?? "") in \(directory(paths: paths)); devices present: \(present). Bind the kernel driver (on a Raspberry Pi e.g. dtoverlay=i2c-sensor,bme280 or dtoverlay=ads1015), or check the I2C wiring", location: name)
    }
}
