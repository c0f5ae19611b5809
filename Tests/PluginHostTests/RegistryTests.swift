import CIoTLinux
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LinuxSupport
import Synchronization
import Testing
import PluginHost
import TestSupport
@testable import PluginHostImages
@testable import PluginHostStore

/// Debian's docker-registry (CNCF distribution) on 127.0.0.1 (TestSupport's `RegistryProcess`),
/// with its configuration and storage in a temporary directory, TLS or basic auth if asked for;
/// stopped when the test lets go of it.
final class LocalRegistry {
    static let executable = RegistryProcess.executable
    static let skopeo = Tool.onPath("skopeo")
    /// Set by Scripts/test.sh when it installed both: then a missing one fails instead of skipping.
    static let required = ProcessInfo.processInfo.environment["PLUGIN_HOST_REQUIRE_REGISTRY"] == "1"
    static let available = (executable != nil && skopeo != nil) || required

    let directory: TemporaryDirectory
    private let server: RegistryProcess
    var port: Int { server.port }
    /// `127.0.0.1:PORT`, as references write it.
    var address: String { server.address }

    /// A user of the registries made with `users`: `device`, password `field-secret`, as
    /// `htpasswd -Bbn` writes it (bcrypt, which the registry requires).
    static let htpasswd = "device:$2y$05$ElVyp0/mUfDBNWOShn9ao.9/c55LK33zht575PHZy3PhSrcN2si7K\n"

    /// The CA that signed the registry's certificate, with `tls`.
    var caFile: String { directory.path("ca.pem") }
    let tls: Bool

    /// - Parameters:
    ///   - tls: HTTPS with a certificate for 127.0.0.1 from a CA made here (`caFile`).
    ///   - basicAuth: htpasswd basic auth with the user in `htpasswd`.
    ///   - tokenAuth: distribution's token auth: clients get a JWT from `realm` (service
    ///     `TokenService.service`, issuer `TokenService.issuer`), signed by the certificate in
    ///     `rootCertificates`.
    init(tls: Bool = false, basicAuth: Bool = false, tokenAuth: (realm: String, rootCertificates: String)? = nil) throws {
        let executable = try #require(Self.executable, "docker-registry is required (PLUGIN_HOST_REQUIRE_REGISTRY=1) but not on PATH: run Scripts/ensure-registry.sh")
        directory = try TemporaryDirectory("registry")
        self.tls = tls
        var extra = ""
        if tls {
            try Self.makeCertificates(in: directory)
            extra += """

              tls:
                certificate: \(directory.path("server.crt"))
                key: \(directory.path("server.key"))
            """
        }
        if let tokenAuth {
            extra += """

            auth:
              token:
                realm: \(tokenAuth.realm)
                service: \(TokenService.service)
                issuer: \(TokenService.issuer)
                rootcertbundle: \(tokenAuth.rootCertificates)
            """
        }
        if basicAuth {
            try Data(Self.htpasswd.utf8).write(to: URL(fileURLWithPath: directory.path("htpasswd")))
            extra += """

            auth:
              htpasswd:
                realm: plugin-host-tests
                path: \(directory.path("htpasswd"))
            """
        }
        server = try RegistryProcess(executable: executable, directory: directory.path, extraConfig: extra)
    }

    deinit {
        server.stop()
        directory.cleanUp()
    }

    /// Serves again after `stop`: same port, same storage.
    func start() throws { try server.start() }

    /// Stops the registry, as a registry that went down.
    func stop() { server.stop() }

    /// A CA and a server certificate for 127.0.0.1 signed by it (`ca.pem`, `server.crt`, `server.key`).
    static func makeCertificates(in directory: TemporaryDirectory) throws {
        _ = try TestCertificates(directory: directory.path)
    }

    /// Pushes an image layout's tagged manifest with skopeo, as a publisher does (as the user in
    /// `htpasswd`, which only registries with auth ask for).
    func push(layout: String, tag: String, to repository: String, as newTag: String) throws {
        let skopeo = try #require(Self.skopeo, "skopeo is required but not on PATH: run Scripts/ensure-skopeo.sh")
        let run = try Tool.run(skopeo, ["--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds", "device:field-secret",
                                        "oci:\(layout):\(tag)", "docker://\(address)/\(repository):\(newTag)"])
        guard run.status == 0 else { throw ModuleError(.io, "skopeo copy failed: \(run.stderr)") }
    }

    /// PUTs a manifest or index document under `reference`, as `skopeo` or `docker manifest push` does.
    func putManifest(_ document: Data, mediaType: String, repository: String, reference: String) throws {
        let curl = try #require(Tool.onPath("curl"), "curl is needed to push an index")
        let file = directory.path("document-\(UUID().uuidString)")
        try document.write(to: URL(fileURLWithPath: file))
        let run = try Tool.run(curl, ["-sS", "-f", "-X", "PUT", "-H", "Content-Type: \(mediaType)", "--data-binary", "@\(file)",
                                      "http://\(address)/v2/\(repository)/manifests/\(reference)"])
        guard run.status == 0 else { throw ModuleError(.io, "PUT of the manifest failed: \(run.stderr)") }
    }

    /// Plain HTTP, or the CA of `tls`; no credentials.
    var options: RegistryOptions {
        var options = RegistryOptions()
        if tls { options.caFiles[address] = caFile } else { options.insecureRegistries = [address] }
        options.authFiles = []
        return options
    }

    /// An auth file as `skopeo login` writes it, with `user:password` for this registry.
    func authFile(_ credentials: String) throws -> String {
        let file = directory.path("auth-\(UUID().uuidString).json")
        let json = "{\"auths\":{\"\(address)\":{\"auth\":\"\(Data(credentials.utf8).base64EncodedString())\"}}}"
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }
}

@Suite("Delivery from a registry (docker-registry on 127.0.0.1)", .enabled(if: LocalRegistry.available, "docker-registry or skopeo is not installed (run Scripts/ensure-registry.sh and Scripts/ensure-skopeo.sh)"))
struct RegistryTests {
    @Test("an image pushed with skopeo is pulled into the content store and verifies; a second pull receives nothing")
    func pullAndPullAgain() throws {
        let registry = try LocalRegistry()
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        try registry.push(layout: image, tag: "1.2.0", to: "sensors/climate", as: "stable")
        let original = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(image))

        let store = ContentStore(stateDirectory: fixture.path("state"))
        let client = try RegistryClient(options: registry.options)
        let reference = try ImageReference(parsing: "\(registry.address)/sensors/climate:stable")
        var events: [PullEvent] = []
        let pulled = try client.pull(reference, into: store) { events.append($0) }
        #expect(pulled.manifest.digest == original.imageManifestDigest)
        #expect(pulled.index == nil)
        #expect(pulled.blobs.count == 2)
        #expect(pulled.blobs.allSatisfy { $0.received == UInt64($0.descriptor.size) && store.contains($0.descriptor.digest) })
        #expect(events.contains { if case .blobDone = $0 { true } else { false } })
        let verified = try ImageVerifier(trust: fixture.trustingStore()).verify(pulled.source(in: store))
        #expect(verified.manifest == original.manifest)
        #expect(try client.currentDigest(of: reference) == original.imageManifestDigest)

        let again = try client.pull(reference, into: store)
        #expect(again.blobs.allSatisfy { $0.received == 0 })
        // By digest, too.
        let byDigest = try client.pull(ImageReference(parsing: "\(registry.address)/sensors/climate@\(original.imageManifestDigest)"), into: store)
        #expect(byDigest.manifest.digest == original.imageManifestDigest)
        #expect(try Files.listing(store.root + "/partial") == [])
    }

    @Test("a cut download resumes from its partial file; a partial file with other bytes is fetched again")
    func resumes() throws {
        let registry = try LocalRegistry()
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        try registry.push(layout: image, tag: "1.2.0", to: "climate", as: "1.2.0")
        let layer = try #require(ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(image)).layers.first)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: image + "/" + layer.digest.blobPath))
        let half = bytes.count / 2
        let client = try RegistryClient(options: registry.options)
        let reference = try ImageReference(parsing: "\(registry.address)/climate:1.2.0")

        // The first half is there, as a cut download leaves it.
        let store = ContentStore(stateDirectory: fixture.path("state"))
        try store.prepare()
        try bytes.prefix(half).write(to: URL(fileURLWithPath: store.partialPath(of: layer.digest)))
        var started: [UInt64] = []
        let pulled = try client.pull(reference, into: store) { if case let .blobStarted(d, offset) = $0, d.digest == layer.digest { started.append(offset) } }
        #expect(started == [UInt64(half)])
        #expect(pulled.blobs.first { $0.descriptor.digest == layer.digest }?.received == UInt64(bytes.count - half))
        #expect(try Data(contentsOf: URL(fileURLWithPath: store.path(of: layer.digest))) == bytes)

        // Other bytes in the partial file: the digest does not match, and the blob comes again whole.
        let other = ContentStore(stateDirectory: fixture.path("state2"))
        try other.prepare()
        try Data(repeating: 0x55, count: half).write(to: URL(fileURLWithPath: other.partialPath(of: layer.digest)))
        let refetched = try client.pull(reference, into: other)
        #expect(refetched.blobs.first { $0.descriptor.digest == layer.digest }?.received == UInt64(bytes.count - half + bytes.count))
        #expect(try Data(contentsOf: URL(fileURLWithPath: other.path(of: layer.digest))) == bytes)
    }

    @Test("from an image index the manifest for this platform is picked; with none, the error lists what there is")
    func platforms() throws {
        let registry = try LocalRegistry()
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        // Two images (two versions: two manifests), each pushed by digest as a publisher's
        // per-platform builds are, and two indexes over them.
        let first = try fixture.packedImage("image")
        let a = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(first)).imageManifestDigest
        try registry.push(layout: first, tag: "1.2.0", to: "climate", as: "a")
        let secondLayout = try ImagePacker(signingKey: fixture.key).pack(moduleDirectory: try fixture.moduleDirectory(manifest: Fixture.manifestJSON.replacingOccurrences(of: "\"1.2.0\"", with: "\"1.3.0\"")))
        try ImagePacker.write(secondLayout, to: fixture.path("second"))
        let b = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(fixture.path("second"))).imageManifestDigest
        #expect(a != b)
        try registry.push(layout: fixture.path("second"), tag: "1.3.0", to: "climate", as: "b")
        func size(_ layout: String, _ digest: Digest) throws -> Int { try Data(contentsOf: URL(fileURLWithPath: layout + "/" + digest.blobPath)).count }
        let sizes = [a: try size(first, a), b: try size(fixture.path("second"), b)]
        func index(_ entries: [(String, String?, Digest)]) -> Data {
            let manifests = entries.map { (arch: String, variant: String?, digest: Digest) -> String in
                let variantField: String = variant.map { ",\"variant\":\"\($0)\"" } ?? ""
                let platform = "{\"os\":\"linux\",\"architecture\":\"\(arch)\"\(variantField)}"
                return "{\"mediaType\":\"\(OCI.manifestMediaType)\",\"digest\":\"\(digest)\",\"size\":\(sizes[digest]!),\"platform\":\(platform)}"
            }
            return Data("{\"schemaVersion\":2,\"mediaType\":\"\(OCI.indexMediaType)\",\"manifests\":[\(manifests.joined(separator: ","))]}".utf8)
        }
        try registry.putManifest(index([("amd64", nil, a), ("arm64", "v8", b)]), mediaType: OCI.indexMediaType, repository: "climate", reference: "multi")
        try registry.putManifest(index([("arm", "v5", b), ("arm", "v6", a), ("amd64", nil, b)]), mediaType: OCI.indexMediaType, repository: "climate", reference: "arm")
        let store = ContentStore(stateDirectory: fixture.path("state"))
        var options = registry.options
        options.platform = Platform(architecture: "amd64")
        let amd64 = try RegistryClient(options: options).pull(ImageReference(parsing: "\(registry.address)/climate:multi"), into: store)
        #expect(amd64.manifest.digest == a)
        #expect(amd64.index != nil)
        options.platform = Platform(architecture: "arm64", variant: "v8")
        #expect(try RegistryClient(options: options).pull(ImageReference(parsing: "\(registry.address)/climate:multi"), into: store).manifest.digest == b)
        // An ARMv7 device takes the v6 image over the v5 one.
        options.platform = Platform(architecture: "arm", variant: "v7")
        let arm = try RegistryClient(options: options).pull(ImageReference(parsing: "\(registry.address)/climate:arm"), into: store)
        #expect(arm.manifest.digest == a)
        // A 32-bit ARMv6 device has nothing in "multi".
        options.platform = Platform(architecture: "arm", variant: "v6")
        let error = try #require(throws: ModuleError.self) {
            try RegistryClient(options: options).pull(ImageReference(parsing: "\(registry.address)/climate:multi"), into: store)
        }
        #expect(error.code == .noPlatform)
        #expect(error.message.contains("linux/arm/v6") && error.message.contains("linux/amd64, linux/arm64/v8"))
    }

    @Test("images packed for two platforms become one index (plugin-host index); skopeo copy --all pushes it; each device pulls its own")
    func packedIndex() throws {
        let registry = try LocalRegistry()
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let directory = try fixture.moduleDirectory()
        let packer = ImagePacker(signingKey: fixture.key)
        var digests: [String: Digest] = [:]
        for (name, platform) in [("arm64", "linux/arm64"), ("armv7", "linux/arm/v7")] {
            // The library as it would be built for each platform: different bytes.
            try Data("\u{7f}ELF \(platform) build".utf8).write(to: URL(fileURLWithPath: directory + "/lib/libthermostat.so"))
            try ImagePacker.write(packer.pack(moduleDirectory: directory, platform: Platform(platform)), to: fixture.path(name + ".tar"))
            digests[platform] = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(fixture.path(name + ".tar"))).imageManifestDigest
        }
        try ImagePacker.write(packer.pack(moduleDirectory: directory), to: fixture.path("noplatform.tar"))
        let host = try #require(Tool.pluginHost)
        let index = try Tool.run(host, ["index", fixture.path("arm64.tar"), fixture.path("armv7.tar"), "--output", fixture.path("multi.tar")])
        #expect(index.status == 0, "\(index.stderr)")
        #expect(index.stdout.contains("for 2 platform(s)") && index.stdout.contains("tag 1.2.0"))
        let refused = try Tool.run(host, ["index", fixture.path("arm64.tar"), fixture.path("noplatform.tar"), "--output", fixture.path("bad.tar")])
        #expect(refused.status == 12 && refused.stderr.contains("pack it with `plugin-host pack --platform"), "\(refused.stderr)")
        let twice = try Tool.run(host, ["index", fixture.path("arm64.tar"), fixture.path("arm64.tar"), "--output", fixture.path("twice.tar")])
        #expect(twice.status == 12 && twice.stderr.contains("two images are for linux/arm64"), "\(twice.stderr)")
        // A multi-platform file is not installed as is: the error says to go through a registry.
        let local = try #require(throws: ModuleError.self) { try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(fixture.path("multi.tar"))) }
        #expect(local.message.contains("multi-platform image"))

        let skopeo = try #require(LocalRegistry.skopeo)
        let push = try Tool.run(skopeo, ["--insecure-policy", "copy", "--all", "--dest-tls-verify=false",
                                         "oci-archive:\(fixture.path("multi.tar")):1.2.0", "docker://\(registry.address)/thermostat:1.2.0"])
        #expect(push.status == 0, "\(push.stderr)")
        for (platform, expected) in digests {
            var options = registry.options
            options.platform = try #require(Platform(platform))
            let store = ContentStore(stateDirectory: fixture.path("device-" + platform.replacingOccurrences(of: "/", with: "-")))
            let pulled = try RegistryClient(options: options).pull(ImageReference(parsing: "\(registry.address)/thermostat:1.2.0"), into: store)
            #expect(pulled.manifest.digest == expected, "\(platform)")
            #expect(try ImageVerifier(trust: fixture.trustingStore()).verify(pulled.source(in: store)).manifest.version.description == "1.2.0")
        }
    }

    @Test("gc keeps the current and previous versions' blobs and removes the rest; plugin-host gc --now says what it removed")
    func collectsUnusedBlobs() throws {
        let registry = try LocalRegistry()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let store = ContentStore(stateDirectory: f.state)
        let client = try RegistryClient(options: registry.options)
        var manifests: [String: Digest] = [:]
        for version in ["1.0.0", "1.1.0", "1.2.0"] {
            try registry.push(layout: try f.image(version), tag: version, to: "acme/testmodule", as: version)
            let pulled = try client.pull(ImageReference(parsing: "\(registry.address)/acme/testmodule:\(version)"), into: store)
            manifests[version] = pulled.manifest.digest
            let engine = try f.engine()
            try engine.install(ImageVerifier(trust: engine.trust).verify(pulled.source(in: store)))
            // Fresh blobs stay for a day whatever needs them.
            #expect(try engine.collectContent() == ContentStore.Collected())
        }
        #expect(f.activeVersion == "1.2.0")
        // A pull that was never installed, and an abandoned partial download.
        try registry.push(layout: try f.image("2.0.0"), tag: "2.0.0", to: "acme/testmodule", as: "2.0.0")
        let ahead = try client.pull(ImageReference(parsing: "\(registry.address)/acme/testmodule:2.0.0"), into: store)
        try Data(repeating: 1, count: 1000).write(to: URL(fileURLWithPath: store.partialPath(of: try #require(Digest("sha256:" + String(repeating: "1", count: 64))))))

        let host = try #require(Tool.pluginHost)
        let gc = try Tool.run(host, ["gc", "--now", "--state-dir", f.state])
        #expect(gc.status == 0, "\(gc.stderr)")
        // 1.0.0's manifest and config, 2.0.0's manifest and config (the layer is the same in every version).
        #expect(gc.stdout.hasPrefix("removed 4 blob(s) and 1 partial download(s)"), "\(gc.stdout)")
        let (first, second, third) = (try #require(manifests["1.0.0"]), try #require(manifests["1.1.0"]), try #require(manifests["1.2.0"]))
        #expect(!store.contains(first) && !store.contains(ahead.manifest.digest))
        #expect(store.contains(second) && store.contains(third))
        let engine = try f.engine()
        let previous = try ImageVerifier(trust: engine.trust).verify(store.source(manifest: second))
        #expect(previous.manifest.version.description == "1.1.0")
    }

    @Test("a missing tag, and a registry that is not there, are clear errors and leave nothing behind")
    func failures() throws {
        let registry = try LocalRegistry()
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = ContentStore(stateDirectory: fixture.path("state"))
        let missing = try #require(throws: ModuleError.self) {
            try RegistryClient(options: registry.options).pull(ImageReference(parsing: "\(registry.address)/climate:nope"), into: store)
        }
        #expect(missing.code == .registry && missing.exitCode == 24)
        #expect(missing.message.contains("has no tag nope in climate (404)"))

        var options = registry.options
        let closed = try RegistryProcess.freePort()
        options.insecureRegistries = ["127.0.0.1:\(closed)"]
        options.attempts = 3
        options.firstRetryDelay = .milliseconds(10)
        var retries = 0
        let unreachable = try #require(throws: ModuleError.self) {
            try RegistryClient(options: options).pull(ImageReference(parsing: "127.0.0.1:\(closed)/climate:1.0"), into: store) {
                if case .retrying = $0 { retries += 1 }
            }
        }
        #expect(unreachable.code == .network)
        #expect(unreachable.message.contains("after 3 attempts"))
        #expect(retries == 2)
        // HTTPS to a registry that speaks HTTP: no retries, and the error says what to do.
        var tls = registry.options
        tls.insecureRegistries = []
        let plain = try #require(throws: ModuleError.self) {
            try RegistryClient(options: tls).pull(ImageReference(parsing: "\(registry.address)/climate:1.0"), into: store)
        }
        #expect(plain.code == .network && plain.message.contains("--insecure-registry"))
        #expect(try Files.listing(store.root + "/blobs/sha256") == [])
    }

    @Test("plugin-host install REF pulls the test module from the registry and commits it; pull --json reports each blob",
          arguments: [LayerCompression.none, .zstd])
    func installByReference(_ compression: LayerCompression) throws {
        let registry = try LocalRegistry()
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        let image = try f.image("1.0.0", compression: compression)
        try registry.push(layout: image, tag: "1.0.0", to: "acme/testmodule", as: "stable")
        let host = try #require(Tool.pluginHost)
        let reference = "\(registry.address)/acme/testmodule:stable"
        let pull = try Tool.run(host, ["pull", reference, "--state-dir", f.state, "--insecure-registry", registry.address, "--json"])
        #expect(pull.status == 0, "\(pull.stderr)")
        let events = pull.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(events.filter { $0.contains("\"event\":\"done\"") }.count == 2)
        #expect(pull.stdout.contains("\"received\""))

        let install = try Tool.run(host, ["install", reference, "--state-dir", f.state, "--insecure-registry", registry.address, "--no-sandbox"],
                                   environment: ["PLUGIN_HOST_RUNNER": try UpdateFixture.runnerExecutable()])
        #expect(install.status == 0, "\(install.stderr)")
        #expect(install.stdout.contains("installed and committed from \(reference)@sha256:"))
        #expect(install.stderr.contains("already present"))
        #expect(f.activeVersion == "1.0.0")

        // --unless-at: nothing when the tag has not moved; the new image when it has.
        let digestLine = try #require(pull.stdout.split(separator: "\n").first { $0.contains("\"digest\"") })
        let digest = String(try #require(digestLine.split(separator: "\"").first { $0.hasPrefix("sha256:") }))
        let still = try Tool.run(host, ["pull", reference, "--state-dir", f.state, "--insecure-registry", registry.address, "--unless-at", digest])
        #expect(still.status == 0 && still.stdout.contains("still points at \(digest): nothing pulled"), "\(still)")
        try registry.push(layout: try f.image("1.1.0"), tag: "1.1.0", to: "acme/testmodule", as: "stable")
        let moved = try Tool.run(host, ["pull", reference, "--state-dir", f.state, "--insecure-registry", registry.address, "--unless-at", digest, "--json"])
        #expect(moved.status == 0 && moved.stdout.contains("\"unchanged\" : false") && !moved.stdout.contains(digest), "\(moved)")
        let notDigest = try Tool.run(host, ["pull", reference, "--state-dir", f.state, "--insecure-registry", registry.address, "--unless-at", "latest", "--json"])
        #expect(notDigest.status == 12 && notDigest.stdout.contains("\"code\" : \"invalid-value\""), "\(notDigest)")

        let wrong = try Tool.run(host, ["install", "no/such/file.tar", "--state-dir", f.state])
        #expect(wrong.status == 24 || wrong.status == 14, "\(wrong.stderr)")
        let notReference = try Tool.run(host, ["install", "./Not A Reference", "--state-dir", f.state])
        #expect(notReference.status == 14)
        #expect(notReference.stderr.contains("there is no image file or directory './Not A Reference', and it is not an image reference"))
    }

    @Test("distribution's token auth: skopeo pushes and the host pulls with a JWT from the registry's token service, for the repository's pull scope")
    func distributionTokenAuth() throws {
        let directory = try TemporaryDirectory("tokens")
        defer { directory.cleanUp() }
        let tokens = try TokenService(directory: directory)
        let registry = try LocalRegistry(tokenAuth: (tokens.realm, tokens.rootCertificates))
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try registry.push(layout: try fixture.packedImage("image"), tag: "1.2.0", to: "private/climate", as: "1.2.0")
        #expect(tokens.grants.contains { $0.hasPrefix("repository:private/climate:") && $0.contains("push") }, "\(tokens.grants)")

        let reference = try ImageReference(parsing: "\(registry.address)/private/climate:1.2.0")
        var options = registry.options
        options.authFiles = [try registry.authFile("device:field-secret")]
        let before = tokens.grants.count
        let store = ContentStore(stateDirectory: fixture.path("state"))
        let pulled = try RegistryClient(options: options).pull(reference, into: store)
        #expect(try ImageVerifier(trust: fixture.trustingStore()).verify(pulled.source(in: store)).manifest.version.description == "1.2.0")
        // One token, for pulling this repository only, reused for the manifest and every blob.
        #expect(Array(tokens.grants.dropFirst(before)) == ["repository:private/climate:pull"], "\(tokens.grants)")

        // Without credentials the token service refuses, and the error says how to log in.
        let refused = try #require(throws: ModuleError.self) {
            try RegistryClient(options: registry.options).pull(reference, into: ContentStore(stateDirectory: fixture.path("anonymous")))
        }
        #expect(refused.code == .registry && refused.message.contains("refused (401)") && refused.message.contains("skopeo login"), "\(refused)")
        // A token the registry did not issue is refused by the registry itself (its signature).
        let forged = try Tool.run(try #require(Tool.onPath("curl")), ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer e30.e30.e30",
                                                                     "http://\(registry.address)/v2/private/climate/manifests/1.2.0"])
        #expect(forged.stdout == "401")
    }

    @Test("Docker's credential helpers: credHelpers for one registry and credsStore for all give the password; one that has none, fails or is missing is a clear error")
    func credentialHelpers() throws {
        let registry = try LocalRegistry(tls: true, basicAuth: true)
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try registry.push(layout: try fixture.packedImage("image"), tag: "1.2.0", to: "private/climate", as: "1.2.0")
        // Helpers as Docker runs them: `get`, the registry on standard input, JSON out.
        let bin = fixture.path("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let helpers = [
            "fieldvault": "read server; [ \"$1\" = get ] || exit 2; case \"$server\" in \(registry.address)) printf '{\"ServerURL\":\"%s\",\"Username\":\"device\",\"Secret\":\"field-secret\"}' \"$server\";; *) echo 'credentials not found in native keychain'; exit 1;; esac",
            "empty": "read server; echo 'credentials not found in native keychain'; exit 1",
            "broken": "echo 'the keychain is locked' >&2; exit 3",
        ]
        for (name, body) in helpers {
            let path = bin + "/docker-credential-" + name
            try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
        }
        let host = try #require(Tool.pluginHost)
        func pull(_ config: String, _ name: String) throws -> Tool.Output {
            let file = fixture.path("\(name).json")
            try Data(config.utf8).write(to: URL(fileURLWithPath: file))
            return try Tool.run(host, ["pull", "\(registry.address)/private/climate:1.2.0", "--state-dir", fixture.path("state-\(name)"),
                                       "--registry-ca", "\(registry.address)=\(registry.caFile)", "--authfile", file],
                                environment: ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")])
        }
        let perRegistry = try pull("{\"credHelpers\": {\"\(registry.address)\": \"fieldvault\", \"other.example\": \"broken\"}}", "helpers")
        #expect(perRegistry.status == 0, "\(perRegistry.stderr)")
        let store = try pull("{\"credsStore\": \"fieldvault\", \"auths\": {\"\(registry.address)\": {}}}", "store")
        #expect(store.status == 0, "\(store.stderr)")
        // A helper with nothing for the registry: as no credentials at all.
        let empty = try pull("{\"credsStore\": \"empty\"}", "empty")
        #expect(empty.status == 24 && empty.stderr.contains("needs a user name and password"), "\(empty.stderr)")
        let broken = try pull("{\"credHelpers\": {\"\(registry.address)\": \"broken\"}}", "broken")
        #expect(broken.status == 24 && broken.stderr.contains("docker-credential-broken failed") && broken.stderr.contains("the keychain is locked"), "\(broken.stderr)")
        let missing = try pull("{\"credHelpers\": {\"\(registry.address)\": \"ecr-login\"}}", "missing")
        #expect(missing.status == 24 && missing.stderr.contains("docker-credential-ecr-login") && missing.stderr.contains("not on PATH"), "\(missing.stderr)")
    }

    @Test("over HTTPS through the proxy in HTTPS_PROXY (a CONNECT tunnel), and direct for a host in NO_PROXY")
    func httpsThroughAProxy() throws {
        let registry = try LocalRegistry(tls: true)
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        try registry.push(layout: try fixture.packedImage("image"), tag: "1.2.0", to: "private/climate", as: "1.2.0")
        let proxy = try FaultProxy(tunnel: true)
        let host = try #require(Tool.pluginHost)
        let arguments = ["pull", "\(registry.address)/private/climate:1.2.0", "--registry-ca", "\(registry.address)=\(registry.caFile)"]
        let proxied = try Tool.run(host, arguments + ["--state-dir", fixture.path("proxied")],
                                   environment: ["HTTPS_PROXY": "http://127.0.0.1:\(proxy.port)", "https_proxy": nil, "no_proxy": nil, "NO_PROXY": nil])
        #expect(proxied.status == 0, "\(proxied.stderr)")
        #expect(!proxy.targets.isEmpty && proxy.targets.allSatisfy { $0 == registry.address }, "\(proxy.targets)")
        // The proxy saw only TLS: the image's bytes went through it encrypted.
        #expect(proxy.bytesFromRegistry > 0)
        let tunnels = proxy.connections
        let direct = try Tool.run(host, arguments + ["--state-dir", fixture.path("direct")],
                                  environment: ["HTTPS_PROXY": "http://127.0.0.1:\(proxy.port)", "https_proxy": nil, "NO_PROXY": "127.0.0.1", "no_proxy": nil])
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(proxy.connections == tunnels)
    }

    @Test("over HTTPS with the registry's own CA and htpasswd basic auth, the credentials of an auth file get the image")
    func tlsAndBasicAuth() throws {
        let registry = try LocalRegistry(tls: true, basicAuth: true)
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        try registry.push(layout: image, tag: "1.2.0", to: "private/climate", as: "1.2.0")
        let reference = try ImageReference(parsing: "\(registry.address)/private/climate:1.2.0")
        let store = ContentStore(stateDirectory: fixture.path("state"))

        var options = registry.options
        options.authFiles = [try registry.authFile("device:field-secret")]
        let pulled = try RegistryClient(options: options).pull(reference, into: store)
        #expect(try ImageVerifier(trust: fixture.trustingStore()).verify(pulled.source(in: store)).manifest.version.description == "1.2.0")

        // No credentials: the error says how to log in.
        let anonymous = try #require(throws: ModuleError.self) { try RegistryClient(options: registry.options).pull(reference, into: store) }
        #expect(anonymous.code == .registry && anonymous.message.contains("needs a user name and password") && anonymous.message.contains("skopeo login \(registry.address)"))
        // A wrong password: refused, and said so.
        options.authFiles = [try registry.authFile("device:wrong")]
        let refused = try #require(throws: ModuleError.self) { try RegistryClient(options: options).pull(reference, into: store) }
        #expect(refused.code == .registry && refused.message.contains("(401)"))
        // Without the registry's CA: a TLS failure, not retried, with the hint.
        var untrusted = options
        untrusted.caFiles = [:]
        let tls = try #require(throws: ModuleError.self) { try RegistryClient(options: untrusted).pull(reference, into: store) }
        #expect(tls.code == .network && tls.message.contains("--registry-ca"))
    }
}

/// Delivery over a link that breaks (FaultProxy between the client and a real registry), with a
/// 20 MB layer of incompressible bytes.
@Suite("Delivery over a bad link (fault proxy)", .enabled(if: LocalRegistry.available, "docker-registry or skopeo is not installed (run Scripts/ensure-registry.sh and Scripts/ensure-skopeo.sh)"))
struct BadLinkTests {
    static let layerBytes = 20 << 20

    /// A registry holding an image with a 20 MB layer, a proxy in front of it, and the layer's descriptor.
    struct Setup {
        let registry: LocalRegistry
        let proxy: FaultProxy
        let fixture: Fixture
        let layer: OCI.Descriptor
        var reference: ImageReference { try! ImageReference(parsing: "127.0.0.1:\(proxy.port)/big/climate:1.2.0") }
        var options: RegistryOptions {
            var options = RegistryOptions()
            options.insecureRegistries = ["127.0.0.1:\(proxy.port)"]
            options.authFiles = []
            options.firstRetryDelay = .milliseconds(10)
            return options
        }
        func store(_ name: String = "state") -> ContentStore { ContentStore(stateDirectory: fixture.path(name)) }
    }

    static func setUp() throws -> Setup {
        let registry = try LocalRegistry()
        let fixture = try Fixture()
        let directory = try fixture.moduleDirectory()
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: layerBytes)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in words.indices { words[index] = generator.next() }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/share/thermostat/calibration.bin"))
        let layout = try ImagePacker(signingKey: fixture.key).pack(moduleDirectory: directory)
        try ImagePacker.write(layout, to: fixture.path("big"))
        let verified = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(fixture.path("big")))
        try registry.push(layout: fixture.path("big"), tag: "1.2.0", to: "big/climate", as: "1.2.0")
        return Setup(registry: registry, proxy: try FaultProxy(upstreamPort: registry.port), fixture: fixture, layer: try #require(verified.layers.first))
    }

    @Test("a 20 MB layer through a link cut every 1 MB is pulled whole, and at most 10 % more than its size crosses the link")
    func cutEveryMegabyte() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        setup.proxy.faults.cutAfter = 1 << 20
        let pulled = try RegistryClient(options: setup.options).pull(setup.reference, into: setup.store())
        #expect(pulled.blobs.first { $0.descriptor.digest == setup.layer.digest }?.received == UInt64(setup.layer.size))
        #expect(setup.proxy.connections > 20)
        let ratio = Double(setup.proxy.bytesFromRegistry) / Double(setup.layer.size)
        #expect(ratio <= 1.10, "bytes from the registry / layer size = \(ratio)")
        #expect(try ImageVerifier(trust: setup.fixture.trustingStore()).verify(pulled.source(in: setup.store())).layers.count == 1)
    }

    @Test("connections reset every 3 MB, or stalled once, end in a whole layer")
    func resetAndStall() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        setup.proxy.faults.resetAfter = 3 << 20
        let reset = try RegistryClient(options: setup.options).pull(setup.reference, into: setup.store("reset"))
        #expect(reset.blobs.allSatisfy { setup.store("reset").contains($0.descriptor.digest) })

        setup.proxy.faults = .init(stallOnceAfter: 2 << 20)
        var options = setup.options
        options.stallSeconds = 2
        var retried = false
        let stalled = try RegistryClient(options: options).pull(setup.reference, into: setup.store("stall")) {
            if case .retrying = $0 { retried = true }
        }
        #expect(retried)
        #expect(stalled.blobs.first { $0.descriptor.digest == setup.layer.digest }?.received == UInt64(setup.layer.size))
    }

    @Test("a flipped byte is caught by the digest and the blob is fetched again")
    func flippedByte() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        setup.proxy.faults.flipOnceAt = 5 << 20
        let store = setup.store()
        let pulled = try RegistryClient(options: setup.options).pull(setup.reference, into: store)
        let layer = try #require(pulled.blobs.first { $0.descriptor.digest == setup.layer.digest })
        #expect(layer.received == 2 * UInt64(setup.layer.size))
        #expect(try ImageVerifier(trust: setup.fixture.trustingStore()).verify(pulled.source(in: store)).layers.count == 1)
    }

    @Test("a registry that is down fails the pull with a network error, and the installed version stays")
    func registryDown() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        let f = try UpdateFixture()
        defer { f.base.cleanUp() }
        try f.engine().install(imageAt: f.image("1.0.0"))
        setup.proxy.faults.refuse = true
        var options = setup.options
        options.attempts = 3
        let error = try #require(throws: ModuleError.self) {
            try RegistryClient(options: options).pull(setup.reference, into: ContentStore(stateDirectory: f.state))
        }
        #expect(error.code == .network && error.exitCode == 24)
        #expect(f.activeVersion == "1.0.0")
        #expect(try UpdateEngine.list(stateDirectory: f.state).first?.state == .active)
    }

    @Test("plugin-host pull killed with SIGKILL mid-download resumes from its partial file")
    func killedAndResumed() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        let host = try #require(Tool.pluginHost)
        let state = setup.fixture.path("state")
        setup.proxy.faults.stallOnceAfter = 6 << 20
        let pull = try RunningTool(host, ["pull", setup.reference.description, "--state-dir", state, "--insecure-registry", "127.0.0.1:\(setup.proxy.port)"])
        let partial = setup.store().partialPath(of: setup.layer.digest)
        #expect(waitUntil(seconds: 30) { ((try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? Int ?? 0) >= 4 << 20 })
        pull.signal(SIGKILL)
        _ = pull.finish()
        let kept = (try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? Int ?? 0
        #expect(kept >= 4 << 20)

        let again = try Tool.run(host, ["pull", setup.reference.description, "--state-dir", state, "--insecure-registry", "127.0.0.1:\(setup.proxy.port)", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("\"offset\":\(kept)"), "\(again.stderr)")
        #expect(setup.store().contains(setup.layer.digest))
    }

    @Test("on a terminal pull redraws one progress line per blob in place; piped it writes plain lines")
    func progressOnATerminal() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        let host = try #require(Tool.pluginHost)
        let script = try #require(Tool.onPath("script"), "script (util-linux) runs the pull on a pseudo-terminal")
        // The link is cut every 4 MB: the pull resumes five times, about a second apart, and each
        // resumed download shows its progress at once.
        setup.proxy.faults.cutAfter = 4 << 20
        let command = [host.path, "pull", setup.reference.description, "--state-dir", setup.fixture.path("tty"), "--insecure-registry", "127.0.0.1:\(setup.proxy.port)"]
            .map { "'\($0)'" }.joined(separator: " ")
        let terminal = try Tool.run(script, ["-qec", command, "/dev/null"], environment: ["TERM": "xterm"])
        #expect(terminal.status == 0, "\(terminal.stdout)")
        let redraws = terminal.stdout.components(separatedBy: "\r\u{1B}[K").count - 1
        #expect(redraws >= 2, "\(terminal.stdout.debugDescription)")
        #expect(terminal.stdout.contains(" %), ") && terminal.stdout.contains("/s, ") && terminal.stdout.contains(" s left"), "\(terminal.stdout.debugDescription)")
        #expect(terminal.stdout.contains("done (20.0 MiB received)"), "\(terminal.stdout.debugDescription)")

        let piped = try Tool.run(host, ["pull", setup.reference.description, "--state-dir", setup.fixture.path("piped"), "--insecure-registry", "127.0.0.1:\(setup.proxy.port)"])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(!piped.stderr.contains("\u{1B}") && !piped.stderr.contains("\r"))
        // Not a line per MiB: at most one per resumed download and 5 s.
        let progress = piped.stderr.split(separator: "\n").filter { $0.contains(" s left") }
        #expect((1..<20).contains(progress.count), "\(piped.stderr)")
    }

    @Test("a full disk during a download is a clear error; nothing is stored, and the pull resumes once there is room",
          .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func fullDisk() throws {
        let setup = try Self.setUp()
        defer { setup.fixture.cleanUp() }
        let mountPoint = setup.fixture.path("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try Tool.run(try #require(Tool.onPath("mount")), ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint])
        try #require(mount.status == 0, "\(mount.stderr)")
        defer { _ = try? Tool.run(Tool.onPath("umount")!, [mountPoint]) }
        let store = ContentStore(stateDirectory: mountPoint + "/state")
        let error = try #require(throws: ModuleError.self) { try RegistryClient(options: setup.options).pull(setup.reference, into: store) }
        #expect(error.code == .io && error.message.contains("the disk is full"), "\(error)")
        #expect(!store.contains(setup.layer.digest))
        #expect(store.partialSize(of: setup.layer.digest) > 0)
    }
}

/// A registry that answers badly on purpose, or asks for a bearer token (FakeRegistry): each bad
/// answer is a clear error and nothing is stored.
@Suite("Delivery from registries that misbehave (a fake HTTP registry)")
struct MisbehavingRegistryTests {
    static let manifestType = OCI.manifestMediaType

    /// What a registry holding the image layout `image` answers for `path`: its manifest as tag
    /// 1.0, its blobs by digest, 404 for anything else.
    static func serve(_ path: String, from image: String, manifest: Digest) -> FakeRegistry.Response {
        if path.hasSuffix("/manifests/1.0") {
            return .init(status: 200, headers: ["Content-Type": manifestType],
                         body: (try? Data(contentsOf: URL(fileURLWithPath: image + "/" + manifest.blobPath))) ?? Data())
        }
        if let range = path.range(of: "/blobs/sha256:") {
            return .init(status: 200, body: (try? Data(contentsOf: URL(fileURLWithPath: image + "/blobs/sha256/" + path[range.upperBound...]))) ?? Data())
        }
        return .init(status: 404)
    }

    func options(_ registry: FakeRegistry) -> RegistryOptions {
        var options = RegistryOptions()
        options.insecureRegistries = [registry.address]
        options.authFiles = []
        options.attempts = 2
        options.firstRetryDelay = .milliseconds(10)
        return options
    }

    func pullError(_ registry: FakeRegistry, _ store: ContentStore, options: RegistryOptions? = nil) throws -> ModuleError {
        try #require(throws: ModuleError.self) {
            try RegistryClient(options: options ?? self.options(registry)).pull(ImageReference(parsing: "\(registry.address)/climate:1.0"), into: store)
        }
    }

    @Test("a manifest over 4 MiB, garbage, a redirect loop and a 401 without a challenge are each refused with what went wrong")
    func badAnswers() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = ContentStore(stateDirectory: fixture.path("state"))

        let huge = try FakeRegistry { _ in .init(status: 200, headers: ["Content-Type": Self.manifestType], body: Data(repeating: 0x20, count: 5 << 20)) }
        let large = try pullError(huge, store)
        #expect(large.code == .registry && large.message.contains("larger than 4 MiB"), "\(large)")

        let garbage = try FakeRegistry { _ in .init(status: 200, headers: ["Content-Type": Self.manifestType], body: Data("<html>a captive portal</html>".utf8)) }
        let notJSON = try pullError(garbage, store)
        #expect(notJSON.code == .registry && notJSON.message.contains("is not a valid OCI image manifest"), "\(notJSON)")

        let loop = try FakeRegistry { request in .init(status: 302, headers: ["Location": request.path]) }
        let redirects = try pullError(loop, store)
        #expect(redirects.code == .network && redirects.message.lowercased().contains("redirect"), "\(redirects)")
        #expect(loop.requests.count == 11)

        let silent = try FakeRegistry { _ in .init(status: 401) }
        let unauthorized = try pullError(silent, store)
        #expect(unauthorized.code == .registry && unauthorized.message.contains("without saying how to log in"), "\(unauthorized)")
        #expect(Files.list(store.root + "/blobs/sha256").isEmpty)
    }

    @Test("a blob larger than its descriptor says is cut off at its size and not stored")
    func blobTooLarge() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        let verified = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(image))
        let manifest = try Data(contentsOf: URL(fileURLWithPath: image + "/" + verified.imageManifestDigest.blobPath))
        let layer = try #require(verified.layers.first).digest
        let registry = try FakeRegistry { request in
            if request.path.hasSuffix("/manifests/1.0") {
                return .init(status: 200, headers: ["Content-Type": Self.manifestType], body: manifest)
            }
            // Every blob comes with a megabyte too much.
            return .init(status: 200, body: Data(repeating: 7, count: 1 << 20))
        }
        let store = ContentStore(stateDirectory: fixture.path("state"))
        let error = try pullError(registry, store)
        #expect(error.code == .sizeMismatch && error.message.contains("larger than the"), "\(error)")
        #expect(!store.contains(layer))
        #expect(Files.list(store.root + "/blobs/sha256").count == 1) // the manifest only
    }

    @Test("a registry that asks for a bearer token gets one from its realm, with the auth file's credentials, and the pull goes through")
    func bearerToken() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        let verified = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(image))
        let port = Mutex(0)
        let registry = try FakeRegistry { request in
            let realm = "http://127.0.0.1:\(port.withLock { $0 })/token"
            if request.path.hasPrefix("/token") {
                guard request.path.contains("service=fake-registry"), request.path.contains("scope=repository%3Aclimate%3Apull"),
                      request.headers["authorization"] == "Basic " + Data("device:field-secret".utf8).base64EncodedString() else {
                    return .init(status: 401)
                }
                return .init(status: 200, headers: ["Content-Type": "application/json"], body: Data(#"{"token":"t0ken"}"#.utf8))
            }
            guard request.headers["authorization"] == "Bearer t0ken" else {
                return .init(status: 401, headers: ["WWW-Authenticate": "Bearer realm=\"\(realm)\",service=\"fake-registry\",scope=\"repository:climate:pull\""])
            }
            return Self.serve(request.path, from: image, manifest: verified.imageManifestDigest)
        }
        port.withLock { $0 = registry.port }
        let auth = fixture.path("auth.json")
        try Data("{\"auths\":{\"\(registry.address)\":{\"auth\":\"\(Data("device:field-secret".utf8).base64EncodedString())\"}}}".utf8)
            .write(to: URL(fileURLWithPath: auth))
        var options = options(registry)
        options.authFiles = [auth]
        let store = ContentStore(stateDirectory: fixture.path("state"))
        let pulled = try RegistryClient(options: options).pull(ImageReference(parsing: "\(registry.address)/climate:1.0"), into: store)
        #expect(pulled.manifest.digest == verified.imageManifestDigest)
        #expect(try ImageVerifier(trust: fixture.trustingStore()).verify(pulled.source(in: store)).manifest.id == verified.manifest.id)
        // One token request, and the token reused for every later request.
        #expect(registry.requests.filter { $0.path.hasPrefix("/token") }.count == 1)
        #expect(registry.requests.filter { $0.headers["authorization"] == "Bearer t0ken" }.count >= 3)

        // Without credentials, the token service's refusal says how to log in.
        let refused = try pullError(registry, ContentStore(stateDirectory: fixture.path("state2")))
        #expect(refused.code == .registry && refused.message.contains("refused (401)") && refused.message.contains("skopeo login"), "\(refused)")
    }
}

extension MisbehavingRegistryTests {
    @Test("pull goes through the proxy in http_proxy (libcurl reads it), and no_proxy sends it direct")
    func throughAProxy() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage("image")
        let verified = try ImageVerifier(trust: fixture.trustingStore()).verify(ImageSource.open(image))
        // An HTTP proxy that is also the registry: it answers the absolute-form requests itself.
        let proxy = try FakeRegistry { request in
            guard request.path.hasPrefix("http://") else { return .init(status: 400) }
            return Self.serve(request.path, from: image, manifest: verified.imageManifestDigest)
        }
        // The registry's own address has nothing listening: only the proxy can answer.
        let registry = "127.0.0.1:\(try RegistryProcess.freePort())"
        let host = try #require(Tool.pluginHost)
        let arguments = ["pull", "\(registry)/climate:1.0", "--state-dir", fixture.path("state"), "--insecure-registry", registry]
        let proxied = try Tool.run(host, arguments, environment: ["http_proxy": "http://\(proxy.address)", "no_proxy": nil, "NO_PROXY": nil])
        #expect(proxied.status == 0, "\(proxied.stderr)")
        #expect(proxy.requests.count >= 3 && proxy.requests.allSatisfy { $0.path.hasPrefix("http://\(registry)/v2/climate/") })
        let direct = try Tool.run(host, arguments, environment: ["http_proxy": "http://\(proxy.address)", "no_proxy": "127.0.0.1"])
        #expect(direct.status == 24 && direct.stderr.contains("cannot reach \(registry)"), "\(direct.stderr)")
    }
}
