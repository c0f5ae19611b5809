import CSQLite
import Foundation
import Testing
import PluginHost
@testable import PluginHostImages
@testable import PluginHostStore

/// The update engine with real child processes running the C test module's hooks and entry points.
@Suite("Update engine")
struct UpdateEngineTests {
    @Test("a healthy module installs, runs its hooks in order and commits")
    func installCommits() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let report = try f.engine().install(imageAt: try f.image("1.0.0"))
        #expect(report.record.result == .committed)
        #expect(f.activeVersion == "1.0.0")
        #expect(f.hookLog == ["verify 1.0.0", "install 1.0.0", "start 1.0.0", "health 1.0.0", "commit 1.0.0"])
        let logs = try FileManager.default.contentsOfDirectory(atPath: report.record.logDirectory).sorted()
        #expect(logs == ["01-verify.log", "02-install.log", "03-start.log", "04-health.log", "05-commit.log", "06-module.log"])
        let installLog = try String(contentsOfFile: report.record.logDirectory + "/02-install.log", encoding: .utf8)
        #expect(installLog.contains("succeeded"))
        #expect(installLog.contains("hook install ran (version 1.0.0)"))
        let status = try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state)
        #expect(status.state == .active)
        #expect(status.version == SemanticVersion("1.0.0"))
        #expect(status.keyID == f.base.key.publicKey.keyID)
        try f.expectConsistent()
    }

    @Test("gzip and zstd images install, run and commit like a plain one", arguments: [LayerCompression.gzip, .zstd])
    func compressedInstall(_ compression: LayerCompression) throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let image = try f.image("1.0.0", compression: compression)
        let verified = try ImageVerifier(trust: TrustStore(stateDirectory: f.state)).verify(ImageSource.open(image))
        #expect(verified.layers.map(\.mediaType) == [compression.mediaType])
        let report = try f.engine().install(imageAt: image)
        #expect(report.record.result == .committed)
        #expect(f.activeVersion == "1.0.0")
        #expect(f.hookLog == ["verify 1.0.0", "install 1.0.0", "start 1.0.0", "health 1.0.0", "commit 1.0.0"])
        try f.expectConsistent()
    }

    @Test("an update keeps the previous version; rollback returns to it and removes the newer one")
    func updateAndRollback() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0"))
        try f.engine().install(imageAt: try f.image("1.1.0"))
        var status = try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state)
        #expect(status.version == SemanticVersion("1.1.0"))
        #expect(status.previousVersion == SemanticVersion("1.0.0"))
        try f.expectConsistent()

        let report = try f.engine().rollback(id: UpdateFixture.id)
        #expect(report.active == SemanticVersion("1.0.0"))
        #expect(f.hookLog.last == "rollback 1.1.0")
        status = try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state)
        #expect(status.version == SemanticVersion("1.0.0"))
        #expect(status.previousVersion == nil)
        try f.expectConsistent()
        #expect(ModuleError.caught { try f.engine().rollback(id: UpdateFixture.id) }?.code == .nothingToRollBack)
        #expect(ModuleError.caught { try f.engine().rollback(id: "com.example.absent") }?.code == .notInstalled)
    }

    @Test("downgrades and reinstalls are refused without a signed allowance, and change nothing")
    func versionPolicy() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.1.0"))
        let before = try FileManager.default.contentsOfDirectory(atPath: f.paths.versions)

        let downgrade = ModuleError.caught { try f.engine().install(imageAt: try f.image("1.0.0")) }
        #expect(downgrade?.code == .downgrade)
        #expect(downgrade?.exitCode == 16)
        #expect(downgrade?.message.contains("allowDowngradeFrom") == true)
        #expect(ModuleError.caught { try f.engine().install(imageAt: try f.image("1.1.0")) }?.code == .sameVersion)
        // Build metadata does not make a version newer.
        #expect(ModuleError.caught { try f.engine().install(imageAt: try f.image("1.1.0+build.2")) }?.code == .sameVersion)
        // An allowance for another version does not apply.
        let other = UpdateFixture.manifest("1.0.0", allowDowngradeFrom: ["1.2.0"])
        #expect(ModuleError.caught { try f.engine().install(imageAt: try f.image("1.0.0", manifest: other)) }?.code == .downgrade)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.paths.versions) == before)
        #expect(f.activeVersion == "1.1.0")

        let allowed = UpdateFixture.manifest("1.0.0", allowDowngradeFrom: ["1.1.0"])
        try f.engine().install(imageAt: try f.image("1.0.0", manifest: allowed))
        #expect(f.activeVersion == "1.0.0")
        let reinstall = UpdateFixture.manifest("1.0.0", allowDowngradeFrom: ["1.0.0"])
        try f.engine().install(imageAt: try f.image("1.0.0", manifest: reinstall, name: "again"))
        #expect(f.activeVersion == "1.0.0")
        try f.expectConsistent()
    }

    @Test("a key outside its scope or past its expiry installs nothing (exit 25); in scope it installs, and its expiry leaves the installed version running")
    func scopedKeys() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let store = TrustStore(stateDirectory: f.state)
        let key = f.base.key.publicKey
        let image = try f.image("1.0.0")

        try store.add(key, modules: [try ModulePattern("org.acme.*")])
        let outside = ModuleError.caught { try f.engine().install(imageAt: image) }
        #expect(outside?.code == .keyOutOfScope && outside?.exitCode == 25, "\(String(describing: outside))")
        try store.add(key, modules: [try ModulePattern("com.example.*")], expires: try KeyExpiry("2020-01-31"))
        let expired = ModuleError.caught { try f.engine().install(imageAt: image) }
        #expect(expired?.code == .keyExpired && expired?.exitCode == 25, "\(String(describing: expired))")
        #expect(!FileManager.default.fileExists(atPath: f.paths.root))
        #expect(f.hookLog.isEmpty)

        try store.add(key, modules: [try ModulePattern("com.example.*")])
        try f.engine().install(imageAt: image)
        #expect(f.activeVersion == "1.0.0")

        // Expiry refuses new images, not what is installed.
        try store.add(key, modules: [try ModulePattern("com.example.*")], expires: try KeyExpiry("2020-01-31"))
        #expect(ModuleError.caught { try f.engine().install(imageAt: try f.image("1.1.0")) }?.code == .keyExpired)
        #expect(f.activeVersion == "1.0.0")
        #expect(try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state).state == .active)
        try f.expectConsistent()
    }

    @Test("an allowance names the installed version exactly, build metadata included")
    func allowanceIsExact() throws {
        let installed = UpdateFixture.manifest("1.1.0+build.2")
        func code(_ manifest: ModuleManifest) -> ModuleError.Code? {
            ModuleError.caught { try VersionPolicy.check(new: manifest, installed: installed) }?.code
        }
        #expect(code(UpdateFixture.manifest("1.0.0", allowDowngradeFrom: ["1.1.0"])) == .downgrade)
        #expect(code(UpdateFixture.manifest("1.1.0+build.3", allowDowngradeFrom: ["1.1.0"])) == .sameVersion)
        #expect(code(UpdateFixture.manifest("1.1.0+build.3")) == .sameVersion)
        #expect(code(UpdateFixture.manifest("1.0.0", allowDowngradeFrom: ["1.1.0+build.2"])) == nil)
        #expect(code(UpdateFixture.manifest("1.1.0+build.3", allowDowngradeFrom: ["1.1.0+build.2"])) == nil)
        #expect(code(UpdateFixture.manifest("1.1.1")) == nil)
    }

    /// Installs 1.0.0 (which writes 3 rows), then tries 2.0.0 with `behavior`, which must fail
    /// with `code` and leave 1.0.0 active with its data.
    func expectRollback(_ behavior: String, code: ModuleError.Code, hooks: ModuleManifest.Hooks = UpdateFixture.allHooks(),
                        health: ModuleManifest.HealthPolicy = UpdateFixture.quickHealth,
                        mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat write-rows 3", schema: 1))
        let error = ModuleError.caught {
            try f.engine().install(imageAt: try f.image("2.0.0", behavior: behavior, schema: 2,
                                                        manifest: UpdateFixture.manifest("2.0.0", hooks: hooks, health: health)))
        }
        #expect(error?.code == code, "\(error.map { "\($0)" } ?? "no error")", sourceLocation: sourceLocation)
        #expect(error?.exitCode == 20, sourceLocation: sourceLocation)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
        #expect(error?.message.contains("Version 1.0.0 is active") == true, sourceLocation: sourceLocation)
        #expect(f.activeVersion == "1.0.0", sourceLocation: sourceLocation)
        // The data is 1.0.0's again: schema 1, its 3 rows, and the failure hook ran after the restore.
        #expect(try Self.userVersion(f.paths.data + "/app.db") == 1, sourceLocation: sourceLocation)
        #expect(try Self.rowCount(f.paths.data + "/app.db") == 3, sourceLocation: sourceLocation)
        #expect(f.hookLog.last == "failure 2.0.0", "\(f.hookLog)", sourceLocation: sourceLocation)
        let status = try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state)
        #expect(status.lastTransaction?.result == .rolledBack, sourceLocation: sourceLocation)
        #expect(status.lastTransaction?.reason?.contains(mentions) == true, sourceLocation: sourceLocation)
        try f.expectConsistent(sourceLocation: sourceLocation)
    }

    @Test("a module that never signals ready is rolled back")
    func neverReady() throws {
        try expectRollback("never-ready", code: .unhealthy, mentions: "did not signal ready")
    }

    @Test("a module that crashes during the stability window is rolled back")
    func crashes() throws {
        // The module aborts about 200 ms after ready; a 3 s window holds that crash even when a
        // loaded machine delays the module's thread by seconds (with quickHealth's 0.6 s it did not, twice).
        let window = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.5, stabilityWindowSeconds: 3,
                                                 maxRestarts: 3, restartWindowSeconds: 60)
        try expectRollback("heartbeat crash-after-ready", code: .unhealthy, health: window, mentions: "killed by signal 6")
    }

    @Test("a module whose heartbeats stop is rolled back")
    func heartbeatStops() throws {
        let slow = ModuleManifest.HealthPolicy(readyTimeoutSeconds: 3, heartbeatIntervalSeconds: 0.2, stabilityWindowSeconds: 1.5,
                                               maxRestarts: 3, restartWindowSeconds: 60)
        try expectRollback("stop-heartbeat", code: .unhealthy, health: slow, mentions: "sent no heartbeat")
    }

    @Test("a health hook that times out is killed and the update rolled back")
    func hookTimesOut() throws {
        var hooks = UpdateFixture.allHooks()
        hooks.health = .init(symbol: "module_health", timeoutSeconds: 0.5)
        try expectRollback("heartbeat hook-health=hang", code: .hookFailed, hooks: hooks, mentions: "did not return within its timeout")
    }

    @Test("a failing install hook (migration) is rolled back")
    func installHookFails() throws {
        try expectRollback("heartbeat hook-install=fail", code: .hookFailed, mentions: "the install hook (module_install) returned 1")
    }

    @Test("a crashing verify hook is rolled back before anything changed")
    func verifyHookCrashes() throws {
        try expectRollback("heartbeat hook-verify=crash", code: .hookFailed, mentions: "the verify hook (module_verify) crashed")
    }

    @Test("a failing commit hook is rolled back")
    func commitHookFails() throws {
        try expectRollback("heartbeat hook-commit=fail", code: .hookFailed, mentions: "the commit hook (module_commit) returned 1")
    }

    @Test("SQLite data written by version N survives the update to N+1 with its migration, and the rollback")
    func dataAcrossUpdateAndRollback() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let db = f.paths.data + "/app.db"
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat write-rows 5", schema: 1))
        #expect(try Self.userVersion(db) == 1)
        #expect(try Self.rowCount(db) == 5)

        // N+1 migrates to schema 2 in its install hook and checks it in its health hook.
        try f.engine().install(imageAt: try f.image("1.1.0", behavior: "heartbeat write-rows 2 hook-health=check-schema-2", schema: 2))
        #expect(try Self.userVersion(db) == 2)
        #expect(try Self.rowCount(db) == 7)
        #expect(try Self.hasColumn(db, "note"))

        // N+2 fails its health check: its migration and rows are undone, N+1's data is back.
        #expect(ModuleError.caught { try f.engine().install(imageAt: try f.image("1.2.0", behavior: "write-rows 100 never-ready", schema: 2)) }?.code == .unhealthy)
        #expect(try Self.userVersion(db) == 2)
        #expect(try Self.rowCount(db) == 7)
        #expect(f.activeVersion == "1.1.0")

        // A manual rollback to N keeps the data as it is (N+1's rollback hook could undo its migration).
        try f.engine().rollback(id: UpdateFixture.id)
        #expect(f.activeVersion == "1.0.0")
        #expect(try Self.rowCount(db) == 7)
        try f.expectConsistent()
    }

    @Test("remove keeps the data unless asked to purge it; a reinstall finds it")
    func removeKeepsData() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat write-rows 4", schema: 1))
        try f.engine().remove(id: UpdateFixture.id, purgeData: false)
        #expect(f.activeVersion == nil)
        #expect(try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state).state == .notInstalled)
        #expect(try Self.rowCount(f.paths.data + "/app.db") == 4)
        try f.expectConsistent()
        try f.engine().install(imageAt: try f.image("1.0.0", behavior: "heartbeat write-rows 1", name: "again"))
        #expect(try Self.rowCount(f.paths.data + "/app.db") == 5)
        try f.engine().remove(id: UpdateFixture.id, purgeData: true)
        #expect(!FileManager.default.fileExists(atPath: f.paths.root))
        #expect(try UpdateEngine.list(stateDirectory: f.state).isEmpty)
        #expect(ModuleError.caught { try f.engine().remove(id: UpdateFixture.id, purgeData: false) }?.code == .notInstalled)
    }

    @Test("a second engine on the same state directory is refused as busy")
    func lockIsExclusive() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let first = try f.engine()
        let error = ModuleError.caught { _ = try f.engine(waitingForLock: .zero) }
        #expect(error?.code == .busy)
        #expect(error?.exitCode == 18)
        withExtendedLifetime(first) {}
    }

    @Test("a second engine that may wait gets the state directory when the first lets go, and is busy if it does not in time")
    func lockWaitsForTheHolder() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let first = EngineHolder(try f.engine())
        let held = ContinuousClock.now
        let timedOut = ModuleError.caught { _ = try UpdateEngine(stateDirectory: f.state, runner: nil, waitingForLock: .milliseconds(300)) }
        #expect(timedOut?.code == .busy)
        #expect(ContinuousClock.now - held >= .milliseconds(300))

        // The holder lets go on another thread after 0.3 s; the waiter, allowed 20 s, gets the
        // lock then, long before its deadline.
        let release = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            release.wait()
            Thread.sleep(forTimeInterval: 0.3)
            first.engine = nil
        }
        let waiting = ContinuousClock.now
        release.signal()
        let second = try UpdateEngine(stateDirectory: f.state, runner: nil, waitingForLock: .seconds(20))
        let waited = ContinuousClock.now - waiting
        #expect(waited >= .milliseconds(250), "\(waited)")
        #expect(waited < .seconds(10), "\(waited)")
        withExtendedLifetime(second) {}
    }

    // MARK: - SQLite helpers

    static func query(_ path: String, _ sql: String) throws -> [String] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            defer { sqlite3_close(db) }
            throw ModuleError(.io, "cannot open \(path)")
        }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
            throw ModuleError(.io, "cannot prepare \(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append(sqlite3_column_text(statement, 1 < sqlite3_column_count(statement) ? 1 : 0).map { String(cString: $0) } ?? "")
        }
        return rows
    }

    static func userVersion(_ path: String) throws -> Int { Int(try query(path, "PRAGMA user_version").first ?? "") ?? -1 }
    static func rowCount(_ path: String) throws -> Int { Int(try query(path, "SELECT count(*) FROM readings").first ?? "") ?? -1 }
    static func hasColumn(_ path: String, _ column: String) throws -> Bool { try query(path, "PRAGMA table_info(readings)").contains(column) }
}

/// An engine that another thread lets go of (its lock is released when it is freed).
private final class EngineHolder: @unchecked Sendable {
    var engine: UpdateEngine?
    init(_ engine: UpdateEngine) { self.engine = engine }
}
