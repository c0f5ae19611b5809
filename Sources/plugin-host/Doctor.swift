import ArgumentParser
import Doctor
import DoctorCLI
import HostDoctor
import PluginHost

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this system for what the host and its modules need, with a fix for each problem.",
        discussion: """
        Checks GPIO chips and backend, access to /dev/gpiochip* and /dev/i2c-*, lines already held, \
        I2C, the runner, root, the sandbox's kernel features (namespaces, no_new_privs, cgroup \
        controllers), the state directory and the trusted keys; one line each: ok, warn, FAIL or \
        skip, what was found, and the fix. Documentation/Troubleshooting.md explains each check. \
        Exit codes: 0 nothing needed is missing (warnings may remain); 1 a check failed; 64 usage \
        error.
        """
    )

    @Option(help: "Host state directory (default /var/lib/plugin-host, inside --root when given).")
    var stateDir: String?

    @OptionGroup var options: DoctorOptions

    func run() throws {
        let system = options.system
        try options.finish(.pluginHost, HardwareChecks.run(system, tool: .pluginHost)
            + HostChecks.run(system, stateDirectory: stateDir ?? system.path(RuntimeDirectory.defaultStateDirectory), runner: ChildProcessRunner.locate()))
    }
}
