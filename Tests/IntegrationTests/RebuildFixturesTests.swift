import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `verify-rebuild` over every plan fixture of the end-to-end suite: built once in the shared state, rebuilt in a
/// fresh state directory, equal; and a deliberately non-reproducible build, whose differing file is named.
@Suite("verify-rebuild over the e2e fixtures", .serialized)
struct RebuildFixturesTests {
    static var available: Bool { DockerfileExecTests.available }

    /// `ociforge verify-rebuild <layout> <app> --json -q` with the end-to-end suite's state and epoch.
    static func verifyRebuild(_ layout: String, _ app: String) throws -> (
        status: Int32, report: [String: Any], seconds: Double, stderr: String
    ) {
        let start = Date()
        let r = try Harness.run(
            [
                Harness.ociforge, "verify-rebuild", "oci-layout:" + layout, app, "--json", "-q", "--ca-bundle",
                "/etc/ssl/certs/ca-certificates.crt"
            ],
            environment: [
                "OCIFORGE_STATE_DIR": BuildEndToEndTests.stateDir, "SOURCE_DATE_EPOCH": BuildEndToEndTests.epoch
            ],
            timeout: 2400)
        let report = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        return (r.status, report, Date().timeIntervalSince(start), r.stderr)
    }

    @Test(
        "verify-rebuild reports equal for each e2e plan fixture, rebuilt in a fresh state (only Debian base tarballs and pinned toolchain archives reused)",
        .enabled(if: RebuildFixturesTests.available, "needs root, buildah and podman (scripts/install-deps)"),
        arguments: SlowTests.enabled ? E2EFixture.all : E2EFixture.quick)
    func equalForFixture(_ fixture: E2EFixture) throws {
        let dir = try TempDir.make("rebuild-" + fixture.name)
        defer { dir.remove() }
        let app = try fixture.app(in: dir)
        let out = dir.path + "/oci"
        let built = try BuildEndToEndTests.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":latest", extra: fixture.extra)
        let check = try Self.verifyRebuild(out, app)
        print("verify-rebuild \(fixture.name): exit \(check.status) in \(Int(check.seconds.rounded())) s")
        #expect(check.status == 0, "\(check.stderr.suffix(3000))\n\(check.report)")
        let comparison = check.report["comparison"] as? [String: Any] ?? [:]
        #expect(comparison["firstManifest"] as? String == built.manifest, "\(comparison)")
        #expect(comparison["secondManifest"] as? String == built.manifest, "\(comparison)")
        let reused = check.report["reusedState"] as? [String] ?? []
        #expect(reused.contains { $0.hasPrefix("bases/debian-") && $0.hasSuffix(".tar") }, "\(reused)")
        #expect(reused.allSatisfy { $0.hasPrefix("bases/debian-") || $0.hasPrefix("toolchains/blobs") }, "\(reused)")
    }

    @Test(
        "verify-rebuild of a deliberately non-reproducible build (random bytes written by the build command) names the differing file",
        .enabled(if: RebuildFixturesTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func namesTheDifferingFile() throws {
        let dir = try TempDir.make("rebuild-random")
        defer { dir.remove() }
        let app = try BuildEndToEndTests.app("planner/shell-script/app", in: dir)
        let out = dir.path + "/oci"
        try BuildEndToEndTests.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":latest",
            extra: ["--build-cmd", "head -c 16 /dev/urandom | od -An -tx1 > stamp.txt"])
        let check = try Self.verifyRebuild(out, app)
        print("verify-rebuild non-reproducible: exit \(check.status) in \(Int(check.seconds.rounded())) s")
        #expect(check.status == 1, "\(check.stderr.suffix(3000))")
        let layers = (check.report["comparison"] as? [String: Any])?["layers"] as? [[String: Any]] ?? []
        let files = layers.flatMap { ($0["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String } }
        #expect(files.contains("app/stamp.txt"), "\(check.report)")
        #expect(files.allSatisfy { $0 == "app/stamp.txt" }, "only the random file differs: \(files)")
    }
}
