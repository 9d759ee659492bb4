import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension RegistryCacheTests {
    /// A Dockerfile whose RUN installs the Debian packages listed in packages.txt with apt's archives and lists in
    /// `RUN --mount=type=cache` mounts (ids `apt-archives` and `apt-lists`), on `base`.
    static func aptMountApp(in dir: TempDir, base: String) throws -> String {
        try writeApp(
            in: dir, "apt-app",
            files: [
                "Dockerfile": """
                FROM \(base)
                COPY packages.txt /tmp/packages.txt
                RUN --mount=type=cache,id=apt-archives,target=/var/cache/apt,sharing=locked \\
                    --mount=type=cache,id=apt-lists,target=/var/lib/apt/lists,sharing=locked \\
                    rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update && \\
                    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(grep -v '^#' /tmp/packages.txt) && \\
                    rm -rf /var/log/dpkg.log /var/log/apt/* /var/cache/ldconfig/aux-cache
                CMD ["hello"]
                """,
                "packages.txt": "hello\ntree\n"
            ])
    }

    /// apt's download lines (`Get:N …`) in the log of a build.
    static func aptDownloads(_ b: BuildEndToEndTests.Build) -> [Substring] {
        b.stderr.split(separator: "\n").filter { $0.contains("] Get:") || $0.hasPrefix("Get:") }
    }

    @Test(
        "Dockerfile RUN --mount=type=cache across machines: after a requirements change B's apt-get uses A's archives and lists, no download"
    )
    func dockerfileCacheMountsAcrossMachines() throws {
        let dir = try TempDir.make("regcache-dfmount")
        defer { dir.remove() }
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let app = try Self.aptMountApp(in: dir, base: try Self.pushBase(to: registry.host, env: [:]))
        let repo = "\(registry.host)/team/df-mounts"
        let mounts = ["--cache-mounts", "apt-archives,apt-lists"]

        let a = try Self.machine(dir, "a")
        let cold = try a.build(app, output: dir.path + "/a-oci:v1", extra: ["--cache-to", repo] + mounts)
        #expect(cold.executed.count == 1, "\(cold.executed)")
        let coldGets = Self.aptDownloads(cold)
        #expect(coldGets.contains { $0.contains("Packages") }, "A downloads the lists: \(cold.stderr.suffix(3000))")
        #expect(coldGets.contains { $0.contains(" hello ") }, "A downloads the packages: \(cold.stderr.suffix(3000))")
        for id in ["apt-archives", "apt-lists"] {
            #expect(cold.stderr.contains("cache mount \(id): exported"), "\(cold.stderr.suffix(2000))")
        }
        #expect(Self.warnings(cold).isEmpty, "\(Self.warnings(cold))")

        // B: empty state, a requirements change, so the RUN runs again, on A's imported apt caches.
        try "# pinned again\nhello\ntree\n".write(toFile: app + "/packages.txt", atomically: true, encoding: .utf8)
        let b = try Self.machine(dir, "b")
        let warm = try b.build(app, output: dir.path + "/b-oci:v1", extra: ["--cache-from", repo] + mounts)
        for id in ["apt-archives", "apt-lists"] {
            #expect(warm.stderr.contains("cache mount \(id): imported"), "\(warm.stderr.suffix(2000))")
        }
        #expect(warm.executed.count == 1, "only the RUN that sees packages.txt: \(warm.executed)")
        #expect(warm.stderr.contains("Need to get 0 B"), "\(warm.stderr.suffix(3000))")
        // apt-get update fetches each InRelease again (the egress proxy here strips Last-Modified, so there is no
        // conditional request), finds it unchanged and keeps A's indexes: no Packages file, no .deb.
        let fetched = Self.aptDownloads(warm).filter { !$0.contains(" InRelease ") }
        #expect(fetched.isEmpty, "B downloaded: \(fetched.joined(separator: "\n"))")
        let out = try Harness.ok([
            "podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm", "oci:\(dir.path)/b-oci:v1"
        ])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "Hello, world!")

        // Not shared unless named: without --cache-mounts B's state gets nothing from the registry.
        let c = try Self.machine(dir, "c")
        let plain = try c.build(app, output: dir.path + "/c-oci:v1", extra: ["--cache-from", repo])
        #expect(!plain.stderr.contains("cache mount apt-"), "\(plain.stderr.suffix(2000))")
    }
}
