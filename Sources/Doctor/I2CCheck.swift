import IoTSDK

// i2c: /dev/i2c-* and, on a Raspberry Pi, the dtparam that turns on the header's I2C bus.
// Neither tool needs I2C to run (sensors are optional), so this check warns at most.

extension HardwareChecks {
    /// The Raspberry Pi firmware's config file: Raspberry Pi OS Bookworm and later, then older.
    static let bootConfigFiles = ["/boot/firmware/config.txt", "/boot/config.txt"]

    /// `/dev/i2c-*` (named from `/sys/class/i2c-adapter`) and, where a Raspberry Pi boot config
    /// exists, `dtparam=i2c_arm=on` in it and `/dev/i2c-1`. Never FAIL.
    public static func i2c(_ system: DoctorSystem) -> DoctorCheck {
        let adapters = I2CAdapters.list(paths: system.linuxPaths)
        let nodes = system.entries("/dev").compactMap { name -> Int? in name.hasPrefix("i2c-") ? Int(name.dropFirst(4)) : nil }.sorted()
        let present = nodes.map { number in
            system.path("/dev/i2c-\(number)") + (adapters.first { $0.number == number }.map { " [\($0.name)]" } ?? "")
        }.joined(separator: ", ")
        let withoutNode = adapters.filter { !nodes.contains($0.number) }
        let loadModule = "sudo modprobe i2c-dev && echo i2c-dev | sudo tee -a /etc/modules"

        if let config = bootConfigFiles.first(where: system.exists) {
            guard i2cArmEnabled(config: system.read(config) ?? "") else {
                return DoctorCheck("i2c", .warn, "I2C is off: \(system.path(config)) has no dtparam=i2c_arm=on"
                    + (nodes.isEmpty ? "" : " (present: \(present), not the header's bus)"),
                                   fix: "sudo raspi-config nonint do_i2c 0, then reboot")
            }
            if nodes.contains(1) {
                return DoctorCheck("i2c", .ok, "dtparam=i2c_arm=on in \(system.path(config)); present: \(present)")
            }
            if withoutNode.contains(where: { $0.number == 1 }) {
                return DoctorCheck("i2c", .warn, "dtparam=i2c_arm=on in \(system.path(config)) and the kernel has i2c-1, but there is no \(system.path("/dev/i2c-1")): the i2c-dev module is not loaded",
                                   fix: loadModule)
            }
            return DoctorCheck("i2c", .warn, "dtparam=i2c_arm=on in \(system.path(config)), but the kernel has no i2c-1 yet: the setting takes effect at boot",
                               fix: "sudo reboot")
        }
        if !nodes.isEmpty {
            return DoctorCheck("i2c", .ok, "present: \(present)")
        }
        if !withoutNode.isEmpty {
            return DoctorCheck("i2c", .warn, "the kernel has I2C adapters (\(withoutNode.map(\.description).joined(separator: ", "))) but there is no \(system.path("/dev"))/i2c-*: the i2c-dev module is not loaded",
                               fix: loadModule)
        }
        return DoctorCheck("i2c", .warn, "no I2C bus: no \(system.path("/dev"))/i2c-* and nothing in \(system.path("/sys/class/i2c-adapter")); I2C sensors cannot be read here",
                           fix: "on a Raspberry Pi, sudo raspi-config nonint do_i2c 0, then reboot; on other boards, enable the bus in the device tree and sudo modprobe i2c-dev")
    }

    /// Whether config.txt turns on the header's I2C bus: the last `dtparam=i2c_arm` (or its
    /// aliases `i2c`, `i2c1`) that is set, `on` when given without a value. Off when absent.
    static func i2cArmEnabled(config: String) -> Bool {
        var enabled = false
        for rawLine in config.split(whereSeparator: \.isNewline) {
            let line = trimmed(rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
            guard line.hasPrefix("dtparam=") else { continue }
            for parameter in line.dropFirst("dtparam=".count).split(separator: ",") {
                let parts = parameter.split(separator: "=", maxSplits: 1).map(trimmed)
                guard let key = parts.first, ["i2c_arm", "i2c", "i2c1"].contains(key) else { continue }
                enabled = parts.count == 1 || ["on", "true", "yes", "okay", "1"].contains(parts[1].lowercased())
            }
        }
        return enabled
    }

    /// Without leading and trailing spaces and tabs.
    private static func trimmed(_ text: Substring) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(text.drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
