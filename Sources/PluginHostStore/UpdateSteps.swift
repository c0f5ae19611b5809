#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSupport
import PluginHostImages

/// The steps of one update that run module code or copy its data, with their output kept in
/// `logs/<transaction>/`.
package struct UpdateSteps {
    let paths: ModulePaths
    let runner: any ModuleRunner
    let transaction: String
    let new: InstalledVersion

    private var logDirectory: String { paths.log(transaction) }

    /// Runs a hook if the manifest declares it; a hook that fails, crashes or times out throws
    /// `.hookFailed`. Its output goes to `NN-<name>.log` either way.
    func hook(_ name: String, _ hook: ModuleManifest.Hook?) throws(ModuleError) {
        guard let hook else { return }
        let result = runner.runHook(name: name, hook: hook, context: new.context)
        let verdict: String? = switch result.outcome {
        case .succeeded: nil
        case let .returned(value): "returned \(value)"
        case .timedOut: "did not return within its timeout of \(Self.seconds(hook.timeoutSeconds)) and was killed"
        case let .crashed(exit): "crashed (\(exit))"
        }
        let file = try saveLog(name: name, header: "hook \(name) (\(hook.symbol)) of \(new.manifest.id) \(new.manifest.version): \(verdict ?? "succeeded") after \(Self.seconds(result.seconds))", body: result.output)
        if let verdict {
            throw ModuleError(.hookFailed, "the \(name) hook (\(hook.symbol)) \(verdict); its output is in \(file)", field: "hooks.\(name)")
        }
    }

    /// Copies the data directory to `snapshots/<transaction>` (via a temporary name, so that a
    /// snapshot directory exists only when it is complete).
    func snapshot() throws(ModuleError) {
        let target = paths.snapshot(transaction)
        let temporary = target + ".tmp"
        try StateFiles.removeTree(temporary)
        try StateFiles.removeTree(target)
        try StateFiles.copyTree(paths.data, to: temporary)
        try StateFiles.move(temporary, to: target)
    }

    func startModule() throws(ModuleError) -> any ModuleInstance {
        try runner.start(new.context)
    }

    /// Judges health on the device alone: the module must signal ready within
    /// `readyTimeoutSeconds`, then keep sending heartbeats (none may be more than 1.5 ×
    /// `heartbeatIntervalSeconds` apart) and stay up for `stabilityWindowSeconds`. Nothing here
    /// depends on the network, so a lost uplink cannot fail an update.
    /// - Throws: `ModuleError` `.unhealthy` naming the rule that failed.
    func judgeHealth(_ instance: any ModuleInstance) throws(ModuleError) {
        let policy = new.manifest.health
        let watch = HealthWatch(policy: policy)
        let failure = watch.awaitReady(instance)
            ?? watch.watch(instance, until: .now + .seconds(policy.stabilityWindowSeconds))
        guard let failure else { return }
        let why = switch failure {
        case let .notReady(timeout): "did not signal ready within readyTimeoutSeconds (\(Self.seconds(timeout)))"
        case let .exitedBeforeReady(exit): "\(exit) before signalling ready"
        case let .silent(gap, interval): "sent no heartbeat for \(Self.seconds(Self.seconds(gap))) (heartbeatIntervalSeconds is \(Self.seconds(interval)))"
        case let .exited(exit, after): "\(exit) \(Self.seconds(Self.seconds(after))) after it started, within the stability window of \(Self.seconds(policy.stabilityWindowSeconds))"
        }
        let file = try? saveLog(name: "health", header: "health check of \(new.manifest.id) \(new.manifest.version): \(why)", body: instance.output)
        throw ModuleError(.unhealthy, "the module \(why)\(file.map { "; its output is in \($0)" } ?? "")", field: "health")
    }

    /// Keeps what the module printed during its health check.
    func saveModuleOutput(_ output: String, exit: ProcessExit) {
        _ = try? saveLog(name: "module", header: "\(new.manifest.id) \(new.manifest.version) during the update; stopped: \(exit)", body: output)
    }

    /// Writes `logs/<transaction>/NN-<name>.log` and returns its path.
    @discardableResult
    private func saveLog(name: String, header: String, body: String) throws(ModuleError) -> String {
        try StateFiles.makeDirectory(logDirectory)
        let count = ((try? FileManager.default.contentsOfDirectory(atPath: logDirectory))?.count ?? 0) + 1
        let file = logDirectory + "/" + (count < 10 ? "0" : "") + "\(count)-\(name).log"
        try StateFiles.writeAtomically(Data((header + "\n" + body + (body.hasSuffix("\n") || body.isEmpty ? "" : "\n")).utf8), to: file)
        return file
    }

    package static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\((value * 1000).rounded() / 1000) s"
    }

    package static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// No downgrade and no reinstall of the same version, unless the new image's (signed) manifest
/// names the installed version in `allowDowngradeFrom`.
package enum VersionPolicy {
    package static func check(new: ModuleManifest, installed: ModuleManifest?) throws(ModuleError) {
        guard let installed else { return }
        if new.version > installed.version { return }
        // The allowance names the installed version exactly, build metadata included: an
        // allowance for 1.1.0 does not let an image replace 1.1.0+build.2. (`contains` would use
        // `==`, which ignores build metadata.)
        if new.allowDowngradeFrom?.contains(where: { $0.isIdentical(to: installed.version) }) == true { return }
        if new.version == installed.version {
            throw ModuleError(.sameVersion, "\(new.id) \(new.version) is already installed: to reinstall it, publish an image whose manifest lists \"\(installed.version)\" in allowDowngradeFrom, or raise the version", field: "version")
        }
        throw ModuleError(.downgrade, "\(new.id) \(new.version) is older than the installed \(installed.version): downgrades are refused unless the signed manifest lists \"\(installed.version)\" in allowDowngradeFrom (or use `plugin-host rollback \(new.id)` to return to the previous version)", field: "version")
    }
}
