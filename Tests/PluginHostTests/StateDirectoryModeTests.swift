import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostRuntime
@testable import PluginHostStore

/// The state directory holds module data (where a module running as root could leave a setuid
/// file) and the trust store: whoever made it, only root may enter it (issue 14).
@Suite("the state directory is root's alone (0700)")
struct StateDirectoryModeTests {
    static func permissions(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    @Test("install and trust add make a missing state directory 0700, its missing parents 0755")
    func created() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        // The fixture's own state directory was made by TrustStore.add.
        #expect(Self.permissions(f.state) == 0o700)

        let byTrust = f.base.path("parent/by-trust")
        try TrustStore(stateDirectory: byTrust).add(f.base.key.publicKey)
        #expect(Self.permissions(byTrust) == 0o700)
        #expect(Self.permissions(f.base.path("parent")) == 0o755)

        // No key is trusted there, so the install is refused (11), after it made the directory.
        let byInstall = f.base.path("by-install")
        let install = try UpdateCrashTests.pluginHost(["install", try f.image("1.0.0"), "--state-dir", byInstall], fault: nil)
        #expect(install.status == 11, "\(install)")
        #expect(Self.permissions(byInstall) == 0o700)
    }

    @Test("install tightens an existing 0755 state directory to 0700 and says so, once")
    func installTightens() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        #expect(chmod(f.state, 0o755) == 0)
        let first = try UpdateCrashTests.pluginHost(["install", try f.image("1.0.0"), "--state-dir", f.state], fault: nil)
        #expect(first.status == 0, "\(first)")
        #expect(Self.permissions(f.state) == 0o700)
        #expect(first.stderr.contains("plugin-host: the state directory \(f.state) was mode 755, open to other users: made it 700"), "\(first.stderr)")
        let second = try UpdateCrashTests.pluginHost(["install", try f.image("1.1.0"), "--state-dir", f.state], fault: nil)
        #expect(second.status == 0, "\(second)")
        #expect(!second.stderr.contains("the state directory"), "\(second.stderr)")
    }

    @Test("run tightens an existing 0755 state directory to 0700 at start and logs it")
    func runTightens() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        #expect(chmod(f.state, 0o755) == 0)
        let output = Pipe()
        let host = try HostRuntimeTests.startHost(f, output: output)
        let started = waitUntil(seconds: 20) { HostRuntime.runningSnapshot(stateDirectory: f.state) != nil }
        HostRuntimeTests.stop(host)
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(started, "\(log)")
        #expect(Self.permissions(f.state) == 0o700)
        #expect(log.contains("the state directory \(f.state) was mode 755, open to other users: made it 700"), "\(log)")
    }

    @Test("a local user other than root cannot enter the state directory",
          .enabled(if: geteuid() == 0, "needs root: setpriv switches to the user nobody (65534) only for root"))
    func otherUsersShutOut() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let setpriv = try #require(Tool.onPath("setpriv"), "setpriv (util-linux) is not on PATH")
        let install = try UpdateCrashTests.pluginHost(["install", try f.image("1.0.0"), "--state-dir", f.state], fault: nil)
        #expect(install.status == 0, "\(install)")
        let data = f.paths.data
        func asNobody(_ arguments: [String]) throws -> Tool.Output {
            try Tool.run(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "--"] + arguments)
        }
        // The directory above the state directory is open to nobody, so the refusal is the state
        // directory's own.
        #expect(chmod(f.base.root.path, 0o755) == 0)
        let parent = try asNobody(["ls", f.base.root.path])
        #expect(parent.status == 0 && parent.stdout.contains("state"), "\(parent)")
        for arguments in [["ls", f.state], ["ls", data], ["cat", f.state + "/trust/" + f.base.key.publicKey.keyID + ".pub"]] {
            let refused = try asNobody(arguments)
            #expect(refused.status != 0, "nobody could run \(arguments): \(refused)")
            #expect(refused.stderr.contains("Permission denied"), "\(arguments): \(refused.stderr)")
        }
    }
}
