import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16 must-show 4: a disk that fills up during a layer write, an image assembly, a pull and a build-cache
/// store. On a 4 MiB tmpfs: the command fails with a message saying the disk is full, the image written before
/// is intact (`image verify`), and no temporary file is left anywhere on the disk.
@Suite(.timeLimit(.minutes(10)), .enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
struct FullDiskCLITests {
    /// Every path under `root` (relative), sorted.
    static func listing(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
    }

    static func expectDiskFull(_ r: ProcessOutput, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status != 0, "\(what) should fail on a full disk", sourceLocation: sourceLocation)
        #expect(
            r.stderr.contains("No space left on device") && r.stderr.contains("the filesystem is full"),
            "\(what): unclear error: \(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func fullDiskLeavesThePreviousImageAndNoTemporaryFiles() throws {
        let tmp = try TempDir.make("fulldisk")
        defer { tmp.remove() }
        chmod(tmp.path, 0o755)
        let disk = tmp.path + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try Harness.ok(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", disk])
        defer { _ = try? Harness.run(["umount", "-l", disk]) }
        let env = [
            "HOME": tmp.path, "DOCKER_CONFIG": tmp.path + "/docker", "REGISTRY_AUTH_FILE": "",
            "OCIFORGE_STATE_DIR": tmp.path + "/state", "SOURCE_DATE_EPOCH": "1700000000"
        ]
        func ociforge(_ args: [String]) throws -> ProcessOutput {
            try Harness.run([Harness.ociforge] + args, environment: env)
        }

        // 6 MiB of incompressible data: more than the whole disk.
        let big = tmp.path + "/big"
        try FileManager.default.createDirectory(atPath: big, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        try Data((0..<(6 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(
            to: URL(fileURLWithPath: big + "/random.bin"))

        // The previous image, on the small disk.
        let layout = disk + "/layout"
        let good = try AssembleInteropTests.assembleDemo(layout, tag: "good")
        let before = Self.listing(disk)

        // 1. A layer write (`layer create`) that fills the disk.
        Self.expectDiskFull(try ociforge(["layer", "create", big, "-o", disk + "/layer.tar.gz"]), "layer create")
        #expect(Self.listing(disk) == before, "layer create left files: \(Set(Self.listing(disk)).subtracting(before))")

        // 2. An image assembly into the existing layout.
        Self.expectDiskFull(
            try ociforge([
                "image", "assemble", "--base", "scratch", "--layer-dir", big + ":/data",
                "--output", "oci-layout:\(layout):big"
            ]), "image assemble")
        #expect(
            Self.listing(disk) == before, "image assemble left files: \(Set(Self.listing(disk)).subtracting(before))")

        // 3. A pull from the loopback registry into the existing layout.
        let reg = try LocalRegistry(dir: tmp.path + "/registry")
        defer { reg.stop() }
        let source = tmp.path + "/source"
        try Harness.ok(
            [
                Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", big + ":/data",
                "--output", "oci-layout:\(source):big"
            ], environment: env)
        try Harness.ok(
            [Harness.ociforge, "image", "push", "oci-layout:\(source):big", "\(reg.host)/full/big:v1"], environment: env
        )
        Self.expectDiskFull(
            try ociforge(["image", "pull", "\(reg.host)/full/big:v1", "oci-layout:\(layout):pulled"]), "image pull")
        // Blobs that were complete and verified before the disk filled stay (content-addressed: a retry reuses
        // them; `image verify` below re-hashes every blob of the layout); nothing else may appear.
        let added = Set(Self.listing(disk)).subtracting(before)
        #expect(
            added.allSatisfy { $0.hasPrefix("layout/blobs/sha256/") && !$0.contains(".ociforge-tmp-") },
            "image pull left files: \(added)")

        // 4. A build whose layer cache is on the full disk (a scratch Dockerfile: no sandbox phase).
        let context = tmp.path + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM scratch\nCOPY random.bin /random.bin\n".write(
            toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        // 3 MiB: the staged copy fits on the 4 MiB disk, the layer blob written next to it does not.
        let data = try Data(contentsOf: URL(fileURLWithPath: big + "/random.bin"))
        try data.prefix(3 << 20).write(to: URL(fileURLWithPath: context + "/random.bin"))
        let cache = disk + "/cache"
        let small = try ociforge([
            "dockerfile", "build", tmp.path + "/context", "--cache-dir", cache, "-q",
            "--output", "oci-layout:\(tmp.path)/built:x"
        ])
        Self.expectDiskFull(small, "dockerfile build (cache store)")
        print("full disk error (build):", small.stderr)
        let leftovers = Self.listing(cache).filter {
            $0.contains(".ociforge-tmp-") || $0.hasPrefix("tmp/") || $0.hasPrefix("trees/")
                || ($0.hasPrefix("entries/") && $0.hasSuffix(".json"))
        }
        #expect(leftovers.isEmpty, "the cache holds partial entries or temporary files: \(leftovers)")

        // The previous image is intact and still the only tag.
        let verify = try ociforge(["image", "verify", "oci-layout:\(layout)"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let inspect = try ociforge(["image", "inspect", "oci-layout:\(layout):good", "--json"])
        #expect(inspect.status == 0 && inspect.stdout.contains(good), "\(inspect.stdout)\(inspect.stderr)")
        #expect(try ConcurrencyCLITests.tags(layout) == ["good"])
    }
}
