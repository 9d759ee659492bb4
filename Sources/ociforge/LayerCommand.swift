import ArgumentParser
import Foundation
import OCIWriter

struct LayerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layer",
        abstract: "Write deterministic layer blobs.",
        subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the tree under <dir> as a layer blob and print its diffID, digest and size.",
            discussion: """
                Entries are sorted bytewise, owners numeric, mtimes clamped to SOURCE_DATE_EPOCH when it is set.
                The default gzip engine is ISA-L level 1 in 1 MiB blocks compressed in parallel; the output does
                not depend on --threads. Use --gzip-engine zlib --level 6 --chunk-size 0 for classic single-stream gzip.
                """)

        @Argument(help: "Directory to write; <dir>:<dest> places it at <dest> inside the layer (e.g. app:/srv/app).")
        var dir: String

        @Option(name: .shortAndLong, help: "Output blob file (written to a temp file, then renamed).")
        var output: String

        @Option(help: "gzip, zstd or none.")
        var compression: String = "gzip"

        @Option(name: .customLong("gzip-engine"), help: "isal (levels 0-3) or zlib (levels 0-9).")
        var gzipEngine: String = "isal"

        @Option(help: "Compression level (default: isal 1, zlib 6, zstd 3).")
        var level: Int?

        @Option(name: .customLong("chunk-size"), help: "gzip block size in bytes (0: one deflate stream).")
        var chunkSize: Int = GzipSettings.defaultChunkSize

        @Option(help: "Compression threads (does not change the output).")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Flag(help: "Print the result as JSON.")
        var json = false

        func run() throws {
            do {
                var source = dir
                var dest: String?
                if let i = dir.lastIndex(of: ":"), dir[dir.index(after: i)...].hasPrefix("/") {
                    source = String(dir[..<i])
                    dest = String(dir[dir.index(after: i)...])
                }
                guard let comp = LayerCompression(rawValue: compression) else {
                    throw ValidationError("--compression must be gzip, zstd or none (got '\(compression)')")
                }
                var options = LayerWriteOptions(compression: comp, threads: threads)
                options.sourceDateEpoch = try LayerWriteOptions.sourceDateEpochFromEnvironment()
                options.gzip = GzipSettings(
                    engine: try GzipEngine(parsing: gzipEngine, level: comp == .gzip ? level : nil),
                    chunkSize: chunkSize)
                if comp == .zstd, let level { options.zstdLevel = level }
                let r = try LayerWriter.write(directory: source, destination: dest, to: output, options: options)
                for w in r.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
                if json {
                    let obj: [String: Any] = [
                        "diffID": r.diffID.string, "digest": r.digest.string, "size": r.size,
                        "uncompressedSize": r.uncompressedSize, "mediaType": r.mediaType.rawValue,
                        "entries": r.entryCount, "compressor": r.compressor, "warnings": r.warnings
                    ]
                    let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print("diffID: \(r.diffID)")
                    print("digest: \(r.digest)")
                    print("size: \(r.size)")
                    print("uncompressedSize: \(r.uncompressedSize)")
                    print("mediaType: \(r.mediaType)")
                    print("entries: \(r.entryCount)")
                    print("compressor: \(r.compressor)")
                }
            } catch let e as OCIWriterError {
                FileHandle.standardError.write(Data("error: \(e)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
