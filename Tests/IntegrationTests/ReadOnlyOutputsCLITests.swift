import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16, read-only outputs: a build whose output layout, layer cache or state directory is on a read-only
/// mount (or, for a user other than root, a directory it may not write) fails before any work, naming the
/// directory and the flag or variable that moves it; nothing is created anywhere. The same build then succeeds
/// with writable directories.
@Suite(.timeLimit(.minutes(10)), .enabled(if: geteuid() == 0, "bind mounts need root"))
struct ReadOnlyOutputsCLITests {
    static func listing(_ root: String) -> [String] { FullDiskCLITests.listing(root) }

    /// A temporary directory (readable by the sandbox's root and other users) with `context/`: a scratch
    /// Dockerfile copying one file.
    static func contextDirectory(_ label: String) throws -> (tmp: TempDir, context: String) {
        let tmp = try TempDir.make(label)
        chmod(tmp.path, 0o755)
        let context = tmp.path + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM scratch\nCOPY hello.txt /hello.txt\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try "hello\n".write(toFile: context + "/hello.txt", atomically: true, encoding: .utf8)
        for (p, mode) in [(context, 0o755), (context + "/Dockerfile", 0o644), (context + "/hello.txt", 0o644)] {
            chmod(p, mode_t(mode))
        }
        return (tmp, context)
    }

    @Test func readOnlyOutputCacheAndStateDirectoriesFailBeforeAnyWork() throws {
        let (tmp, context) = try Self.contextDirectory("readonly")
        defer { tmp.remove() }

        // A read-only bind mount holding an existing (empty) layout directory.
        let ro = tmp.path + "/ro"
        try FileManager.default.createDirectory(atPath: ro + "/layout", withIntermediateDirectories: true)
        try Harness.ok(["mount", "--bind", ro, ro])
        defer { _ = try? Harness.run(["umount", "-l", ro]) }
        try Harness.ok(["mount", "-o", "remount,bind,ro", ro])
        let roBefore = Self.listing(ro)

        let out = tmp.path + "/out", cache = tmp.path + "/cache", state = tmp.path + "/state"
        let env = ["HOME": tmp.path, "OCIFORGE_STATE_DIR": state, "SOURCE_DATE_EPOCH": "1700000000"]
        func build(output: String, cache: String, state: String) throws -> ProcessOutput {
            var e = env
            e["OCIFORGE_STATE_DIR"] = state
            return try Harness.run(
                [
                    Harness.ociforge, "dockerfile", "build", context, "-q", "--cache-dir", cache,
                    "--output", "oci-layout:\(output):x"
                ], environment: e)
        }
        let cases: [(what: String, output: String, cache: String, state: String, path: String, remedy: String)] = [
            ("existing output layout", ro + "/layout", cache, state, ro + "/layout", "--output"),
            ("new output layout", ro + "/new/layout", cache, state, ro + "/new/layout", "--output"),
            ("cache", out, ro + "/cache", state, ro + "/cache", "--cache-dir"),
            ("state directory", out, cache, ro + "/state", ro + "/state", "OCIFORGE_STATE_DIR")
        ]
        for c in cases {
            let r = try build(output: c.output, cache: c.cache, state: c.state)
            #expect(r.status != 0, "\(c.what): \(r)")
            #expect(r.stderr.contains(c.path), "\(c.what): the error does not name \(c.path): \(r.stderr)")
            #expect(r.stderr.contains(c.remedy), "\(c.what): the error does not name \(c.remedy): \(r.stderr)")
            #expect(r.stderr.contains("Read-only file system"), "\(c.what): \(r.stderr)")
            // Before any work: nothing was created, on the read-only mount or anywhere else.
            #expect(Self.listing(ro) == roBefore)
            for p in [out, cache, state] {
                #expect(!FileManager.default.fileExists(atPath: p), "\(c.what): \(p) was created")
            }
        }

        // Writable directories: the same build works.
        let good = try build(output: out, cache: cache, state: state)
        #expect(good.status == 0, "\(good)")
        #expect(try ConcurrencyCLITests.tags(out) == ["x"])
    }

    /// Without root, permissions (not a read-only mount) make a directory unwritable: `nobody` building into a
    /// directory owned by root.
    @Test func unwritableOutputForAnotherUserFailsBeforeAnyWork() throws {
        let (tmp, context) = try Self.contextDirectory("unwritable")
        defer { tmp.remove() }
        let mine = tmp.path + "/mine", rootOwned = tmp.path + "/root-owned"
        try FileManager.default.createDirectory(atPath: rootOwned, withIntermediateDirectories: true)
        chmod(rootOwned, 0o755)
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)
        chown(mine, 65534, 65534)
        let r = try Harness.run(
            [
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", Harness.ociforge, "dockerfile",
                "build", context, "-q", "--cache-dir", mine + "/cache", "--output", "oci-layout:\(rootOwned)/layout:x"
            ], environment: ["HOME": mine, "OCIFORGE_STATE_DIR": mine + "/state", "XDG_STATE_HOME": mine])
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains(rootOwned) && r.stderr.contains("--output"), "\(r.stderr)")
        #expect(r.stderr.contains("Permission denied"), "\(r.stderr)")
        #expect(Self.listing(rootOwned).isEmpty)
        #expect(Self.listing(mine).isEmpty, "work started: \(Self.listing(mine))")
    }

    /// A compressed local `ADD` is decompressed within the extraction limits: 1 GiB of zeros in a zstd tar is
    /// refused (naming the archive and the limit) and no decompressed copy stays in the cache's scratch area.
    @Test func zipBombAddIsRefusedNamingTheLimit() throws {
        let tmp = try TempDir.make("add-bomb")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let context = tmp.path + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM scratch\nADD bomb.tar.zst /data/\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let made = try Harness.run(
            [
                "/bin/sh", "-c",
                "cd \"$0\" && truncate -s 1G zeros && tar --owner=0 --group=0 -cf - zeros | zstd -q -1 -T1 > \"$1\" && rm zeros",
                tmp.path, context + "/bomb.tar.zst"
            ])
        try #require(made.status == 0, "\(made)")
        let cache = tmp.path + "/cache"
        let r = try Harness.run(
            [
                Harness.ociforge, "dockerfile", "build", context, "-q", "--cache-dir", cache,
                "--output", "oci-layout:\(tmp.path)/out:x"
            ], environment: ["HOME": tmp.path, "OCIFORGE_STATE_DIR": tmp.path + "/state"])
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains("line 2") && r.stderr.contains("bomb.tar.zst"), "\(r.stderr)")
        #expect(r.stderr.contains("maxExpansionRatio"), "\(r.stderr)")
        print("ADD bomb refused:", r.stderr)
        let scratch = Self.listing(cache).filter { $0.hasPrefix("tmp/") && $0.contains("add-") }
        #expect(scratch.isEmpty, "decompressed data left in the cache: \(scratch)")
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/out/index.json"))
    }
}
