import Doctor
import DoctorTesting
import IoTSDK
import Testing

@Suite("doctor: gpio and gpio-lines")
struct GPIOCheckTests {
    @Test("ok: a Raspberry Pi 4 with its character device; the chip label maps BCM numbers")
    func characterDevice() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        try fake.raspberryPi4()
        for tool in [DoctorTool.sdkDemo, .pluginHost] {
            let check = HardwareChecks.gpio(fake.system, tool: tool)
            #expect(check.verdict == .ok, "\(check)")
            #expect(check.found.hasPrefix("backend chardev (GPIO character device, uAPI v2): \(fake.path)/dev/gpiochip0"), "\(check)")
            #expect(check.found.contains("gpiochip512 [pinctrl-bcm2711] (58 lines)"), "\(check)")
            #expect(check.found.hasSuffix("BCM numbers map to the Raspberry Pi 4 chip (pinctrl-bcm2711)"), "\(check)")
        }
    }

    @Test("warn: only legacy sysfs, with what each tool loses and the kernel option to fix it")
    func sysfsOnly() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        try fake.raspberryPi4(chardev: false)
        let demo = HardwareChecks.gpio(fake.system, tool: .sdkDemo)
        #expect(demo.verdict == .warn)
        #expect(demo.found.contains("only the legacy sysfs interface (\(fake.path)/sys/class/gpio); sysfs lists gpiochip512 [pinctrl-bcm2711]"), "\(demo)")
        #expect(demo.found.hasSuffix("sdk-demo uses the sysfs backend (no bias, debounce or kernel timestamps)"))
        #expect(demo.fix == "boot a kernel with CONFIG_GPIO_CDEV=y (Linux 5.10 or later; Raspberry Pi OS and Debian kernels have it)")
        let host = HardwareChecks.gpio(fake.system, tool: .pluginHost)
        #expect(host.verdict == .warn)
        #expect(host.found.hasSuffix("the host's broker needs the character device, so modules cannot be granted GPIO lines"), "\(host)")
    }

    @Test("warn: no GPIO at all on a machine that is not a Pi; sdk-demo says it uses the simulated board")
    func noGPIO() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        let demo = HardwareChecks.gpio(fake.system, tool: .sdkDemo)
        #expect(demo.verdict == .warn)
        #expect(demo.found == "no GPIO (no \(fake.path)/dev/gpiochip* and no \(fake.path)/sys/class/gpio): sdk-demo will use the simulated board")
        #expect(demo.fix == "nothing to do to try the demo; for real pins run it on a board with GPIO, such as a Raspberry Pi")
        let host = HardwareChecks.gpio(fake.system, tool: .pluginHost)
        #expect(host.verdict == .warn)
        #expect(host.found.hasSuffix("modules that declare GPIO lines will be refused them"), "\(host)")
    }

    @Test("FAIL: a Raspberry Pi whose GPIO is missing (a container without the devices, a wrong kernel)")
    func piWithoutGPIO() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        try fake.write("/proc/device-tree/model", "Raspberry Pi 5 Model B Rev 1.0\0")
        for tool in [DoctorTool.sdkDemo, .pluginHost] {
            let check = HardwareChecks.gpio(fake.system, tool: tool)
            #expect(check.verdict == .fail, "\(check)")
            #expect(check.found.hasPrefix("this is a Raspberry Pi 5 Model B Rev 1.0 but there is no GPIO"), "\(check)")
            #expect(check.fix?.contains("--device /dev/gpiochip0") == true)
        }
    }

    @Test("chips that are not a Raspberry Pi's: a warn for sdk-demo (BCM numbers), ok for the host (labels)")
    func otherBoard() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        try fake.write("/dev/gpiochip0")
        try fake.write("/sys/class/gpio/export")
        try fake.write("/sys/class/gpio/gpiochip0/base", "0\n")
        try fake.write("/sys/class/gpio/gpiochip0/ngpio", "32\n")
        try fake.write("/sys/class/gpio/gpiochip0/label", "gpio-sim.0-node0\n")
        let demo = HardwareChecks.gpio(fake.system, tool: .sdkDemo)
        #expect(demo.verdict == .warn)
        #expect(demo.found.contains("none is a Raspberry Pi's GPIO chip, so sdk-demo (which uses BCM numbers) will use the simulated board"), "\(demo)")
        let host = HardwareChecks.gpio(fake.system, tool: .pluginHost)
        #expect(host.verdict == .ok)
        #expect(host.found.hasSuffix("modules name these chips in their manifests"))
    }

    @Test("gpio-lines skips where no real chip can answer: no chips, or a simulated root")
    func heldLinesSkips() throws {
        let fake = try FakeRoot()
        defer { fake.cleanUp() }
        let none = HardwareChecks.heldLines(fake.system, tool: .sdkDemo)
        #expect(none.verdict == .skip)
        #expect(none.found == "no GPIO character device, so no line to look at")
        try fake.raspberryPi4()
        let simulated = HardwareChecks.heldLines(fake.system, tool: .sdkDemo)
        #expect(simulated.verdict == .skip)
        #expect(simulated.found == "cannot check: \(fake.path)/dev/gpiochip0 is not a character device (a simulated root); only a real chip reports who holds its lines")
    }

    static let chip = GPIOChipInfo(name: "gpiochip0", label: "pinctrl-bcm2711", lineCount: 58, devicePath: "/dev/gpiochip0")

    static func lines(used: [UInt32: String]) -> [GPIOLineInfo] {
        (0..<58).map { offset in
            GPIOLineInfo(chip: "gpiochip0", offset: UInt32(offset), name: "GPIO\(offset)", consumer: used[UInt32(offset)], isUsed: used[UInt32(offset)] != nil)
        }
    }

    @Test("gpio-lines ok: all free, or the held lines listed with their consumers")
    func heldLinesListed() {
        let free = HardwareChecks.heldLines([(Self.chip, Self.lines(used: [:]))], wanted: [])
        #expect(free == DoctorCheck("gpio-lines", .ok, "all 58 lines of 1 chip(s) are free"))
        let held = HardwareChecks.heldLines([(Self.chip, Self.lines(used: [4: "onewire@4", 42: "ACT"]))],
                                            wanted: [.init(name: "BCM 17 (sdk-demo's LED)", chip: "gpiochip0", offset: 17)])
        #expect(held == DoctorCheck("gpio-lines", .ok, "2 of 58 lines in use: gpiochip0 line 4 \"GPIO4\" by \"onewire@4\", gpiochip0 line 42 \"GPIO42\" by \"ACT\""))
        let many = HardwareChecks.heldLines([(Self.chip, Self.lines(used: Dictionary(uniqueKeysWithValues: (30..<40).map { (UInt32($0), "kernel") })))], wanted: [])
        #expect(many.found.hasSuffix("gpiochip0 line 37 \"GPIO37\" by \"kernel\", and 2 more (sdk-demo gpio-info lists them)"), "\(many)")
    }

    @Test("gpio-lines warn: a line the tool wants is held, named with its consumer, and how to free it")
    func wantedLineHeld() {
        let check = HardwareChecks.heldLines([(Self.chip, Self.lines(used: [17: "led0", 4: "onewire@4"]))],
                                             wanted: [.init(name: "BCM 17 (sdk-demo's LED)", chip: "gpiochip0", offset: 17),
                                                      .init(name: "BCM 27 (sdk-demo's button)", chip: "gpiochip0", offset: 27)])
        #expect(check.verdict == .warn)
        #expect(check.found == "BCM 17 (sdk-demo's LED) is held: gpiochip0 line 17 \"GPIO17\" by \"led0\"")
        #expect(check.fix == "stop the program or remove the dtoverlay that holds it (sdk-demo gpio-info shows every line's user), or pick free pins: sdk-demo --led 22 --button 23")
    }
}
