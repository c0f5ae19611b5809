import LinuxSupport
/// An I2C adapter (bus controller) the kernel knows, from sysfs.
public struct I2CAdapterInfo: Sendable, Hashable, CustomStringConvertible {
    /// The N of i2c-N.
    public var number: Int
    /// The adapter's name, e.g. `bcm2835 (i2c@7e804000)` or `SMBus stub driver`.
    public var name: String
    /// `/dev/i2c-N`, when the i2c-dev driver has made it.
    public var devicePath: String?
    /// Addresses that kernel drivers (or device-tree entries) have taken on this bus.
    public var claimed: [ClaimedAddress]

    /// A client device the kernel has instantiated on the bus.
    public struct ClaimedAddress: Sendable, Hashable, CustomStringConvertible {
        public var address: UInt16
        /// The device's name (`bme280`, `24c32`…).
        public var deviceName: String
        /// The driver bound to it, nil when none is bound (the address is still reserved).
        public var driver: String?

        public var description: String {
            "\(I2CAddress.hex(Int(address))) \(deviceName)" + (driver.map { " (driver \($0))" } ?? " (no driver bound)")
        }
    }

    public var description: String { "i2c-\(number) [\(name)]" }
}

/// Finds I2C adapters in sysfs (`/sys/class/i2c-adapter`, `/sys/bus/i2c/devices`).
public enum I2CAdapters {
    /// Every adapter, by number.
    public static func list(paths: LinuxPaths = .system) -> [I2CAdapterInfo] {
        var numbers = Set<Int>()
        for root in [paths.sys("class/i2c-adapter"), paths.sys("bus/i2c/devices")] {
            for entry in Files.list(root) where entry.hasPrefix("i2c-") {
                if let n = Int(entry.dropFirst(4)) { numbers.insert(n) }
            }
        }
        let clients = claimedAddresses(paths: paths)
        return numbers.sorted().map { n in
            let name = Files.readAttributeIfPresent(paths.sys("class/i2c-adapter/i2c-\(n)/name"))
                ?? Files.readAttributeIfPresent(paths.sys("bus/i2c/devices/i2c-\(n)/name")) ?? ""
            let dev = paths.device("i2c-\(n)")
            return I2CAdapterInfo(number: n, name: name, devicePath: Files.exists(dev) ? dev : nil, claimed: clients[n] ?? [])
        }
    }

    /// The adapter with this number or name.
    /// - Throws: `.notFound` listing the adapters present; `.invalidArgument` when a name is ambiguous.
    public static func find(named name: String, paths: LinuxPaths = .system) throws(HardwareError) -> I2CAdapterInfo {
        let all = list(paths: paths)
        let matches = all.filter { $0.name == name }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 {
            throw HardwareError(.invalidArgument, "several I2C adapters are named '\(name)' (\(matches.map(\.description).joined(separator: ", "))); open one by number", location: name)
        }
        throw HardwareError(.notFound, "no I2C adapter named '\(name)'; adapters found: \(describe(all))", location: name)
    }

    static func describe(_ all: [I2CAdapterInfo]) -> String {
        all.isEmpty ? "none (enable I2C: on a Raspberry Pi `sudo raspi-config nonint do_i2c 0` or dtparam=i2c_arm=on in config.txt)" : all.map(\.description).joined(separator: ", ")
    }

    /// Client devices `N-00AA` under /sys/bus/i2c/devices, grouped by bus.
    static func claimedAddresses(paths: LinuxPaths) -> [Int: [I2CAdapterInfo.ClaimedAddress]] {
        var result: [Int: [I2CAdapterInfo.ClaimedAddress]] = [:]
        let root = paths.sys("bus/i2c/devices")
        for entry in Files.list(root) {
            let parts = entry.split(separator: "-")
            guard parts.count == 2, let bus = Int(parts[0]), parts[1].count == 4,
                  let address = UInt16(parts[1], radix: 16) else { continue }
            let dir = root + "/" + entry
            let claimed = I2CAdapterInfo.ClaimedAddress(
                address: address & 0x3FF, deviceName: Files.readAttributeIfPresent(dir + "/name") ?? "?",
                driver: Files.linkTarget(dir + "/driver").map(lastPathComponent))
            result[bus, default: []].append(claimed)
        }
        return result.mapValues { $0.sorted { $0.address < $1.address } }
    }
}
