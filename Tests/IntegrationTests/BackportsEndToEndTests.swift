import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A toolchain only the suite's backports carry (issue 12): the build stage enables `trixie-backports` on the base's
/// mirror and installs the plan's `pkg/trixie-backports` packages from it (real Debian mirrors).
@Suite("Backports end to end", .serialized)
struct BackportsEndToEndTests {
    typealias E2E = BuildEndToEndTests

    /// The plan's go toolchain (`ociforge plan --json`): version and suite.
    static func plannedGo(_ app: String) throws -> (version: String, suite: String, packages: [String]) {
        let json = try Harness.ok([Harness.ociforge, "plan", app, "--format", "json"])
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let chains = try #require(plan["toolchains"] as? [[String: Any]])
        let go = try #require(chains.first { $0["name"] as? String == "go" })
        let debian = try #require(go["debian"] as? [String: Any])
        return (
            try #require(go["version"] as? String), try #require(debian["suite"] as? String),
            go["packages"] as? [String] ?? []
        )
    }

    @Test(
        "go.mod `go 1.25`: golang from trixie-backports builds the app, it runs under podman; the sources layer is cached, the build reproducible, and a frozen plan (pkg=version) builds too"
    )
    func goFromBackports() throws {
        let dir = try TempDir.make("build-backports")
        defer { dir.remove() }
        let app = try E2E.app("apps/go-backports", in: dir)
        let go = try Self.plannedGo(app)
        #expect(go.suite == "trixie-backports" && go.version.hasPrefix("1.25."), "\(go)")
        #expect(go.packages.contains("golang-1.25-go/trixie-backports"), "\(go.packages)")

        let out = dir.path + "/oci"
        let cache = dir.path + "/cache"
        let a = try E2E.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(a.executed == ["build/setup", "build/install", "build/build"])
        let timings = a.report["timings"] as? [[String: Any]] ?? []
        #expect(
            timings.contains { $0["stage"] as? String == "build" && $0["phase"] as? String == "apt-suites" },
            "the build stage's sources layer: \(timings)")
        let layers = a.report["layers"] as? [[String: Any]] ?? []
        #expect(
            !layers.contains { ($0["phase"] as? String) == "apt-suites" }, "the sources file stays in the build stage")
        #expect(try E2E.podmanRun(out, tag: "v1").stdout == "built with go\(go.version)\n")

        // Cached: nothing runs again, same image.
        let b = try E2E.requireBuilt(app, cache: cache, output: out + ":v1")
        #expect(b.executed.isEmpty && b.manifest == a.manifest)
        try E2E.expectReproducible(app, a, in: dir)

        // Frozen: the backports package pinned by version (no `/suite`), still found through the enabled suite.
        try Harness.ok([Harness.ociforge, "freeze", app])
        let frozen = try String(contentsOfFile: app + "/ociforge.plan.json", encoding: .utf8)
        #expect(frozen.contains("golang-1.25-go=") && frozen.contains("~bpo13"), "pinned to the backports version")
        let f = try E2E.requireBuilt(app, cache: cache, output: out + ":frozen")
        #expect(f.executed.contains("build/setup"))
        #expect(try E2E.podmanRun(out, tag: "frozen").stdout == "built with go\(go.version)\n")
    }
    @Test(
        "go.mod `go 1.24` on trixie: the suite's own golang-1.24 (no backports layer) builds the app, it runs under podman"
    )
    func goFromTrixie() throws {
        let dir = try TempDir.make("build-trixie-go")
        defer { dir.remove() }
        let app = try E2E.app("apps/go-backports", in: dir)
        try "module example.com/trixie\n\ngo 1.24\n".write(toFile: app + "/go.mod", atomically: true, encoding: .utf8)
        let go = try Self.plannedGo(app)
        #expect(go.suite == "trixie" && go.version.hasPrefix("1.24."), "\(go)")
        let out = dir.path + "/oci"
        let a = try E2E.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(a.executed == ["build/setup", "build/install", "build/build"])
        let phases = (a.report["timings"] as? [[String: Any]] ?? []).compactMap { $0["phase"] as? String }
        #expect(!phases.contains("apt-suites"), "no extra suite for the suite's own go: \(phases)")
        #expect(try E2E.podmanRun(out, tag: "latest").stdout == "built with go\(go.version)\n")
    }
}
