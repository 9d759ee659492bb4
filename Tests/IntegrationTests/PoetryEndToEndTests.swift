import Foundation
import Testing

/// Issue 12 must-show 1: an app whose poetry.lock a current Poetry wrote (Fixtures/apps/poetry-current, generated
/// with Poetry from PyPI) builds — the plan installs Poetry at the lock's version from PyPI, with `--ca-bundle`
/// for this machine's TLS-intercepting proxy — and answers under podman on trixie's python 3.13 from Debian.
@Suite("Poetry end to end", .serialized)
struct PoetryEndToEndTests {
    typealias E2E = BuildEndToEndTests

    @Test("current poetry.lock: poetry==<lock header version> from PyPI, flask from the lock, python 3.13 from Debian")
    func currentPoetryLock() throws {
        let dir = try TempDir.make("build-poetry")
        defer { dir.remove() }
        let app = try E2E.app("apps/poetry-current", in: dir)
        let lock = try String(contentsOfFile: app + "/poetry.lock", encoding: .utf8)
        let header = try #require(lock.split(separator: "\n").first)
        let poetry = try #require(
            header.range(of: #"Poetry [0-9.]+"#, options: .regularExpression).map { header[$0].dropFirst(7) })
        let flask = try #require(
            lock.range(of: #"name = "flask"\nversion = "[0-9.]+""#, options: .regularExpression).map {
                lock[$0].split(separator: "\"")[3]
            })

        let json = try Harness.ok([Harness.ociforge, "plan", app, "--format", "json"])
        #expect(json.contains("pip install poetry==\(poetry)"), "poetry at the lock's version")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let python = try #require((plan["toolchains"] as? [[String: Any]])?.first { $0["name"] as? String == "python" })
        #expect(python["source"] as? String == "debian" && (python["version"] as? String)?.hasPrefix("3.13.") == true)

        let out = dir.path + "/oci"
        let a = try E2E.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        #expect(a.executed.contains("build/install"))
        let page = try E2E.httpGet(out, tag: "latest")
        #expect(page == "flask \(flask) on python \(python["version"] as? String ?? "?")", "\(page)")
    }
}
