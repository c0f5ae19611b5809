import LinuxSupport
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PluginHost
import PluginHostRunner
import SDKVersion
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct PluginHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host",
        abstract: "Build, sign, inspect, trust, install, update and roll back IoTSDK modules.",
        discussion: """
        Exit codes: 0 success; 10 image structure or integrity (missing or damaged blob, digest or \
        size mismatch, not a module image); 11 signature (unsigned, untrusted key, bad signature); \
        12 module manifest (malformed JSON, missing field, wrong type, invalid value, unknown ABI); \
        13 key file or trust store; 14 file system or module directory; 15 layer content refused \
        (absolute path, '..', link escape, device node, setuid, too large, decompression bomb); \
        16 version policy (downgrade or same version without a signed allowance); 17 module not \
        installed, nothing to roll back, or (command) the module is not running; 18 another \
        plugin-host is busy with the state directory; 20 the new version failed a hook or its \
        health check and was rolled back; 21 (command) unknown command or bad arguments, no call \
        made; 23 (command) the call returned no value; 24 a registry could not be reached, refused, \
        or has no image for this platform; 25 the image's signing key may not sign this module \
        (outside its --modules scope) or has expired; 26 the manifest asks for root without \
        --allow-root-module, or no module user is left; 64 usage error; 1 anything else.
        """,
        version: IoTSDKVersion.current,
        subcommands: [Keygen.self, Pack.self, Index.self, Inspect.self, Trust.self, Pull.self, Install.self, Follow.self, Unfollow.self, CollectContent.self, List.self, Status.self, Rollback.self, Remove.self, Run.self, Logs.self, CallCommand.self,
                      DoctorCommand.self]
    )

    /// One executable for host and runner: started under the name `plugin-host-runner` (the
    /// link the Debian package installs beside `plugin-host`), this is the module runner, so a
    /// device holds one copy of the Swift runtime and the host's and runners' code pages are
    /// shared between them.
    static func main() async {
        let name = CommandLine.arguments.first.map { lastPathComponent($0) }
        if name == "plugin-host-runner" { runnerMain() }
        // A reader that went away (a credential helper that exited before reading its input, a
        // closed pipe) is an error to handle where it happens, not the end of the host.
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}

/// The default host state directory.
let defaultStateDirectory = RuntimeDirectory.defaultStateDirectory

/// Runs `body`, turning a `ModuleError` into its message on stderr and its documented exit code.
enum CLI {
    /// - Parameter json: the error is also printed on standard output as
    ///   `{"error": {"code": …, "message": …}}`, for the program that reads the command's JSON.
    static func run<T>(json: Bool = false, _ body: () throws(ModuleError) -> T) throws -> T {
        do { return try body() } catch {
            writeToStandardError("plugin-host: \(error)\n")
            if json {
                try? printJSON(ModuleErrorReport(error))
            }
            throw ExitCode(error.exitCode)
        }
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
