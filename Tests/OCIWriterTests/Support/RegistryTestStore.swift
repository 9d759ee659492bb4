import Foundation

@testable import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal directory-backed `ImageStore` laid out as an OCI image layout (so skopeo can read and write it).
final class DirectoryImageStore: ImageStore, @unchecked Sendable {
    let root: String
    private let lock = NSLock()

    init(_ root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root + "/blobs/sha256", withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: root + "/oci-layout") {
            try #"{"imageLayoutVersion":"1.0.0"}"#.write(
                toFile: root + "/oci-layout", atomically: true, encoding: .utf8)
        }
        if !FileManager.default.fileExists(atPath: root + "/index.json") {
            try writeIndex(ImageIndex(manifests: []))
        }
    }

    func existingBlobFile(_ digest: Digest) -> String? { blobPath(digest) }
    func temporaryFilePath() throws -> String { root + "/blobs/sha256/.tmp-" + UUID().uuidString }
    func commitVerifiedBlob(file: String, descriptor: Descriptor) throws {
        try commitBlob(verifiedFile: file, digest: descriptor.digest)
    }
    func readSmallBlob(_ descriptor: Descriptor) throws -> [UInt8] {
        try readBlob(descriptor.digest, maxBytes: 1 << 26)
    }
    func rootDescriptor(tag: String?) throws -> Descriptor { try resolve(tag: tag) }

    func blobPath(_ digest: Digest) -> String? {
        let p = root + "/blobs/sha256/" + digest.hex
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    func commitBlob(verifiedFile path: String, digest: Digest) throws {
        guard rename(path, root + "/blobs/sha256/" + digest.hex) == 0 else {
            throw OCIWriterError.sys("rename", path: path)
        }
    }

    func readBlob(_ digest: Digest, maxBytes: Int) throws -> [UInt8] {
        guard let p = blobPath(digest), let d = FileManager.default.contents(atPath: p) else {
            throw OCIWriterError(.notFound, "blob \(digest) not found", path: root)
        }
        let b = Array(d)
        guard Digest.of(b) == digest else {
            throw OCIWriterError(.digestMismatch, "blob \(digest) is corrupt", path: p)
        }
        return b
    }

    func index() throws -> ImageIndex {
        try CanonicalJSON.decode(
            ImageIndex.self, from: Array(FileManager.default.contents(atPath: root + "/index.json") ?? Data()),
            source: root + "/index.json")
    }

    func writeIndex(_ i: ImageIndex) throws {
        try Data(try CanonicalJSON.encode(i)).write(to: URL(fileURLWithPath: root + "/index.json"), options: .atomic)
    }

    func resolve(tag: String?) throws -> Descriptor {
        let i = try index()
        if let tag {
            guard let d = i.manifests.first(where: { $0.annotations?[Descriptor.refNameAnnotation] == tag }) else {
                throw OCIWriterError(.notFound, "no image tagged '\(tag)'", path: root)
            }
            return d
        }
        guard i.manifests.count == 1 else { throw OCIWriterError(.notFound, "expected exactly one image", path: root) }
        return i.manifests[0]
    }

    func setTag(_ tag: String, descriptor: Descriptor) throws {
        try lock.withLock {
            var i = try index()
            i.manifests.removeAll { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            var d = descriptor
            d.annotations = (d.annotations ?? [:]).merging([Descriptor.refNameAnnotation: tag]) { $1 }
            i.manifests.append(d)
            try writeIndex(i)
        }
    }

    /// Adds `bytes` as a blob and returns its descriptor.
    @discardableResult
    func add(_ bytes: [UInt8], mediaType: MediaType) throws -> Descriptor {
        let d = Digest.of(bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/blobs/sha256/" + d.hex))
        return Descriptor(mediaType: mediaType, digest: d, size: Int64(bytes.count))
    }

    func allBlobDigests() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/blobs/sha256")) ?? [])
    }
}

enum TestImages {
    /// Deterministic pseudo-random bytes (incompressible).
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 0x9E3779B97F4A7C15 | 1
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            out[i] = UInt8(truncatingIfNeeded: x)
        }
        return out
    }

    /// A real gzipped tar with one file of `size` bytes.
    static func layer(size: Int, seed: UInt64, dir: String) throws -> (gz: [UInt8], diffID: Digest) {
        let work = dir + "/layer-\(seed)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work + "/root", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Data(noise(size, seed: seed)).write(to: URL(fileURLWithPath: work + "/root/file-\(seed).bin"))
        let (s1, o1) = try run(
            "/bin/tar",
            [
                "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                "-C", work + "/root", "-cf", work + "/l.tar", "."
            ])
        guard s1 == 0 else { throw OCIWriterError(.io, "tar: \(o1)") }
        let tar = Array(FileManager.default.contents(atPath: work + "/l.tar")!)
        let (s2, o2) = try run("/bin/gzip", ["-n", "-1", work + "/l.tar"])
        guard s2 == 0 else { throw OCIWriterError(.io, "gzip: \(o2)") }
        let gz = Array(FileManager.default.contents(atPath: work + "/l.tar.gz")!)
        return (gz, Digest.of(tar))
    }

    /// Writes an image with layers of the given sizes into `store` under `tag`; returns the manifest descriptor.
    @discardableResult
    static func make(
        in store: DirectoryImageStore, tag: String, layerSizes: [Int], seed: UInt64,
        platform: Platform = .host
    ) throws -> Descriptor {
        var layers: [Descriptor] = []
        var diffIDs: [Digest] = []
        for (i, size) in layerSizes.enumerated() {
            let l = try layer(size: size, seed: seed &* 100 &+ UInt64(i), dir: store.root)
            layers.append(try store.add(l.gz, mediaType: .ociLayerGzip))
            diffIDs.append(l.diffID)
        }
        let config = ImageConfig(
            platform: platform, config: ContainerConfig(cmd: ["/bin/sh"]), rootfs: RootFS(diffIDs: diffIDs),
            history: layers.map { _ in History(created: "1970-01-01T00:00:00Z", createdBy: "test") },
            created: "1970-01-01T00:00:00Z")
        let cfg = try store.add(try CanonicalJSON.encode(config), mediaType: .ociConfig)
        let manifest = try EncodedDocument(Manifest(config: cfg, layers: layers))
        var d = try store.add(manifest.bytes, mediaType: .ociManifest)
        d.platform = platform
        try store.setTag(tag, descriptor: d)
        return d
    }
}
