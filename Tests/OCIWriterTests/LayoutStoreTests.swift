import Foundation
import Testing

@testable import OCIWriter

@Suite struct LayoutStoreTests {
    @Test func createWritesLayoutFilesAndReopens() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("a/b/img"))
        #expect(try layoutReadText(layout.path + "/oci-layout") == #"{"imageLayoutVersion":"1.0.0"}"#)
        let index = try layout.readIndex()
        #expect(index.manifests.isEmpty)
        #expect(index.mediaType == .ociIndex)
        var isDir: ObjCBool = false
        #expect(
            FileManager.default.fileExists(atPath: layout.path + "/blobs/sha256", isDirectory: &isDir)
                && isDir.boolValue)
        // Re-creating and opening an existing layout is fine.
        _ = try OCILayout.create(at: layout.path)
        let reopened = try OCILayout.open(at: layout.path)
        #expect(reopened == layout)
    }

    @Test func refusesDirectoriesThatAreNotLayouts() throws {
        let tmp = try LayoutTempDir()
        let dir = tmp.sub("notalayout")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try layoutWriteText(dir + "/precious.txt", "keep me")
        let createError = #expect(throws: OCIWriterError.self) { try OCILayout.create(at: dir) }
        #expect(createError?.code == .layout)
        #expect(createError?.message.contains("precious.txt") == true)
        let openError = #expect(throws: OCIWriterError.self) { try OCILayout.open(at: dir) }
        #expect(openError?.code == .layout)
        #expect(try layoutReadText(dir + "/precious.txt") == "keep me")
        #expect(FileManager.default.fileExists(atPath: dir + "/oci-layout") == false)
        // A missing directory is reported as such by open.
        let missing = #expect(throws: OCIWriterError.self) { try OCILayout.open(at: tmp.sub("nope")) }
        #expect(missing?.code == .notFound)
        // A wrong layout version is refused.
        let v2 = tmp.sub("v2")
        try FileManager.default.createDirectory(atPath: v2, withIntermediateDirectories: true)
        try layoutWriteText(v2 + "/oci-layout", #"{"imageLayoutVersion":"2.0.0"}"#)
        try layoutWriteText(v2 + "/index.json", #"{"schemaVersion":2,"manifests":[]}"#)
        let version = #expect(throws: OCIWriterError.self) { try OCILayout.open(at: v2) }
        #expect(version?.message.contains("2.0.0") == true)
        // A layout whose blobs directory is a symlink is refused (writes could land elsewhere).
        let linked = tmp.sub("linked")
        let elsewhere = tmp.sub("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere + "/sha256", withIntermediateDirectories: true)
        _ = try OCILayout.create(at: linked)
        try FileManager.default.removeItem(atPath: linked + "/blobs")
        try FileManager.default.createSymbolicLink(atPath: linked + "/blobs", withDestinationPath: elsewhere)
        #expect((#expect(throws: OCIWriterError.self) { try OCILayout.open(at: linked) })?.code == .layout)
        #expect((#expect(throws: OCIWriterError.self) { try OCILayout.create(at: linked) })?.code == .layout)
    }

    @Test func blobRoundTripAndSkipOfExisting() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let bytes = Array("some blob content".utf8)
        let d = try layout.writeBlob(bytes: bytes, mediaType: .ociConfig)
        #expect(d.digest == Digest.of(bytes))
        #expect(d.size == Int64(bytes.count))
        #expect(try layout.readBlob(d) == bytes)
        let path = layout.blobPath(d.digest)
        let inode1 = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        let again = try layout.writeBlob(bytes: bytes, mediaType: .ociConfig)
        let inode2 = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        #expect(again == d)
        #expect(inode1 == inode2, "an identical existing blob must not be rewritten")
        let perms = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(perms == 0o644)
        #expect(try layoutLeftoverTemps(layout).isEmpty)
    }

    @Test func streamedWriteHashesAndRefusesMismatch() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        // 5 MiB of varied bytes in uneven chunks.
        var source: [UInt8] = []
        for i in 0..<(3 << 20) { source.append(UInt8(truncatingIfNeeded: i &* 2654435761 >> 7)) }
        var offset = 0
        let d = try layout.writeBlob(mediaType: .ociLayer) { buf in
            let n = min(buf.count, 777_777, source.count - offset)
            source.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            offset += n
            return n
        }
        #expect(d.digest == Digest.of(source))
        #expect(d.size == Int64(source.count))

        let wrong = Descriptor(mediaType: .ociLayer, digest: Digest.of([1, 2, 3]), size: 3)
        let e = #expect(throws: OCIWriterError.self) {
            try layout.writeBlob(mediaType: .ociLayer, expected: wrong) { buf in
                buf[0] = 9
                buf[1] = 9
                buf[2] = 9
                return offset == 0
                    ? 0
                    : {
                        offset = 0
                        return 3
                    }()
            }
        }
        #expect(e?.code == .digestMismatch)
        #expect(!layout.hasBlob(wrong.digest))
        #expect(!layout.hasBlob(Digest.of([9, 9, 9])))
        #expect(try layoutLeftoverTemps(layout).isEmpty)

        // BlobWriter dropped without commit leaves nothing behind.
        do {
            let w = try layout.beginBlob()
            try w.write(Array("partial".utf8))
        }
        #expect(try layoutLeftoverTemps(layout).isEmpty)
    }

    @Test func importMovesOrCopiesAfterVerification() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let layer = try makeLayoutTestLayer(in: tmp.path, name: "l", files: ["a.txt": "A", "dir/b.txt": "B"])

        // Wrong expectation: nothing stored, source untouched.
        var bad = layer.descriptor
        bad.size += 1
        let e = #expect(throws: OCIWriterError.self) {
            try layout.importBlob(file: layer.file, expected: bad, mode: .move)
        }
        #expect(e?.code == .sizeMismatch)
        #expect(FileManager.default.fileExists(atPath: layer.file))
        #expect(!layout.hasBlob(layer.digest))

        try layout.importBlob(file: layer.file, expected: layer.descriptor, mode: .copy)
        #expect(FileManager.default.fileExists(atPath: layer.file))
        try layout.verifyBlob(layer.descriptor)
        try FileManager.default.removeItem(atPath: layout.blobPath(layer.digest))

        try layout.importBlob(file: layer.file, expected: layer.descriptor, mode: .move)
        #expect(!FileManager.default.fileExists(atPath: layer.file))
        try layout.verifyBlob(layer.descriptor)
        // "Moving" a blob onto itself keeps it.
        try layout.importBlob(file: layout.blobPath(layer.digest), expected: layer.descriptor, mode: .move)
        try layout.verifyBlob(layer.descriptor)

        // Across filesystems (/dev/shm is a tmpfs) the move falls back to a verified copy.
        if FileManager.default.fileExists(atPath: "/dev/shm") {
            let shmFile = "/dev/shm/ociforge-layout-test-\(UUID().uuidString)"
            let bytes = Array("cross-device blob \(UUID())".utf8)
            try Data(bytes).write(to: URL(fileURLWithPath: shmFile))
            defer { try? FileManager.default.removeItem(atPath: shmFile) }
            let d = Descriptor(mediaType: .ociLayer, digest: Digest.of(bytes), size: Int64(bytes.count))
            try layout.importBlob(file: shmFile, expected: d, mode: .move)
            #expect(!FileManager.default.fileExists(atPath: shmFile))
            #expect(try layout.readBlob(d) == bytes)
        }
        #expect(try layoutLeftoverTemps(layout).isEmpty)
    }

    @Test func corruptedBlobsAreDetected() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let bytes = Array(String(repeating: "0123456789", count: 300).utf8)
        let d = try layout.writeBlob(bytes: bytes, mediaType: .ociConfig)
        let path = layout.blobPath(d.digest)

        // Wrong size in the descriptor.
        var wrongSize = d
        wrongSize.size = d.size - 1
        #expect((#expect(throws: OCIWriterError.self) { try layout.readBlob(wrongSize) })?.code == .sizeMismatch)
        #expect((#expect(throws: OCIWriterError.self) { try layout.openBlob(wrongSize) })?.code == .sizeMismatch)

        // Flipped byte.
        try layoutFlipByte(path, at: 1234)
        #expect((#expect(throws: OCIWriterError.self) { try layout.readBlob(d) })?.code == .digestMismatch)
        let reader = try layout.openBlob(d)
        let verifyError = #expect(throws: OCIWriterError.self) { try reader.drain() }
        #expect(verifyError?.code == .digestMismatch)
        #expect(verifyError?.path == path)
        // Re-writing the content repairs it (the corrupt file is not mistaken for the blob).
        try layout.writeBlob(bytes: bytes, mediaType: .ociConfig)
        #expect(try layout.readBlob(d) == bytes)

        // Truncated.
        let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try fh.truncate(atOffset: 100)
        try fh.close()
        #expect((#expect(throws: OCIWriterError.self) { try layout.readBlob(d) })?.code == .sizeMismatch)
        #expect((#expect(throws: OCIWriterError.self) { try layout.verifyBlob(d) })?.code == .sizeMismatch)

        // Missing.
        try FileManager.default.removeItem(atPath: path)
        #expect((#expect(throws: OCIWriterError.self) { try layout.readBlob(d) })?.code == .notFound)

        // A symlink in place of a blob is refused.
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/etc/hostname")
        #expect((#expect(throws: OCIWriterError.self) { try layout.readBlob(d) })?.code == .layout)
    }

    @Test func tagReplacementAndRemoval() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let a = try makeLayoutTestImage(layout, tag: "app", work: tmp.path, content: "one")
        #expect(try layout.tags() == ["app"])
        let b = try makeLayoutTestImage(layout, tag: "app", work: tmp.path, content: "two")
        #expect(a.manifestDigest != b.manifestDigest)
        let index = try layout.readIndex()
        #expect(index.manifests.count == 1)
        #expect(index.manifests[0].digest == b.manifestDigest)
        #expect(index.manifests[0].platform == Platform(architecture: "amd64", os: "linux"))
        #expect(try layout.resolve(tag: "app").manifestDescriptor.digest == b.manifestDigest)

        try layout.tag(a.manifestDescriptor, as: "old")
        #expect(try layout.tags() == ["app", "old"])
        try layout.removeTag("app")
        #expect(try layout.tags() == ["old"])
        #expect((#expect(throws: OCIWriterError.self) { try layout.removeTag("app") })?.code == .notFound)
        // index.json is canonical JSON.
        let raw = try Array(Data(contentsOf: URL(fileURLWithPath: layout.indexPath)))
        #expect(raw == (try CanonicalJSON.encode(try layout.readIndex())))
    }

    @Test(arguments: ["latest", "v1.2.3", "a/b/c", "1.0+build.5", "x--y", "a:b@c", "UPPER_lower-09"])
    func validTags(_ tag: String) throws {
        try OCILayout.validateTag(tag)
    }

    @Test(arguments: ["", "-lead", "trail.", "a//b", "/a", "a/", "sp ace", "a---b", "a..b", "émoji", "a\u{0}b", "x_-y"])
    func invalidTags(_ tag: String) throws {
        let e = #expect(throws: OCIWriterError.self) { try OCILayout.validateTag(tag) }
        #expect(e?.code == .invalidReference)
    }

    @Test func referenceParsingRule() throws {
        let tmp = try LayoutTempDir()
        let plain = tmp.sub("plain")
        let colon = tmp.sub("with:colon")
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: colon, withIntermediateDirectories: true)

        #expect(try LayoutReference(parsing: plain) == LayoutReference(path: plain, tag: nil))
        #expect(try LayoutReference(parsing: plain + ":v1") == LayoutReference(path: plain, tag: "v1"))
        // An existing directory with ':' in its name is the path.
        #expect(try LayoutReference(parsing: colon) == LayoutReference(path: colon, tag: nil))
        #expect(try LayoutReference(parsing: colon + ":v2") == LayoutReference(path: colon, tag: "v2"))
        // Tags may contain ':' when the layout exists.
        #expect(try LayoutReference(parsing: plain + ":a:b") == LayoutReference(path: plain, tag: "a:b"))
        // Layout to be created: the tag follows the last ':'.
        #expect(
            try LayoutReference(parsing: tmp.sub("new:x:tag")) == LayoutReference(path: tmp.sub("new:x"), tag: "tag"))
        #expect(try LayoutReference(parsing: "relative/out") == LayoutReference(path: "relative/out", tag: nil))
        #expect(throws: OCIWriterError.self) { try LayoutReference(parsing: plain + ":") }
        #expect(throws: OCIWriterError.self) { try LayoutReference(parsing: plain + ":bad tag") }
        #expect(throws: OCIWriterError.self) { try LayoutReference(parsing: "") }
        #expect(throws: OCIWriterError.self) { try LayoutReference(parsing: ":tag") }
    }

    @Test func resolveWithoutTagNeedsASingleImage() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        #expect((#expect(throws: OCIWriterError.self) { try layout.resolve() })?.code == .notFound)
        let a = try makeLayoutTestImage(layout, tag: "one", work: tmp.path)
        #expect(try layout.resolve().manifestDescriptor.digest == a.manifestDigest)
        _ = try makeLayoutTestImage(layout, tag: "two", work: tmp.path, content: "other")
        let e = #expect(throws: OCIWriterError.self) { try layout.resolve() }
        #expect(e?.message.contains("one, two") == true)
        let missing = #expect(throws: OCIWriterError.self) { try layout.resolve(tag: "three") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("one, two") == true)
    }

    @Test func invalidDigestsAreRefusedBeforeAnyPathUse() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        // Traversal attempt in index.json.
        try layoutWriteText(
            layout.indexPath,
            #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../../../etc/passwd","size":10,"annotations":{"org.opencontainers.image.ref.name":"x"}}]}"#
        )
        let e1 = #expect(throws: OCIWriterError.self) { try layout.readIndex() }
        #expect(e1?.code == .invalidJSON)
        #expect(e1?.message.contains("manifests[0].digest") == true)
        #expect(throws: OCIWriterError.self) { try layout.resolve(tag: "x") }
        let report = LayoutVerifier.verify(layout)
        #expect(!report.isValid)
        #expect(
            report.problems.contains {
                $0.subject == "index.json" && $0.kind == .unreadable
                    && ($0.cause as? OCIWriterError)?.message.contains("digest") == true
            }, "the cause stays typed: \(report.problems)")
        let encoded = String(decoding: try CanonicalJSON.encode(report), as: UTF8.self)
        #expect(encoded.contains(#""kind":"unreadable""#) && encoded.contains(#""cause":""#), "\(encoded)")
        let decoded = try JSONDecoder().decode(VerificationReport.self, from: Data(encoded.utf8))
        #expect(decoded.problems.map(\.description) == report.problems.map(\.description))

        // Uppercase hex in a manifest's layer.
        try layoutWriteText(layout.indexPath, #"{"schemaVersion":2,"manifests":[]}"#)
        let config = try layout.writeBlob(
            document: try EncodedDocument(ImageConfig(platform: .host)), mediaType: .ociConfig)
        let bad =
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":\#(String(decoding: try CanonicalJSON.encode(config), as: UTF8.self)),"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855","size":1}]}"#
        let m = try layout.writeBlob(bytes: Array(bad.utf8), mediaType: .ociManifest)
        try layout.tag(m, as: "bad")
        let e2 = #expect(throws: OCIWriterError.self) { try layout.resolve(tag: "bad") }
        #expect(e2?.message.contains("layers[0].digest") == true)
        let r2 = LayoutVerifier.verify(layout, tag: "bad")
        #expect(
            r2.problems.contains { $0.subject == "manifest \(m.digest)" && $0.message.contains("layers[0].digest") })
    }

    @Test func ambiguousManifestIndexDocumentIsRefused() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let img = try makeLayoutTestImage(layout, tag: "real", work: tmp.path)
        let manifestJSON = String(decoding: img.manifest.bytes, as: UTF8.self)
        let childDesc = String(decoding: try CanonicalJSON.encode(img.manifestDescriptor), as: UTF8.self)
        // A manifest that also carries "manifests".
        let ambiguous = String(manifestJSON.dropLast()) + #","manifests":[\#(childDesc)]}"#
        for mt in [MediaType.ociManifest, .ociIndex, "application/octet-stream"] {
            let d = try layout.writeBlob(bytes: Array(ambiguous.utf8), mediaType: mt)
            try layout.tag(d, as: "amb")
            let e = #expect(throws: OCIWriterError.self) { try layout.resolve(tag: "amb") }
            #expect(e?.message.contains("ambiguous") == true, "media type \(mt): \(String(describing: e))")
            let report = LayoutVerifier.verify(layout, tag: "amb")
            if mt.isIndex || mt.isManifest {
                #expect(report.problems.contains { $0.message.contains("ambiguous") }, "\(report.problems)")
            }
        }
    }

    @Test func platformSelectionFromIndexes() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let amd = try makeLayoutTestImage(
            layout, tag: "amd", work: tmp.path, platform: Platform(architecture: "amd64", os: "linux"), content: "amd")
        let arm = try makeLayoutTestImage(
            layout, tag: "arm", work: tmp.path, platform: Platform(architecture: "arm64", os: "linux", variant: "v8"),
            content: "arm")
        let s390 = try makeLayoutTestImage(
            layout, tag: "s390", work: tmp.path, platform: Platform(architecture: "s390x", os: "linux"), content: "s390"
        )
        // An index with an attestation-like unknown platform first, then arm64, then a nested index holding amd64.
        let nested = ImageIndex(manifests: [amd.manifestDescriptor])
        let nestedDesc = try layout.writeBlob(document: try EncodedDocument(nested), mediaType: .ociIndex)
        // An artifact (not an image: empty config) listed for platform unknown/unknown, like an attestation.
        let emptyConfig = try layout.writeBlob(bytes: Array("{}".utf8), mediaType: .ociEmpty)
        let artifact = Manifest(config: emptyConfig, layers: [], mediaType: .ociManifest)
        var unknown = try layout.writeBlob(document: try EncodedDocument(artifact), mediaType: .ociManifest)
        unknown.platform = Platform(architecture: "unknown", os: "unknown")
        var nestedEntry = nestedDesc
        nestedEntry.platform = Platform(architecture: "amd64", os: "linux")
        let top = ImageIndex(manifests: [unknown, arm.manifestDescriptor, nestedEntry])
        let topDesc = try layout.writeBlob(document: try EncodedDocument(top), mediaType: .ociIndex)
        try layout.tag(topDesc, as: "multi")

        let rArm = try layout.resolve(tag: "multi", platform: Platform(architecture: "arm64", os: "linux"))
        #expect(rArm.manifestDescriptor.digest == arm.manifestDigest)
        #expect(rArm.platform.architecture == "arm64")
        #expect(rArm.indexes.map(\.digest) == [topDesc.digest])
        let rAmd = try layout.resolve(tag: "multi", platform: Platform(architecture: "amd64", os: "linux"))
        #expect(rAmd.manifestDescriptor.digest == amd.manifestDigest)
        #expect(rAmd.indexes.map(\.digest) == [topDesc.digest, nestedDesc.digest])
        let miss = #expect(throws: OCIWriterError.self) {
            try layout.resolve(tag: "multi", platform: Platform(architecture: "riscv64", os: "linux"))
        }
        #expect(miss?.code == .platformNotFound)
        #expect(miss?.message.contains("linux/arm64/v8") == true)
        // Variant mismatch.
        #expect(throws: OCIWriterError.self) {
            try layout.resolve(tag: "multi", platform: Platform(architecture: "arm64", os: "linux", variant: "v7"))
        }
        // A single-platform image asked for another platform.
        let wrong = #expect(throws: OCIWriterError.self) {
            try layout.resolve(tag: "amd", platform: Platform(architecture: "arm64", os: "linux"))
        }
        #expect(wrong?.code == .platformNotFound)
        // The whole layout verifies (index → nested index → manifests).
        let report = LayoutVerifier.verify(layout)
        #expect(report.isValid, "\(report.problems)")
        #expect(
            Set(report.manifestsChecked)
                == Set([amd.manifestDigest, arm.manifestDigest, s390.manifestDigest, unknown.digest]))
    }

    @Test func dockerMediaTypesAreRead() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let img = try makeLayoutDockerImage(layout, work: tmp.path, tag: "dock")
        let list = ImageIndex(manifests: [img], mediaType: .dockerManifestList)
        let listDesc = try layout.writeBlob(document: try EncodedDocument(list), mediaType: .dockerManifestList)
        try layout.tag(listDesc, as: "list")
        let r = try layout.resolve(tag: "list", platform: Platform(architecture: "amd64", os: "linux"))
        #expect(r.manifestDescriptor.mediaType == .dockerManifest)
        #expect(r.manifest.value.layers.first?.mediaType == .dockerLayerGzip)
        let report = LayoutVerifier.verify(layout)
        #expect(report.isValid, "\(report.problems)")
        #expect(report.layersChecked == 1)
    }

    /// N in-process writers (separate `OCILayout` values, so separate open file descriptions for flock) and two
    /// separate Python processes following the same lock protocol add tags at the same time; none may be lost.
    @Test func concurrentWritersKeepIndexConsistent() async throws {
        let tmp = try LayoutTempDir()
        let path = tmp.sub("shared")
        _ = try OCILayout.create(at: path)
        let writers = 6, perWriter = 12, pyWriters = 2, perPy = 15
        let script = """
            import fcntl, json, os, sys
            root, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
            for i in range(n):
                fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
                fcntl.flock(fd, fcntl.LOCK_EX)
                with open(os.path.join(root, "index.json")) as f:
                    idx = json.load(f)
                idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + "%064x" % (0xabc0000 + i + 1000 * int(prefix[-1])), "size": 1,
                    "annotations": {"org.opencontainers.image.ref.name": "%s-%d" % (prefix, i)}})
                tmp = os.path.join(root, ".ociforge-tmp-py-%d" % os.getpid())
                with open(tmp, "w") as f:
                    json.dump(idx, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.rename(tmp, os.path.join(root, "index.json"))
                os.close(fd)
            """
        let scriptPath = tmp.sub("writer.py")
        try layoutWriteText(scriptPath, script)
        let pyTasks = (0..<pyWriters).map { p in
            Task {
                try await OCILayout.offloading {
                    try layoutRun("/usr/bin/env", ["python3", scriptPath, path, "py\(p)", String(perPy)])
                }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    // Each writer on its own thread (not the cooperative pool), so they really run at once.
                    try await OCILayout.offloading {
                        for i in 0..<perWriter {
                            let layout = try OCILayout.open(at: path)
                            let bytes = Array("writer \(w) blob \(i)".utf8)
                            let d = try layout.writeBlob(bytes: bytes, mediaType: .ociManifest)
                            try layout.tag(d, as: "w\(w)-\(i)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for t in pyTasks {
            let r = try await t.value
            #expect(r.status == 0, "python writer failed: \(r.stderr)")
        }
        let layout = try OCILayout.open(at: path)
        let tags = Set(try layout.tags())
        var expected = Set<String>()
        for w in 0..<writers { for i in 0..<perWriter { expected.insert("w\(w)-\(i)") } }
        for p in 0..<pyWriters { for i in 0..<perPy { expected.insert("py\(p)-\(i)") } }
        #expect(expected.subtracting(tags).isEmpty, "lost tags: \(expected.subtracting(tags).sorted())")
        #expect(tags.subtracting(expected).isEmpty)
        #expect(try layout.readIndex().manifests.count == expected.count)
        #expect(try layoutLeftoverTemps(layout).isEmpty)
    }
}

/// Temp files left under the layout (root or blobs/).
func layoutLeftoverTemps(_ layout: OCILayout) throws -> [String] {
    let fm = FileManager.default
    let root = try fm.contentsOfDirectory(atPath: layout.path).filter { $0.hasPrefix(".ociforge-tmp") }
    let blobs = try fm.contentsOfDirectory(atPath: layout.path + "/blobs").filter { $0.hasPrefix(".ociforge-tmp") }
    return root + blobs
}

/// A Docker schema 2 image (Docker media types for manifest, config and layer) written into `layout` by hand.
func makeLayoutDockerImage(_ layout: OCILayout, work: String, tag: String) throws -> Descriptor {
    let layer = try makeLayoutTestLayer(
        in: work, name: "docker-\(tag)", files: ["etc/os-release": "ID=test\n", "bin/tool": "#!/bin/sh\necho base\n"])
    try layout.importBlob(file: layer.file, expected: layer.descriptor, mode: .copy)
    // Docker configs carry fields the OCI model does not (container_config, docker_version): they are ignored.
    let configJSON = """
        {"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin","BASE=1"],"Cmd":["/bin/sh"],"WorkingDir":"/"},\
        "container_config":{"Hostname":"abc"},"docker_version":"24.0.0","created":"2024-01-02T03:04:05.123456789Z",\
        "rootfs":{"type":"layers","diff_ids":["\(layer.diffID)"]},"history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD rootfs /"}]}
        """
    let config = try layout.writeBlob(bytes: Array(configJSON.utf8), mediaType: .dockerConfig)
    var layerDesc = layer.descriptor
    layerDesc.mediaType = .dockerLayerGzip
    let manifest = Manifest(config: config, layers: [layerDesc], mediaType: .dockerManifest)
    var desc = try layout.writeBlob(document: try EncodedDocument(manifest), mediaType: .dockerManifest)
    desc.platform = Platform(architecture: "amd64", os: "linux")
    try layout.tag(desc, as: tag)
    return desc
}

@Suite struct LayoutStoreStreamingTests {
    @Test func readerStreamsWithSmallBuffersAndBlobWriterCommits() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let w = try layout.beginBlob()
        var all: [UInt8] = []
        for i in 0..<100 {
            let chunk = Array("chunk \(i);".utf8)
            all += chunk
            try w.write(chunk)
        }
        #expect(w.bytesWritten == Int64(all.count))
        let d = try w.commit(mediaType: .ociLayer)
        #expect(d.digest == Digest.of(all))
        #expect(throws: OCIWriterError.self) { try w.write([1]) }
        #expect(throws: OCIWriterError.self) { try w.commit(mediaType: .ociLayer) }

        let reader = try layout.openBlob(d)
        var back: [UInt8] = []
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 7, alignment: 1)
        defer { buf.deallocate() }
        while true {
            let n = try reader.read(into: buf)
            if n == 0 { break }
            back += buf[..<n]
        }
        #expect(back == all)
        #expect(reader.bytesRead == Int64(all.count))
        #expect(try layoutLeftoverTemps(layout).isEmpty)
    }

    @Test func staleTemporaryFilesAreRemovedFreshOnesKept() throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let old = layout.temporaryBlobPath(label: "old")
        let fresh = layout.temporaryBlobPath(label: "fresh")
        try layoutWriteText(old, "left by a killed writer")
        try layoutWriteText(fresh, "being written right now")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: old)
        let removed = layout.removeStaleTemporaryFiles(olderThan: 3600)
        #expect(removed == [old])
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(FileManager.default.fileExists(atPath: fresh))
        #expect(FileManager.default.fileExists(atPath: layout.indexPath))
    }

    @Test func concurrentCreationOfOneLayout() async throws {
        let tmp = try LayoutTempDir()
        let path = tmp.sub("new/layout")
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (try? await OCILayout.offloading { try OCILayout.create(at: path) }) != nil
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 })
        let layout = try OCILayout.open(at: path)
        #expect(try layout.readIndex().manifests.isEmpty)
        #expect(try layoutLeftoverTemps(layout).isEmpty)
    }

    @Test func reportTextNamesProblems() async throws {
        let tmp = try LayoutTempDir()
        let layout = try OCILayout.create(at: tmp.sub("img"))
        let img = try makeLayoutTestImage(layout, tag: "t", work: tmp.path)
        let ok = try await OCILayout.offloading { LayoutVerifier.verify(layout, tag: "t") }
        #expect(ok.text().hasPrefix("OK: \(layout.path):t: 1 manifest(s)"))
        try layoutFlipByte(layout.blobPath(img.manifest.value.layers[0].digest), at: 3)
        let bad = LayoutVerifier.verify(layout, tag: "t")
        #expect(bad.text().contains("error: blob \(img.manifest.value.layers[0].digest): digest mismatch"))
        #expect(bad.text().contains("FAILED"))
        let json = try CanonicalJSON.encode(bad)
        #expect(String(decoding: json, as: UTF8.self).contains("\"problems\":[{"))
    }
}
