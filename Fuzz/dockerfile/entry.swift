import Foundation

@testable import Planner

/// The Dockerfile front end: parse, then resolve against a small fixed build context (a file, a directory, a
/// .dockerignore) with a build argument, so COPY/ADD rules, variable substitution, heredocs and stage references
/// are all reached. Errors are fine; a crash or a hang is not.
let context: String = {
    let dir = NSTemporaryDirectory() + "/ociforge-fuzz-dockerfile-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir + "/src/sub", withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: dir + "/src/app.py", contents: Data("print(1)\n".utf8))
    _ = FileManager.default.createFile(atPath: dir + "/src/sub/x.txt", contents: Data("x\n".utf8))
    _ = FileManager.default.createFile(atPath: dir + "/.dockerignore", contents: Data("*.log\n!keep.log\n".utf8))
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    let path = context + "/Dockerfile"
    guard FileManager.default.createFile(atPath: path, contents: bytes) else { return 0 }
    if let text = String(data: bytes, encoding: .utf8) { _ = try? DockerfileParser.parse(text, file: "Dockerfile") }
    var options = DockerfileOptions()
    options.buildArgs = ["VERSION": "1.2", "BASE": "debian:bookworm"]
    if let r = try? Dockerfile.resolve(path: path, display: "Dockerfile", context: context, options: options) {
        _ = DockerfileRenderer.summary(r)
    }
    return 0
}
