import LinuxSupport
import Foundation
import Testing
@testable import IoTSDK

/// Discovery code run against sysfs trees laid out as the kernel lays them out, in a temp folder.
/// (The real kernel is exercised in the lab: Scripts/lab/run.sh.)
@Suite("sysfs discovery on a simulated tree")
struct SysfsTreeTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("iotsdk-sysfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/sys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/dev", withIntermediateDirectories: true)
    }

    var paths: LinuxPaths { LinuxPaths(sysfs: root + "/sys", dev: root + "/dev") }

    func file(_ relative: String, _ text: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    func link(_ relative: String, to target: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }

    @Test func sysfsChipsCarryTheirBaseFromTheKernel() throws {
        try file("sys/class/gpio/export", "")
        try file("sys/class/gpio/gpiochip571/base", "571")
        try file("sys/class/gpio/gpiochip571/ngpio", "54")
        try file("sys/class/gpio/gpiochip571/label", "pinctrl-bcm2835")
        try file("sys/class/gpio/gpiochip512/base", "512")
        try file("sys/class/gpio/gpiochip512/ngpio", "8")
        try file("sys/class/gpio/gpiochip512/label", "raspberrypi-exp-gpio")
        let gpio = try GPIO.linux(paths: paths)
        #expect(gpio.backend.kind == .sysfs)
        let chips = try gpio.chips()
        #expect(chips.map(\.label) == ["raspberrypi-exp-gpio", "pinctrl-bcm2835"])
        #expect(chips.map(\.sysfsBase) == [512, 571])
        // BCM 17 is line 17 of pinctrl-bcm2835: GPIO number 571 + 17, not 17 and not 512 + 17.
        let line = try gpio.resolve(.bcm(17))
        #expect(line.chip.sysfsBase.map { $0 + Int(line.offset) } == 588)
    }

    @Test func noGPIOAtAllSaysWhatToDo() {
        let error = #expect(throws: HardwareError.self) { try GPIO.linux(paths: paths) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("simulated") == true)
    }

    @Test func chardevChipMatchesItsSysfsDirectoryByDevicePath() {
        let candidates = [
            SysfsChipDirectory(name: "gpiochip560", path: "", label: "x", lineCount: 8, base: 560,
                               realPath: root + "/sys/devices/platform/sim.0/gpiochip1/gpio/gpiochip560"),
            SysfsChipDirectory(name: "gpiochip568", path: "", label: "x", lineCount: 8, base: 568,
                               realPath: root + "/sys/devices/platform/sim.0/gpiochip2/gpio/gpiochip568"),
        ]
        try? FileManager.default.createDirectory(atPath: root + "/sys/devices/platform/sim.0/gpiochip2", withIntermediateDirectories: true)
        try? link("sys/bus/gpio/devices/gpiochip2", to: root + "/sys/devices/platform/sim.0/gpiochip2")
        let match = SysfsChipDirectory.match(chip: "gpiochip2", label: "x", lineCount: 8, paths: paths, among: candidates, taken: [])
        #expect(match?.base == 568)
    }

    @Test func i2cAdaptersAndClaimedAddresses() throws {
        try file("sys/class/i2c-adapter/i2c-1/name", "bcm2835 (i2c@7e804000)")
        try file("sys/class/i2c-adapter/i2c-10/name", "SMBus stub driver")
        try file("sys/class/i2c-adapter/i2c-2/name", "bcm2835 (i2c@7e805000)")
        try file("sys/bus/i2c/devices/1-0076/name", "bme280")
        try file("sys/bus/i2c/drivers/bmp280/.keep", "")
        try link("sys/bus/i2c/devices/1-0076/driver", to: "../../../../bus/i2c/drivers/bmp280")
        try file("sys/bus/i2c/devices/1-0050/name", "24c32")
        try file("dev/i2c-1", "")
        let adapters = I2CAdapters.list(paths: paths)
        #expect(adapters.map(\.number) == [1, 2, 10])
        #expect(adapters[0].devicePath == root + "/dev/i2c-1")
        #expect(adapters[1].devicePath == nil)
        #expect(adapters[0].claimed.map(\.address) == [0x50, 0x76])
        #expect(adapters[0].claimed[1].driver == "bmp280")
        #expect(adapters[0].claimed[0].driver == nil)
        #expect(try I2CAdapters.find(named: "SMBus stub driver", paths: paths).number == 10)
        let missing = #expect(throws: HardwareError.self) { try I2CAdapters.find(named: "nope", paths: paths) }
        #expect(missing?.message.contains("i2c-10 [SMBus stub driver]") == true)
    }

    @Test func missingBusNodeSaysToLoadI2CDev() throws {
        try file("sys/class/i2c-adapter/i2c-1/name", "bcm2835 (i2c@7e804000)")
        let error = #expect(throws: HardwareError.self) { try LinuxI2CBus(bus: 1, paths: paths) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("modprobe i2c-dev") == true)
        #expect(error?.message.contains("bcm2835") == true)
    }

    @Test func naturalOrderSortsNumbersByValue() {
        #expect(["gpiochip10", "gpiochip2", "gpiochip1"].sorted(by: Files.naturalOrder) == ["gpiochip1", "gpiochip2", "gpiochip10"])
    }
}
