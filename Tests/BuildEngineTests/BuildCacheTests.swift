import Foundation
import OCIWriter
import Testing

@testable import BuildEngine
@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The build layer cache: atomic entries, digest-verified blobs, broken entries detected and removed.
@Suite struct BuildCacheTests {
    static func tempDir() throws -> String {
        let p = "/tmp/ociforge-buildcache-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        try FileManager.default.createDirectory(atPath: p + "/src/dir", withIntermediateDirectories: true)
        try "hello\n".write(toFile: p + "/src/dir/file", atomically: true, encoding: .utf8)
        return p
    }

    /// Stores an entry with a layer of `src` and a tree; returns the cache and the entry.
    static func storeEntry(_ root: String, key: String) throws -> (BuildCache, BuildCacheEntry) {
        let cache = try BuildCache(directory: root + "/cache")
        let file = cache.blobs.temporaryBlobPath(label: "t")
        let r = try LayerWriter.write(directory: root + "/src", to: file)
        let tree = cache.scratchPath("tree")
        try FileManager.default.copyItem(atPath: root + "/src", toPath: tree)
        let e = try cache.store(key: key, createdBy: "test", layer: r, layerFile: file, tree: tree)
        return (cache, e)
    }

    @Test func storedEntryIsFoundAndVerified() throws {
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (cache, e) = try Self.storeEntry(root, key: "k1")
        let found = try #require(cache.lookup("k1"))
        #expect(found == e)
        #expect(FileManager.default.fileExists(atPath: cache.treePath("k1") + "/dir/file"))
        #expect(cache.lookup("other") == nil)
    }

    @Test func corruptBlobIsDetectedAndRemoved() throws {
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (cache, e) = try Self.storeEntry(root, key: "k2")
        let d = try #require(e.layer?.descriptor)
        let blob = cache.blobs.blobPath(d.digest)
        // Same size, different bytes.
        var bytes = try #require(FileManager.default.contents(atPath: blob))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: blob))
        var log: [String] = []
        #expect(cache.lookup("k2", log: { log.append($0) }) == nil)
        #expect(log.first?.contains("unusable") == true)
        #expect(!FileManager.default.fileExists(atPath: cache.entryPath("k2")), "the broken entry is removed")
        #expect(!FileManager.default.fileExists(atPath: cache.treePath("k2")))
    }

    @Test func halfWrittenEntriesAreNeverUsed() throws {
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Truncated metadata.
        let (cache, _) = try Self.storeEntry(root, key: "k3")
        let data = try #require(FileManager.default.contents(atPath: cache.entryPath("k3")))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cache.entryPath("k3")))
        #expect(cache.lookup("k3") == nil)
        // Tree missing (e.g. killed between the rename of the tree and a later cleanup).
        _ = try Self.storeEntry(root, key: "k4")
        try FileManager.default.removeItem(atPath: cache.treePath("k4"))
        #expect(cache.lookup("k4") == nil)
        // Blob missing.
        let (_, e5) = try Self.storeEntry(root, key: "k5")
        unlink(cache.blobs.blobPath(try #require(e5.layer?.descriptor).digest))
        #expect(cache.lookup("k5") == nil)
        // A temp file of a killed writer is not an entry.
        try "{}".write(toFile: root + "/cache/entries/.tmp-1-2", atomically: false, encoding: .utf8)
        #expect(cache.lookup(".tmp-1-2") == nil)
    }

    @Test func keysSeparateFieldsAndInputPatternsMatch() {
        #expect(CacheKey.of(["ab", "c"]) != CacheKey.of(["a", "bc"]))
        #expect(CacheKey.of(["x"]) == CacheKey.of(["x"]))
        #expect(ImageBuilder.matches(pattern: ".", path: "src/main.go"))
        #expect(ImageBuilder.matches(pattern: "go.mod", path: "go.mod"))
        #expect(!ImageBuilder.matches(pattern: "go.mod", path: "go.sum"))
        #expect(ImageBuilder.matches(pattern: "src", path: "src/a/b.rs"))
        #expect(ImageBuilder.matches(pattern: "*.txt", path: "requirements.txt"))
        #expect(ImageBuilder.matches(pattern: "**/*.lock", path: "a/b/Cargo.lock"))
        #expect(!ImageBuilder.matches(pattern: "src", path: "srcfile"))
    }

    @Test func stepScriptStopsAtTheFirstFailureAndNamesIt() {
        let s = ImageBuilder.script(
            apt: [], commands: ["true", "exit 3", "echo never"], workingDirectory: "/app",
            secrets: ["TOKEN", "not-a-var"])
        #expect(s.contains("export TOKEN=\"$(cat /run/secrets/TOKEN)\""))
        #expect(!s.contains("export not-a-var"))
        #expect(s.contains("ociforge: command 2 of 3 failed: exit 3"))
        let e = ImageBuilder.failure(
            SandboxError(
                .commandFailed, "x",
                detail: "last output lines:\n    boom\n    ociforge: command 2 of 3 failed: exit 3 (exit status 3)",
                exitStatus: 3),
            stage: "build", phase: "build", apt: [], commands: ["true", "exit 3", "echo never"])
        #expect(e.command == "exit 3")
        #expect(e.exitStatus == 3)
        #expect(e.phase == "build/build")
    }

    @Test func caBundleReachesAptsOwnHTTPS() {
        let with = ImageBuilder.script(
            apt: ["curl"], commands: [], workingDirectory: "/app", secrets: [CABundle.id])
        let option = "-o Acquire::https::CAInfo=/run/secrets/ociforge-ca-bundle -o APT::Sandbox::User=root"
        #expect(with.contains("apt-get -q -o Acquire::Retries=3 \(option) update"))
        #expect(with.contains("apt-get -q -y \(option) --no-install-recommends"))
        let without = ImageBuilder.script(
            apt: ["curl"], commands: [], workingDirectory: "/app", secrets: ["TOKEN"])
        #expect(!without.contains("CAInfo") && !without.contains("Sandbox::User"))
        let noApt = ImageBuilder.script(
            apt: [], commands: ["true"], workingDirectory: "/app", secrets: [CABundle.id])
        #expect(!noApt.contains("CAInfo"))
    }

    /// `--ca-bundle` also reaches apt inside mmdebstrap (the host's base build, https mirror): as `--aptopt`
    /// on a world-readable copy (mmdebstrap's user namespace cannot read host root's 0400 file), removed after.
    @Test func caBundleReachesMmdebstrap() throws {
        let args = BaseStore.mmdebstrapArguments(
            suite: "trixie", variant: "minbase", packages: ["ca-certificates"], architecture: nil,
            output: "/s/bases/t.tar", mirror: "https://mirror.example/debian", caBundle: "/tmp/ca.pem")
        #expect(
            args == [
                "--mode=unshare", "--variant=minbase", "--quiet", "--include=ca-certificates",
                "--aptopt=Acquire::https::CAInfo \"/tmp/ca.pem\"", "trixie", "/s/bases/t.tar",
                "https://mirror.example/debian"
            ])
        let plain = BaseStore.mmdebstrapArguments(
            suite: "trixie", variant: "minbase", packages: [], architecture: "arm64", output: "/o.tar", mirror: nil,
            caBundle: nil)
        #expect(plain == ["--mode=unshare", "--variant=minbase", "--quiet", "--arch=arm64", "trixie", "/o.tar"])
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        try pem.write(toFile: root + "/ca.pem", atomically: true, encoding: .utf8)
        chmod(root + "/ca.pem", 0o400)
        let copy = try BaseStore.namespaceReadableCopy(of: root + "/ca.pem")
        defer { unlink(copy) }
        var st = stat()
        #expect(stat(copy, &st) == 0 && st.st_mode & 0o777 == 0o644)
        #expect(FileManager.default.contents(atPath: copy) == Data(pem.utf8))
        #expect(throws: BuildEngineError.self) { _ = try BaseStore.namespaceReadableCopy(of: root + "/missing.pem") }
    }

    /// The real thing over https (deb.debian.org, skipped when unreachable): mmdebstrap's apt reads the given bundle
    /// instead of the system store (`Acquire::https::CAInfo`), so with an unrelated CA its `apt-get update` fails and
    /// nothing is assembled (with the host's bundle `mmdebstrap --simulate` succeeds: measured by hand, 5.7 s).
    @Test func mmdebstrapOverHTTPSTrustsOnlyTheGivenBundle() throws {
        let mirror = "https://deb.debian.org/debian"
        let system = "/etc/ssl/certs/ca-certificates.crt"
        guard BaseStore.inReleaseDate(mirror: mirror, suite: "trixie", caBundle: system) != nil else {
            print("skipped: \(mirror) is not reachable over https with \(system)")
            return
        }
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cert = try runHost(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                "/CN=unrelated", "-keyout", root + "/k.pem", "-out", root + "/unrelated.pem", "-days", "2"
            ])
        try #require(cert.status == 0, "\(cert.output)")
        // libcurl (the probe) trusts the bundle in addition to the system CA directory, so the probe still answers.
        #expect(BaseStore.inReleaseDate(mirror: mirror, suite: "trixie", caBundle: root + "/unrelated.pem") != nil)
        var store = BaseStore(state: StateDirectory(path: root + "/state"), identity: try SandboxIdentity.detect())
        store.caBundle = root + "/unrelated.pem"
        let e = #expect(throws: BuildEngineError.self) {
            _ = try store.debianTarball(
                suite: "trixie", variant: "essential", packages: [], mirror: mirror, log: { _ in })
        }
        #expect(e?.code == .base && e?.lastOutput?.contains("apt-get update") == true, "\(String(describing: e))")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: root + "/state/bases")) ?? []
        #expect(!left.contains { $0.hasSuffix(".tar") }, "nothing assembled: \(left)")
    }

    @Test func gitSourceAndRevisionWithoutCredentials() throws {
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(ImageBuilder.gitInfo(root + "/src") == nil, "not a repository")
        let env = [
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": root, "PATH": "/usr/bin:/bin"
        ]
        for args in [
            ["init", "-q"], ["add", "."], ["commit", "-q", "-m", "x"],
            ["remote", "add", "origin", "https://user:secret@git.example.com/acme/app.git"]
        ] {
            let r = try runHost("/usr/bin/git", ["-C", root + "/src"] + args, environment: env)
            try #require(r.status == 0, "\(args): \(r.output)")
        }
        let head = try runHost("/usr/bin/git", ["-C", root + "/src", "rev-parse", "HEAD"], environment: env).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let info = try #require(ImageBuilder.gitInfo(root + "/src"))
        #expect(info.revision == head)
        #expect(info.source == "https://git.example.com/acme/app.git")
    }
}
