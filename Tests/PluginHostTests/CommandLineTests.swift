import Foundation
import Testing
@testable import PluginHost

/// Runs the built `plugin-host` and other tools as child processes.
enum Tool {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `plugin-host` executable SwiftPM built next to the test bundle.
    static var pluginHost: URL? {
        var candidates: [URL] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(argv0.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        return candidates.map { $0.appendingPathComponent("plugin-host") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// `name` on PATH, or nil.
    static func onPath(_ name: String) -> URL? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    static func run(_ executable: URL, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

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
        #expect(try Tool.run(binary, ["trust", "list", "--state-dir", state]).stdout == keyID + "\n")

        let inspect = try Tool.run(binary, ["inspect", fixture.path("image.tar"), "--state-dir", state, "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        #expect(report["verified"] as? Bool == true)
        #expect(report["keyID"] as? String == keyID)
        #expect((report["manifest"] as? [String: Any])?["id"] as? String == "com.example.thermostat")

        #expect(try Tool.run(binary, ["trust", "remove", keyID, "--state-dir", state]).status == 0)
        #expect(try Tool.run(binary, ["trust", "remove", keyID, "--state-dir", state]).status == 13)
        #expect(try Tool.run(binary, ["inspect", fixture.path("nothing-here"), "--state-dir", state]).status == 14)
        #expect(try Tool.run(binary, ["pack", fixture.path("nowhere"), "--key", fixture.path("signing.key"), "--output", fixture.path("x")]).status == 14)
        #expect(try Tool.run(binary, ["pack", fixture.path("nowhere"), "--key", fixture.path("no-key"), "--output", fixture.path("x")]).status == 13)
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
