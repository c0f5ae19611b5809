import Doctor
import DoctorTesting
import Testing

@Suite("doctor: i2c")
struct I2CCheckTests {
    static let piConfig = "# For more options see config.txt(5)\ndtparam=audio=on\n"

    /// A Pi's boot config, and adapters (number → name) in sysfs, with or without /dev nodes.
    static func fake(config: String?, at file: String = "/boot/firmware/config.txt", adapters: [Int: String] = [:], nodes: Bool = true) throws -> FakeRoot {
        let fake = try FakeRoot()
        if let config { try fake.write(file, config) }
        for (number, name) in adapters {
            try fake.write("/sys/class/i2c-adapter/i2c-\(number)/name", name + "\n")
            if nodes { try fake.write("/dev/i2c-\(number)") }
        }
        return fake
    }

    @Test("ok: dtparam=i2c_arm=on and /dev/i2c-1, named from sysfs")
    func enabled() throws {
        let fake = try Self.fake(config: Self.piConfig + "dtparam=i2c_arm=on\n", adapters: [1: "bcm2835 (i2c@7e804000)"])
        defer { fake.cleanUp() }
        #expect(HardwareChecks.i2c(fake.system) == DoctorCheck("i2c", .ok, "dtparam=i2c_arm=on in \(fake.path)/boot/firmware/config.txt; present: \(fake.path)/dev/i2c-1 [bcm2835 (i2c@7e804000)]"))
    }

    @Test("warn: I2C off in config.txt (commented out); the HDMI buses do not count; the fix is raspi-config")
    func off() throws {
        let fake = try Self.fake(config: Self.piConfig + "#dtparam=i2c_arm=on\n", at: "/boot/config.txt", adapters: [20: "fef04500.i2c", 21: "fef09500.i2c"])
        defer { fake.cleanUp() }
        let check = HardwareChecks.i2c(fake.system)
        #expect(check.verdict == .warn)
        #expect(check.found == "I2C is off: \(fake.path)/boot/config.txt has no dtparam=i2c_arm=on (present: \(fake.path)/dev/i2c-20 [fef04500.i2c], \(fake.path)/dev/i2c-21 [fef09500.i2c], not the header's bus)")
        #expect(check.fix == "sudo raspi-config nonint do_i2c 0, then reboot")
    }

    @Test("warn: on in config.txt and in the kernel, but no /dev/i2c-1: load i2c-dev")
    func noDeviceModule() throws {
        let fake = try Self.fake(config: "dtparam=i2c_arm=on\n", adapters: [1: "bcm2835 (i2c@7e804000)"], nodes: false)
        defer { fake.cleanUp() }
        let check = HardwareChecks.i2c(fake.system)
        #expect(check.verdict == .warn)
        #expect(check.found.hasSuffix("the i2c-dev module is not loaded"), "\(check)")
        #expect(check.fix == "sudo modprobe i2c-dev && echo i2c-dev | sudo tee -a /etc/modules")
    }

    @Test("warn: on in config.txt, but the kernel has no i2c-1 yet: reboot")
    func notYetBooted() throws {
        let fake = try Self.fake(config: "dtparam=i2c_arm=on\n")
        defer { fake.cleanUp() }
        let check = HardwareChecks.i2c(fake.system)
        #expect(check.verdict == .warn)
        #expect(check.fix == "sudo reboot")
    }

    @Test("not a Pi: ok with /dev/i2c-*, warn with adapters but no nodes, warn with nothing at all")
    func otherMachines() throws {
        let stub = try Self.fake(config: nil, adapters: [0: "SMBus stub driver"])
        defer { stub.cleanUp() }
        #expect(HardwareChecks.i2c(stub.system) == DoctorCheck("i2c", .ok, "present: \(stub.path)/dev/i2c-0 [SMBus stub driver]"))
        let unloaded = try Self.fake(config: nil, adapters: [0: "SMBus I801 adapter"], nodes: false)
        defer { unloaded.cleanUp() }
        #expect(HardwareChecks.i2c(unloaded.system).fix == "sudo modprobe i2c-dev && echo i2c-dev | sudo tee -a /etc/modules")
        let none = try Self.fake(config: nil)
        defer { none.cleanUp() }
        let check = HardwareChecks.i2c(none.system)
        #expect(check.verdict == .warn)
        #expect(check.found.hasPrefix("no I2C bus"))
    }

    @Test("config.txt: aliases, several parameters on one line, the last setting wins, comments and CRLF")
    func configParsing() throws {
        let cases: [(String, Bool)] = [
            ("dtparam=i2c_arm=on", true), ("dtparam=audio=on,i2c_arm=on,spi=on", true), ("dtparam=i2c_arm", true),
            ("dtparam=i2c1=on", true), ("dtparam=i2c=on", true), ("dtparam=i2c_arm=off", false),
            ("dtparam=i2c_arm=on\r\ndtparam=i2c_arm=off\r\n", false), ("  dtparam=i2c_arm=on   # the header bus", true),
            ("# dtparam=i2c_arm=on", false), ("dtoverlay=i2c-rtc,ds3231", false), ("", false),
        ]
        for (text, expected) in cases {
            let fake = try Self.fake(config: text + "\n", adapters: [1: "bcm2835 (i2c@7e804000)"])
            defer { fake.cleanUp() }
            #expect((HardwareChecks.i2c(fake.system).verdict == .ok) == expected, "\(text)")
        }
    }
}
