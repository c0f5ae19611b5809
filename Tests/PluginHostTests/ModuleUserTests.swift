import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

// Each module's own user (ModuleUsers): the uids the update engine hands out and records, the
// owner and mode of data directories, the migration of installs made before, root only when both
// the manifest and the install ask, and the sandbox running a module as its user. Changing owners
// needs root: without it the tests that do are skipped with the reason printed.

/// The test module as another module id, so that two modules can be installed side by side.
private func manifest(_ version: String, id: String = UpdateFixture.id, root: Bool = false,
                      hooks: ModuleManifest.Hooks = UpdateFixture.allHooks()) -> ModuleManifest {
    var manifest = UpdateFixture.manifest(version, hooks: hooks)
    manifest.id = id
    manifest.capabilities.root = root
    return manifest
}

private func owner(_ path: String) -> (uid: UInt32, gid: UInt32, mode: UInt32)? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return (info.st_uid, info.st_gid, info.st_mode & 0o7777)
}

private let other = "com.example.othermodule"

@Suite("Module users", .enabled(if: geteuid() == 0 || ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_SANDBOX"] == "1",
                               "changing owners needs root"))
struct ModuleUserTests {
    @Test("two modules get different uids of the range, recorded, the same across an upgrade and a reinstall; each data directory is its user's, 0700")
    func allocation() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0"))
        let otherPaths = ModulePaths(stateDirectory: f.state, id: other)
        try f.engine().install(imageAt: try f.image("1.0.0", manifest: manifest("1.0.0", id: other), name: "other"))

        let first = try #require(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state))
        let second = try #require(ModuleUsers.recorded(other, stateDirectory: f.state))
        #expect(first != second)
        #expect(first.uid == first.gid && second.uid == second.gid)
        #expect(ModuleUsers.defaultRange.contains(first.uid) && ModuleUsers.defaultRange.contains(second.uid))
        let table = try #require(FileManager.default.contents(atPath: f.state + "/users.json"))
        #expect(String(decoding: table, as: UTF8.self) == "{\"modules\":{\"\(other)\":\(second.uid),\"\(UpdateFixture.id)\":\(first.uid)}}")
        for (paths, user) in [(f.paths, first), (otherPaths, second)] {
            let data = try #require(owner(paths.data))
            #expect(data.uid == user.uid && data.gid == user.gid && data.mode == 0o700)
            // What the (unsandboxed) hooks wrote is the module's too.
            #expect(owner(paths.data + "/hooks.log")?.uid == user.uid)
        }
        #expect(try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state).user == first)

        // An upgrade, a removal that keeps the data and a reinstall keep the uid; the file is not
        // rewritten for them.
        var before = stat()
        stat(f.state + "/users.json", &before)
        try f.engine().install(imageAt: try f.image("1.1.0"))
        try f.engine().remove(id: UpdateFixture.id, purgeData: false)
        try f.engine().install(imageAt: try f.image("1.2.0"))
        #expect(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state) == first)
        var after = stat()
        stat(f.state + "/users.json", &after)
        #expect(after.st_ino == before.st_ino, "users.json was rewritten")

        // Removing with the data frees the uid.
        try f.engine().remove(id: other, purgeData: true)
        #expect(ModuleUsers.recorded(other, stateDirectory: f.state) == nil)
    }

    @Test("a manifest that asks for root is refused without the install's permission (exit code 26, nothing installed), and its data is root's with it")
    func root() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let image = try f.image("1.0.0", manifest: manifest("1.0.0", root: true))
        do {
            try f.engine().install(imageAt: image)
            Issue.record("installed without --allow-root-module")
        } catch let error as ModuleError {
            #expect(error.code == .rootNotAllowed)
            #expect(error.exitCode == 26)
            #expect(error.field == "capabilities.root")
            #expect(error.message.contains("--allow-root-module"))
        }
        #expect(f.activeVersion == nil)
        #expect(!FileManager.default.fileExists(atPath: f.paths.data))
        #expect(!FileManager.default.fileExists(atPath: f.state + "/users.json"))

        try f.engine().install(imageAt: image, allowingRoot: true)
        #expect(f.activeVersion == "1.0.0")
        #expect(try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state).user == .root)
        let data = try #require(owner(f.paths.data))
        #expect(data.uid == 0 && data.mode == 0o700)
        #expect(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state) == nil)
    }

    @Test("an install made before modules had users is migrated when the state directory is next opened; links in the data are not followed")
    func migration() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: try f.image("1.0.0"))
        let user = try #require(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state))
        // As the host left it before: no users.json, data root's and 0755, with a subdirectory,
        // and a link a root module planted pointing at a root file outside.
        let outside = f.base.path("outside")
        try Data("root's\n".utf8).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createDirectory(atPath: f.paths.data + "/sub", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: f.paths.data + "/sub/file"))
        #expect(symlink(outside, f.paths.data + "/link") == 0)
        for path in [f.paths.data, f.paths.data + "/hooks.log", f.paths.data + "/sub", f.paths.data + "/sub/file"] {
            #expect(chown(path, 0, 0) == 0)
        }
        #expect(lchown(f.paths.data + "/link", 0, 0) == 0)
        #expect(chmod(f.paths.data, 0o755) == 0)
        #expect(unlink(f.state + "/users.json") == 0)

        _ = try f.engine()
        #expect(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state) == user)
        let data = try #require(owner(f.paths.data))
        #expect(data.uid == user.uid && data.gid == user.gid && data.mode == 0o700)
        for path in ["/hooks.log", "/sub", "/sub/file", "/link"] {
            #expect(owner(f.paths.data + path)?.uid == user.uid, "\(path)")
        }
        #expect(owner(outside)?.uid == 0, "the link was followed")
    }

    @Test("a full range refuses the install with no-module-user (exit code 26); a uid of an account in /etc/passwd is never handed out")
    func exhaustion() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let passwd = f.base.path("passwd")
        try Data("root:x:0:0:root:/root:/bin/bash\nsomeone:x:60800:60800::/home/someone:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: passwd))
        func engine() throws -> UpdateEngine {
            let engine = try f.engine()
            engine.users = ModuleUsers(stateDirectory: f.state, range: 60800...60801, accountFiles: [passwd])
            return engine
        }
        try engine().install(imageAt: try f.image("1.0.0"))
        #expect(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state)?.uid == 60801)
        let image = try f.image("1.0.0", manifest: manifest("1.0.0", id: other), name: "other")
        do {
            try engine().install(imageAt: image)
            Issue.record("installed with no uid left")
        } catch let error as ModuleError {
            #expect(error.code == .noModuleUser)
            #expect(error.exitCode == 26)
            #expect(error.message.contains("60800–60801"), "\(error.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: f.state + "/modules/\(other)/data"))
    }
}

@Suite("Module users in the sandbox", .enabled(if: SandboxEnvironment.shouldRun))
struct ModuleUserSandboxTests {
    /// An engine whose runner sandboxes hooks and modules.
    static func engine(_ f: UpdateFixture) throws -> UpdateEngine {
        try SandboxEnvironment.ready()
        let runner = ChildProcessRunner(executable: try UpdateFixture.runnerExecutable(), sandbox: SandboxOptions(), stateDirectory: f.state)
        return try UpdateEngine(stateDirectory: f.state, runner: runner)
    }

    static let probing = ModuleManifest.Hooks(install: .init(symbol: "probe_sandbox", timeoutSeconds: 30))

    static func probe(_ paths: ModulePaths) -> [String: String] {
        var values: [String: String] = [:]
        for line in ((try? String(contentsOfFile: paths.data + "/probe.txt", encoding: .utf8)) ?? "").split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    /// `cat path` as `uid` (and its gid), with no supplementary group.
    static func cat(_ path: String, as uid: UInt32) throws -> Tool.Output {
        try Tool.run(URL(fileURLWithPath: "/usr/bin/setpriv"), ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/bin/cat", path])
    }

    @Test("a sandboxed module runs as its own uid; one module's user cannot read another's data")
    func runsAsItsUser() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try Self.engine(f).install(imageAt: try f.image("1.0.0", manifest: manifest("1.0.0", hooks: Self.probing)))
        let otherPaths = ModulePaths(stateDirectory: f.state, id: other)
        try Self.engine(f).install(imageAt: try f.image("1.0.0", manifest: manifest("1.0.0", id: other, hooks: Self.probing), name: "other"))
        let first = try #require(ModuleUsers.recorded(UpdateFixture.id, stateDirectory: f.state))
        let second = try #require(ModuleUsers.recorded(other, stateDirectory: f.state))

        let probe = Self.probe(f.paths)
        #expect(probe["uid"] == "\(first.uid)", "\(probe)")
        #expect(probe["gid"] == "\(first.gid)")
        #expect(probe["write_data"] == "created")
        #expect(probe["cap_eff"] == "0000000000000000")
        #expect(Self.probe(otherPaths)["uid"] == "\(second.uid)")
        #expect(owner(f.paths.data + "/probe.txt")?.uid == first.uid)

        // Its own file it reads, the other module's not. The state directory is 0700 (no other
        // user gets past it: StateDirectoryModeTests); opened to traversal here, the data
        // directories' own owners and modes decide.
        #expect(chmod(f.state, 0o711) == 0)
        let own = try Self.cat(f.paths.data + "/probe.txt", as: first.uid)
        #expect(own.status == 0, "\(own.stderr)")
        let denied = try Self.cat(otherPaths.data + "/probe.txt", as: first.uid)
        #expect(denied.status != 0)
        #expect(denied.stderr.contains("Permission denied"), "\(denied.stderr)")
    }

    @Test("a module whose manifest asks for root, installed with the permission, runs as uid 0 without capabilities")
    func runsAsRoot() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try Self.engine(f).install(imageAt: try f.image("1.0.0", manifest: manifest("1.0.0", root: true, hooks: Self.probing)), allowingRoot: true)
        let probe = Self.probe(f.paths)
        #expect(probe["uid"] == "0", "\(probe)")
        #expect(probe["cap_eff"] == "0000000000000000")
    }
}

@Suite("Manifest: capabilities.root")
struct RootCapabilityTests {
    @Test("optional and false by default, left out of the canonical form unless true, a bool")
    func decoding() throws {
        let plain = try ModuleManifest.decode(Data(Fixture.manifestJSON.utf8))
        #expect(plain.capabilities.root == false)
        #expect(!String(decoding: try plain.canonicalJSON(), as: UTF8.self).contains("root"))
        var root = plain
        root.capabilities.root = true
        let encoded = try root.canonicalJSON()
        #expect(String(decoding: encoded, as: UTF8.self).contains("\"root\":true"))
        #expect(try ModuleManifest.decode(encoded).capabilities.root)
        let wrong = Fixture.manifestJSON.replacingOccurrences(of: "\"network\": false", with: "\"network\": false, \"root\": \"yes\"")
        #expect(wrong != Fixture.manifestJSON)
        do {
            _ = try ModuleManifest.decode(Data(wrong.utf8))
            Issue.record("a string was taken for capabilities.root")
        } catch {
            #expect(error.code == .wrongType)
            #expect(error.field == "capabilities.root")
        }
    }
}

@Suite("Module users on the command line", .enabled(if: geteuid() == 0, "changing owners needs root"))
struct ModuleUserCommandTests {
    @Test("install refuses a root module with exit code 26 unless --allow-root-module; status shows each module's user")
    func install() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let image = try f.image("1.0.0", manifest: manifest("1.0.0", root: true))
        let refused = try UpdateCrashTests.pluginHost(["install", image, "--state-dir", f.state], fault: nil)
        #expect(refused.status == 26, "\(refused)")
        #expect(refused.stderr.contains("asks to run as root (capabilities.root)") && refused.stderr.contains("--allow-root-module"), "\(refused.stderr)")
        #expect(f.activeVersion == nil)

        let allowed = try UpdateCrashTests.pluginHost(["install", image, "--allow-root-module", "--state-dir", f.state], fault: nil)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let rootStatus = try UpdateCrashTests.pluginHost(["status", UpdateFixture.id, "--state-dir", f.state], fault: nil)
        #expect(rootStatus.stdout.contains("\nuser       0:0 (root: the manifest asks for capabilities.root)\n"), "\(rootStatus.stdout)")

        let installed = try UpdateCrashTests.pluginHost(["install", try f.image("1.0.0", manifest: manifest("1.0.0", id: other), name: "other"), "--state-dir", f.state], fault: nil)
        #expect(installed.status == 0, "\(installed.stderr)")
        let user = try #require(ModuleUsers.recorded(other, stateDirectory: f.state))
        let status = try UpdateCrashTests.pluginHost(["status", other, "--state-dir", f.state], fault: nil)
        #expect(status.stdout.contains("\nuser       \(user.uid):\(user.gid)\n"), "\(status.stdout)")
        let json = try UpdateCrashTests.pluginHost(["status", other, "--json", "--state-dir", f.state], fault: nil)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((decoded?["user"] as? [String: Any])?["uid"] as? Int == Int(user.uid), "\(json.stdout)")
    }

    @Test("a channel refuses a root module unless followed with --allow-root-module, which its file records",
          .enabled(if: LocalRegistry.available, "the registry and skopeo are not installed (Scripts/ensure-registry.sh)"))
    func channel() throws {
        let registry = try LocalRegistry()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let host = try #require(Tool.pluginHost)
        let reference = "\(registry.address)/acme/rootmodule:stable"
        try registry.push(layout: try f.image("1.0.0", manifest: manifest("1.0.0", root: true)), tag: "1.0.0", to: "acme/rootmodule", as: "stable")
        func channel() throws -> FollowedChannel? { try FollowedChannel.load(stateDirectory: f.state, module: UpdateFixture.id) }
        let process = try HostRuntimeTests.startHost(f)
        defer { HostRuntimeTests.stop(process) }
        #expect(waitUntil(seconds: 20) { HostRuntime.runningSnapshot(stateDirectory: f.state) != nil })

        let follow = try Tool.run(host, ["follow", UpdateFixture.id, reference, "--every", "1s", "--insecure-registry", registry.address, "--state-dir", f.state])
        #expect(follow.status == 0, "\(follow.stderr)")
        #expect(waitUntil(seconds: 60) { (try? channel()?.outcome?.result) == .refused })
        #expect(try channel()?.outcome?.reason?.contains("--allow-root-module") == true)
        #expect(f.activeVersion == nil)

        let allowed = try Tool.run(host, ["follow", UpdateFixture.id, reference, "--every", "1s", "--allow-root-module", "--insecure-registry", registry.address, "--state-dir", f.state])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(try channel()?.allowRootModule == true)
        #expect(waitUntil(seconds: 60) { HostRuntimeTests.running(f, "1.0.0") })
        #expect(try UpdateEngine.status(id: UpdateFixture.id, stateDirectory: f.state).user == .root)
        let list = try Tool.run(host, ["list", "--state-dir", f.state])
        #expect(list.stdout.contains("every 1s (root modules allowed)"), "\(list.stdout)")
    }
}
