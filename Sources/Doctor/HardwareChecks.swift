/// The checks of a device's hardware that both `sdk-demo doctor` and `plugin-host doctor` run:
/// GPIO chips and backend, access to the device nodes, lines already held, I2C.
public enum HardwareChecks {
    /// Every hardware check, in the order they are printed.
    public static func run(_ system: DoctorSystem, tool: DoctorTool) -> [DoctorCheck] {
        [
            gpio(system, tool: tool),
            access(system, .gpio, tool: tool),
            heldLines(system, tool: tool),
            i2c(system),
            access(system, .i2c, tool: tool),
        ]
    }
}
