import Foundation
import Testing

@testable import OCIWriter

/// Cross-checks with skopeo against a real docker-registry, on real OCI layouts, and docker-archive interop.
@Suite("Registry and docker-archive interop with skopeo", .timeLimit(.minutes(10)))
struct RegistryInteropTests {
    static func skopeo(_ args: [String]) throws -> String {
        let (st, out) = try run("/usr/bin/skopeo", args)
        guard st == 0 else { throw OCIWriterError(.io, "skopeo \(args.joined(separator: " ")) failed: \(out)") }
        return out
    }

    static func inspectDigest(_ target: String) throws -> String {
        let out = try skopeo(["inspect", "--tls-verify=false", target])
        let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        return obj["Digest"] as! String
    }

    @Test func ociforgePushSkopeoPullAndBack() async throws {
        let reg = try TestRegistry()
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let src = try DirectoryImageStore(try dir.sub("src"))
        let image = try TestImages.make(in: src, tag: "v1", layerSizes: [5_000, 2_000_000], seed: 21)
        let client = try RegistryClient(registry: reg.host, credential: nil, options: RegistryRoundTripTests.options())

        // ociforge pushes, skopeo pulls: identical manifest digest.
        try await client.push(from: src, tag: "v1", to: try ImageReference(parsing: "\(reg.host)/interop/a:v1"))
        _ = try Self.skopeo([
            "copy", "--src-tls-verify=false", "docker://\(reg.host)/interop/a:v1", "oci:\(dir.path)/skopeo-out:v1"
        ])
        #expect(try Self.inspectDigest("oci:\(dir.path)/skopeo-out:v1") == image.digest.string)
        #expect(try Self.inspectDigest("docker://\(reg.host)/interop/a:v1") == image.digest.string)

        // skopeo pushes, ociforge pulls into a real OCI layout that passes verification.
        _ = try Self.skopeo([
            "copy", "--dest-tls-verify=false", "oci:\(src.root):v1", "docker://\(reg.host)/interop/b:v2"
        ])
        let layout = try OCILayout.create(at: dir.path + "/pulled")
        let pulled = try await client.pull(try ImageReference(parsing: "\(reg.host)/interop/b:v2"), into: layout)
        #expect(pulled.digest == image.digest)
        let report = LayoutVerifier.verify(layout, tag: "v2")
        #expect(report.isValid, "\(report.text())")
        #expect(try layout.resolve(tag: "v2").manifestDescriptor.digest == image.digest)

        // A Docker schema 2 image (skopeo converts on push): pulled with its Docker media types and exact bytes.
        _ = try Self.skopeo([
            "copy", "--dest-tls-verify=false", "--format", "v2s2", "oci:\(src.root):v1",
            "docker://\(reg.host)/interop/docker:v1"
        ])
        let dockerDigest = try Self.inspectDigest("docker://\(reg.host)/interop/docker:v1")
        let dl = try OCILayout.create(at: dir.path + "/docker-pulled")
        let dd = try await client.pull(try ImageReference(parsing: "\(reg.host)/interop/docker:v1"), into: dl)
        #expect(dd.digest.string == dockerDigest)
        #expect(dd.mediaType == .dockerManifest)
        #expect(dd.platform == Platform.host)
        #expect(LayoutVerifier.verify(dl, tag: "v1").isValid, "\(LayoutVerifier.verify(dl, tag: "v1").text())")

        // Push from the OCILayout to a new repository of the same registry: mounts, then skopeo agrees.
        var o = RegistryRoundTripTests.options()
        o.mountFrom = ["interop/b"]
        let mounter = try RegistryClient(registry: reg.host, credential: nil, options: o)
        try await mounter.push(from: layout, tag: "v2", to: try ImageReference(parsing: "\(reg.host)/interop/c:v3"))
        #expect(await mounter.stats.blobsMounted == 3)
        #expect(try Self.inspectDigest("docker://\(reg.host)/interop/c:v3") == image.digest.string)
    }

    @Test func dockerArchiveWriteAndRead() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let src = try DirectoryImageStore(try dir.sub("src"))
        let image = try TestImages.make(in: src, tag: "v1", layerSizes: [3_000, 400_000], seed: 31)
        let layout = try OCILayout.open(at: src.root)
        let archive = dir.path + "/image.tar"
        try DockerArchive.write(from: layout, tag: "v1", to: archive, repoTag: "example/app:1")

        // skopeo reads it as a docker-archive and finds our config and name.
        let raw = try Self.skopeo(["inspect", "--raw", "docker-archive:\(archive)"])
        let manifest = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as! [String: Any]
        let m = try CanonicalJSON.decode(
            Manifest.self, from: src.readBlob(image.digest, maxBytes: 1 << 20), source: "m")
        #expect((manifest["config"] as? [String: Any])?["digest"] as? String == m.config.digest.string)
        let (st, entries) = try run("/bin/tar", ["-xOf", archive, "manifest.json"])
        #expect(st == 0)
        #expect(entries.contains("\"RepoTags\":[\"docker.io/example/app:1\"]"), "\(entries)")
        _ = try Self.skopeo(["copy", "docker-archive:\(archive)", "oci:\(dir.path)/from-archive:x"])

        // Reading our archive back gives the very same OCI manifest.
        let back = try OCILayout.create(at: dir.path + "/back")
        let d = try DockerArchive.read(archive, reference: "example/app:1", into: back, tag: "back")
        #expect(d.digest == image.digest)
        #expect(LayoutVerifier.verify(back, tag: "back").isValid)

        // A classic archive written by skopeo (uncompressed layer.tar files) reads too.
        let classic = dir.path + "/classic.tar"
        _ = try Self.skopeo(["copy", "oci:\(src.root):v1", "docker-archive:\(classic):other/name:7"])
        let fromClassic = try OCILayout.create(at: dir.path + "/classic")
        let cd = try DockerArchive.read(classic, reference: nil, into: fromClassic, tag: "c")
        let resolved = try fromClassic.resolve(tag: "c")
        #expect(resolved.manifest.value.config.digest != Digest.of([]))
        #expect(resolved.manifest.value.layers.allSatisfy { $0.mediaType == .ociLayer })
        #expect(resolved.config.value.rootfs.diffIDs == resolved.manifest.value.layers.map(\.digest))
        #expect(
            LayoutVerifier.verify(fromClassic, tag: "c").isValid,
            "\(LayoutVerifier.verify(fromClassic, tag: "c").text())")
        _ = cd

        // Errors: a missing name and a non-archive.
        let e = try #require(throws: OCIWriterError.self) {
            try DockerArchive.read(archive, reference: "nope:1", into: back, tag: "z")
        }
        #expect(e.message.contains("no image named 'nope:1'") && e.message.contains("example/app"), "\(e.message)")
        try Data("not a tar".utf8 + [UInt8](repeating: 1, count: 600)).write(
            to: URL(fileURLWithPath: dir.path + "/junk.tar"))
        let e2 = try #require(throws: OCIWriterError.self) {
            try DockerArchive.read(dir.path + "/junk.tar", reference: nil, into: back, tag: "z")
        }
        #expect(e2.message.contains("not a tar archive"))
        #expect(
            (try? FileManager.default.contentsOfDirectory(atPath: back.blobsDirectory))?.allSatisfy {
                !$0.hasPrefix(".")
            } ?? false)
    }
}
