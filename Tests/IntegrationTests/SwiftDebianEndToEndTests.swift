import Foundation
import Testing

/// Swift from Debian (issue 12): trixie's `swiftlang` 6.0.3 (installed under /usr/libexec/swift, not /usr/bin)
/// builds a Package.swift app with `--static-swift-stdlib`; the executable runs under podman on trixie-slim with
/// no Swift runtime installed (real Debian mirror, real podman).
@Suite("Swift from Debian end to end", .serialized)
struct SwiftDebianEndToEndTests {
    typealias E2E = BuildEndToEndTests

    @Test("swift-tools-version 5.9: trixie's swiftlang 6.0.3 builds a static-stdlib executable that runs under podman")
    func swiftFromTrixie() throws {
        let dir = try TempDir.make("build-swift-debian")
        defer { dir.remove() }
        let app = try E2E.app("apps/swift-hello", in: dir)
        let json = try Harness.ok([Harness.ociforge, "plan", app, "--format", "json"])
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let chains = try #require(plan["toolchains"] as? [[String: Any]])
        let swift = try #require(chains.first { $0["name"] as? String == "swift" })
        #expect(swift["source"] as? String == "debian" && swift["version"] as? String == "6.0.3", "\(swift)")
        #expect((swift["packages"] as? [String] ?? []).contains("swiftlang"))

        let out = dir.path + "/oci"
        let a = try E2E.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest", timeout: 3000)
        #expect(Array(a.executed.prefix(3)) == ["build/setup", "build/install", "build/build"], "\(a.executed)")
        #expect(try E2E.podmanRun(out, tag: "latest").stdout == "hello from swift, compiler 6.0 or newer\n")
        // The runtime image has no Swift toolchain or runtime libraries: the stdlib is linked in.
        let probe = try E2E.podmanRun(
            out, tag: "latest", ["sh", "-c", "! test -e /usr/libexec/swift && ! ldd /app/out/hello | grep libswift"])
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
    }
}
