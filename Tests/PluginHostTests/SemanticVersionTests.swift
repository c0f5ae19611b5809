import Testing
import PluginHost
@testable import PluginHostImages

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
        #expect(withBuild == (try #require(SemanticVersion("1.0.0"))))
    }

    // MARK: - The laws of Equatable, Hashable and Comparable

    /// Pre-release and build metadata in many combinations, including versions that differ only in
    /// build metadata, numeric identifiers that compare numerically (2 < 11) and, from the
    /// memberwise initializer, a leading zero and a number larger than UInt64.
    static let versions: [SemanticVersion] = {
        let texts = ["0.0.0", "0.0.1-0", "1.0.0-alpha", "1.0.0-alpha+001", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                     "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-beta.11+exp.sha.5114f85", "1.0.0-rc.1",
                     "1.0.0-rc.1+build.1", "1.0.0", "1.0.0+20130313144700", "1.0.0+21AF26D3----117B344092BD",
                     "1.0.0-1", "1.0.0-2", "1.0.0-11", "1.0.0-a-b", "1.0.0--", "1.0.1", "1.2.0", "1.10.0",
                     "2.0.0-rc.1+build.7", "2.0.0"]
        return texts.map { SemanticVersion($0)! } + [
            SemanticVersion(major: 1, minor: 0, patch: 0, preRelease: ["02"]),
            SemanticVersion(major: 1, minor: 0, patch: 0, preRelease: ["99999999999999999999999"]),
            SemanticVersion(major: 1, minor: 0, patch: 0, preRelease: ["100000000000000000000000"], build: ["x"]),
        ]
    }()

    @Test("== is reflexive and symmetric, and holds exactly when neither < holds")
    func equalityMatchesOrder() {
        for a in Self.versions {
            #expect(a == a, "\(a)")
            #expect(!(a < a), "\(a)")
            for b in Self.versions {
                #expect((a == b) == (b == a), "\(a), \(b)")
                #expect((a == b) == (!(a < b) && !(b < a)), "\(a), \(b)")
            }
        }
    }

    @Test("< is antisymmetric, total and transitive")
    func strictTotalOrder() {
        for a in Self.versions {
            for b in Self.versions {
                #expect(!(a < b && b < a), "\(a), \(b)")
                // Totality: exactly one of a < b, a == b, b < a.
                #expect([a < b, a == b, b < a].filter { $0 }.count == 1, "\(a), \(b)")
                for c in Self.versions where a < b && b < c {
                    #expect(a < c, "\(a) < \(b) < \(c)")
                }
                for c in Self.versions where a == b && b == c {
                    #expect(a == c, "\(a) == \(b) == \(c)")
                }
            }
        }
    }

    @Test("equal versions hash equally; a Set keeps one per precedence")
    func hashMatchesEquality() throws {
        for a in Self.versions {
            for b in Self.versions where a == b {
                #expect(a.hashValue == b.hashValue, "\(a), \(b)")
            }
        }
        let one = try #require(SemanticVersion("1.0.0")), withBuild = try #require(SemanticVersion("1.0.0+20130313144700"))
        #expect(Set([one, withBuild]).count == 1)
        let zeroPadded = SemanticVersion(major: 1, minor: 0, patch: 0, preRelease: ["02"])
        #expect(zeroPadded == (try #require(SemanticVersion("1.0.0-2"))))
        #expect(Set(Self.versions).count == Self.versions.count - 6, "five versions differ from another only in build metadata, one only in a leading zero")
    }

    @Test("the set is sorted as SemVer §11 says, and build metadata does not move a version")
    func sortedOrder() throws {
        let sorted = Self.versions.sorted()
        let expected = ["0.0.0", "0.0.1-0", "1.0.0-1", "1.0.0-2", "1.0.0-02", "1.0.0-11", "1.0.0-99999999999999999999999",
                        "1.0.0-100000000000000000000000+x", "1.0.0--", "1.0.0-a-b", "1.0.0-alpha", "1.0.0-alpha+001",
                        "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
                        "1.0.0-beta.11+exp.sha.5114f85", "1.0.0-rc.1", "1.0.0-rc.1+build.1", "1.0.0", "1.0.0+20130313144700",
                        "1.0.0+21AF26D3----117B344092BD", "1.0.1", "1.2.0", "1.10.0", "2.0.0-rc.1+build.7", "2.0.0"]
        // Versions of equal precedence may come in any order: compare the sort keys, then each group.
        #expect(sorted.count == expected.count)
        for (got, want) in zip(sorted, expected) {
            #expect(got == (try #require(SemanticVersion(want.replacingOccurrences(of: "-02", with: "-2")))), "\(got) where \(want) was expected")
        }
    }

    @Test("isIdentical compares the build metadata too")
    func identity() throws {
        let a = try #require(SemanticVersion("1.1.0+build.2")), b = try #require(SemanticVersion("1.1.0"))
        #expect(a == b)
        #expect(!a.isIdentical(to: b))
        #expect(a.isIdentical(to: try #require(SemanticVersion("1.1.0+build.2"))))
        #expect(!a.isIdentical(to: try #require(SemanticVersion("1.1.0+build.3"))))
    }
}
