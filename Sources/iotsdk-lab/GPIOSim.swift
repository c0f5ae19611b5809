import IoTSDK

/// The gpio-sim lines the fixture made (Scripts/lab/guest-fixture.sh): their simulated pull and
/// the level a request drives, read from the kernel's own sysfs files.
struct GPIOSim {
    let device: String

    init() throws {
        device = try environment("IOTLAB_SIM_DEVICE")
    }

    private func lineDirectory(_ chip: GPIOChipInfo, _ offset: UInt32) -> String {
        "\(device)/\(chip.name)/sim_gpio\(offset)"
    }

    /// Pulls the simulated pin up (true) or down (false): what an input then reads.
    func pull(_ chip: GPIOChipInfo, _ offset: UInt32, up: Bool) throws {
        try writeFile(lineDirectory(chip, offset) + "/pull", up ? "pull-up" : "pull-down")
    }

    /// The level a request drives on the pin, as gpio-sim saw it.
    func driven(_ chip: GPIOChipInfo, _ offset: UInt32) throws -> Bool {
        let text = try readFile(lineDirectory(chip, offset) + "/value")
        return text == "1"
    }

    func currentPull(_ chip: GPIOChipInfo, _ offset: UInt32) throws -> String {
        try readFile(lineDirectory(chip, offset) + "/pull")
    }
}

/// The fixture's chips, found by label.
struct LabChips {
    let gpio: GPIO
    let a: GPIOChipInfo
    let pi: GPIOChipInfo

    init(_ gpio: GPIO) throws {
        self.gpio = gpio
        a = try gpio.chip(labeled: "iotlab-a")
        pi = try gpio.chip(labeled: "pinctrl-bcm2711")
    }
}
