import COCISys
import Foundation
import OCIWriter
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Interop, must-show 3 of the foundation issue: a two-layer image written by ociforge (every entry type in the
/// first layer; deletions, an opaque directory and additions in the second) unpacked by umoci — and by
/// `ociforge image unpack` — gives exactly the expected tree (type, mode, owner, size, content, link target,
/// hard links, devices, xattrs).
@Suite struct UmociTreeTests {
    static func write(_ path: String, _ content: String, mode: mode_t = 0o644) throws {
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
    }

    static func mkdirp(_ path: String, mode: mode_t = 0o755) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, mode)
    }

    /// The lower tree: one of every entry type ociforge writes.
    static func makeLowerTree(_ src: String) throws {
        try mkdirp(src)
        for d in ["etc", "bin", "old", "replaced/sub", "data", "dev"] { try mkdirp(src + "/" + d) }
        try mkdirp(src + "/tmp", mode: 0o1777)
        try write(src + "/etc/hello.txt", "hello\n")
        try write(src + "/bin/suid", "#!/bin/sh\n", mode: 0o4755)
        try write(src + "/bin/sgid", "#!/bin/sh\n", mode: 0o2755)
        try write(src + "/data/owned", "owned by 1234:5678\n", mode: 0o640)
        chown(src + "/data/owned", 1234, 5678)
        chown(src + "/data", 1234, 5678)
        chmod(src + "/data", 0o750)
        let long = String(repeating: "n", count: 120) + "/" + String(repeating: "m", count: 120)
        try mkdirp(src + "/long/" + long)
        try write(src + "/long/" + long + "/file-with-a-long-path.txt", "long\n")
        symlink("hello.txt", src + "/etc/link")
        symlink("/etc/hello.txt", src + "/abs-link")
        link(src + "/etc/hello.txt", src + "/etc/hard")
        mkfifo(src + "/fifo", 0o600)
        mknod(src + "/dev/null-copy", S_IFCHR | 0o666, __dev_t(ocisys_makedev(1, 3)))
        try write(src + "/xattr.txt", "with an xattr\n")
        try Harness.ok([
            "python3", "-c", "import os,sys; os.setxattr(sys.argv[1], 'user.comment', b'ociforge test')",
            src + "/xattr.txt"
        ])
        try write(src + "/old/gone.txt", "deleted by layer 2\n")
        try write(src + "/old/kept.txt", "kept\n")
        try write(src + "/replaced/a.txt", "hidden by the opaque marker\n")
        try write(src + "/replaced/sub/b.txt", "hidden too\n")
    }

    @Test func umociAndOciforgeUnpackGiveTheExpectedTree() throws {
        let tmp = try TempDir.make("umoci-tree")
        defer { tmp.remove() }
        let src = tmp.path + "/src", upper = tmp.path + "/upper", expected = tmp.path + "/expected"
        try Self.makeLowerTree(src)
        try Self.mkdirp(upper + "/replaced", mode: 0o700)
        try Self.write(upper + "/replaced/new.txt", "new after opaque\n")
        try Self.write(upper + "/added.txt", "added by layer 2\n", mode: 0o600)

        // The expected result, made with plain file operations.
        try Harness.ok(["cp", "-a", src, expected])
        try Harness.ok(["rm", "-rf", expected + "/old/gone.txt", expected + "/replaced"])
        try Harness.ok(["cp", "-a", upper + "/replaced", expected + "/replaced"])
        try Harness.ok(["cp", "-a", upper + "/added.txt", expected + "/added.txt"])

        let layout = try OCILayout.create(at: tmp.path + "/layout")
        var options = LayerWriteOptions()
        options.sourceDateEpoch = 1_700_000_000
        let l1 = layout.temporaryBlobPath(label: "l1"), l2 = layout.temporaryBlobPath(label: "l2")
        let r1 = try LayerWriter.write(directory: src, to: l1, options: options)
        let r2 = try LayerWriter.write(
            changes: ChangeSet([
                .delete(path: "old/gone.txt"),
                .add(path: "replaced", source: upper + "/replaced"),
                .opaque(directory: "replaced"),
                .add(path: "replaced/new.txt", source: upper + "/replaced/new.txt"),
                .add(path: "added.txt", source: upper + "/added.txt")
            ]), to: l2, options: options)
        let image = try ImageAssembler(
            base: .scratch(platform: .host),
            layers: [r1, r2].enumerated().map { i, r in
                LayerInput(
                    file: i == 0 ? l1 : l2, mediaType: r.mediaType, digest: r.digest, size: r.size,
                    diffID: r.diffID, createdBy: "layer \(i)", consumeFile: true)
            },
            destination: layout, tag: "tree", environment: ["SOURCE_DATE_EPOCH": "1700000000"]
        ).assemble()
        #expect(image.manifest.value.layers.count == 2)

        let want = try TreeManifest.capture(root: expected)

        try Harness.ok(["umoci", "unpack", "--image", layout.path + ":tree", tmp.path + "/bundle"])
        let umoci = try TreeManifest.capture(root: tmp.path + "/bundle/rootfs")
        #expect(want.diff(umoci) == [], "umoci's tree differs from the expected one")

        try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(layout.path):tree", tmp.path + "/unpacked"])
        let ours = try TreeManifest.capture(root: tmp.path + "/unpacked")
        #expect(want.diff(ours) == [], "ociforge image unpack's tree differs from the expected one")
        // Sanity: the comparison sees what matters.
        #expect(want.lines.contains { $0.hasPrefix("/bin/suid file mode=4755") })
        #expect(want.lines.contains { $0.hasPrefix("/dev/null-copy char") })
        #expect(want.lines.contains { $0.contains("xattr.user.comment=") })
        #expect(!want.lines.contains { $0.hasPrefix("/old/gone.txt") })
    }
}

/// A real Debian minbase tree (8,700+ entries: setuid binaries, hard links, symlinks, device-free /dev) through
/// ociforge's writer, then unpacked by umoci and by ociforge: both give back the source tree exactly.
@Suite struct DebianRoundTripTests {
    @Test func minbaseRoundTripsThroughUmociAndOciforge() throws {
        let rootfs = try DebianBase.minbaseRootfs()
        let tmp = try TempDir.make("debian-roundtrip")
        defer { tmp.remove() }
        let layout = tmp.path + "/layout"
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", rootfs,
            "--output", "oci-layout:\(layout):minbase"
        ])
        let want = try TreeManifest.capture(root: rootfs)
        #expect(want.lines.count > 5000)

        try Harness.ok(["umoci", "unpack", "--image", layout + ":minbase", tmp.path + "/bundle"])
        let umoci = try TreeManifest.capture(root: tmp.path + "/bundle/rootfs")
        let d1 = want.diff(umoci)
        #expect(d1.isEmpty, "umoci differs: \(d1.prefix(20).joined(separator: "\n"))")

        try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(layout):minbase", tmp.path + "/ours"])
        let ours = try TreeManifest.capture(root: tmp.path + "/ours")
        let d2 = want.diff(ours)
        #expect(d2.isEmpty, "ociforge unpack differs: \(d2.prefix(20).joined(separator: "\n"))")
    }
}
