import Foundation
import Planner
import Testing

@testable import BuildEngine

/// The build stage's extra apt suites (backports): which suites a plan needs and the mirror taken from the base's
/// own apt sources (one-line and deb822 forms).
@Suite struct AptSuiteSourcesTests {
    @Test func suitesFromThePlanAndFromStepPackages() throws {
        var plan = try Self.plan(packages: ["ca-certificates", "golang-1.26-go/trixie-backports"])
        plan.aptSuites = ["trixie-backports"]
        #expect(AptSuiteSources.needed(by: plan) == ["trixie-backports"])
        plan.aptSuites = []
        #expect(AptSuiteSources.needed(by: plan) == ["trixie-backports"], "a `name/suite` package alone")
        plan.steps[0].aptPackages = ["golang-1.26-go=1.26.11-1~bpo13+1", "git/trixie"]
        #expect(AptSuiteSources.needed(by: plan).isEmpty, "pinned versions and the base suite need nothing")
        plan.aptSuites = ["trixie-backports"]
        #expect(AptSuiteSources.needed(by: plan) == ["trixie-backports"], "a frozen plan keeps its aptSuites")
    }

    @Test func mirrorFromOneLineAndDeb822Sources() throws {
        let root = try BuildCacheTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(
            atPath: root + "/etc/apt/sources.list.d", withIntermediateDirectories: true)
        try """
        # comment
        deb [arch=amd64 signed-by=/x.gpg] http://mirror.example/debian/ trixie main
        deb http://security.debian.org/debian-security trixie-security main

        """.write(toFile: root + "/etc/apt/sources.list", atomically: true, encoding: .utf8)
        #expect(AptSuiteSources.mirror(rootfs: root, suite: "trixie") == "http://mirror.example/debian")
        #expect(AptSuiteSources.mirror(rootfs: root, suite: "bookworm") == nil)

        try FileManager.default.removeItem(atPath: root + "/etc/apt/sources.list")
        try """
        Types: deb
        URIs: http://deb.debian.org/debian
        Suites: trixie trixie-updates
        Components: main
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

        Types: deb
        URIs: http://deb.debian.org/debian-security
        Suites: trixie-security
        Components: main

        """.write(toFile: root + "/etc/apt/sources.list.d/debian.sources", atomically: true, encoding: .utf8)
        #expect(AptSuiteSources.mirror(rootfs: root, suite: "trixie") == "http://deb.debian.org/debian")
        #expect(
            AptSuiteSources.mirror(rootfs: root, suite: "trixie-security") == "http://deb.debian.org/debian-security")
    }

    @Test func stanzaAndSuiteNames() throws {
        let s = AptSuiteSources(suites: ["trixie-backports"], mirror: "http://deb.debian.org/debian")
        #expect(
            s.stanza("trixie-backports")
                == "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie-backports\nComponents: main\n"
                + "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
        #expect(
            AptSuiteSources.fileName("trixie-backports") == "etc/apt/sources.list.d/ociforge-trixie-backports.sources")
        for bad in ["", "../x", "trixie backports", "a/b"] {
            #expect(throws: BuildEngineError.self) { try AptSuiteSources.validate(bad) }
        }
        try AptSuiteSources.validate("trixie-backports")
    }

    static func plan(packages: [String]) throws -> ResolvedPlan {
        let json = """
            {"schemaVersion": 2, "strategy": "plan", "providers": [], "suite": "trixie", "buildImage": "debian:trixie",
             "toolchains": [], "packageManagers": [], "aptSuites": [], "buildVariables": {}, "secrets": [],
             "staticAssets": {}, "caches": {},
             "steps": [{"name": "setup", "dependsOn": [], "inputs": [], "aptPackages": \(Self.jsonArray(packages)),
                        "commands": [], "caches": [], "paths": [], "secrets": []}],
             "context": {"files": [], "exclude": [], "useGitignore": true},
             "image": {"name": "app", "tag": "latest", "reference": "app:latest"}, "frozen": false}
            """
        return try JSONDecoder().decode(ResolvedPlan.self, from: Data(json.utf8))
    }

    static func jsonArray(_ a: [String]) -> String { "[" + a.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
}
