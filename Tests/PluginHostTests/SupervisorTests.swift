import Foundation
import Synchronization
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// The supervisor with real runner processes and the C test module.
@Suite("Module supervisor")
struct SupervisorTests {
    static func supervisor(_ behavior: String, health: ModuleManifest.HealthPolicy, onBroken: @escaping @Sendable (ModuleSupervisor.Status) -> Void = { _ in })
        throws -> (ModuleSupervisor, String) {
        let directory = try TestModule.temporaryDirectory("supervised")
        try TestModule.directory(at: directory + "/module", behavior: behavior)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let manifest = UpdateFixture.manifest("1.0.0", health: health)
        let context = ModuleContext(manifest: manifest, moduleDirectory: directory + "/module", dataDirectory: directory + "/data")
        let runner = ChildProcessRunner(executable: try UpdateFixture.runnerExecutable())
        let supervisor = ModuleSupervisor(context: context, runner: runner,
                                          backoff: .init(initial: .milliseconds(50), maximum: .milliseconds(400)), onBroken: onBroken)
        return (supervisor, directory)
    }

    static let health = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.3, stabilityWindowSeconds: 0.5,
                                                    maxRestarts: 3, restartWindowSeconds: 60)

    @Test("a healthy module runs until stopped, and stops gracefully")
    func healthy() throws {
        let (supervisor, directory) = try Self.supervisor("heartbeat", health: Self.health)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        supervisor.start()
        #expect(waitUntil(seconds: 10) { supervisor.status.state == .running })
        Thread.sleep(forTimeInterval: 1)
        #expect(supervisor.status.state == .running)
        #expect(supervisor.status.restarts == 0)
        supervisor.stop()
        #expect(supervisor.status.state == .stopped)
        #expect(supervisor.output.contains("module stop called"))
    }

    @Test("a crash loop is restarted with backoff and marked broken after maxRestarts failures")
    func crashLoop() throws {
        let brokenReported = Mutex<ModuleSupervisor.Status?>(nil)
        let (supervisor, directory) = try Self.supervisor("heartbeat crash-after-ready", health: Self.health) { status in
            brokenReported.withLock { $0 = status }
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = Date()
        supervisor.start()
        #expect(waitUntil(seconds: 30) { supervisor.status.state == .broken })
        let elapsed = Date().timeIntervalSince(started)
        supervisor.stop()
        let status = supervisor.status
        #expect(status.state == .broken)
        #expect(status.restarts == 3)
        #expect(status.recentFailures == 4)
        #expect(status.lastFailure?.contains("killed by signal 6") == true, "\(status.lastFailure ?? "")")
        #expect(brokenReported.withLock { $0 }?.state == .broken)
        // Each run lives ~0.2 s before it crashes; the backoff adds 0.05 + 0.1 + 0.2 s between runs.
        #expect(elapsed >= 4 * 0.2 + 0.35, "\(elapsed) s: no backoff between restarts?")
    }

    @Test("a hung module (heartbeats stop) is killed and restarted")
    func hung() throws {
        let (supervisor, directory) = try Self.supervisor("stop-heartbeat", health: Self.health)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        supervisor.start()
        #expect(waitUntil(seconds: 20) { supervisor.status.restarts >= 1 })
        supervisor.stop()
        #expect(supervisor.status.lastFailure?.contains("hung: no heartbeat") == true, "\(supervisor.status.lastFailure ?? "")")
    }
}
