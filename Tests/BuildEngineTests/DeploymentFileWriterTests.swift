import Foundation
import Testing

@testable import BuildEngine

@Suite("deploy-build: all-or-nothing file writes")
struct DeploymentFileWriterTests {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "ociforge-writer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("every target replaced, the original mode kept, new files 0644, no temp file left")
    func writesAll() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "old\n".write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        chmod(dir + "/a.yaml", 0o640)
        try DeploymentFileWriter.writeAll([
            (dir + "/a.yaml", Array("new a\n".utf8)), (dir + "/b.yaml", Array("new b\n".utf8))
        ])
        #expect(try String(contentsOfFile: dir + "/a.yaml", encoding: .utf8) == "new a\n")
        #expect(try String(contentsOfFile: dir + "/b.yaml", encoding: .utf8) == "new b\n")
        let modes = try ["a.yaml", "b.yaml"].map {
            (try FileManager.default.attributesOfItem(atPath: dir + "/" + $0)[.posixPermissions] as? Int)
        }
        #expect(modes == [0o640, 0o644])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["a.yaml", "b.yaml"])
    }

    @Test("a target that cannot be written: no file changes and no temp file is left")
    func nothingOnFailure() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "old\n".write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        #expect(throws: DeployBuildError.self) {
            try DeploymentFileWriter.writeAll([
                (dir + "/a.yaml", Array("new\n".utf8)), (dir + "/missing/b.yaml", Array("x".utf8))
            ])
        }
        #expect(try String(contentsOfFile: dir + "/a.yaml", encoding: .utf8) == "old\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.yaml"])
    }
}
