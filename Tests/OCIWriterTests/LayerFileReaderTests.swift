import Foundation
import Testing

@testable import OCIWriter

/// `ResolvedImage.fileContents`: the state a layer stack leaves a file in (later layers, whiteouts, opaque dirs).
@Suite("Reading a file from an image's layers")
struct LayerFileReaderTests {
    /// An image whose layers are the given crafted entries (bottom first), uncompressed.
    static func image(_ layers: [[CraftedEntry]], dir: TempDir) throws -> ResolvedImage {
        let layout = try OCILayout.create(at: dir.path + "/layout-\(UUID().uuidString)")
        var descriptors: [Descriptor] = [], diffIDs: [Digest] = []
        for entries in layers {
            let tar = CraftedTar.build(entries)
            descriptors.append(try layout.writeBlob(bytes: tar, mediaType: .ociLayer))
            diffIDs.append(Digest.of(tar))
        }
        let config = try EncodedDocument(ImageConfig(platform: .host, rootfs: RootFS(diffIDs: diffIDs)))
        let configDesc = try layout.writeBlob(document: config, mediaType: .ociConfig)
        let manifest = try EncodedDocument(Manifest(config: configDesc, layers: descriptors))
        try layout.tag(try layout.writeBlob(document: manifest, mediaType: .ociManifest), as: "t")
        return try layout.resolve(tag: "t")
    }

    static let status = "var/lib/dpkg/status"

    @Test("topmost layer wins; whiteouts and opaque parents hide lower copies; a later layer brings it back")
    func layerStack() throws {
        let dir = try TempDir("layer-file")
        defer { dir.remove() }
        let base: [CraftedEntry] = [.dir("var/"), .dir("var/lib/"), .dir("var/lib/dpkg/"), .file(Self.status, "first")]
        func read(_ layers: [[CraftedEntry]]) throws -> String? {
            try Self.image(layers, dir: dir).fileContents("/" + Self.status).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(try read([base]) == "first")
        #expect(try read([base, [.file("./" + Self.status, "second")]]) == "second")
        #expect(try read([base, [.file("var/lib/dpkg/.wh.status")]]) == nil)
        #expect(try read([base, [.file("var/lib/.wh.dpkg")]]) == nil)
        #expect(try read([base, [.dir("var/lib/"), .file("var/lib/.wh..wh..opq")]]) == nil)
        #expect(try read([base, [.file("var/lib/dpkg/.wh.status")], [.file(Self.status, "third")]]) == "third")
        // An opaque marker and the file in the same layer: the layer's own file counts.
        #expect(try read([base, [.file("var/lib/dpkg/.wh..wh..opq"), .file(Self.status, "own")]]) == "own")
        // Unrelated whiteouts and names that merely start alike change nothing.
        #expect(try read([base, [.file("var/lib/dpkg/.wh.status-old"), .file("var/lib/dpkg/statusx", "x")]]) == "first")
        #expect(try read([[.file("etc/hostname", "h")]]) == nil)
        #expect(throws: OCIWriterError.self) { try Self.image([base], dir: dir).fileContents(Self.status, limit: 3) }
    }
}
