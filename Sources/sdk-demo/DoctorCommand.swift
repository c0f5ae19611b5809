import ArgumentParser
import Doctor
import DoctorCLI

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check GPIO, I2C and access to them, with a fix for each problem.",
        discussion: """
        Checks GPIO chips and the backend the demo will use, access to /dev/gpiochip* and \
        /dev/i2c-* without root (groups, udev rules), lines already held (the demo's BCM 17 and 27 \
        too) and I2C (/dev/i2c-*, dtparam=i2c_arm=on); one line each: ok, warn, FAIL or skip, what \
        was found, and the fix. No GPIO at all is a warn: the demo then runs on the simulated \
        board. `plugin-host doctor` adds the host's checks. Documentation/Troubleshooting.md \
        explains each check. Exit codes: 0 nothing needed is missing (warnings may remain); 1 a \
        check failed; 64 usage error.
        """
    )

    @OptionGroup var options: DoctorOptions

    func run() throws {
        try options.finish(.sdkDemo, HardwareChecks.run(options.system, tool: .sdkDemo))
    }
}
