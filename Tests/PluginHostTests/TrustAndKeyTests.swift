import Foundation
import Testing
import PluginHost
@testable import PluginHostImages

@Suite("Keys and the trust store")
struct TrustAndKeyTests {
    @Test("key files round-trip and malformed ones are refused")
    func keyFiles() throws {
        let key = ModuleSigningKey()
        let reread = try ModuleSigningKey(fileContent: key.fileContent)
        #expect(reread.publicKey == key.publicKey)
        #expect(try ModulePublicKey(fileContent: key.publicKey.fileContent) == key.publicKey)
        for bad in ["", "ed25519 AAAA", key.fileContent, "ssh-ed25519 AAAAC3Nz"] {
            #expect(ModuleError.caught { _ = try ModulePublicKey(fileContent: bad) }?.code == .invalidKey)
        }
        #expect(ModuleError.caught { _ = try ModuleSigningKey(fileContent: key.publicKey.fileContent) }?.code == .invalidKey)
    }

    @Test("a key read from its file signs with that key: its public key verifies the signature, another does not")
    func signsWithTheGivenKey() throws {
        let key = try ModuleSigningKey(fileContent: ModuleSigningKey().fileContent)
        let payload = SignaturePayload.make(config: Digest(of: Data("config".utf8)), layers: [])
        let signature = try key.sign(payload)
        #expect(signature.count == 64)
        #expect(try key.publicKey.isValidSignature(signature, for: payload))
        #expect(try !ModuleSigningKey().publicKey.isValidSignature(signature, for: payload))
        #expect(try !key.publicKey.isValidSignature(signature, for: payload + Data([0])))
    }

    @Test("add, list, remove")
    func store() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = TrustStore(stateDirectory: fixture.path("state"))
        #expect(try store.list().isEmpty)
        let a = ModuleSigningKey().publicKey, b = ModuleSigningKey().publicKey
        #expect(try store.add(a) == a.keyID)
        try store.add(b)
        try store.add(a)
        #expect(try store.list().map(\.keyID) == [a.keyID, b.keyID].sorted())
        #expect(FileManager.default.fileExists(atPath: fixture.path("state/trust/\(a.keyID).pub")))
        #expect(try store.entry(id: a.keyID) == TrustedKey(a))
        #expect(try store.remove(id: a.keyID))
        #expect(try !store.remove(id: a.keyID))
        #expect(try store.entry(id: a.keyID) == nil)
        #expect(try store.entry(id: "../../etc/passwd") == nil)
        #expect(try store.list() == [TrustedKey(b)])
    }

    @Test("a trust file whose content is another key is refused")
    func mislabelled() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = TrustStore(stateDirectory: fixture.path("state"))
        let a = ModuleSigningKey().publicKey, b = ModuleSigningKey().publicKey
        try store.add(a)
        try Data(b.fileContent.utf8).write(to: store.directory.appendingPathComponent(a.keyID + ".pub"))
        #expect(ModuleError.caught { _ = try store.entry(id: a.keyID) }?.code == .invalidKey)
    }

    // MARK: - Scoped keys

    @Test("module patterns: a module id matches itself; 'prefix.*' matches one or more parts after the prefix", arguments: [
        ("com.example.*", "com.example.x", true),
        ("com.example.*", "com.example.x.y", true),
        ("com.example.*", "com.example", false),
        ("com.example.*", "com.examplex", false),
        ("com.example.*", "com.examplex.y", false),
        ("com.example.*", "org.example.x", false),
        ("com.*", "com.example", true),
        ("com.*", "computer.x", false),
        ("com.example.thermostat", "com.example.thermostat", true),
        ("com.example.thermostat", "com.example.thermostat.v2", false),
        ("com.example.thermostat", "com.example.thermostat2", false),
        ("com.example.t-1_x.*", "com.example.t-1_x.a", true),
    ])
    func patternMatching(_ pattern: String, _ moduleID: String, _ matches: Bool) throws {
        #expect(try ModulePattern(pattern).matches(moduleID) == matches)
    }

    @Test("a bad pattern is refused with what is wrong and what to write", arguments: [
        ("", "it is empty; write a module id (com.example.thermostat) or a prefix followed by '.*' (com.example.*)"),
        ("*", "'*' alone would let the key sign any module"),
        ("com.ex*", "'ex*' mixes '*' with a name; '*' stands for whole parts only, as the last part ('com.example.*')"),
        ("com.*.x", "'*' may only be the last part, standing for the parts after a prefix ('com.example.*')"),
        ("com.example.**", "'**' mixes '*' with a name"),
        ("Com.Example.*", "part 'Com' is not lowercase letters"),
        ("com..example", "it has an empty part"),
        (".com.example", "it has an empty part"),
        ("com.example.", "it has an empty part"),
        ("thermostat", "a module id has at least two parts; for the modules under 'thermostat' write 'thermostat.*'"),
        ("com.example.*,org.acme.*", "give one pattern per option: --modules 'com.example.*' --modules 'org.acme.sensor'"),
        ("com.example.* org.x", "give one pattern per option"),
        (String(repeating: "a", count: 127) + ".*", "it is longer than a module id may be (128 bytes)"),
    ])
    func badPatterns(_ pattern: String, _ problem: String) {
        let error = ModuleError.caught { _ = try ModulePattern(pattern) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.hasPrefix("'\(pattern)' is not a module pattern: \(problem)") == true, "\(String(describing: error))")
    }

    @Test("an expiry is a UTC day written YYYY-MM-DD; the key expires when that day ends")
    func expiry() throws {
        let expiry = try KeyExpiry("2027-06-30")
        let lastSecond = Date(timeIntervalSince1970: 1_814_399_999) // 2027-06-30T23:59:59Z
        #expect(!expiry.hasPassed(at: lastSecond))
        #expect(expiry.hasPassed(at: lastSecond + 1))
        for bad in ["2027-02-30", "2027-6-30", "27-06-30", "2027-06-30T00:00:00Z", "30.06.2027", "tomorrow", ""] {
            let error = ModuleError.caught { _ = try KeyExpiry(bad) }
            #expect(error?.code == .invalidKey, "\(bad)")
            #expect(error?.message == "'\(bad)' is not a date: write the key's last valid day (UTC) as YYYY-MM-DD, e.g. 2027-06-30")
        }
    }

    @Test("a scope and expiry are stored in the key's trust file, listed, and replaced when the key is added again")
    func scopedStore() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = TrustStore(stateDirectory: fixture.path("state"))
        let key = ModuleSigningKey().publicKey, other = ModuleSigningKey().publicKey
        let patterns = [try ModulePattern("com.example.*"), try ModulePattern("org.acme.sensor")]
        try store.add(key, modules: patterns, expires: try KeyExpiry("2027-06-30"))
        try store.add(other)
        let file = try String(contentsOfFile: fixture.path("state/trust/\(key.keyID).pub"), encoding: .utf8)
        #expect(file == key.fileContent + "modules com.example.* org.acme.sensor\nexpires 2027-06-30\n")
        let scoped = TrustedKey(key, modules: patterns, expires: try KeyExpiry("2027-06-30"))
        #expect(try store.list() == [scoped, TrustedKey(other)].sorted { $0.keyID < $1.keyID })
        #expect(scoped.scopeDescription == "com.example.*, org.acme.sensor")
        #expect(TrustedKey(other).scopeDescription == "any module")
        #expect(scoped.addCommand(addingPattern: "net.x.*") == "plugin-host trust add \(key.keyID) --modules 'com.example.*' --modules 'org.acme.sensor' --modules 'net.x.*' --expires 2027-06-30")

        try store.add(key, modules: [try ModulePattern("net.other.*")])
        #expect(try store.entry(id: key.keyID) == TrustedKey(key, modules: [try ModulePattern("net.other.*")]))
        try store.add(key)
        #expect(try String(contentsOfFile: fixture.path("state/trust/\(key.keyID).pub"), encoding: .utf8) == key.fileContent)
    }

    @Test("a trust file with a bad scope, a bad expiry or an unknown line is refused, not read as unscoped", arguments: [
        ("modules com.ex*", "has a bad scope: 'com.ex*' is not a module pattern"),
        ("expires 2027-13-01", "has a bad expiry: '2027-13-01' is not a date"),
        ("expires 2027-06-30 2028-01-01", "has a line this host does not understand, 'expires 2027-06-30 2028-01-01'"),
        ("modules com.a.*\nmodules com.b.*", "has a line this host does not understand, 'modules com.b.*'"),
        ("signers 2", "has a line this host does not understand, 'signers 2'"),
    ])
    func damagedScope(_ lines: String, _ problem: String) throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = TrustStore(stateDirectory: fixture.path("state"))
        let key = ModuleSigningKey().publicKey
        let path = fixture.path("state/trust/\(key.keyID).pub")
        try store.add(key)
        try Data((key.fileContent + lines + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let error = ModuleError.caught { _ = try store.list() }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.hasPrefix("trusted key file \(path) \(problem)") == true, "\(String(describing: error))")
    }

    @Test("verification: an image of a module in the key's scope verifies; outside it, or after the key's expiry, it is refused with exit code 25")
    func scopedVerification() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let image = try fixture.packedImage() // com.example.thermostat
        let store = TrustStore(stateDirectory: fixture.path("state"))
        let keyID = fixture.key.publicKey.keyID
        func verify(at now: Date = Date()) throws(ModuleError) -> VerifiedImage {
            try ImageVerifier(trust: store).verify(ImageSource.open(image), at: now)
        }

        // A trust file as every host wrote it before scopes: the key line alone. It still verifies.
        try FileManager.default.createDirectory(atPath: store.directory.path, withIntermediateDirectories: true)
        try Data(fixture.key.publicKey.fileContent.utf8).write(to: store.directory.appendingPathComponent(keyID + ".pub"))
        #expect(try verify().keyID == keyID)

        for inScope in [["com.example.*"], ["com.example.thermostat"], ["org.acme.*", "com.*"]] {
            try store.add(fixture.key.publicKey, modules: inScope.map { (text) throws(ModuleError) in try ModulePattern(text) })
            #expect(try verify().manifest.id == "com.example.thermostat", "\(inScope)")
        }

        try store.add(fixture.key.publicKey, modules: [try ModulePattern("org.acme.*"), try ModulePattern("com.example.thermostat.*")])
        let outside = try #require(ModuleError.caught { _ = try verify() })
        #expect(outside.code == .keyOutOfScope)
        #expect(outside.exitCode == 25)
        #expect(outside.field == keyID)
        #expect(outside.message == "image '\(image)' holds module com.example.thermostat, which key \(keyID) may not sign: its scope is org.acme.*, com.example.thermostat.*. If this publisher may sign com.example.thermostat, widen the key's scope: plugin-host trust add \(keyID) --modules 'org.acme.*' --modules 'com.example.thermostat.*' --modules 'com.example.thermostat'")

        try store.add(fixture.key.publicKey, modules: [try ModulePattern("com.example.*")], expires: try KeyExpiry("2027-06-30"))
        #expect(try verify(at: Date(timeIntervalSince1970: 1_814_399_999)).keyID == keyID) // its last second
        let expired = try #require(ModuleError.caught { _ = try verify(at: Date(timeIntervalSince1970: 1_814_400_000)) })
        #expect(expired.code == .keyExpired)
        #expect(expired.exitCode == 25)
        #expect(expired.message.contains("signed by key \(keyID), which expired after 2027-06-30 (UTC); this device's clock says 2027-07-01T00:00:00Z"), "\(expired)")
        #expect(expired.message.hasSuffix("renew it: plugin-host trust add \(keyID) --modules 'com.example.*' --expires <YYYY-MM-DD>"), "\(expired)")

        // A signature that does not match is still reported as such, not as a scope problem.
        try store.add(fixture.key.publicKey, modules: [try ModulePattern("org.acme.*")])
        let layout = LayoutEditor(image)
        try layout.rewriteManifest { manifest in
            var annotations = manifest["annotations"] as? [String: Any] ?? [:]
            annotations[SignaturePayload.signatureAnnotation] = Data(repeating: 1, count: 64).base64EncodedString()
            manifest["annotations"] = annotations
        }
        #expect(ModuleError.caught { _ = try verify() }?.code == .badSignature)
    }
}

@Suite("Strict tar")
struct TarTests {
    @Test("round trip, including a path longer than 100 bytes")
    func roundTrip() throws {
        let long = String(repeating: "d", count: 80) + "/" + String(repeating: "f", count: 90)
        let entries = [Tar.Entry(path: "a", isDirectory: true, mode: 0o755, data: Data()),
                       Tar.Entry(path: "a/b.txt", isDirectory: false, mode: 0o644, data: Data("hello".utf8)),
                       Tar.Entry(path: long, isDirectory: false, mode: 0o755, data: Data(repeating: 7, count: 513))]
        #expect(try Tar.read(Tar.archive(entries), source: "t") == entries)
    }

    @Test("refuses links, absolute paths, '..' and bad checksums")
    func refusals() throws {
        var symlink = [UInt8](try Tar.archive([Tar.Entry(path: "x", isDirectory: false, mode: 0o644, data: Data())]))
        symlink[156] = UInt8(ascii: "2")
        fixChecksum(&symlink)
        #expect(ModuleError.caught { _ = try Tar.read(Data(symlink), source: "t") }?.code == .malformedLayout)
        var dotdot = [UInt8](try Tar.archive([Tar.Entry(path: "xx/y", isDirectory: false, mode: 0o644, data: Data())]))
        dotdot.replaceSubrange(0..<4, with: Array("../y".utf8))
        fixChecksum(&dotdot)
        #expect(ModuleError.caught { _ = try Tar.read(Data(dotdot), source: "t") }?.message.contains("..") == true)
        var corrupt = [UInt8](try Tar.archive([Tar.Entry(path: "x", isDirectory: false, mode: 0o644, data: Data())]))
        corrupt[0] = UInt8(ascii: "z")
        #expect(ModuleError.caught { _ = try Tar.read(Data(corrupt), source: "t") }?.message.contains("checksum") == true)
    }

    func fixChecksum(_ h: inout [UInt8]) {
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h[0..<512].reduce(0) { $0 + Int($1) }
        let text = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - text.count) + text + [0, 0x20]
        h.replaceSubrange(148..<156, with: field)
    }
}
