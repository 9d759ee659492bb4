import Foundation
import Testing

@testable import OCIWriter

/// Issue 16, bounded decompression outside extraction: `image verify` (`LayoutVerifier`, through
/// `LayerBlobDigester`) and a local compressed `ADD` (`BoundedDecompressor`) stop a decompression bomb at the same
/// limits as extraction, naming the layer (or archive) and the limit.
@Suite struct BoundedDecompressionTests {
    /// An image whose only layer is 1 GiB of zeros in ~1 MiB of gzip (the bomb of `ExtractLimitsTests`).
    static func bombImage(in dir: LayoutTempDir) throws -> (layout: OCILayout, layer: Digest) {
        let bomb = dir.sub("bomb.tar.gz")
        try ExtractLimitsTests.zeroBomb(at: bomb, size: 1 << 30)
        let d = try LayerBlobDigester.digest(file: bomb, compression: .gzip)
        let layout = try OCILayout.create(at: dir.sub("layout"))
        _ = try ImageAssembler(
            base: .scratch(platform: Platform(architecture: "amd64", os: "linux")),
            layers: [
                LayerInput(file: bomb, mediaType: .ociLayerGzip, digest: d.digest, size: d.size, diffID: d.diffID)
            ],
            destination: layout, tag: "bomb", environment: [:]
        ).assemble()
        return (layout, d.digest)
    }

    @Test func verifyRefusesADecompressionBombByDefaultAndAcceptsItWithARaisedRatio() throws {
        let dir = try LayoutTempDir("verify-bomb")
        let (layout, layer) = try Self.bombImage(in: dir)

        let started = Date()
        let refused = LayoutVerifier.verify(layout, tag: "bomb")
        let seconds = Date().timeIntervalSince(started)
        #expect(!refused.isValid)
        let problem = try #require(refused.problems.first { $0.subject == "layer \(layer)" }, "\(refused.text())")
        #expect(problem.message.contains("maxExpansionRatio"), "\(problem)")
        #expect(problem.message.contains(layer.description), "\(problem)")
        // Only the bomb is reported: its blob digest and size are sound (re-hashed without decompressing).
        #expect(refused.problems.count == 1, "\(refused.text())")
        print("verify refused the 1 GiB gzip bomb in \(String(format: "%.2f", seconds)) s")

        var raised = ExtractionLimits()
        raised.maxExpansionRatio = 2000
        let accepted = LayoutVerifier.verify(layout, tag: "bomb", limits: raised)
        #expect(accepted.isValid, "\(accepted.text())")
        #expect(accepted.layersChecked == 1)

        var small = ExtractionLimits()
        small.maxExpansionRatio = 2000
        small.maxTotalBytes = 512 << 20
        let perLayer = LayoutVerifier.verify(layout, tag: "bomb", limits: small)
        #expect(perLayer.problems.contains { $0.message.contains("maxTotalBytes") }, "\(perLayer.text())")
    }

    @Test func verifyCountsTheImageBytesOfAllLayers() throws {
        let dir = try LayoutTempDir("verify-image-bytes")
        let layout = try OCILayout.create(at: dir.sub("layout"))
        let layers = try (0..<2).map { i in
            try makeLayoutTestLayer(in: dir.path, name: "l\(i)", files: ["f\(i)": String(repeating: "x", count: 8192)])
        }
        _ = try ImageAssembler(
            base: .scratch(platform: Platform(architecture: "amd64", os: "linux")), layers: layers,
            destination: layout, tag: "two", environment: [:]
        ).assemble()
        #expect(LayoutVerifier.verify(layout, tag: "two").isValid)
        var limits = ExtractionLimits()
        let biggest = try layers.map { try LayerBlobDigester.digest(file: $0.file, compression: .gzip) }
        limits.maxImageBytes = UInt64(biggest.map(\.uncompressedSize).max()!) + 1
        let r = LayoutVerifier.verify(layout, tag: "two", limits: limits)
        #expect(r.problems.map(\.message).contains { $0.contains("maxImageBytes") }, "\(r.text())")
    }

    /// `tool` compresses `input` into `output` (the host tools only make test data).
    static func compress(_ tool: [String], _ input: String, _ output: String) throws {
        let r = try layoutRun(
            "/bin/sh", ["-c", "\"$0\" \"$@\" < \"$IN\" > \"$OUT\""] + tool,
            environment: ["IN": input, "OUT": output, "PATH": "/usr/bin:/bin"])
        try #require(r.status == 0, "\(tool): \(r.stderr)")
    }

    static let tools: [(String, [String])] = [
        ("gz", ["gzip", "-n", "-c"]), ("bz2", ["bzip2", "-c"]), ("xz", ["xz", "-c", "-T1"]),
        ("zst", ["zstd", "-q", "-c"])
    ]

    @Test(arguments: tools.map(\.0))
    func decompressorStopsABombAtTheRatioAndPassesANormalArchive(_ ext: String) throws {
        let tool = try #require(Self.tools.first { $0.0 == ext }?.1)
        let dir = try LayoutTempDir("bounded-\(ext)")
        let zeros = dir.sub("zeros")
        try Data(count: 16 << 20).write(to: URL(fileURLWithPath: zeros))
        let bomb = dir.sub("zeros." + ext)
        try Self.compress(tool, zeros, bomb)

        // A ratio checked after 1 MiB: 16 MiB of zeros compress far past 200:1 with every tool.
        var tight = ExtractionLimits()
        tight.expansionCheckBytes = 1 << 20
        let out = dir.sub("out")
        let e = #expect(throws: OCIWriterError.self) {
            try BoundedDecompressor(limits: tight).decompress(bomb, to: out, label: "ADD archive zeros.\(ext)")
        }
        #expect(e?.code == .limitExceeded)
        #expect(e?.message.contains("ADD archive zeros.\(ext)") == true, "\(String(describing: e))")
        #expect(e?.message.contains("maxExpansionRatio") == true, "\(String(describing: e))")
        #expect(!FileManager.default.fileExists(atPath: out), "the partial output was left")

        var capped = ExtractionLimits()
        capped.maxTotalBytes = 4 << 20
        let e2 = #expect(throws: OCIWriterError.self) {
            try BoundedDecompressor(limits: capped).decompress(bomb, to: out)
        }
        #expect(e2?.message.contains("maxTotalBytes") == true, "\(String(describing: e2))")
        #expect(!FileManager.default.fileExists(atPath: out))

        // Default limits: the same file (16 MiB, below the 256 MiB where the ratio applies) and a real tar.
        #expect(try BoundedDecompressor().decompress(bomb, to: out) == 16 << 20)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(count: 16 << 20))
        let layer = try makeLayoutTestLayer(
            in: dir.path, name: "app", files: ["srv/app.txt": "hello"], compression: .none)
        let packed = dir.sub("app.tar." + ext)
        try Self.compress(tool, layer.file, packed)
        let tar = dir.sub("app.tar")
        let n = try BoundedDecompressor().decompress(packed, to: tar + ".out")
        #expect(Digest.of(try Array(Data(contentsOf: URL(fileURLWithPath: tar + ".out")))) == layer.diffID)
        #expect(n > 0)
    }

    @Test func corruptDataAndAnExistingDestinationAreErrors() throws {
        let dir = try LayoutTempDir("bounded-corrupt")
        let zeros = dir.sub("zeros")
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: zeros))
        try Self.compress(["xz", "-c"], zeros, zeros + ".xz")
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: zeros + ".xz")))
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes.prefix(bytes.count - 8)).write(to: URL(fileURLWithPath: zeros + ".bad.xz"))
        let e = #expect(throws: OCIWriterError.self) {
            try BoundedDecompressor().decompress(zeros + ".bad.xz", to: dir.sub("out"))
        }
        #expect(e?.code == .compression, "\(String(describing: e))")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out")))
        let exists = #expect(throws: OCIWriterError.self) {
            try BoundedDecompressor().decompress(zeros + ".xz", to: zeros)
        }
        #expect(exists?.errno == EEXIST)
        #expect(try Data(contentsOf: URL(fileURLWithPath: zeros)).count == 1 << 20, "the existing file was touched")
    }
}
