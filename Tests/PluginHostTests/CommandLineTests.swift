import Foundation
import Testing
import TestSupport
import PluginHost
@testable import PluginHostImages
@testable import PluginHostStore

@Suite("plugin-host command line")
struct CommandLineTests {
    @Test("keygen → trust add → pack → inspect, with the documented exit codes")
    func workflow() throws {
        let binary = try #require(Tool.pluginHost, "plugin-host was not built next to the tests")
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let state = fixture.path("state")

        let keygen = try Tool.run(binary, ["keygen", "--output", fixture.path("signing.key")])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let keyID = keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(keyID.count == 16)
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.path("signing.key"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try Tool.run(binary, ["keygen", "--output", fixture.path("signing.key")]).status == 64)

        let pack = try Tool.run(binary, ["pack", try fixture.moduleDirectory(), "--key", fixture.path("signing.key"), "--output", fixture.path("image.tar")])
        #expect(pack.status == 0, "\(pack.stderr)")

        let untrusted = try Tool.run(binary, ["inspect", fixture.path("image.tar"), "--state-dir", state, "--json"])
        #expect(untrusted.status == 11)
        #expect(untrusted.stdout.contains("\"code\" : \"untrusted-key\""))

        let add = try Tool.run(binary, ["trust", "add", fixture.path("signing.key.pub"), "--state-dir", state])
        #expect(add.status == 0 && add.stdout.contains(keyID))
        #expect(try Tool.run(binary, ["trust", "list", "--state-dir", state]).stdout == keyID + "  may sign any module\n")

        let inspect = try Tool.run(binary, ["inspect", fixture.path("image.tar"), "--state-dir", state, "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        #expect(report["verified"] as? Bool == true)
        #expect(report["keyID"] as? String == keyID)
        #expect((report["manifest"] as? [String: Any])?["id"] as? String == "com.example.thermostat")
        #expect((report["layers"] as? [[String: Any]])?.first?["mediaType"] as? String == OCI.layerTar)

        // --compress: the layer's media type says which; inspect shows it.
        let packZstd = try Tool.run(binary, ["pack", try fixture.moduleDirectory(), "--key", fixture.path("signing.key"), "--output", fixture.path("image-zstd"), "--compress", "zstd"])
        #expect(packZstd.status == 0, "\(packZstd.stderr)")
        let inspectZstd = try Tool.run(binary, ["inspect", fixture.path("image-zstd"), "--state-dir", state])
        #expect(inspectZstd.status == 0, "\(inspectZstd.stderr)")
        #expect(inspectZstd.stdout.contains(" bytes \(OCI.layerTarZstd)\n"), "\(inspectZstd.stdout)")
        let badCompression = try Tool.run(binary, ["pack", try fixture.moduleDirectory(), "--key", fixture.path("signing.key"), "--output", fixture.path("image-xz"), "--compress", "xz"])
        #expect(badCompression.status == 64)
        #expect(badCompression.stderr.contains("none"), "\(badCompression.stderr)")

        #expect(try Tool.run(binary, ["trust", "remove", keyID, "--state-dir", state]).status == 0)
        #expect(try Tool.run(binary, ["trust", "remove", keyID, "--state-dir", state]).status == 13)
        #expect(try Tool.run(binary, ["inspect", fixture.path("nothing-here"), "--state-dir", state]).status == 14)
        #expect(try Tool.run(binary, ["pack", fixture.path("nowhere"), "--key", fixture.path("signing.key"), "--output", fixture.path("x")]).status == 14)
        #expect(try Tool.run(binary, ["pack", fixture.path("nowhere"), "--key", fixture.path("no-key"), "--output", fixture.path("x")]).status == 13)
    }

    @Test("trust add --modules --expires: listed with the key; an image outside the scope exits 25 and installs nothing; bad patterns and dates exit 64")
    func scopedTrust() throws {
        let binary = try #require(Tool.pluginHost, "plugin-host was not built next to the tests")
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let state = fixture.path("state")
        let publicKey = fixture.path("signing.key.pub")
        try Data(fixture.key.publicKey.fileContent.utf8).write(to: URL(fileURLWithPath: publicKey))
        let keyID = fixture.key.publicKey.keyID
        let image = try fixture.packedImage() // com.example.thermostat

        let add = try Tool.run(binary, ["trust", "add", publicKey, "--modules", "org.acme.*", "--modules", "com.example.thermostat.*",
                                        "--expires", "2099-12-31", "--state-dir", state])
        #expect(add.status == 0 && add.stdout == keyID + "\n", "\(add.stderr)")
        #expect(try Tool.run(binary, ["trust", "list", "--state-dir", state]).stdout
            == "\(keyID)  may sign org.acme.*, com.example.thermostat.* until 2099-12-31 (UTC)\n")
        let list = try Tool.run(binary, ["trust", "list", "--json", "--state-dir", state])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(entries.first?["modules"] as? [String] == ["org.acme.*", "com.example.thermostat.*"])
        #expect(entries.first?["expires"] as? String == "2099-12-31")

        let inspect = try Tool.run(binary, ["inspect", image, "--state-dir", state, "--json"])
        #expect(inspect.status == 25)
        #expect(inspect.stdout.contains("\"code\" : \"key-out-of-scope\""), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("\"exitCode\" : 25"), "\(inspect.stdout)")
        let install = try Tool.run(binary, ["install", image, "--state-dir", state])
        #expect(install.status == 25)
        #expect(install.stderr.contains("plugin-host trust add \(keyID) --modules 'org.acme.*' --modules 'com.example.thermostat.*' --modules 'com.example.thermostat' --expires 2099-12-31"),
                "\(install.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "/modules/com.example.thermostat"))

        // The key id stands for the trusted key: its scope changes without the .pub file.
        let rescope = try Tool.run(binary, ["trust", "add", keyID, "--modules", "com.example.*", "--state-dir", state])
        #expect(rescope.status == 0, "\(rescope.stderr)")
        #expect(try Tool.run(binary, ["trust", "list", "--state-dir", state]).stdout == "\(keyID)  may sign com.example.*\n")
        #expect(try Tool.run(binary, ["inspect", image, "--state-dir", state]).status == 0)

        let pattern = try Tool.run(binary, ["trust", "add", publicKey, "--modules", "com.ex*", "--state-dir", state])
        #expect(pattern.status == 64)
        #expect(pattern.stderr.contains("'com.ex*' is not a module pattern: 'ex*' mixes '*' with a name"), "\(pattern.stderr)")
        let past = try Tool.run(binary, ["trust", "add", publicKey, "--expires", "2020-01-31", "--state-dir", state])
        #expect(past.status == 64)
        #expect(past.stderr.contains("--expires 2020-01-31 is already past by this device's clock"), "\(past.stderr)")
        let date = try Tool.run(binary, ["trust", "add", publicKey, "--expires", "31.01.2099", "--state-dir", state])
        #expect(date.status == 64)
        #expect(date.stderr.contains("write the key's last valid day (UTC) as YYYY-MM-DD"), "\(date.stderr)")
        let unknown = try Tool.run(binary, ["trust", "add", "0123456789abcdef", "--state-dir", state])
        #expect(unknown.status == 14)
        #expect(unknown.stderr.contains("or the id of a key already trusted"), "\(unknown.stderr)")
        // None of the refused commands changed the stored scope.
        #expect(try Tool.run(binary, ["trust", "list", "--state-dir", state]).stdout == "\(keyID)  may sign com.example.*\n")
    }
}

/// Conformance with a real OCI tool. Run Scripts/ensure-skopeo.sh first; with
/// PLUGIN_HOST_REQUIRE_SKOPEO=1 a missing skopeo fails the test instead of skipping it.
@Suite("OCI conformance (skopeo)")
struct SkopeoConformanceTests {
    static let skopeo = Tool.onPath("skopeo")
    static let required = ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_SKOPEO"] == "1"

    @Test("skopeo copies a packed image (directory and oci-archive) and the copy verifies; inspect --raw reads it",
          .enabled(if: skopeo != nil || required, "skopeo is not installed (run Scripts/ensure-skopeo.sh, or apt-get install -y skopeo)"))
    func copy() throws {
        let skopeo = try #require(Self.skopeo, "skopeo is required (PLUGIN_HOST_REQUIRE_SKOPEO=1) but not on PATH: run Scripts/ensure-skopeo.sh")
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        try fixture.packedImage("image.tar")
        let trust = try fixture.trustingStore()
        let tag = "1.2.0"
        let copies: [(String, String, String)] = [
            ("oci:\(image):\(tag)", "oci:\(fixture.path("copy")):\(tag)", fixture.path("copy")),
            ("oci-archive:\(fixture.path("image.tar")):\(tag)", "oci:\(fixture.path("from-archive")):copied", fixture.path("from-archive")),
            ("oci:\(image):\(tag)", "oci-archive:\(fixture.path("copy.tar")):\(tag)", fixture.path("copy.tar")),
        ]
        let original = try ImageVerifier(trust: trust).verify(ImageSource.open(image))
        for (from, to, path) in copies {
            let copy = try Tool.run(skopeo, ["--insecure-policy", "copy", from, to])
            #expect(copy.status == 0, "skopeo copy \(from) \(to): \(copy.stderr)")
            let verified = try ImageVerifier(trust: trust).verify(ImageSource.open(path))
            #expect(verified.imageManifestDigest == original.imageManifestDigest)
            #expect(verified.manifest == original.manifest)
        }
        let raw = try Tool.run(skopeo, ["inspect", "--raw", "oci:\(image):\(tag)"])
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(Digest(of: Data(raw.stdout.utf8)) == original.imageManifestDigest)
        #expect(raw.stdout.contains(ModuleManifest.mediaType))
    }
}

extension SkopeoConformanceTests {
    @Test("an image copied by skopeo installs and commits",
          .enabled(if: skopeo != nil || required, "skopeo is not installed (run Scripts/ensure-skopeo.sh, or apt-get install -y skopeo)"))
    func copyInstalls() throws {
        let skopeo = try #require(Self.skopeo, "skopeo is required (PLUGIN_HOST_REQUIRE_SKOPEO=1) but not on PATH: run Scripts/ensure-skopeo.sh")
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let image = try f.image("1.0.0")
        let copy = f.base.path("skopeo-copy")
        let run = try Tool.run(skopeo, ["--insecure-policy", "copy", "oci:\(image):1.0.0", "oci:\(copy):copied"])
        #expect(run.status == 0, "\(run.stderr)")
        try f.engine().install(imageAt: copy)
        #expect(f.activeVersion == "1.0.0")
    }
}

@Suite("plugin-host install, list, status, rollback, remove")
struct ModuleCommandTests {
    @Test("--strict-sandbox: an install whose sandbox is complete commits; with --no-sandbox it is a usage error")
    func strictSandbox() throws {
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let contradictory = try UpdateCrashTests.pluginHost(["install", try f.image("1.0.0"), "--no-sandbox", "--strict-sandbox", "--state-dir", f.state], fault: nil)
        #expect(contradictory.status == 64, "\(contradictory)")
        #expect(contradictory.stderr.contains("--no-sandbox and --strict-sandbox contradict each other"), "\(contradictory.stderr)")
        // Strict refuses a run whose sandbox misses any part (tested with simulated cgroups in
        // SandboxTests); here, as root on this machine, every part is there.
        guard geteuid() == 0 else { return }
        let strict = try UpdateCrashTests.pluginHost(["install", try f.image("1.0.0"), "--strict-sandbox", "--state-dir", f.state], fault: nil)
        #expect(strict.status == 0, "\(strict.stderr)")
        #expect(f.activeVersion == "1.0.0")
    }

    @Test("the module commands work end to end with the documented exit codes")
    func lifecycle() throws {
        let binary = try #require(Tool.pluginHost, "plugin-host was not built next to the tests")
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let state = ["--state-dir", f.state]
        func host(_ arguments: [String]) throws -> Tool.Output {
            try UpdateCrashTests.pluginHost(arguments + state, fault: nil)
        }
        #expect(try host(["list"]).stdout.contains("no modules installed"))
        #expect(try host(["status", UpdateFixture.id]).status == 17)

        let first = try host(["install", try f.image("1.0.0")])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\(UpdateFixture.id) 1.0.0 installed and committed"))
        let second = try host(["install", try f.image("1.1.0")])
        #expect(second.status == 0, "\(second.stderr)")

        let list = try host(["list", "--json"])
        #expect(list.status == 0)
        let modules = try JSONDecoder().decode([ModuleStatus].self, from: Data(list.stdout.utf8))
        #expect(modules.map(\.id) == [UpdateFixture.id])
        #expect(modules.first?.version == SemanticVersion("1.1.0"))
        #expect(modules.first?.previousVersion == SemanticVersion("1.0.0"))

        let status = try host(["status", UpdateFixture.id])
        #expect(status.status == 0)
        #expect(status.stdout.contains("version    1.1.0"))
        #expect(status.stdout.contains("previous   1.0.0"))

        #expect(try host(["install", try f.image("1.0.0")]).status == 16)
        let failing = try host(["install", try f.image("1.2.0", behavior: "never-ready")])
        #expect(failing.status == 20)
        #expect(failing.stderr.contains("was rolled back"))
        #expect(failing.stderr.contains("Version 1.1.0 is active"))
        let afterFailure = try host(["status", UpdateFixture.id, "--json"])
        let record = try JSONDecoder().decode(ModuleStatus.self, from: Data(afterFailure.stdout.utf8)).lastTransaction
        #expect(record?.result == .rolledBack)
        #expect(record.map { FileManager.default.fileExists(atPath: $0.logDirectory) } == true)

        #expect(try host(["rollback", UpdateFixture.id]).stdout.contains("rolled back to 1.0.0"))
        #expect(try host(["rollback", UpdateFixture.id]).status == 17)
        #expect(try host(["remove", UpdateFixture.id]).status == 0)
        #expect(try host(["status", UpdateFixture.id, "--json"]).stdout.contains("\"state\" : \"not-installed\""))
        #expect(try host(["remove", UpdateFixture.id, "--purge-data"]).status == 0)
        #expect(try host(["remove", UpdateFixture.id]).status == 17)
        #expect(try host(["install", f.base.path("no-such-image")]).status == 14)
        _ = binary
    }
}

extension ModuleCommandTests {
    static let unshare = Tool.onPath("unshare")

    @Test("with no network at all (a network namespace with nothing in it), an update commits: health never looks at the uplink",
          .enabled(if: getuid() == 0 && unshare != nil, "needs root and unshare(1) for a network namespace"))
    func lostNetwork() throws {
        let unshare = try #require(Self.unshare)
        let binary = try #require(Tool.pluginHost)
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        var manifest = UpdateFixture.manifest("1.0.0")
        manifest.capabilities.network = true
        let image = try f.image("1.0.0", manifest: manifest)
        let offline = try Tool.run(unshare, ["--net", "--", "sh", "-c", "cat /proc/net/dev | tail -n +3; exec \"$0\" \"$@\"",
                                             binary.path, "install", image, "--state-dir", f.state],
                                   environment: ["PLUGIN_HOST_RUNNER": try UpdateFixture.runnerExecutable()])
        #expect(offline.status == 0, "\(offline.stderr)")
        // The namespace had only the loopback interface (down): no uplink at all.
        let interfaces = offline.stdout.split(separator: "\n").compactMap { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.contains(" ") && !$0.isEmpty && !$0.hasPrefix(UpdateFixture.id) }
        #expect(interfaces == ["lo"], "\(offline.stdout)")
        #expect(f.activeVersion == "1.0.0")
    }
}
