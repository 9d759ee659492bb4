import Foundation
import Testing

@testable import OCIWriter

/// Inputs that crashed a fuzz target (scripts/fuzz, Fuzz/), replayed through the same code paths with the same
/// checks: Fixtures/fuzz-regressions/<target>/*. A crash here fails the suite.
@Suite struct FuzzRegressionTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/fuzz-regressions"
    }()

    static func inputs(_ target: String) -> [(name: String, bytes: [UInt8])] {
        let dir = root + "/" + target
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        return names.compactMap { n in FileManager.default.contents(atPath: dir + "/" + n).map { (n, [UInt8]($0)) } }
    }

    static func scratch(_ label: String) throws -> String {
        var template = Array("/tmp/ociforge-fuzzreg-\(label)-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw OCIWriterError(.io, "mkdtemp failed")
        }
        return String(cString: p)
    }

    /// docker-archive reading: refused cleanly, and nothing but complete blobs left in the layout.
    @Test func dockerArchiveInputs() throws {
        let cases = Self.inputs("docker-archive")
        #expect(!cases.isEmpty)
        for (name, bytes) in cases {
            let dir = try Self.scratch("archive")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let archive = dir + "/archive.tar"
            try Data(bytes).write(to: URL(fileURLWithPath: archive))
            let layout = try OCILayout.create(at: dir + "/layout")
            _ = try? DockerArchive.list(archive)
            _ = try? DockerArchive.readAll(archive, into: layout)
            let blobs = try FileManager.default.contentsOfDirectory(atPath: dir + "/layout/blobs")
            #expect(blobs == ["sha256"], "\(name): temporary files left in the layout: \(blobs)")
        }
    }
}

extension FuzzRegressionTests {
    /// Reference parsing: a parsed reference prints to a string that parses to the same reference.
    @Test func referenceInputsRoundTrip() throws {
        let cases = Self.inputs("reference")
        #expect(!cases.isEmpty)
        for (name, bytes) in cases {
            let s = String(decoding: bytes, as: UTF8.self)
            guard let r = try? ImageReference(parsing: s) else { continue }
            let again = try? ImageReference(parsing: r.description)
            #expect(
                again == r, "\(name): '\(s)' prints as '\(r.description)', which parses to \(String(describing: again))"
            )
        }
    }

    /// A registry host that is one only because of its capitals keeps them; dotted hosts are lowercased.
    @Test func dotlessUppercaseRegistryKeepsItsCase() throws {
        let r = try ImageReference(parsing: "MyRegistry/team/app:1")
        #expect(r.registry == "MyRegistry" && r.repository == "team/app")
        #expect(try ImageReference(parsing: r.description) == r)
        #expect(try ImageReference(parsing: "Registry.Example.COM:5000/a:b").registry == "registry.example.com:5000")
        #expect(try ImageReference(parsing: "LOCALHOST/a").registry == "localhost")
    }

    /// Docker Hub's other host names are Docker Hub in any case (found by fuzzing: `registRy-1.docker.io/c` printed
    /// as `registry-1.docker.io/c`, which parses to `docker.io/library/c`).
    @Test func dockerHubAliasesInAnyCase() throws {
        for host in ["registRy-1.docker.io", "INDEX.docker.io", "registry-1.docker.io", "docker.io"] {
            let r = try ImageReference(parsing: host + "/c")
            #expect(r.description == "docker.io/library/c:latest", "\(host)")
            #expect(try ImageReference(parsing: r.description) == r)
        }
        #expect(try ImageReference(registry: "Index.Docker.IO", repository: "c").registry == "docker.io")
    }
}
