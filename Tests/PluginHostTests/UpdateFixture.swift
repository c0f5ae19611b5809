import Foundation
import Testing
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// Module images of the C test module (Tests/Fixtures/modules/testmodule.c) in several versions
/// and behaviours, a trusted key and a state directory, for the update engine's tests.
struct UpdateFixture {
    static let id = "com.example.testmodule"
    let base: Fixture
    var state: String { base.path("state") }
    var paths: ModulePaths { ModulePaths(stateDirectory: state, id: Self.id) }

    init() throws {
        base = try Fixture()
        _ = try base.trustingStore() // trusts base.key in <root>/state
    }

    /// Every hook the test module exports, with a generous timeout unless given.
    static func allHooks(timeout: Double = 20) -> ModuleManifest.Hooks {
        ModuleManifest.Hooks(
            verify: .init(symbol: "module_verify", timeoutSeconds: timeout),
            install: .init(symbol: "module_install", timeoutSeconds: timeout),
            start: .init(symbol: "module_start_hook", timeoutSeconds: timeout),
            health: .init(symbol: "module_health", timeoutSeconds: timeout),
            commit: .init(symbol: "module_commit", timeoutSeconds: timeout),
            rollback: .init(symbol: "module_rollback", timeoutSeconds: timeout),
            failure: .init(symbol: "module_failure", timeoutSeconds: timeout))
    }

    /// A short health policy so the tests run in about a second per update.
    static let quickHealth = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.5,
                                                        stabilityWindowSeconds: 0.6, maxRestarts: 3, restartWindowSeconds: 60)

    static func manifest(_ version: String, hooks: ModuleManifest.Hooks = allHooks(), health: ModuleManifest.HealthPolicy = quickHealth,
                         allowDowngradeFrom: [String]? = nil) -> ModuleManifest {
        ModuleManifest(
            id: id, version: SemanticVersion(version)!, abi: 1,
            library: .init(path: "lib/libtestmodule.so", entryPoints: .init(start: "module_start", stop: "module_stop")),
            capabilities: .init(storageQuotaBytes: 1 << 20),
            resources: .init(memoryBytes: 32 << 20, cpuPercent: 50, maxProcesses: 16, maxOpenFiles: 64),
            hooks: hooks, health: health, allowDowngradeFrom: allowDowngradeFrom?.map { SemanticVersion($0)! })
    }

    /// Packs an image of the test module: `behavior` selects what the module does (see
    /// testmodule.c), `schema` the SQLite schema its install hook migrates `data/app.db` to,
    /// `compression` the layer's.
    func image(_ version: String, behavior: String = "heartbeat", schema: Int? = nil,
               manifest: ModuleManifest? = nil, name: String? = nil, compression: LayerCompression = .none) throws -> String {
        let library = try TestModule.build()
        let directory = base.root.appendingPathComponent("module-\(name ?? version)-\(UUID().uuidString.prefix(6))")
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("lib"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: library, toPath: directory.appendingPathComponent("lib/libtestmodule.so").path)
        try Data(behavior.utf8).write(to: directory.appendingPathComponent("behavior"))
        if let schema { try Data("schema \(schema)\n".utf8).write(to: directory.appendingPathComponent("migration")) }
        let manifest = manifest ?? Self.manifest(version)
        try manifest.canonicalJSON().write(to: directory.appendingPathComponent("module.json"))
        let layout = try ImagePacker(signingKey: base.key).pack(moduleDirectory: directory.path, compression: compression)
        let output = base.path("image-\(name ?? version)-\(UUID().uuidString.prefix(6))")
        try ImagePacker.write(layout, to: output)
        return output
    }

    /// An engine on the fixture's state directory. It waits for the lock (up to `waitingForLock`)
    /// because the state lock is a `flock` on an open file description: a child that another test
    /// of this process spawns while an engine holds it has a copy of the descriptor until its
    /// exec closes it, so the lock can outlive the engine that released it by that long.
    func engine(waitingForLock: Duration = .seconds(10)) throws -> UpdateEngine {
        try UpdateEngine(stateDirectory: state, runner: ChildProcessRunner(executable: try Self.runnerExecutable()), waitingForLock: waitingForLock)
    }

    static func runnerExecutable() throws -> String {
        guard let path = TestModule.runnerExecutable else {
            throw ModuleError(.runnerFailed, "plugin-host-runner was not built next to plugin-host")
        }
        return path
    }

    /// The active version's version string, from the `current` link and its manifest.
    var activeVersion: String? { Self.activeVersion(paths) }

    static func activeVersion(_ paths: ModulePaths) -> String? {
        guard let directory = paths.target(of: paths.current) else { return nil }
        return (try? paths.installed(directory))?.manifest.version.description
    }

    /// Lines of `data/hooks.log` that the test module's hooks append (`<step> <version>`).
    var hookLog: [String] {
        (try? String(contentsOfFile: paths.data + "/hooks.log", encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    /// Checks the invariants every state must meet when no command is running: the journal is
    /// closed, `current` (if any) points at a complete version, only `current` and `previous`
    /// remain under versions/, and no staging, snapshot or discarded data is left.
    func expectConsistent(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Self.expectConsistent(paths, sourceLocation: sourceLocation)
    }

    static func expectConsistent(_ paths: ModulePaths, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try paths.journal.openTransaction() == nil, "journal has an open transaction", sourceLocation: sourceLocation)
        let fm = FileManager.default
        let keep = Set([paths.target(of: paths.current), paths.target(of: paths.previous)].compactMap { $0 })
        let versions = Set((try? fm.contentsOfDirectory(atPath: paths.versions)) ?? [])
        #expect(versions == keep, "versions/ holds \(versions.sorted()), expected \(keep.sorted())", sourceLocation: sourceLocation)
        for directory in keep {
            #expect(fm.fileExists(atPath: paths.files(directory) + "/lib/libtestmodule.so"), "\(directory) is incomplete", sourceLocation: sourceLocation)
            #expect(fm.fileExists(atPath: paths.version(directory) + "/image.json"), sourceLocation: sourceLocation)
        }
        let snapshots = (try? fm.contentsOfDirectory(atPath: paths.snapshots)) ?? []
        #expect(snapshots.isEmpty, "snapshots left: \(snapshots)", sourceLocation: sourceLocation)
        let strays = ((try? fm.contentsOfDirectory(atPath: paths.root)) ?? []).filter { $0.hasPrefix("data.discard-") || $0.hasSuffix(".new") || $0.contains(".tmp") }
        #expect(strays.isEmpty, "left in the module directory: \(strays)", sourceLocation: sourceLocation)
    }
}
