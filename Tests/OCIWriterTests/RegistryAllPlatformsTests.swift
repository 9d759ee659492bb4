import Foundation
import Testing

@testable import OCIWriter

/// `pullAll`: whole indexes (nested ones too) against docker-registry, with digests and bytes preserved.
@Suite("Registry: pulling every platform of an index")
struct RegistryAllPlatformsTests {
    @Test func nestedIndexPulledWholeAndPushedBack() async throws {
        let reg = try TestRegistry()
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let src = try DirectoryImageStore(try dir.sub("src"))
        let amd = try TestImages.make(
            in: src, tag: "amd", layerSizes: [2_000, 50_000], seed: 11,
            platform: Platform(architecture: "amd64", os: "linux"))
        let arm = try TestImages.make(
            in: src, tag: "arm", layerSizes: [3_000], seed: 12,
            platform: Platform(architecture: "arm64", os: "linux", variant: "v8"))
        let ppc = try TestImages.make(
            in: src, tag: "ppc", layerSizes: [1_500], seed: 13, platform: Platform(architecture: "ppc64le", os: "linux")
        )
        // An index whose second entry is itself an index (allowed by the image spec).
        let inner = try src.add(try EncodedDocument(ImageIndex(manifests: [arm, ppc])).bytes, mediaType: .ociIndex)
        let outer = try src.add(try EncodedDocument(ImageIndex(manifests: [amd, inner])).bytes, mediaType: .ociIndex)
        try src.setTag("all", descriptor: outer)

        let client = try RegistryClient(registry: reg.host, credential: nil, options: RegistryRoundTripTests.options())
        let ref = try ImageReference(parsing: "\(reg.host)/plat/app:v1")
        #expect(try await client.push(from: src, tag: "all", to: ref).digest == outer.digest)

        let dst = try DirectoryImageStore(try dir.sub("dst"))
        let puller = try RegistryClient(registry: reg.host, credential: nil, options: RegistryRoundTripTests.options())
        let got = try await puller.pullAll(ref, into: dst)
        #expect(got.digest == outer.digest && got.mediaType == .ociIndex)
        #expect(try dst.resolve(tag: "v1").digest == outer.digest)
        // Every blob of every platform, byte for byte; the layer bytes came over the wire exactly once.
        #expect(dst.allBlobDigests() == src.allBlobDigests())
        for hex in src.allBlobDigests() {
            let d = try Digest("sha256:" + hex)
            #expect(try dst.readBlob(d, maxBytes: 1 << 26) == src.readBlob(d, maxBytes: 1 << 26))
        }
        #expect(await puller.stats.blobsDownloaded == 3 + 4)

        // A second pull finds everything in place and downloads no blob.
        let again = try RegistryClient(registry: reg.host, credential: nil, options: RegistryRoundTripTests.options())
        #expect(try await again.pullAll(ref, into: dst, tag: "again").digest == outer.digest)
        #expect(await again.stats.blobsDownloaded == 0)

        // A single platform can still be chosen from the pushed nested index by push --platform.
        let armOnly = try await client.push(
            from: src, tag: "all", platform: Platform(architecture: "arm64", os: "linux"),
            to: try ImageReference(parsing: "\(reg.host)/plat/arm:v1"))
        #expect(armOnly.digest == arm.digest)
        let e = try await #require(throws: OCIWriterError.self) {
            try await client.push(
                from: src, tag: "all", platform: Platform(architecture: "s390x", os: "linux"),
                to: try ImageReference(parsing: "\(reg.host)/plat/none:v1"))
        }
        #expect(
            e.code == .platformNotFound && e.message.contains("linux/arm64/v8") && e.message.contains("linux/ppc64le"),
            "\(e.message)")
    }
}
