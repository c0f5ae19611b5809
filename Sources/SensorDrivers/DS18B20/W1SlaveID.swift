import LinuxSupport
import IoTSDK

/// The kernel's name for a 1-Wire slave: family code, a dash, and the 48-bit serial number in
/// lower-case hex, as in `/sys/bus/w1/devices/28-0316a2795dff`.
public struct W1SlaveID: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The directory name, e.g. `28-0316a2795dff`.
    public let rawValue: String
    /// The family code (`0x28` for a DS18B20).
    public let family: UInt8
    /// The 48-bit serial number.
    public let serial: UInt64

    /// Parses a directory name; nil unless it is two hex digits, a dash and twelve hex digits.
    public init?(rawValue: String) {
        let parts = rawValue.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 12,
              parts.allSatisfy({ $0.allSatisfy(\.isHexDigit) }),
              let family = UInt8(parts[0], radix: 16), let serial = UInt64(parts[1], radix: 16)
        else { return nil }
        self.rawValue = rawValue.lowercased()
        self.family = family
        self.serial = serial
    }

    /// The ID of the slave with this family code and serial number.
    /// - Throws: `SensorError(.invalidSetting)` when `serial` does not fit in 48 bits.
    public init(family: UInt8, serial: UInt64) throws(SensorError) {
        guard serial < (UInt64(1) << 48) else {
            throw SensorError(.invalidSetting, chip: "1-Wire slave", "a 1-Wire serial number has 48 bits (0…0xFFFFFFFFFFFF); got 0x\(String(serial, radix: 16))")
        }
        var digits = String(serial, radix: 16)
        while digits.count < 12 { digits = "0" + digits }
        self.rawValue = W1ThermometerFamily.hex(family).lowercased() + "-" + digits
        self.family = family
        self.serial = serial
    }

    /// The thermometer family, or nil when the family code is not one of `w1_therm`'s.
    public var thermometerFamily: W1ThermometerFamily? { W1ThermometerFamily(rawValue: family) }

    public static func < (lhs: W1SlaveID, rhs: W1SlaveID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { rawValue }
}

/// The 1-Wire slaves that the kernel's w1 subsystem has found (`/sys/bus/w1/devices`).
public enum W1Devices {
    /// `<sysfs>/bus/w1/devices`.
    public static func directory(paths: LinuxPaths = .system) -> String {
        paths.sysfs + "/bus/w1/devices"
    }

    /// Every slave present, sorted by ID; bus masters (`w1_bus_master1`) are left out. Empty when
    /// the w1 subsystem is not loaded (on a Raspberry Pi: `dtoverlay=w1-gpio` in config.txt).
    public static func all(paths: LinuxPaths = .system) -> [W1SlaveID] {
        Files.list(directory(paths: paths)).compactMap(W1SlaveID.init(rawValue:)).sorted()
    }

    /// The slaves whose family code is a `w1_therm` thermometer (DS18B20 0x28, DS18S20 0x10,
    /// DS1822 0x22, DS1825 0x3B, DS28EA00 0x42), sorted by ID.
    public static func thermometers(paths: LinuxPaths = .system) -> [W1SlaveID] {
        all(paths: paths).filter { $0.thermometerFamily != nil }
    }
}
