import Doctor
import IoTSDK

/// The doctor's hardware checks against the real kernel, the one place where chips report who
/// holds their lines (Tests/DoctorTests covers the rest on simulated roots).
let doctorLabTests: [LabTest] = [
    LabTest(name: "doctor.gpio-chardev-and-board") {
        let check = HardwareChecks.gpio(DoctorSystem(), tool: .sdkDemo)
        try expectEqual(check.verdict, .ok, check.found)
        try expect(check.found.hasPrefix("backend chardev") && check.found.contains("[iotlab-a] (8 lines)"), check.found)
        try expect(check.found.hasSuffix("BCM numbers map to the Raspberry Pi 4 chip (pinctrl-bcm2711)"), check.found)
        try expectEqual(HardwareChecks.access(DoctorSystem(), .gpio, tool: .sdkDemo).verdict, .ok)
    },
    LabTest(name: "doctor.gpio-lines-names-the-holders") {
        let system = DoctorSystem()
        let free = HardwareChecks.heldLines(system, tool: .sdkDemo)
        try expectEqual(free.verdict, .ok, free.found)
        try expect(free.found.contains("line 7 by \"lab-hog\""), free.found)
        let led = try GPIO.linux(.characterDevice).output(.bcm(17), consumer: "lab-doctor")
        defer { led.release() }
        let held = HardwareChecks.heldLines(system, tool: .sdkDemo)
        try expectEqual(held.verdict, .warn, held.found)
        try expect(held.found.hasPrefix("BCM 17 (sdk-demo's LED) is held: ") && held.found.hasSuffix("line 17 \"GPIO17\" by \"lab-doctor\""), held.found)
        // The host wants no particular pin: the same lines are listed, not a warn.
        try expectEqual(HardwareChecks.heldLines(system, tool: .pluginHost).verdict, .ok)
    },
    LabTest(name: "doctor.i2c-stub-present") {
        let check = HardwareChecks.i2c(DoctorSystem())
        try expectEqual(check.verdict, .ok, check.found)
        try expect(check.found.contains("[SMBus stub driver]"), check.found)
    },
]
