import Testing

@testable import Planner

@Suite("Version constraints")
struct VersionConstraintTests {
    @Test(
        "one release against a request",
        arguments: [
            // partial versions (mise fuzzy): prefix by components
            ("20", "20.11.0", true), ("20", "21.0.0", false), ("1.2", "1.2.3", true), ("1.2", "1.20.0", false),
            ("v18.19.0", "18.19.0", true), ("3.11.4", "3.11.4", true), ("3.11.4", "3.11.5", false),
            ("21", "21.0.13.1", true),
            // x / * wildcards
            ("18.x", "18.20.4", true), ("18.x", "19.0.0", false), ("3.11.*", "3.11.2", true), ("*", "1.0.0", true),
            ("x", "0.1.0", true),
            ("==3.11.*", "3.12.0", false),
            // comparators and ranges
            (">=20 <23", "22.11.0", true), (">=20 <23", "23.0.0", false), (">=20", "18.20.4", false),
            ("> 3.11", "3.11.9", false),
            (">3.11", "3.12.0", true), ("<=3.11", "3.11.9", true), ("<=3.11", "3.12.0", false),
            ("< 3.12", "3.11.2", true),
            ("!=3.11", "3.11.2", false), (">=3.8,<4", "3.13.5", true), (">= 16", "18.0.0", true),
            ("16 || 18", "18.20.4", true), ("16 || >=22", "20.19.2", false), ("1.2 - 1.4", "1.4.9", true),
            ("1.2 - 1.4", "1.5.0", false),
            ("1.2.3 - 2", "2.9.0", true), ("1.2.3 - 2", "1.2.2", false),
            // caret and tilde
            ("^18.2", "18.20.4", true), ("^16", "18.20.4", false), ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.4", false), ("~18.20", "18.20.4", true), ("~18.19", "18.20.4", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false), ("~1", "1.9.0", true),
            // PEP 440 and Ruby pessimistic
            ("~=3.11", "3.13.5", true), ("~=3.11", "4.0.0", false), ("~=3.11.2", "3.11.9", true),
            ("~=3.11.2", "3.12.0", false),
            ("~> 3.2", "3.3.8", true), ("~> 3.2.1", "3.3.0", false), ("~> 1.14", "1.18.3", true),
            // prereleases only when named
            ("1.23", "1.23.0-rc1", false), ("1.23rc1", "1.23.0-rc1", true), (">=1.22", "1.24rc2", false),
            ("latest", "1.0.0-beta", false),
            // aliases
            ("latest", "1.0.0", true), ("lts/*", "20.19.2", false)
        ] as [(String, String, Bool)])
    func matches(_ request: String, _ version: String, _ expected: Bool) throws {
        let c = try #require(VersionConstraint(request), "\(request) does not parse")
        #expect(c.matches(version) == expected, "\(request) vs \(version)")
    }

    static let nodeReleases: [VersionCandidate] = [
        .init("24.2.0"), .init("24.1.0"), .init("22.16.0", lts: "Jod"), .init("22.15.1", lts: "Jod"),
        .init("20.19.2", lts: "Iron"),
        .init("20.18.0", lts: "Iron"), .init("18.20.8", lts: "Hydrogen"), .init("23.11.1"), .init("25.0.0-rc.1")
    ]

    @Test(
        "newest match in a release list",
        arguments: [
            ("20", "20.19.2"), ("lts/*", "22.16.0"), ("lts", "22.16.0"), ("lts/iron", "20.19.2"),
            ("lts/Hydrogen", "18.20.8"),
            ("latest", "24.2.0"), (">=20 <23", "22.16.0"), ("^20.18", "20.19.2"), ("22.15", "22.15.1"),
            ("20.18.0", "20.18.0"),
            ("v24.1.0", "24.1.0"), (">=23", "24.2.0"), ("~23", "23.11.1"), ("25.0.0-rc.1", "25.0.0-rc.1"),
            ("*", "24.2.0")
        ] as [(String, String)])
    func newest(_ request: String, _ expected: String) throws {
        let c = try #require(VersionConstraint(request))
        #expect(c.newestMatch(in: Self.nodeReleases)?.version == expected, "\(request)")
    }

    @Test("no match, and text that is not a request", arguments: ["lts/argon", "19", ">=26", "^26.1"])
    func noMatch(_ request: String) throws {
        #expect(try #require(VersionConstraint(request)).newestMatch(in: Self.nodeReleases) == nil)
    }

    @Test("unparsable requests", arguments: ["abc", ">=", "lts/", "1..2", "^x.y", "lts/-1"])
    func invalid(_ request: String) {
        #expect(VersionConstraint(request) == nil, "\(request)")
    }

    @Test("moving requests and exact versions")
    func moving() throws {
        for r in ["latest", "lts/*", "stable", "nightly", "nightly-2024-05-01", "beta"] {
            #expect(VersionConstraint(r)!.isMoving, "\(r)")
        }
        for r in ["20", ">=1.23", "lts/iron", "1.2.3"] { #expect(!VersionConstraint(r)!.isMoving, "\(r)") }
        #expect(VersionConstraint("1.23.4")?.exactVersion == SemanticVersion([1, 23, 4]))
        #expect(VersionConstraint("=v20.11.0")?.exactVersion == SemanticVersion([20, 11, 0]))
        #expect(VersionConstraint("1.23")?.exactVersion == nil)
        #expect(VersionConstraint(">=1.23.4")?.exactVersion == nil)
    }

    @Test(
        "semantic versions parse and order",
        arguments: [
            ("1.2.3", "1.2.10"), ("go1.23rc1", "1.23.0"), ("v20.0.0", "v20.0.1"), ("1.0.0-alpha", "1.0.0-alpha.1"),
            ("1.0.0-alpha.1", "1.0.0-beta"), ("1.0.0-beta.2", "1.0.0-beta.11"), ("1.0.0-rc.1", "1.0.0"),
            ("21.0.13", "21.0.13.1")
        ] as [(String, String)])
    func ordering(_ lower: String, _ higher: String) throws {
        let a = try #require(SemanticVersion(lower)), b = try #require(SemanticVersion(higher))
        #expect(a < b && !(b < a), "\(lower) < \(higher)")
    }

    @Test(
        "Debian package versions carry the upstream release",
        arguments: [
            ("18.20.4+dfsg-1~deb12u3", "18.20.4"), ("1:27.3.4.1+dfsg-1+deb13u4", "27.3.4.1"), ("2:1.24~2", "1.24"),
            ("3.1.7+really3.1.2-0+deb12u1", "3.1.2"), ("1.18.3.dfsg-1", "1.18.3"), ("21.0.13+9-1~deb13u2", "21.0.13"),
            ("1.97.1+dfsg1-1~bpo13+1", "1.97.1"), ("1.27.4-1~bpo13+1", "1.27.4"), ("3.13.5-1", "3.13.5"),
            ("9.2.0~ds1-3", "9.2.0"),
            ("4.0~early~20200606-7", "4.0"), ("2:8.4+96", "8.4"), ("0.19.0-1", "0.19.0")
        ] as [(String, String)])
    func debian(_ debian: String, _ upstream: String) throws {
        #expect(DebianVersion.upstream(debian) == upstream)
    }

    @Test("Debian versions against requests")
    func debianMatch() throws {
        #expect(DebianVersion.satisfies("20.19.2+dfsg-1+deb13u3", try #require(VersionConstraint(">=20"))))
        #expect(!DebianVersion.satisfies("18.20.4+dfsg-1~deb12u3", try #require(VersionConstraint(">=20"))))
        #expect(DebianVersion.satisfies("1:3.3+b1", try #require(VersionConstraint("3.3"))))
        #expect(DebianVersion.satisfies("1.26.11-1~bpo13+1", try #require(VersionConstraint("~1.26"))))
    }
}
