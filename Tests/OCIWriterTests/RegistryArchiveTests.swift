import Foundation
import Testing

@testable import OCIWriter

/// docker-archive files holding several images: writing every tag of a layout, choosing by name or `@N` on read.
@Suite("docker-archive with several images")
struct RegistryArchiveTests {
    struct Entry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    static func manifestJSON(_ archive: String) throws -> [Entry] {
        let (st, out) = try run("/bin/tar", ["-xOf", archive, "manifest.json"])
        #expect(st == 0, "\(out)")
        return try JSONDecoder().decode([Entry].self, from: Data(out.utf8))
    }

    /// Three tags over two distinct images (`one` and `same-as-one` are the same manifest).
    static func layout(_ dir: LayoutTempDir) throws -> (OCILayout, AssembledImage, AssembledImage) {
        let layout = try OCILayout.create(at: dir.sub("layout"))
        let one = try makeLayoutTestImage(layout, tag: "one", work: dir.path, content: "first image")
        let two = try makeLayoutTestImage(layout, tag: "two", work: dir.path, content: "second image")
        try layout.tag(one.manifestDescriptor, as: "same-as-one")
        return (layout, one, two)
    }

    @Test func allTagsGroupsByManifestAndReadsBackByNameOrIndex() throws {
        let dir = try LayoutTempDir("archive-multi")
        let (layout, one, two) = try Self.layout(dir)
        let archive = dir.sub("multi.tar")
        let written = try DockerArchive.writeAllTags(from: layout, to: archive, repository: "example.com/team/app")
        #expect(written.count == 3)

        let entries = try Self.manifestJSON(archive)
        #expect(entries.count == 2)
        #expect(entries[0].RepoTags == ["example.com/team/app:one", "example.com/team/app:same-as-one"])
        #expect(entries[1].RepoTags == ["example.com/team/app:two"])
        #expect(entries[0].Config == "blobs/sha256/" + one.configDigest.hex)
        #expect(entries[1].Layers == two.manifest.value.layers.map { "blobs/sha256/" + $0.digest.hex })
        #expect(try DockerArchive.list(archive) == entries.map { $0.RepoTags ?? [] })
        // Each blob once, even when images share it.
        let (_, names) = try run("/bin/tar", ["-tf", archive])
        let blobNames = names.split(separator: "\n").filter { $0.hasPrefix("blobs/sha256/") && $0.count > 14 }
        #expect(blobNames.count == Set(blobNames).count)
        // The archive is also an OCI layout whose index names every image.
        let (_, idx) = try run("/bin/tar", ["-xOf", archive, "index.json"])
        let index = try CanonicalJSON.decode(ImageIndex.self, from: Array(idx.utf8), source: "index.json")
        #expect(index.manifests.count == 3)

        let back = try OCILayout.create(at: dir.sub("back"))
        #expect(
            try DockerArchive.read(archive, reference: "example.com/team/app:two", into: back, tag: "b2").digest
                == two.manifestDigest)
        #expect(try DockerArchive.read(archive, reference: "@0", into: back, tag: "b0").digest == one.manifestDigest)
        #expect(try DockerArchive.read(archive, reference: "@1", into: back, tag: "b1").digest == two.manifestDigest)
        #expect(
            try DockerArchive.read(archive, reference: "example.com/team/app:same-as-one", into: back, tag: "bs").digest
                == one.manifestDigest)
        #expect(LayoutVerifier.verify(back, tag: "b1").isValid)

        // No choice with several images, an index past the end, a malformed index: errors naming the choices.
        let e = try #require(throws: OCIWriterError.self) {
            try DockerArchive.read(archive, reference: nil, into: back, tag: "x")
        }
        #expect(
            e.message.contains("holds 2 images") && e.message.contains("@1 example.com/team/app:two"), "\(e.message)")
        let e2 = try #require(throws: OCIWriterError.self) {
            try DockerArchive.read(archive, reference: "@2", into: back, tag: "x")
        }
        #expect(e2.code == .notFound && e2.message.contains("no image @2"), "\(e2.message)")
        #expect(throws: OCIWriterError.self) { try DockerArchive.read(archive, reference: "@x", into: back, tag: "x") }
        #expect(throws: OCIWriterError.self) { try ImageLocation(parsing: "docker-archive:/tmp/a.tar:@-1") }
        #expect(
            try ImageLocation(parsing: "docker-archive:/tmp/a.tar:@3")
                == .dockerArchive(path: "/tmp/a.tar", reference: "@3"))
    }

    @Test func readAllImportsEveryImageAndRoundTripsByteForByte() throws {
        let dir = try LayoutTempDir("archive-readall")
        let (layout, one, two) = try Self.layout(dir)
        let archive = dir.sub("multi.tar")
        try DockerArchive.writeAllTags(from: layout, to: archive, repository: "example.com/team/app")

        let back = try OCILayout.create(at: dir.sub("back"))
        let imported = try DockerArchive.readAll(archive, into: back)
        #expect(imported.map(\.descriptor.digest) == [one.manifestDigest, two.manifestDigest])
        #expect(
            imported.map(\.names) == [
                ["example.com/team/app:one", "example.com/team/app:same-as-one"], ["example.com/team/app:two"]
            ])
        #expect(
            try back.tags() == [
                "example.com/team/app:one", "example.com/team/app:same-as-one", "example.com/team/app:two"
            ])
        #expect(LayoutVerifier.verify(back).isValid, "\(LayoutVerifier.verify(back).text())")
        // The tags are full names, so writing them back needs no repository and gives the same archive.
        let again = dir.sub("again.tar")
        try DockerArchive.writeAllTags(from: back, to: again, repository: nil)
        #expect(FileManager.default.contents(atPath: again) == FileManager.default.contents(atPath: archive))
        // Nothing is left behind in the layout's blob directory.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: back.blobsDirectory).allSatisfy { !$0.hasPrefix(".") })
    }

    @Test func skopeoReadsEveryImageOfTheArchive() throws {
        let dir = try LayoutTempDir("archive-skopeo")
        let (layout, one, two) = try Self.layout(dir)
        let archive = dir.sub("multi.tar")
        try DockerArchive.writeAllTags(from: layout, to: archive, repository: "team/app")
        for (sel, image) in [("@0", one), ("@1", two), ("docker.io/team/app:two", two), ("team/app:one", one)] {
            let r = try layoutRun("/usr/bin/skopeo", ["inspect", "docker-archive:\(archive):\(sel)"])
            #expect(r.status == 0, "\(r.stderr)")
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            // skopeo lists a docker-archive's layers by their uncompressed digests.
            #expect(
                obj["Layers"] as? [String] == image.config.value.rootfs.diffIDs.map(\.string), "\(sel): \(r.stdout)")
            let cfg = try layoutRun(
                "/usr/bin/skopeo", ["inspect", "--raw", "--config", "docker-archive:\(archive):\(sel)"])
            #expect(Digest.of(Array(cfg.stdout.utf8)) == image.configDigest, "\(sel)")
        }
    }

    @Test func tagsMustBeNamesWithoutARepository() throws {
        let dir = try LayoutTempDir("archive-names")
        let layout = try OCILayout.create(at: dir.sub("layout"))
        let a = try makeLayoutTestImage(layout, tag: "v1", work: dir.path)
        let e = try #require(throws: OCIWriterError.self) {
            try DockerArchive.writeAllTags(from: layout, to: dir.sub("x.tar"), repository: nil)
        }
        #expect(e.message.contains("layout tag 'v1'") && e.message.contains("repository"), "\(e.message)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("x.tar")))

        // Tags that are names (app:1) are used as they are.
        try layout.tag(a.manifestDescriptor, as: "app:1")
        try layout.removeTag("v1")
        try DockerArchive.writeAllTags(from: layout, to: dir.sub("y.tar"), repository: nil)
        #expect(try DockerArchive.list(dir.sub("y.tar")) == [["docker.io/library/app:1"]])

        // One name for two images is refused.
        let b = try makeLayoutTestImage(layout, tag: "b", work: dir.path, content: "other")
        let e2 = try #require(throws: OCIWriterError.self) {
            try DockerArchive.write(
                [
                    DockerArchive.Image(image: try layout.resolve(tag: "app:1"), repoTags: ["x:1"]),
                    DockerArchive.Image(image: try layout.resolve(tag: "b"), repoTags: ["docker.io/library/x:1"])
                ],
                layout: layout, to: dir.sub("z.tar"))
        }
        #expect(e2.message.contains("would refer to two images"), "\(e2.message)")
        _ = b
    }
}
