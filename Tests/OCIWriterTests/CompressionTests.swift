import Foundation
import Testing

@testable import OCIWriter

@Suite struct CompressionTests {
    static func gzip(_ data: [UInt8], _ settings: GzipSettings, threads: Int = 1) throws -> [UInt8] {
        let sink = MemorySink()
        let gz = try GzipCompressor(settings: settings, threads: threads, downstream: sink)
        // Feed in uneven pieces: the output must not depend on how input arrives.
        var off = 0
        var step = 1
        while off < data.count {
            let n = min(step, data.count - off)
            try data[off..<(off + n)].withUnsafeBytes { try gz.write($0) }
            off += n
            step = step * 3 + 7
        }
        try gz.finish()
        #expect(sink.finished)
        return sink.bytes
    }

    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let dir = try LayerTempDir("gz")
        try LayerFS.bytes(dir.sub("x.gz"), bytes)
        let r = layerRun(["/bin/sh", "-c", "gzip -dc < \"$0\" > \"$0.out\"", dir.sub("x.gz")])
        try #require(r.status == 0, "gzip -d rejected the stream: \(r.stderr)")
        return try LayerFS.readBytes(dir.sub("x.gz.out"))
    }

    @Test func zlibGoldenVector() throws {
        let golden = "1f8b08000000000000ff2b492d2e01000c7e7fd804000000"
        let input = Array("test".utf8)
        #expect(layerHex(try Self.gzip(input, GzipSettings(engine: .zlib(level: 6), chunkSize: 0))) == golden)
        // Input smaller than one block: the block mode writes the same bytes.
        #expect(layerHex(try Self.gzip(input, GzipSettings(engine: .zlib(level: 6)))) == golden)
    }

    @Test func isalGoldenVector() throws {
        let input = Array("test".utf8)
        let out = try Self.gzip(input, GzipSettings(engine: .isal(level: 1)))
        #expect(layerHex(out) == Self.isalTest)
        #expect(try Self.gunzip(out) == input)
    }
    // ISA-L level 1 happens to encode "test" exactly as zlib -6 does (one fixed-Huffman block).
    static let isalTest = "1f8b08000000000000ff2b492d2e01000c7e7fd804000000"

    @Test(arguments: [
        GzipEngine.isal(level: 1), .isal(level: 2), .isal(level: 3), .isal(level: 0), .zlib(level: 6), .zlib(level: 1)
    ])
    func blocksIndependentOfThreadCount(_ engine: GzipEngine) throws {
        let data = layerTestBytes(3 * 256 * 1024 + 12345)
        let settings = GzipSettings(engine: engine, chunkSize: 256 * 1024)
        let one = try Self.gzip(data, settings, threads: 1)
        let two = try Self.gzip(data, settings, threads: 2)
        let three = try Self.gzip(data, settings, threads: 3)
        #expect(one == two)
        #expect(one == three)
        #expect(Array(one.prefix(10)) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, engine.extraFlags, 0xff])
        #expect(try Self.gunzip(one) == data)
        #expect(one.count < data.count)
    }

    @Test(arguments: [GzipEngine.isal(level: 1), .zlib(level: 6)])
    func exactMultipleOfBlockAndEmptyInput(_ engine: GzipEngine) throws {
        let settings = GzipSettings(engine: engine, chunkSize: 64 * 1024)
        for data in [[], layerTestBytes(128 * 1024), layerTestBytes(64 * 1024)] {
            let a = try Self.gzip(data, settings, threads: 1)
            let b = try Self.gzip(data, settings, threads: 2)
            #expect(a == b)
            #expect(try Self.gunzip(a) == data)
        }
    }

    @Test(arguments: [GzipEngine.isal(level: 1), .zlib(level: 6)])
    func singleStreamRoundTrip(_ engine: GzipEngine) throws {
        let data = layerTestBytes(2 * 1024 * 1024 + 777)
        let out = try Self.gzip(data, GzipSettings(engine: engine, chunkSize: 0), threads: 2)
        #expect(try Self.gunzip(out) == data)
    }

    /// zlib in one stream gives exactly what Python's own zlib binding gives (same library, independent driver).
    @Test func singleStreamZlibMatchesPython() throws {
        let data = layerTestBytes(2 * 1024 * 1024 + 99, seed: 7)
        let ours = try Self.gzip(data, GzipSettings(engine: .zlib(level: 6), chunkSize: 0))
        let dir = try LayerTempDir("pyz")
        try LayerFS.bytes(dir.sub("in"), data)
        let script = """
            import sys, zlib, struct
            d = open(sys.argv[1], 'rb').read()
            c = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
            body = c.compress(d) + c.flush()
            sys.stdout.write((b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\xff' + body + struct.pack('<II', zlib.crc32(d), len(d) & 0xffffffff)).hex())
            """
        let r = layerRun(["/usr/bin/env", "python3", "-c", script, dir.sub("in")])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(layerHex(ours) == r.stdout)
    }

    @Test func zstdIndependentOfThreadsAndDecodes() throws {
        let data = layerTestBytes(3 * 1024 * 1024 + 5)
        func z(_ threads: Int) throws -> [UInt8] {
            let sink = MemorySink()
            let c = try ZstdCompressor(level: 3, threads: threads, downstream: sink)
            try data.withUnsafeBytes { try c.write($0) }
            try c.finish()
            return sink.bytes
        }
        let a = try z(1), b = try z(2)
        #expect(a == b)
        let dir = try LayerTempDir("zst")
        try LayerFS.bytes(dir.sub("x.zst"), a)
        let r = layerRun(["/usr/bin/zstd", "-q", "-d", dir.sub("x.zst"), "-o", dir.sub("x")])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(try LayerFS.readBytes(dir.sub("x")) == data)
    }

    @Test func invalidSettingsRejected() {
        #expect(throws: OCIWriterError.self) { try GzipSettings(engine: .isal(level: 4)).validate() }
        #expect(throws: OCIWriterError.self) { try GzipSettings(engine: .zlib(level: 10)).validate() }
        #expect(throws: OCIWriterError.self) { try GzipSettings(engine: .zlib(level: 6), chunkSize: 1000).validate() }
        #expect(throws: OCIWriterError.self) { try GzipEngine(parsing: "lz4") }
        #expect(throws: OCIWriterError.self) { _ = try ZstdCompressor(level: 40, downstream: MemorySink()) }
        #expect(throws: Never.self) { try GzipEngine(parsing: "zlib-9") }
    }

    @Test func engineParsing() throws {
        #expect(try GzipEngine(parsing: "isal") == .isal(level: 1))
        #expect(try GzipEngine(parsing: "zlib") == .zlib(level: 6))
        #expect(try GzipEngine(parsing: "zlib", level: 9) == .zlib(level: 9))
        #expect(try GzipEngine(parsing: "isal-3") == .isal(level: 3))
    }
}
