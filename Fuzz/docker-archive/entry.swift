import Foundation
import OCIWriter

/// docker-archive reading (`docker save` tarballs): the input as an archive, read into a fresh OCI layout.
/// Errors are fine; a crash, a hang, or a temporary file left in the layout is not.
let scratch: String = {
    let dir = NSTemporaryDirectory() + "/ociforge-fuzz-archive-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let archive = scratch + "/archive.tar"
    let layoutPath = scratch + "/layout"
    guard FileManager.default.createFile(atPath: archive, contents: Data(bytes: data, count: size)) else { return 0 }
    try? FileManager.default.removeItem(atPath: layoutPath)
    guard let layout = try? OCILayout.create(at: layoutPath) else { fatalError("cannot create the layout") }
    _ = try? DockerArchive.list(archive)
    _ = try? DockerArchive.readAll(archive, into: layout)
    let blobs = (try? FileManager.default.contentsOfDirectory(atPath: layoutPath + "/blobs")) ?? []
    if blobs.contains(where: { $0 != "sha256" }) { fatalError("temporary files left in the layout: \(blobs)") }
    return 0
}
