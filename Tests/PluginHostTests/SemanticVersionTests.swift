import Testing
@testable import PluginHost

@Suite("Semantic versions")
struct SemanticVersionTests {
    @Test("parses strict SemVer 2.0.0 and prints it back")
    func parses() throws {
        let v = try #require(SemanticVersion("2.10.3-rc.1+build.7"))
        #expect(v.major == 2 && v.minor == 10 && v.patch == 3)
        #expect(v.preRelease == ["rc", "1"])
        #expect(v.build == ["build", "7"])
        #expect(v.description == "2.10.3-rc.1+build.7")
    }

    @Test("refuses what is not SemVer", arguments: ["1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1..3", "", "1.2.3.4", "1.2.x", "1.2.3-a..b"])
    func refuses(_ text: String) {
        #expect(SemanticVersion(text) == nil)
    }

    @Test("orders by precedence (SemVer §11 example chain)")
    func orders() throws {
        let chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"]
        let versions = try chain.map { try #require(SemanticVersion($0)) }
        for (a, b) in zip(versions, versions.dropFirst()) {
            #expect(a < b, "\(a) < \(b)")
            #expect(!(b < a))
        }
        let withBuild = try #require(SemanticVersion("1.0.0+abc"))
        #expect(withBuild.hasSamePrecedence(as: try #require(SemanticVersion("1.0.0"))))
    }
}
