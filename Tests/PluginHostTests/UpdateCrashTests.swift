import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostStore

/// Kills `plugin-host install` with SIGKILL at every journal transition (just before and just
/// after each entry becomes durable), starts plugin-host again, and checks that exactly one
/// version is active, that it is the old one unless the update had committed, that the journal
/// is closed, that nothing is left over, and that the old version's SQLite data is intact.
@Suite("Update crash consistency", .serialized)
struct UpdateCrashTests {
    struct Killed: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs plugin-host with `PLUGIN_HOST_FAULT_INJECTION` set (or not).
    static func pluginHost(_ arguments: [String], fault: String?) throws -> Tool.Output {
        guard let executable = Tool.pluginHost else { throw Killed(description: "plugin-host was not built") }
        return try Tool.run(executable, arguments, environment: ["PLUGIN_HOST_FAULT_INJECTION": fault,
                                                                 "PLUGIN_HOST_RUNNER": try UpdateFixture.runnerExecutable()])
    }

    static func copyState(_ from: String, to: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", from, to]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Killed(description: "cp -a \(from) \(to) failed") }
    }

    /// Live (not zombie) processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap(Int32.init).filter { pid in
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text),
                  let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = status.lastIndex(of: ")") else { return false }
            return status[status.index(close, offsetBy: 2)] != "Z"
        }
    }

    /// Kills an update of 1.0.0 to `image` at `fault`, recovers, and returns the active version.
    static func killAndRecover(_ f: UpdateFixture, prepared: String, image: String, fault: String) throws -> String? {
        let state = f.base.path("state-" + fault.replacingOccurrences(of: ":", with: "-"))
        try copyState(prepared, to: state)
        let paths = ModulePaths(stateDirectory: state, id: UpdateFixture.id)

        let run = try pluginHost(["install", image, "--state-dir", state], fault: fault)
        #expect(run.signal == SIGKILL, "\(fault): plugin-host ended with \(run.status), expected SIGKILL; stderr: \(run.stderr)")
        // Whatever the kill left, `current` names a complete version at this instant.
        if let directory = paths.target(of: paths.current) {
            #expect(FileManager.default.fileExists(atPath: paths.files(directory) + "/lib/libtestmodule.so"), "\(fault): current points at an incomplete version")
        } else {
            Issue.record("\(fault): no current version right after the kill")
        }

        // The module the killed host had started died with it (the runner's parent-death signal).
        var survivors = processes(mentioning: state)
        for _ in 0..<100 where !survivors.isEmpty {
            usleep(20_000)
            survivors = processes(mentioning: state)
        }
        #expect(survivors.isEmpty, "\(fault): module processes outlived the killed host: \(survivors)")

        let recovery = try pluginHost(["status", UpdateFixture.id, "--json", "--state-dir", state], fault: nil)
        #expect(recovery.status == 0, "\(fault): status after the kill: \(recovery.stderr)")
        let status = try JSONDecoder().decode(ModuleStatus.self, from: Data(recovery.stdout.utf8))
        #expect(status.state == .active, "\(fault): \(status.state)")
        try UpdateFixture.expectConsistent(paths)
        // The old version's rows (3) are intact; a committed update may have added its own 2.
        let rows = try UpdateEngineTests.rowCount(paths.data + "/app.db")
        let active = UpdateFixture.activeVersion(paths)
        #expect(rows == (active == "1.0.0" ? 3 : 5), "\(fault): \(rows) rows with \(active ?? "none") active")
        #expect(status.version?.description == active)
        return active
    }

    @Test("SIGKILL at every transition of a successful update leaves the old or the new version, never neither")
    func killDuringSuccessfulUpdate() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat write-rows 3", schema: 1))
        let image = try f.image("1.1.0", behavior: "heartbeat write-rows 2", schema: 2)

        let steps: [JournalEntry.Step] = [.begin, .unpacked, .verified, .snapshotted, .installed, .activating, .activated, .started, .healthy, .committed, .done]
        for step in steps {
            for when in ["before", "after"] {
                let fault = "\(when):\(step.rawValue)"
                let active = try Self.killAndRecover(f, prepared: f.state, image: image, fault: fault)
                // The update is decided once `committed` is durable; before that it is rolled back.
                let committed = (when == "after" && (step == .committed || step == .done)) || (when == "before" && step == .done)
                #expect(active == (committed ? "1.1.0" : "1.0.0"), "\(fault): \(active ?? "none") is active")
            }
        }
    }

    @Test("SIGKILL during the rollback of a failing update still ends with the old version")
    func killDuringRollback() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat write-rows 3", schema: 1))
        let image = try f.image("1.1.0", behavior: "never-ready write-rows 2", schema: 2)
        for fault in ["after:rolling-back", "before:rolled-back", "after:rolled-back"] {
            let active = try Self.killAndRecover(f, prepared: f.state, image: image, fault: fault)
            #expect(active == "1.0.0", "\(fault): \(active ?? "none") is active")
        }
    }

    @Test("SIGKILL during a first install leaves no version or the new one, and a clean journal")
    func killDuringFirstInstall() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let image = try f.image("1.0.0")
        for fault in ["after:unpacked", "after:activated", "after:committed"] {
            let state = f.base.path("first-" + fault.replacingOccurrences(of: ":", with: "-"))
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            try Self.copyState(f.state + "/trust", to: state + "/trust")
            let run = try Self.pluginHost(["install", image, "--state-dir", state], fault: fault)
            #expect(run.signal == SIGKILL, "\(fault): \(run.stderr)")
            let recovery = try Self.pluginHost(["list", "--json", "--state-dir", state], fault: nil)
            #expect(recovery.status == 0, "\(fault): \(recovery.stderr)")
            let paths = ModulePaths(stateDirectory: state, id: UpdateFixture.id)
            try UpdateFixture.expectConsistent(paths)
            #expect(UpdateFixture.activeVersion(paths) == (fault == "after:committed" ? "1.0.0" : nil), "\(fault)")
            #expect(recovery.stderr.contains("recovered"), "\(fault): recovery said nothing: \(recovery.stderr)")
        }
    }
}
