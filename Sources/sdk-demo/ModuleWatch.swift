import Dispatch
import Foundation
import Synchronization

/// What the demo knows about the demo module (Examples/ExampleModuleSwift) on this machine: each
/// step to a module that runs sandboxed and reports, the first one missing, and its fix.
struct ModuleReport: Sendable, Equatable {
    /// The steps in order; the report names the first one that is not done (or `running`).
    enum Step: String, Sendable {
        case pluginHostMissing = "plugin-host-missing"
        case noTrustedKey = "no-trusted-key"
        case notInstalled = "not-installed"
        case hostNotRunning = "host-not-running"
        case notRunning = "not-running"
        case running
        /// plugin-host answered with an error (the summary says which).
        case error
    }

    /// The demo module's id, as Examples/ExampleModuleSwift/module.json declares it.
    static let moduleID = "com.example.thermostat-swift"

    var step: Step
    var summary: String
    /// The command that does the missing step.
    var fix: String?
    /// The module's state in the running host (`running`, `starting`, `broken`…).
    var state: String?
    /// Whether the running host runs its modules in the sandbox.
    var sandboxed: Bool?
    /// What the module's `hardware` command answered, one line per part.
    var report: String?
}

/// Asks the `plugin-host` command about the demo module: `status --json`, `trust list --json`
/// and, when the module runs, its `hardware` command through the host's control socket.
struct ModuleWatch: Sendable {
    /// The plugin-host executable; nil when none was found.
    let pluginHost: String?
    /// Where it was looked for, for the message when it was not found.
    let searched: String
    let stateDirectory: String

    /// `explicit`, else `plugin-host` next to this executable, else on PATH.
    static func locate(explicit: String?, stateDirectory: String) -> ModuleWatch {
        if let explicit {
            return ModuleWatch(pluginHost: FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil,
                               searched: explicit, stateDirectory: stateDirectory)
        }
        let ownFolder = (Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().path).map { [$0] } ?? []
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let found = (ownFolder + path).map { $0 + "/plugin-host" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        return ModuleWatch(pluginHost: found, searched: "next to sdk-demo and on PATH", stateDirectory: stateDirectory)
    }

    private var stateOption: String { stateDirectory == "/var/lib/plugin-host" ? "" : " --state-dir \(stateDirectory)" }

    /// The first missing step, or the running module's report.
    func check() async -> ModuleReport {
        guard let pluginHost else {
            return ModuleReport(step: .pluginHostMissing, summary: "plugin-host not found (\(searched))",
                                fix: "swift build --product plugin-host (it is then next to sdk-demo), or put plugin-host on PATH")
        }
        let status = await ChildProcess.run(pluginHost, ["status", "--json", "--state-dir", stateDirectory])
        guard status.status == 0, let object = status.json as? [String: Any] else {
            return ModuleReport(step: .error, summary: "plugin-host status failed: \(status.message)",
                                fix: "plugin-host doctor\(stateOption)")
        }
        let installed = (object["installed"] as? [[String: Any]] ?? []).first { $0["id"] as? String == ModuleReport.moduleID }
        guard let installed else {
            let trust = await ChildProcess.run(pluginHost, ["trust", "list", "--json", "--state-dir", stateDirectory])
            if trust.status == 0, (trust.json as? [Any])?.isEmpty ?? true {
                return ModuleReport(step: .noTrustedKey, summary: "no trusted signing key in \(stateDirectory)/trust",
                                    fix: "plugin-host keygen --output demo.key && plugin-host trust add demo.key.pub\(stateOption)")
            }
            return ModuleReport(step: .notInstalled, summary: "\(ModuleReport.moduleID) is not installed in \(stateDirectory)",
                                fix: "swift build --product ExampleModuleSwift && sdk-demo module install --key demo.key\(stateOption.replacingOccurrences(of: "--state-dir", with: "--host-state-dir"))")
        }
        let version = installed["version"] as? String ?? "?"
        guard let host = object["host"] as? [String: Any] else {
            return ModuleReport(step: .hostNotRunning, summary: "\(ModuleReport.moduleID) \(version) is installed; no host is running",
                                fix: "plugin-host run\(stateOption) (as root: sandboxed)")
        }
        let sandboxed = host["sandbox"] != nil
        let running = (host["modules"] as? [[String: Any]] ?? []).first { $0["id"] as? String == ModuleReport.moduleID }
        guard let running, let state = running["state"] as? String else {
            return ModuleReport(step: .notRunning, summary: "the host runs, but not \(ModuleReport.moduleID) (yet)",
                                fix: "plugin-host status\(stateOption)", sandboxed: sandboxed)
        }
        let how = "\(ModuleReport.moduleID) \(running["version"] as? String ?? version) \(state)\(sandboxed ? ", sandboxed" : ", not sandboxed (plugin-host run --no-sandbox)")"
        guard state == "running" else {
            let failure = (running["lastFailure"] as? String).map { ": \($0)" } ?? ""
            return ModuleReport(step: .notRunning, summary: how + failure, fix: "plugin-host logs \(ModuleReport.moduleID)\(stateOption)",
                                state: state, sandboxed: sandboxed)
        }
        let hardware = await ChildProcess.run(pluginHost, ["command", ModuleReport.moduleID, "hardware", "--json", "--timeout", "5",
                                                           "--state-dir", stateDirectory])
        let answer = (hardware.json as? [String: Any])?["text"] as? String
        return ModuleReport(step: .running, summary: how + (answer == nil ? "; its hardware command failed: \(hardware.message)" : ""),
                            state: state, sandboxed: sandboxed, report: answer)
    }
}

/// A child process run to its end on a thread of its own, off Swift's cooperative pool.
struct ChildProcess: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout parsed as JSON, if it is.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }

    /// What went wrong, for a message: the last line of stderr, or the exit status.
    var message: String {
        stderr.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
    }

    static func run(_ executable: String, _ arguments: [String]) async -> ChildProcess {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: runBlocking(executable, arguments)) }
        }
    }

    static func runBlocking(_ executable: String, _ arguments: [String], passOutput: Bool = false) -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        if !passOutput {
            process.standardOutput = out
            process.standardError = err
        }
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return ChildProcess(status: 127, stdout: "", stderr: "cannot run \(executable): \(error.localizedDescription)")
        }
        // stderr is read on another thread so that neither pipe can fill up and stall the child.
        final class Collected: Sendable { let data = Mutex(Data()) }
        let errors = Collected()
        let reading = DispatchGroup()
        if !passOutput {
            DispatchQueue.global().async(group: reading) {
                let data = err.fileHandleForReading.readDataToEndOfFile()
                errors.data.withLock { $0 = data }
            }
        }
        let stdout = passOutput ? Data() : out.fileHandleForReading.readDataToEndOfFile()
        reading.wait()
        process.waitUntilExit()
        return ChildProcess(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                            stderr: String(decoding: errors.data.withLock { $0 }, as: UTF8.self))
    }
}
