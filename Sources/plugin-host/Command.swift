import LinuxSupport
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import PluginHost

struct CallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "command",
        abstract: "Call a typed command of a module that the running host (plugin-host run) runs.",
        discussion: """
        The arguments are text, parsed by the host as the types the module's manifest declares \
        (bool: true/false/1/0; integers: decimal or 0x hex; double: a finite decimal; string: any \
        text); the result is printed on stdout. Negative numbers may be given as they are \
        (`plugin-host command com.example.x offset -5`). The host is reached through \
        <state-dir>/run/control.sock (root or the host's user only). Exit codes: 0 called, the \
        result printed; 17 the module is not running (or no host runs on the state directory); \
        21 unknown command, or arguments of the wrong number or type: no call was made; 23 the \
        call was made but returned no value (missing symbol, the module ended during the call, \
        timeout).
        """
    )

    @Argument(help: "Module id, e.g. com.example.thermostat.")
    var id: String

    @Argument(help: "Command name, as the module's manifest declares it.")
    var name: String

    @Argument(parsing: .allUnrecognized, help: "The command's arguments, as text.")
    var arguments: [String] = []

    @Option(help: "Host state directory.")
    var stateDir = defaultStateDirectory

    @Option(help: "Seconds to wait for the module's answer.")
    var timeout: Double = 30

    @Flag(help: "Print the host's answer as JSON (the result with its type, or the error).")
    var json = false

    func run() throws {
        let request = ControlServer.Request(module: id, command: name, arguments: arguments, timeoutSeconds: timeout)
        let response = try CLI.run { () throws(ModuleError) -> ControlServer.Response in
            try ControlServer.send(request, stateDirectory: stateDir)
        }
        if json { try printJSON(response) }
        if response.ok {
            if !json { print(response.text ?? "") }
            return
        }
        let failure = response.error ?? .init(code: "io", exitCode: 1, message: "the host answered without a result or an error")
        writeToStandardError("plugin-host: \(failure.code): \(failure.message)\n")
        throw ExitCode(failure.exitCode)
    }
}
