import Foundation
import Testing

/// Issue 13: files a Rails app ships inside its writable directories (tmp/, log/, storage/, db/) belong to the
/// runtime user (uid 10001) in the image, so the app can write into existing subdirectories; the rest of /app
/// stays root's.
@Suite("Rails writable directories", .serialized)
struct RailsWritableTests {
    typealias E2E = BuildEndToEndTests

    @Test(
        "Rails-shaped app under podman: as uid 10001 it writes into tmp/pids, tmp/cache, storage/uploads, db, log; not into config"
    )
    func shippedFilesInWritableDirectories() throws {
        let dir = try TempDir.make("build-rails")
        defer { dir.remove() }
        let app = try E2E.app("apps/rails-shaped", in: dir)
        let out = dir.path + "/oci"
        _ = try E2E.requireBuilt(app, cache: dir.path + "/cache", output: out + ":latest")
        let script = [
            "id -u",
            "echo 1 > /app/tmp/pids/server.pid", "echo more >> /app/tmp/cache/seed.txt",
            "echo f > /app/storage/uploads/file", "echo db > /app/db/production.sqlite3",
            "echo log > /app/log/production.log", "rm /app/log/.keep",
            "stat -c '%u:%g %n' /app/tmp/pids /app/tmp/cache/seed.txt /app/db/seeds.rb /app/storage/uploads",
            "if touch /app/config/x 2>/dev/null; then echo config-writable; else echo config-read-only; fi"
        ].joined(separator: " && ")
        let r = try E2E.podmanRun(out, tag: "latest", ["/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "10001", "runs as the runtime user: \(r.stdout)")
        for path in ["/app/tmp/pids", "/app/tmp/cache/seed.txt", "/app/db/seeds.rb", "/app/storage/uploads"] {
            #expect(lines.contains("10001:10001 \(path)"), "\(path) owned by the runtime user: \(r.stdout)")
        }
        #expect(lines.last == "config-read-only", "\(r.stdout)")
    }
}
