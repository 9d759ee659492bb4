import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge build` inside `podman run` without `--privileged`, as a CI runner pod runs it
/// (docs/unprivileged-containers.md): the container holds ociforge with its shared libraries and the host tools it
/// calls (copied from this machine), the prepared Debian base comes in read-only, the state directory is a volume.
/// With the documented settings it builds the shell fixture and host podman runs the image; without one of them
/// the preflight refuses before any work and names the missing piece and its setting.
@Suite("Unprivileged container builds", .serialized)
struct UnprivilegedContainerTests {
    static let podman = BuildEndToEndTests.podman

    /// A root filesystem holding ociforge and the host programs it runs, each with its shared libraries.
    static func containerRoot(in dir: TempDir) throws -> String {
        let root = dir.path + "/rootfs"
        var files = [Harness.ociforge, "/bin/sh", "/bin/cp", "/bin/rm", "/bin/chmod", "/bin/ln", "/bin/mkdir"]
        for exe in files {
            let ldd = try Harness.run(["ldd", exe])
            files += ldd.stdout.split(separator: "\n").compactMap { line in
                line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first { $0.hasPrefix("/") }.map(String.init)
            }
        }
        for file in Set(files) {
            let target = root + (file == Harness.ociforge ? "/usr/local/bin/ociforge" : file)
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Harness.ok(["cp", "-L", file, target])
        }
        for d in ["tmp", "proc", "dev", "sys", "etc/ssl/certs", "work"] {
            try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
        chmod(root + "/tmp", 0o1777)
        try Harness.ok(["cp", "/etc/ssl/certs/ca-certificates.crt", root + "/etc/ssl/certs/"])
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\n".write(toFile: root + "/etc/group", atomically: true, encoding: .utf8)
        return root
    }

    /// `podman run` (no --privileged) of `ociforge build` on the shell fixture with `securityOptions`.
    static func buildInContainer(root: String, work: String, base: String, securityOptions: [String]) throws
        -> ProcessOutput
    {
        try Harness.run(
            podman + ["run", "--rm", "--network", "host"] + securityOptions.flatMap { ["--security-opt", $0] } + [
                "-v", "\(work):/work", "-v", "\(base):/base.tar:ro", "-e", "OCIFORGE_STATE_DIR=/work/state",
                "-e", "SOURCE_DATE_EPOCH=\(BuildEndToEndTests.epoch)", "--rootfs", root,
                "/usr/local/bin/ociforge", "build", "/work/app", "--base", "/base.tar", "--runtime-base", "/base.tar",
                "--cache-dir", "/work/cache", "--output", "oci-layout:/work/oci:v1", "--json", "--quiet"
            ], timeout: 900)
    }

    @Test("builds the shell fixture in podman without --privileged; without a required setting the preflight names it")
    func buildInsideUnprivilegedPodman() throws {
        let dir = try TempDir.make("unpriv")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        let root = try Self.containerRoot(in: dir)
        let work = dir.path + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o755)
        try Harness.ok(["cp", "-r", Harness.fixture("apps/hello-shell"), work + "/app"])
        // The prepared base as a rootfs tarball (a directory base must already have the sandbox's owners).
        let base = dir.path + "/base.tar"
        try Harness.ok(["tar", "-C", try DebianBase.minbaseRootfs(), "--numeric-owner", "-cf", base, "."])
        let profile = dir.path + "/seccomp.json"
        try Harness.ok([Harness.repoRoot + "/scripts/seccomp-unprivileged"])
            .write(toFile: profile, atomically: true, encoding: .utf8)

        // podman's defaults: /proc is masked and sethostname needs CAP_SYS_ADMIN. Both are named, nothing is built.
        let plain = try Self.buildInContainer(root: root, work: work, base: base, securityOptions: [])
        #expect(plain.status == 1, "\(plain)")
        #expect(plain.stderr.contains("missing: procMount, hostname"), "\(plain.stderr)")
        #expect(plain.stderr.contains("--security-opt unmask=/proc/*"), "\(plain.stderr)")
        #expect(plain.stderr.contains("sethostname"), "\(plain.stderr)")
        #expect(!plain.stderr.contains("running 1 command"), "the preflight comes before any phase")
        #expect(!FileManager.default.fileExists(atPath: work + "/oci"), "nothing is written")

        // Only the seccomp setting: the masked /proc alone is named.
        let masked = try Self.buildInContainer(
            root: root, work: work, base: base, securityOptions: ["seccomp=\(profile)"])
        #expect(masked.status == 1)
        #expect(masked.stderr.contains("missing: procMount)"), "\(masked.stderr)")

        // The documented minimum: the image is built inside the container and host podman runs it.
        let built = try Self.buildInContainer(
            root: root, work: work, base: base, securityOptions: ["unmask=/proc/*", "seccomp=\(profile)"])
        #expect(built.status == 0, "\(built.stderr.suffix(3000))")
        let report = try JSONSerialization.jsonObject(with: Data(built.stdout.utf8)) as? [String: Any] ?? [:]
        #expect((report["executed"] as? [String]) == ["runtime/user"], "\(report)")
        let ran = try BuildEndToEndTests.podmanRun(work + "/oci", tag: "v1")
        #expect(ran.stdout == "hello from ociforge (no greeting set)\n", "\(ran)")
    }
}
