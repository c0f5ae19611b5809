import ArgumentParser
import Foundation

/// `sdk-demo module status|install`: the demo module (Examples/ExampleModuleSwift) and the
/// plugin host.
struct ModuleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "module",
        abstract: "The demo module in the plugin host: what step is missing, and installing it.",
        subcommands: [Status.self, Install.self]
    )

    /// The options both subcommands share.
    struct HostOptions: ParsableArguments {
        @Option(help: "The plugin-host executable. Default: the one next to sdk-demo, else on PATH.")
        var pluginHost: String?

        @Option(help: "The plugin host's state directory.")
        var hostStateDir = "/var/lib/plugin-host"

        var watch: ModuleWatch { ModuleWatch.locate(explicit: pluginHost, stateDirectory: hostStateDir) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say which step to a running demo module is missing, or what the running module reports.",
            discussion: """
            The steps: plugin-host found, a trusted signing key, the module installed, `plugin-host \
            run` running, the module running (its `hardware` command's report). Exit code 0 \
            whatever the step; `--json` prints it as the demo's module event.
            """
        )

        @OptionGroup var host: HostOptions

        @Flag(help: "Print one JSON object (as the demo's module event, without \"t\").")
        var json = false

        func run() async throws {
            let event = DemoEvent.module(at: nil, await host.watch.check())
            for line in json ? event.jsonLines : event.plainLines { print(line) }
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack the demo module with your signing key and install it with plugin-host.",
            discussion: """
            Lays out module.json and the built library as a module directory, then runs (and \
            prints) `plugin-host pack <dir> --key KEY --output <image>.tar` and `plugin-host install \
            <image>.tar --state-dir DIR`. It neither makes nor trusts keys: make one with \
            `plugin-host keygen --output demo.key` and trust it with `plugin-host trust add \
            demo.key.pub --state-dir DIR` first (as root for /var/lib/plugin-host). Build the \
            library first: `swift build --product ExampleModuleSwift`. Exit codes: 0 installed; \
            1 something to build or find first (the message says what); plugin-host's own exit \
            code when pack or install fails (11: the key is not trusted); 64 bad options.
            """
        )

        @OptionGroup var host: HostOptions

        @Option(help: "The private signing key (from plugin-host keygen); its .pub must be trusted by the host.")
        var key: String

        @Option(help: "The module's manifest.")
        var manifest = "Examples/ExampleModuleSwift/module.json"

        @Option(help: "The module's library. Default: libExampleModuleSwift.so next to sdk-demo (swift build --product ExampleModuleSwift).")
        var library: String?

        @Flag(help: "Run the install hooks and health check without the sandbox (plugin-host install --no-sandbox).")
        var noSandbox = false

        func run() throws {
            let files = FileManager.default
            guard let pluginHost = host.watch.pluginHost else {
                fail("plugin-host not found (\(host.watch.searched)): swift build --product plugin-host, or give --plugin-host PATH")
            }
            guard files.fileExists(atPath: key) else { fail("no signing key at \(key): make one with plugin-host keygen --output \(key)") }
            guard let manifestData = files.contents(atPath: manifest) else {
                fail("no module manifest at \(manifest): run this from the repository's root, or give --manifest PATH")
            }
            guard let object = try? JSONSerialization.jsonObject(with: manifestData) as? [String: Any],
                  let libraryPath = (object["library"] as? [String: Any])?["path"] as? String, !libraryPath.hasPrefix("/"),
                  !libraryPath.split(separator: "/").contains("..") else {
                fail("\(manifest) names no library path inside the module (library.path)")
            }
            let ownFolder = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().path ?? "."
            let builtLibrary = library ?? ownFolder + "/libExampleModuleSwift.so"
            guard files.fileExists(atPath: builtLibrary) else {
                fail("no module library at \(builtLibrary): swift build --product ExampleModuleSwift, or give --library PATH")
            }

            let work = files.temporaryDirectory.appendingPathComponent("sdk-demo-module-\(ProcessInfo.processInfo.processIdentifier)").path
            defer { try? files.removeItem(atPath: work) }
            let moduleDirectory = work + "/module"
            do {
                let target = moduleDirectory + "/" + libraryPath
                try files.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try files.copyItem(atPath: manifest, toPath: moduleDirectory + "/module.json")
                try files.copyItem(atPath: builtLibrary, toPath: target)
            } catch {
                fail("cannot lay out the module in \(work): \(error.localizedDescription)")
            }
            let image = work + "/demo-module.tar"
            try step(pluginHost, ["pack", moduleDirectory, "--key", key, "--output", image])
            try step(pluginHost, ["install", image, "--state-dir", host.hostStateDir] + (noSandbox ? ["--no-sandbox"] : []),
                     hint: "if the key is not trusted (exit 11): plugin-host trust add \(key).pub --state-dir \(host.hostStateDir)")
            print("Installed. Next: plugin-host run --state-dir \(host.hostStateDir) (as root: sandboxed); sdk-demo --host-state-dir \(host.hostStateDir) then shows the module's report.")
        }

        /// Prints the command, runs it with this process's output, and exits with its code if it fails.
        private func step(_ executable: String, _ arguments: [String], hint: String? = nil) throws {
            writeOutput("$ plugin-host " + arguments.joined(separator: " ") + "\n")
            let result = ChildProcess.runBlocking(executable, arguments, passOutput: true)
            guard result.status == 0 else {
                if let hint { writeOutput("sdk-demo: \(hint)\n", to: STDERR_FILENO) }
                throw ExitCode(result.status)
            }
        }
    }
}
