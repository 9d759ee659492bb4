import Foundation
import OCIWriter

/// The layer extractor (libarchive tar parsing, gzip/zstd detection, every path resolved in-root, whiteouts,
/// limits) applied to the input as a layer onto a fresh rootfs in a temporary directory, unprivileged policies.
/// Small limits keep each run short. Errors are fine; a crash, a hang, or a write outside the rootfs is not.
let scratch: String = {
    let dir = NSTemporaryDirectory() + "/ociforge-fuzz-tar-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: dir + "/canary", contents: Data("canary".utf8))
    return dir
}()

let options: LayerExtractionOptions = {
    var limits = ExtractionLimits()
    limits.maxTotalBytes = 64 << 20
    limits.maxEntries = 10_000
    return LayerExtractionOptions(
        limits: limits, ownership: .ignore, devices: .skip, setID: .strip, xattrs: .bestEffort)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let layer = scratch + "/layer"
    let rootfs = scratch + "/rootfs"
    guard FileManager.default.createFile(atPath: layer, contents: Data(bytes: data, count: size)) else { return 0 }
    _ = try? LayerExtractor.unpack(layers: [LayerSource(path: layer)], to: rootfs, options: options)
    try? FileManager.default.removeItem(atPath: rootfs)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
    if Set(names) != ["canary", "layer"] {
        fatalError("the extractor left or created \(names.sorted()) next to the rootfs")
    }
    return 0
}
