import PluginHostImages
import Testing

@Suite("Image references")
struct ImageReferenceTests {
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    @Test("registry, port, repository, tag and digest are split as docker and skopeo split them", arguments: [
        ("127.0.0.1:5000/sensors/climate:1.2", "127.0.0.1:5000", "sensors/climate", "1.2", false),
        ("registry.example.com/climate", "registry.example.com", "climate", nil, false),
        ("localhost/a/b/c:canary", "localhost", "a/b/c", "canary", false),
        ("localhost:5000/climate@" + digest, "localhost:5000", "climate", nil, true),
        ("ghcr.io/acme/climate:stable@" + digest, "ghcr.io", "acme/climate", "stable", true),
        ("[::1]:5000/climate:v1", "[::1]:5000", "climate", "v1", false),
        ("climate", "docker.io", "library/climate", nil, false),
        ("acme/climate:1.0", "docker.io", "acme/climate", "1.0", false),
        ("Acme/climate", "Acme", "climate", nil, false),
        ("reg.example.com/a__b/c-d/e.f/g--h:Tag_1.0-x", "reg.example.com", "a__b/c-d/e.f/g--h", "Tag_1.0-x", false),
    ] as [(String, String, String, String?, Bool)])
    func parses(_ text: String, _ registry: String, _ repository: String, _ tag: String?, _ hasDigest: Bool) throws {
        let reference = try ImageReference(parsing: text)
        #expect(reference.registry == registry)
        #expect(reference.repository == repository)
        #expect(reference.tag == tag)
        #expect(reference.digest?.description == (hasDigest ? Self.digest : nil))
        #expect(reference.manifestReference == (hasDigest ? Self.digest : tag ?? "latest"))
    }

    @Test("written in full, a reference names its registry and tag")
    func description() throws {
        #expect(try ImageReference(parsing: "climate").description == "docker.io/library/climate:latest")
        #expect(try ImageReference(parsing: "127.0.0.1:5000/climate:1.2").description == "127.0.0.1:5000/climate:1.2")
        #expect(try ImageReference(parsing: "127.0.0.1:5000/climate@" + Self.digest).description == "127.0.0.1:5000/climate@" + Self.digest)
    }

    @Test("what is not a reference is refused with the part that is wrong", arguments: [
        ("", "it is empty"),
        ("127.0.0.1:5000/Climate", "'Climate' is not a repository path component"),
        ("127.0.0.1:5000/climate:", "'' is not a tag"),
        ("127.0.0.1:5000/climate:.hidden", "'.hidden' is not a tag"),
        ("127.0.0.1:5000/climate@sha256:abc", "is not a sha256:<64 lowercase hex> digest"),
        ("127.0.0.1:5000/climate@md5:" + String(repeating: "a", count: 32), "is not a sha256"),
        ("127.0.0.1:5000//climate", "empty path component"),
        ("127.0.0.1:5000/climate/", "empty path component"),
        ("127.0.0.1:99999999/climate", "is not a registry host[:port]"),
        ("-bad.example.com/climate", "is not a registry host[:port]"),
        ("reg.example.com/a_-b", "is not a repository path component"),
        ("reg.example.com/a___b", "is not a repository path component"),
        ("reg.example.com/climate:" + String(repeating: "t", count: 129), "is not a tag"),
    ])
    func refuses(_ text: String, _ reason: String) {
        #expect {
            _ = try ImageReference(parsing: text)
        } throws: { error in
            guard let error = error as? ModuleError else { return false }
            return error.code == .invalidValue && error.field == "reference" && error.message.contains(reason) && error.message.contains("registry[:port]/repository")
        }
    }
}
