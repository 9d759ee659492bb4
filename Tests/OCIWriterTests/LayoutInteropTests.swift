import Foundation
import Testing

@testable import OCIWriter

/// Assembled layouts checked by independent implementations: oci-image-tool, skopeo, umoci (all installed by
/// scripts/install-deps; the tests run as root, as umoci's unpack needs).
@Suite struct LayoutInteropTests {
    /// Two gzip layers, the second deleting a file of the first with a whiteout.
    func assembleImage(_ tmp: LayoutTempDir, tag: String) throws -> (OCILayout, AssembledImage) {
        let layout = try OCILayout.create(at: tmp.sub("layout"))
        let base = try makeLayoutTestLayer(
            in: tmp.path, name: "base",
            files: ["etc/keep.conf": "keep\n", "etc/gone.conf": "gone\n", "bin/run": "#!/bin/sh\necho run\n"],
            createdBy: "base files")
        let app = try makeLayoutTestLayer(
            in: tmp.path, name: "app",
            files: ["etc/.wh.gone.conf": "", "app/hello.txt": "hello from ociforge\n"],
            createdBy: "app files")
        let img = try ImageAssembler(
            base: .scratch(platform: .host), layers: [base, app],
            changes: ConfigChanges(
                entrypoint: ["/bin/run"], env: ["APP=1"], workingDir: "/app",
                labels: ["org.example": "yes"], exposedPorts: ["8080"]),
            destination: layout, tag: tag, environment: ["SOURCE_DATE_EPOCH": "1700000000"]
        ).assemble()
        return (layout, img)
    }

    @Test func ociImageToolValidatesAssembledLayout() throws {
        let tmp = try LayoutTempDir("interop")
        let (layout, _) = try assembleImage(tmp, tag: "v1.0")
        let r = try layoutRun(
            "/usr/bin/oci-image-tool", ["validate", "--type", "image", "--ref", "name=v1.0", layout.path])
        #expect(r.status == 0, "oci-image-tool: \(r.stdout) \(r.stderr)")
        let unknownRef = try layoutRun(
            "/usr/bin/oci-image-tool", ["validate", "--type", "image", "--ref", "name=nope", layout.path])
        #expect(unknownRef.status != 0, "the ref must select the image")
        // And it notices a corruption we introduce (the oracle is not vacuous).
        let idx = try layout.readIndex()
        try layoutFlipByte(layout.blobPath(idx.manifests[0].digest), at: 5)
        let bad = try layoutRun(
            "/usr/bin/oci-image-tool", ["validate", "--type", "image", "--ref", "name=v1.0", layout.path])
        #expect(bad.status != 0)
    }

    @Test func skopeoInspectsAndCopiesAssembledLayout() throws {
        let tmp = try LayoutTempDir("interop")
        let (layout, img) = try assembleImage(tmp, tag: "app")
        let r = try layoutRun("/usr/bin/skopeo", ["inspect", "oci:\(layout.path):app"])
        try #require(r.status == 0, "skopeo inspect: \(r.stderr)")
        let info = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(info?["Digest"] as? String == img.manifestDigest.string)
        #expect(info?["Layers"] as? [String] == img.manifest.value.layers.map(\.digest.string))
        #expect(info?["Architecture"] as? String == Platform.host.architecture)
        #expect((info?["Env"] as? [String])?.contains("APP=1") == true)

        let raw = try layoutRun("/usr/bin/skopeo", ["inspect", "--config", "--raw", "oci:\(layout.path):app"])
        #expect(raw.status == 0)
        #expect(Array(raw.stdout.utf8) == img.config.bytes)

        // skopeo copies it (verifying every blob on the way); the copy resolves and verifies with our reader.
        let copyPath = tmp.sub("copy")
        let c = try layoutRun(
            "/usr/bin/skopeo", ["copy", "--quiet", "oci:\(layout.path):app", "oci:\(copyPath):copied"])
        try #require(c.status == 0, "skopeo copy: \(c.stderr)")
        let copy = try OCILayout.open(at: copyPath)
        let resolved = try copy.resolve(tag: "copied")
        #expect(resolved.manifestDescriptor.digest == img.manifestDigest)
        let report = LayoutVerifier.verify(copy)
        #expect(report.isValid, "\(report.problems)")

        // Recompressed to zstd by skopeo: our verifier derives the same diffIDs through libzstd.
        let zPath = tmp.sub("zstd")
        let z = try layoutRun(
            "/usr/bin/skopeo",
            [
                "copy", "--quiet", "--dest-compress-format", "zstd",
                "oci:\(layout.path):app", "oci:\(zPath):z"
            ])
        try #require(z.status == 0, "skopeo copy zstd: \(z.stderr)")
        let zLayout = try OCILayout.open(at: zPath)
        let zImage = try zLayout.resolve(tag: "z")
        #expect(zImage.manifest.value.layers.allSatisfy { $0.mediaType == .ociLayerZstd })
        #expect(zImage.config.value.rootfs.diffIDs == img.config.value.rootfs.diffIDs)
        let zReport = LayoutVerifier.verify(zLayout)
        #expect(zReport.isValid, "\(zReport.problems)")
        #expect(zReport.layersChecked == 2)
    }

    @Test func umociUnpacksAssembledLayoutWithWhiteouts() throws {
        let tmp = try LayoutTempDir("interop")
        let (layout, _) = try assembleImage(tmp, tag: "app")
        let bundle = tmp.sub("bundle")
        let r = try layoutRun("/usr/bin/umoci", ["unpack", "--image", "\(layout.path):app", bundle])
        try #require(r.status == 0, "umoci unpack: \(r.stderr)")
        let rootfs = bundle + "/rootfs"
        #expect(try layoutReadText(rootfs + "/etc/keep.conf") == "keep\n")
        #expect(try layoutReadText(rootfs + "/app/hello.txt") == "hello from ociforge\n")
        #expect(
            !FileManager.default.fileExists(atPath: rootfs + "/etc/gone.conf"), "the whiteout must delete etc/gone.conf"
        )
        #expect(!FileManager.default.fileExists(atPath: rootfs + "/etc/.wh.gone.conf"))
        // umoci's runtime config carries our image config.
        let cfg =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json")))
            as? [String: Any]
        let process = cfg?["process"] as? [String: Any]
        #expect(process?["args"] as? [String] == ["/bin/run"])
        #expect(process?["cwd"] as? String == "/app")
        #expect((process?["env"] as? [String])?.contains("APP=1") == true)
    }

    /// skopeo rewrites our image with Docker schema 2 media types; we read and verify that, then build on it as a
    /// base: the result is pure OCI and passes the external tools.
    @Test func dockerSchema2FromSkopeoAsBase() throws {
        let tmp = try LayoutTempDir("interop")
        let (layout, img) = try assembleImage(tmp, tag: "app")
        let dockerPath = tmp.sub("docker")
        let c = try layoutRun(
            "/usr/bin/skopeo", ["copy", "--quiet", "--format", "v2s2", "oci:\(layout.path):app", "oci:\(dockerPath):d"])
        try #require(c.status == 0, "skopeo copy --format v2s2: \(c.stderr)")
        let docker = try OCILayout.open(at: dockerPath)
        let base = try docker.resolve(tag: "d")
        #expect(base.manifestDescriptor.mediaType == .dockerManifest)
        #expect(base.manifest.value.config.mediaType == .dockerConfig)
        #expect(base.manifest.value.layers.allSatisfy { $0.mediaType == .dockerLayerGzip })
        #expect(base.config.value.rootfs.diffIDs == img.config.value.rootfs.diffIDs)
        let dockerReport = LayoutVerifier.verify(docker)
        #expect(dockerReport.isValid, "\(dockerReport.problems)")
        #expect(dockerReport.layersChecked == 2)

        let out = try OCILayout.create(at: tmp.sub("out"))
        let extra = try makeLayoutTestLayer(in: tmp.path, name: "extra", files: ["extra.txt": "on a docker base\n"])
        let built = try ImageAssembler(
            base: .layout(docker, tag: "d", platform: nil), layers: [extra],
            changes: ConfigChanges(cmd: ["/bin/run", "extra"]), destination: out, tag: "oci",
            environment: [:]
        ).assemble()
        #expect(built.manifest.value.layers.map(\.mediaType) == [.ociLayerGzip, .ociLayerGzip, .ociLayerGzip])
        #expect(built.manifest.value.layers.prefix(2).map(\.digest) == base.manifest.value.layers.map(\.digest))
        #expect(LayoutVerifier.verify(out).isValid)
        let v = try layoutRun("/usr/bin/oci-image-tool", ["validate", "--type", "image", "--ref", "name=oci", out.path])
        #expect(v.status == 0, "oci-image-tool: \(v.stdout) \(v.stderr)")
        let bundle = tmp.sub("bundle")
        let u = try layoutRun("/usr/bin/umoci", ["unpack", "--image", "\(out.path):oci", bundle])
        try #require(u.status == 0, "umoci unpack: \(u.stderr)")
        #expect(try layoutReadText(bundle + "/rootfs/extra.txt") == "on a docker base\n")
        #expect(try layoutReadText(bundle + "/rootfs/app/hello.txt") == "hello from ociforge\n")
        #expect(!FileManager.default.fileExists(atPath: bundle + "/rootfs/etc/gone.conf"))
    }

    @Test func imagesWrittenByUmociAreReadAndVerified() throws {
        let tmp = try LayoutTempDir("interop")
        let path = tmp.sub("umoci")
        let initR = try layoutRun("/usr/bin/umoci", ["init", "--layout", path])
        try #require(initR.status == 0, "umoci init: \(initR.stderr)")
        let newR = try layoutRun("/usr/bin/umoci", ["new", "--image", "\(path):base"])
        try #require(newR.status == 0, "umoci new: \(newR.stderr)")
        let bundle = tmp.sub("b")
        #expect(try layoutRun("/usr/bin/umoci", ["unpack", "--image", "\(path):base", bundle]).status == 0)
        try layoutWriteText(bundle + "/rootfs/from-umoci.txt", "umoci layer\n")
        let repack = try layoutRun("/usr/bin/umoci", ["repack", "--image", "\(path):base", bundle])
        try #require(repack.status == 0, "umoci repack: \(repack.stderr)")

        let layout = try OCILayout.open(at: path)
        let base = try layout.resolve(tag: "base")
        #expect(base.manifest.value.layers.count == 1)
        #expect(LayoutVerifier.verify(layout).isValid)
        // Assemble on top of umoci's image into the same layout, then let umoci unpack ours.
        let layer = try makeLayoutTestLayer(in: tmp.path, name: "ours", files: ["ours.txt": "ours\n"])
        _ = try ImageAssembler(
            base: .layout(layout, tag: "base", platform: nil), layers: [layer],
            changes: ConfigChanges(cmd: ["/bin/true"]), destination: layout, tag: "ours", environment: [:]
        ).assemble()
        let report = LayoutVerifier.verify(layout)
        #expect(report.isValid, "\(report.problems)")
        let out = tmp.sub("out")
        let u = try layoutRun("/usr/bin/umoci", ["unpack", "--image", "\(path):ours", out])
        try #require(u.status == 0, "umoci unpack: \(u.stderr)")
        #expect(try layoutReadText(out + "/rootfs/from-umoci.txt") == "umoci layer\n")
        #expect(try layoutReadText(out + "/rootfs/ours.txt") == "ours\n")
    }
}
