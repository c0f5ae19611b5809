import ArgumentParser
import Doctor
import IoTSDK

/// The options and the ending that `sdk-demo doctor` and `plugin-host doctor` share.
public struct DoctorOptions: ParsableArguments {
    @Option(help: "Check the system whose /dev, /sys, /proc, /etc and /boot are in this directory instead of the running one (nothing is probed).")
    public var root = "/"

    @Flag(help: "Print the report as JSON.")
    public var json = false

    public init() {}

    public func validate() throws {
        if let problem = DoctorSystem.problem(withRoot: root) { throw ValidationError(problem) }
    }

    /// The system to check, as this process's user.
    public var system: DoctorSystem { DoctorSystem(root: root) }

    /// Prints the report (text or JSON); exits 1 when a check failed.
    public func finish(_ tool: DoctorTool, _ checks: [DoctorCheck]) throws {
        let report = DoctorReport(tool: tool.rawValue, version: IoTSDKVersion.current, root: system.root, checks: checks)
        print(try report.output(json: json))
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
