import Foundation
import Testing

@testable import OCIWriter

@Suite struct AssembleTests {
    @Test func scratchImageWithConfigChanges() throws {
        let tmp = try LayoutTempDir("assemble")
        let layout = try OCILayout.create(at: tmp.sub("out"))
        let l1 = try makeLayoutTestLayer(
            in: tmp.path, name: "app", files: ["app/main.sh": "echo hi\n"], createdBy: "COPY app /app")
        let l2 = try makeLayoutTestLayer(
            in: tmp.path, name: "cfg", files: ["etc/app.conf": "x=1\n"], compression: .zstd)
        let changes = ConfigChanges(
            entrypoint: ["/bin/sh", "-c"], cmd: ["/app/main.sh"], env: ["PATH=/bin", "A=1", "PATH=/usr/bin:/bin"],
            workingDir: "/app", user: "1000:1000", labels: ["k": "v"], exposedPorts: ["8080", "53/udp"],
            annotations: ["org.opencontainers.image.title": "t"], configHistory: "ociforge config")
        let platform = Platform(architecture: "arm64", os: "linux", variant: "v8")
        let img = try ImageAssembler(
            base: .scratch(platform: platform), layers: [l1, l2], changes: changes,
            destination: layout, tag: "v1", environment: ["SOURCE_DATE_EPOCH": "1700000000"]
        ).assemble()
        let c = img.config.value
        #expect(c.created == "2023-11-14T22:13:20Z")
        #expect(c.platform == platform)
        #expect(c.rootfs.diffIDs == [l1.diffID, l2.diffID])
        #expect(c.config?.entrypoint == ["/bin/sh", "-c"])
        #expect(c.config?.cmd == ["/app/main.sh"])
        #expect(c.config?.env == ["PATH=/usr/bin:/bin", "A=1"])
        #expect(c.config?.workingDir == "/app")
        #expect(c.config?.user == "1000:1000")
        #expect(c.config?.labels == ["k": "v"])
        #expect(Set(c.config?.exposedPorts?.keys.map { $0 } ?? []) == ["8080/tcp", "53/udp"])
        #expect(c.history?.count == 3)
        #expect(c.history?[0].createdBy == "COPY app /app")
        #expect(c.history?[2].emptyLayer == true)
        #expect(c.history?.allSatisfy { $0.created == "2023-11-14T22:13:20Z" } == true)
        #expect(img.manifest.value.layers.map(\.mediaType) == [.ociLayerGzip, .ociLayerZstd])
        #expect(img.manifest.value.annotations == ["org.opencontainers.image.title": "t"])
        // Config bytes are canonical and exactly what is stored.
        #expect(img.config.bytes == (try CanonicalJSON.encode(c)))
        #expect(try layout.readBlob(img.configDescriptor) == img.config.bytes)
        #expect(try layout.readBlob(img.manifestDescriptor) == img.manifest.bytes)
        // Round trip through the layout.
        let r = try layout.resolve(tag: "v1", platform: platform)
        #expect(r.manifestDescriptor.digest == img.manifestDigest)
        #expect(r.config.value == c)
        // Layer files were copied (consumeFile false).
        #expect(FileManager.default.fileExists(atPath: l1.file))
        let report = LayoutVerifier.verify(layout, tag: "v1")
        #expect(report.isValid, "\(report.problems)")
        #expect(report.layersChecked == 2)

        let blobs = try r.layerBlobs()
        #expect(blobs.map(\.compression) == [.gzip, .zstd])
        #expect(blobs.map(\.diffID) == [l1.diffID, l2.diffID])
        #expect(blobs[0].path == layout.blobPath(l1.digest))
        try layoutFlipByte(blobs[1].path, at: 9)
        #expect((#expect(throws: OCIWriterError.self) { try r.layerBlobs() })?.code == .digestMismatch)
        try layout.importBlob(file: l2.file, expected: l2.descriptor, mode: .copy)  // repair

        let summary = try layout.inspect(tag: "v1", platform: platform)
        #expect(summary.manifestDigest == img.manifestDigest)
        #expect(summary.tags == ["v1"])
        #expect(summary.layers.map(\.diffID) == [l1.diffID, l2.diffID])
        #expect(summary.totalLayerSize == l1.size + l2.size)
        #expect(summary.platform == "linux/arm64/v8")
        let text = summary.text()
        #expect(text.contains("Entrypoint:   [\"/bin/sh\", \"-c\"]"))
        #expect(text.contains(img.manifestDigest.string))
        let json = try CanonicalJSON.encode(summary)
        let back = try CanonicalJSON.decode(ImageSummary.self, from: json, source: "summary")
        #expect(back == summary)
    }

    @Test func createdDefaultsAndValidation() throws {
        #expect(try ImageAssembler.createdTimestamp(environment: [:]) == "1970-01-01T00:00:00Z")
        #expect(try ImageAssembler.createdTimestamp(environment: ["SOURCE_DATE_EPOCH": "0"]) == "1970-01-01T00:00:00Z")
        #expect(
            try ImageAssembler.createdTimestamp(environment: ["SOURCE_DATE_EPOCH": "951782400"])
                == "2000-02-29T00:00:00Z")
        #expect(throws: OCIWriterError.self) {
            try ImageAssembler.createdTimestamp(environment: ["SOURCE_DATE_EPOCH": "yesterday"])
        }
        #expect(throws: OCIWriterError.self) {
            try ImageAssembler.createdTimestamp(environment: ["SOURCE_DATE_EPOCH": "-5"])
        }
        #expect(throws: OCIWriterError.self) { try ImageAssembler.normalizePort("70000") }
        #expect(throws: OCIWriterError.self) { try ImageAssembler.normalizePort("80/icmp") }
        #expect(try ImageAssembler.normalizePort("80/UDP") == "80/udp")
    }

    @Test func deterministicAcrossLayoutsAndDirectories() throws {
        let tmp = try LayoutTempDir("assemble")
        var digests: [Digest] = []
        for run in 0..<2 {
            let work = tmp.sub("work\(run)/nested\(run)")
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let layout = try OCILayout.create(at: tmp.sub("out\(run)"))
            let layer = try makeLayoutTestLayer(in: work, name: "l", files: ["a": "same", "b/c": "content"])
            let img = try ImageAssembler(
                base: .scratch(platform: Platform(architecture: "amd64", os: "linux")), layers: [layer],
                changes: ConfigChanges(cmd: ["/a"], env: ["X=1"]), destination: layout, tag: "t",
                environment: ["SOURCE_DATE_EPOCH": "1234567890"]
            ).assemble()
            digests.append(img.manifestDigest)
        }
        #expect(digests[0] == digests[1])
    }

    @Test func baseFromAnotherLayoutIsCopiedAndExtended() throws {
        let tmp = try LayoutTempDir("assemble")
        let baseLayout = try OCILayout.create(at: tmp.sub("base"))
        let base = try ImageAssembler(
            base: .scratch(platform: Platform(architecture: "amd64", os: "linux")),
            layers: [try makeLayoutTestLayer(in: tmp.path, name: "b", files: ["bin/sh": "fake"])],
            changes: ConfigChanges(
                entrypoint: ["/bin/sh"], cmd: ["-l"], env: ["PATH=/bin", "KEEP=1"], labels: ["base": "yes"]),
            destination: baseLayout, tag: "base", environment: [:]
        ).assemble()
        let out = try OCILayout.create(at: tmp.sub("out"))
        let app = try makeLayoutTestLayer(in: tmp.path, name: "app", files: ["app/x": "y"])
        let img = try ImageAssembler(
            base: .layout(baseLayout, tag: "base", platform: nil), layers: [app],
            changes: ConfigChanges(entrypoint: ["/app/x"], env: ["PATH=/app:/bin"], labels: ["app": "1"]),
            destination: out, tag: "app", environment: [:]
        ).assemble()
        let m = img.manifest.value
        #expect(m.layers.count == 2)
        #expect(m.layers[0] == base.manifest.value.layers[0])
        #expect(m.annotations?["org.opencontainers.image.base.digest"] == base.manifestDigest.string)
        let c = img.config.value
        #expect(c.rootfs.diffIDs == base.config.value.rootfs.diffIDs + [app.diffID])
        #expect(c.history?.count == 2)
        #expect(c.history?[0] == base.config.value.history?[0])
        #expect(c.config?.entrypoint == ["/app/x"])
        #expect(c.config?.cmd == nil, "a new entrypoint clears the base's cmd")
        #expect(c.config?.env == ["PATH=/app:/bin", "KEEP=1"])
        #expect(c.config?.labels == ["base": "yes", "app": "1"])
        // The base blob now lives in the destination too, and the destination verifies on its own.
        #expect(out.hasBlob(m.layers[0].digest))
        let report = LayoutVerifier.verify(out)
        #expect(report.isValid, "\(report.problems)")
        // Same layout as source and destination.
        let again = try ImageAssembler(
            base: .layout(baseLayout, tag: "base", platform: nil), layers: [app],
            destination: baseLayout, tag: "app", environment: [:]
        ).assemble()
        #expect(Set(try baseLayout.tags()) == ["base", "app"])
        #expect(LayoutVerifier.verify(baseLayout, tag: "app").isValid)
        #expect(again.manifest.value.layers.count == 2)
    }

    @Test func corruptBaseIsRefused() throws {
        let tmp = try LayoutTempDir("assemble")
        let baseLayout = try OCILayout.create(at: tmp.sub("base"))
        let base = try makeLayoutTestImage(baseLayout, tag: "base", work: tmp.path)
        try layoutFlipByte(baseLayout.blobPath(base.manifest.value.layers[0].digest), at: 20)
        let out = try OCILayout.create(at: tmp.sub("out"))
        let e = #expect(throws: OCIWriterError.self) {
            try ImageAssembler(
                base: .layout(baseLayout, tag: "base", platform: nil), layers: [], destination: out, tag: "x",
                environment: [:]
            ).assemble()
        }
        #expect(e?.code == .digestMismatch)
        #expect(try out.tags().isEmpty)
        #expect(!out.hasBlob(base.manifest.value.layers[0].digest))
        // A corrupt base config is refused at resolution.
        try layoutFlipByte(baseLayout.blobPath(base.configDigest), at: 3)
        let e2 = #expect(throws: OCIWriterError.self) {
            try ImageAssembler(
                base: .layout(baseLayout, tag: "base", platform: nil), layers: [], destination: out, tag: "x",
                environment: [:]
            ).assemble()
        }
        #expect(e2?.code == .digestMismatch)
        #expect(e2?.path == baseLayout.blobPath(base.configDigest))
    }

    @Test func dockerBaseIsConvertedToOCI() throws {
        let tmp = try LayoutTempDir("assemble")
        let baseLayout = try OCILayout.create(at: tmp.sub("base"))
        let dockerDesc = try makeLayoutDockerImage(baseLayout, work: tmp.path, tag: "dock")
        let out = try OCILayout.create(at: tmp.sub("out"))
        let app = try makeLayoutTestLayer(in: tmp.path, name: "app", files: ["srv/index.html": "<p>hi</p>"])
        let img = try ImageAssembler(
            base: .layout(baseLayout, tag: "dock", platform: nil), layers: [app],
            changes: ConfigChanges(cmd: ["/bin/tool"]), destination: out, tag: "conv", environment: [:]
        ).assemble()
        let m = img.manifest.value
        #expect(m.mediaType == .ociManifest)
        #expect(img.manifestDescriptor.mediaType == .ociManifest)
        #expect(m.config.mediaType == .ociConfig)
        #expect(m.layers.map(\.mediaType) == [.ociLayerGzip, .ociLayerGzip])
        #expect(m.annotations?["org.opencontainers.image.base.digest"] == dockerDesc.digest.string)
        let c = img.config.value
        #expect(c.config?.env == ["PATH=/usr/bin:/bin", "BASE=1"])
        #expect(c.config?.workingDir == "/")
        #expect(c.history?.first?.createdBy == "ADD rootfs /")
        #expect(!String(decoding: img.config.bytes, as: UTF8.self).contains("docker_version"))
        let report = LayoutVerifier.verify(out)
        #expect(report.isValid, "\(report.problems)")
    }

    @Test func verifierReportsEveryProblem() throws {
        let tmp = try LayoutTempDir("assemble")
        let layout = try OCILayout.create(at: tmp.sub("out"))
        let good = try makeLayoutTestLayer(in: tmp.path, name: "good", files: ["a": "1"])
        var wrongDiff = try makeLayoutTestLayer(in: tmp.path, name: "wrongdiff", files: ["b": "2"], compression: .zstd)
        wrongDiff.diffID = Digest.of(Array("not the tar".utf8))
        let flipped = try makeLayoutTestLayer(
            in: tmp.path, name: "flipped", files: ["c": String(repeating: "3", count: 5000)])
        let img = try ImageAssembler(
            base: .scratch(platform: Platform(architecture: "amd64", os: "linux")),
            layers: [good, wrongDiff, flipped], destination: layout, tag: "t", environment: [:]
        ).assemble()
        // Corrupt the third layer and leave a stray corrupt blob.
        try layoutFlipByte(layout.blobPath(flipped.digest), at: Int(flipped.size) - 10)
        let stray = Digest.of(Array("stray".utf8))
        try layoutWriteText(layout.blobPath(stray), "not stray")

        let report = LayoutVerifier.verify(layout)
        #expect(!report.isValid)
        let text = report.problems.map(\.description)
        #expect(
            report.problems.contains { $0.subject == "config \(img.configDigest)" && $0.field == "rootfs.diff_ids[1]" },
            "\(text)")
        #expect(
            report.problems.contains {
                $0.subject == "blob \(flipped.digest)" && $0.message.contains("digest mismatch")
            }, "\(text)")
        #expect(
            report.problems.contains { $0.subject == "blob \(stray)" && $0.message.contains("unreferenced") }, "\(text)"
        )
        #expect(!report.problems.contains { $0.subject.contains(good.digest.hex) }, "\(text)")
        // A second manifest referring to the good layer and the config with wrong sizes.
        var m2 = img.manifest.value
        m2.layers = [Descriptor(mediaType: .ociLayerGzip, digest: good.digest, size: good.size + 7)]
        m2.config.size += 1
        let m2Desc = try layout.writeBlob(document: try EncodedDocument(m2), mediaType: .ociManifest)
        try layout.tag(m2Desc, as: "sizes")
        let sizes = LayoutVerifier.verify(layout).problems.filter { $0.message.contains("manifest \(m2Desc.digest)") }
        #expect(sizes.count == 2, "\(sizes)")
        #expect(sizes.allSatisfy { $0.message.contains("size mismatch") })
        try layout.removeTag("sizes")
        try FileManager.default.removeItem(atPath: layout.blobPath(m2Desc.digest))
        // Per-tag verification skips unreferenced blobs.
        let tagged = LayoutVerifier.verify(layout, tag: "t")
        #expect(!tagged.problems.contains { $0.subject == "blob \(stray)" })
        #expect(tagged.problems.count >= 2)
        #expect(
            (#expect(throws: OCIWriterError.self) {
                _ = try layout.verifyBlob(
                    Descriptor(mediaType: .ociLayerGzip, digest: flipped.digest, size: flipped.size))
            })?.code == .digestMismatch)
    }

    @Test func optionalDiffIDCheckOfNewLayers() throws {
        let tmp = try LayoutTempDir("assemble")
        let layout = try OCILayout.create(at: tmp.sub("out"))
        let good = try makeLayoutTestLayer(in: tmp.path, name: "good", files: ["a": "1"])
        var bad = try makeLayoutTestLayer(in: tmp.path, name: "bad", files: ["b": "2"])
        bad.diffID = good.diffID
        var a = ImageAssembler(
            base: .scratch(platform: .host), layers: [good, bad], destination: layout, tag: "t", environment: [:])
        a.verifyNewLayerDiffIDs = true
        let e = #expect(throws: OCIWriterError.self) { try a.assemble() }
        #expect(e?.path == bad.file)
        #expect(e?.message.contains("diffID") == true)
        #expect(try layout.tags().isEmpty)
        a.layers = [good]
        let img = try a.assemble()
        #expect(img.config.value.rootfs.diffIDs == [good.diffID])
        // A layer file moved in from the layout's own temp area.
        let staged = layout.temporaryBlobPath(label: "layer")
        try FileManager.default.copyItem(atPath: bad.file, toPath: staged)
        var moved = bad
        moved.file = staged
        moved.diffID = try LayerBlobDigester.digest(file: staged, compression: .gzip).diffID
        moved.consumeFile = true
        a.layers = [moved]
        _ = try a.assemble()
        #expect(!FileManager.default.fileExists(atPath: staged))
        #expect(LayoutVerifier.verify(layout).isValid)
    }

    @Test func verifierChecksHistoryCountsAndTruncatedStreams() throws {
        let tmp = try LayoutTempDir("assemble")
        let layout = try OCILayout.create(at: tmp.sub("out"))
        let layer = try makeLayoutTestLayer(
            in: tmp.path, name: "l", files: ["a": String(repeating: "abc", count: 10000)])
        // A gzip stream cut short but re-described with a matching digest and size: only decompression notices.
        let full = try Array(Data(contentsOf: URL(fileURLWithPath: layer.file)))
        let cut = Array(full.prefix(full.count / 2))
        let cutDesc = try layout.writeBlob(bytes: cut, mediaType: .ociLayerGzip)
        var config = ImageConfig(
            platform: Platform(architecture: "amd64", os: "linux"), rootfs: RootFS(diffIDs: [layer.diffID]),
            history: [History(createdBy: "one"), History(createdBy: "two")], created: "yesterday")
        config.rootfs.type = "layers"
        let cfg = try layout.writeBlob(document: try EncodedDocument(config), mediaType: .ociConfig)
        let m = try layout.writeBlob(
            document: try EncodedDocument(Manifest(config: cfg, layers: [cutDesc])), mediaType: .ociManifest)
        try layout.tag(m, as: "bad")
        let report = LayoutVerifier.verify(layout, tag: "bad")
        let text = report.problems.map(\.description)
        #expect(
            report.problems.contains {
                $0.subject == "layer \(cutDesc.digest)" && $0.message.contains("truncated gzip")
            }, "\(text)")
        #expect(report.problems.contains { $0.field == "history" }, "\(text)")
        #expect(report.problems.contains { $0.field == "created" }, "\(text)")
    }

    @Test func gzipMultiMemberAndPlainTarDigests() throws {
        let tmp = try LayoutTempDir("assemble")
        let layer = try makeLayoutTestLayer(in: tmp.path, name: "mm", files: ["x": "multi member"], compression: .none)
        let tar = try Array(Data(contentsOf: URL(fileURLWithPath: layer.file)))
        // Split the tar into two gzip members: still one valid stream, same diffID.
        let half = tar.count / 2
        try Data(tar.prefix(half)).write(to: URL(fileURLWithPath: tmp.sub("p1")))
        try Data(tar.suffix(from: half)).write(to: URL(fileURLWithPath: tmp.sub("p2")))
        let r = try layoutRun("/bin/sh", ["-c", "gzip -n -c p1 > mm.gz && gzip -n -c p2 >> mm.gz"], cwd: tmp.path)
        #expect(r.status == 0)
        let gz = try LayerBlobDigester.digest(file: tmp.sub("mm.gz"), compression: .gzip)
        #expect(gz.diffID == layer.diffID)
        #expect(gz.uncompressedSize == Int64(tar.count))
        let plain = try LayerBlobDigester.digest(file: layer.file, compression: .none)
        #expect(plain.diffID == layer.diffID && plain.digest == layer.digest)
        // Trailing garbage after the last member is an error.
        let g = try layoutRun("/bin/sh", ["-c", "printf 'garbage' >> mm.gz"], cwd: tmp.path)
        #expect(g.status == 0)
        #expect(throws: OCIWriterError.self) {
            try LayerBlobDigester.digest(file: tmp.sub("mm.gz"), compression: .gzip)
        }
        #expect(MediaType.ociLayer.layerCompression == LayerCompression.none)
    }
}
