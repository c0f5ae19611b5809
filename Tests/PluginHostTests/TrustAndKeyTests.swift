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
        #expect(try store.key(id: a.keyID) == a)
        #expect(try store.remove(id: a.keyID))
        #expect(try !store.remove(id: a.keyID))
        #expect(try store.key(id: a.keyID) == nil)
        #expect(try store.key(id: "../../etc/passwd") == nil)
        #expect(try store.list() == [b])
    }

    @Test("a trust file whose content is another key is refused")
    func mislabelled() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let store = TrustStore(stateDirectory: fixture.path("state"))
        let a = ModuleSigningKey().publicKey, b = ModuleSigningKey().publicKey
        try store.add(a)
        try Data(b.fileContent.utf8).write(to: store.directory.appendingPathComponent(a.keyID + ".pub"))
        #expect(ModuleError.caught { _ = try store.key(id: a.keyID) }?.code == .invalidKey)
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
