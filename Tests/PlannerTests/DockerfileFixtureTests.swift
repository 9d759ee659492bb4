import Foundation
import Testing

@testable import Planner

/// Fixtures/dockerfile/<case>/context (the build context with the Dockerfile), optional options.json, and the
/// committed snapshot expected.json (the resolved build) or expected-error.txt. Compared exactly; regenerate
/// with OCIFORGE_UPDATE_SNAPSHOTS=1 and review the diff.
enum DockerfileFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Fixtures/dockerfile"
    }()

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/context")
        }.sorted()
    }

    struct Options: Decodable {
        var buildArgs: [String: String]?
        var target: String?
        var dockerfile: String?
        var platform: String?
        /// Cross-check the final config against `buildah bud`.
        var buildah: Bool?
        /// Empty directories of the context (git cannot store them): created before the fixture is used.
        var emptyDirectories: [String]?
    }

    /// The fixture's build context, with its empty directories created.
    static func context(_ name: String) throws -> String {
        let ctx = root + "/" + name + "/context"
        for d in try options(name).emptyDirectories ?? [] {
            try FileManager.default.createDirectory(atPath: ctx + "/" + d, withIntermediateDirectories: true)
        }
        return ctx
    }

    static func options(_ name: String) throws -> Options {
        guard let data = FileManager.default.contents(atPath: root + "/" + name + "/options.json") else {
            return Options()
        }
        return try JSONDecoder().decode(Options.self, from: data)
    }

    static func resolve(_ name: String) throws -> ResolvedDockerfile {
        let f = try options(name)
        var o = DockerfileOptions()
        o.buildArgs = f.buildArgs ?? [:]
        o.target = f.target
        o.platform = f.platform ?? "linux/amd64"
        let ctx = try context(name)
        let df = f.dockerfile ?? "Dockerfile"
        return try Dockerfile.resolve(path: ctx + "/" + df, display: df, context: ctx, options: o)
    }

    static func render(_ name: String) throws -> (text: String, isError: Bool) {
        do {
            return (DockerfileRenderer.json(try resolve(name)), false)
        } catch let e as PlannerError {
            return ("error: \(e.description)\n", true)
        }
    }

    static var updating: Bool { ProcessInfo.processInfo.environment["OCIFORGE_UPDATE_SNAPSHOTS"] == "1" }
}

@Suite("Dockerfile fixtures")
struct DockerfileFixtureTests {
    @Test("at least 25 conformance fixtures resolve, plus error fixtures")
    func fixtureCount() throws {
        let names = DockerfileFixtures.names
        let ok = names.filter {
            FileManager.default.fileExists(atPath: DockerfileFixtures.root + "/" + $0 + "/expected.json")
        }
        let errors = names.filter {
            FileManager.default.fileExists(atPath: DockerfileFixtures.root + "/" + $0 + "/expected-error.txt")
        }
        #expect(ok.count >= 25)
        #expect(errors.count >= 12)
        #expect(ok.count + errors.count == names.count, "every fixture has a snapshot")
    }

    @Test("resolved build matches the committed snapshot", arguments: DockerfileFixtures.names)
    func snapshot(name: String) throws {
        let (text, isError) = try DockerfileFixtures.render(name)
        let dir = DockerfileFixtures.root + "/" + name
        let okPath = dir + "/expected.json", errPath = dir + "/expected-error.txt"
        if DockerfileFixtures.updating {
            try? FileManager.default.removeItem(atPath: isError ? okPath : errPath)
            try text.write(toFile: isError ? errPath : okPath, atomically: true, encoding: .utf8)
            return
        }
        let expectedPath = FileManager.default.fileExists(atPath: okPath) ? okPath : errPath
        let expected = try #require(
            try? String(contentsOfFile: expectedPath, encoding: .utf8), "no snapshot for \(name)")
        #expect(isError == (expectedPath == errPath), "\(name): success/failure differs from the snapshot")
        #expect(text == expected, "\(name): differs from \(expectedPath)")
        if isError {
            // Every error names the file and, except for a missing Dockerfile or an unknown target, the line.
            #expect(text.hasPrefix("error: Dockerfile"), "\(name): the error names the Dockerfile")
            if !["err-missing-dockerfile", "err-target-not-found"].contains(name) {
                #expect(
                    text.range(of: #"^error: Dockerfile:\d+: "#, options: .regularExpression) != nil,
                    "\(name): the error has file:line")
            }
        }
    }

    @Test("the JSON round-trips through Codable")
    func roundTrip() throws {
        for name in DockerfileFixtures.names
        where FileManager.default.fileExists(atPath: DockerfileFixtures.root + "/" + name + "/expected.json") {
            let built = try DockerfileFixtures.resolve(name)
            let data = Data(DockerfileRenderer.json(built).utf8)
            let decoded = try JSONDecoder().decode(ResolvedDockerfile.self, from: data)
            #expect(decoded == built, "\(name)")
        }
    }
}

/// The config fields the fixtures expect, checked against what `buildah bud --isolation chroot` produces for the
/// same Dockerfile (scratch-based fixtures without RUN). Needs root and buildah (installed by scripts/install-deps).
@Suite("Dockerfile config vs buildah", .serialized)
struct DockerfileBuildahTests {
    static var cases: [String] {
        DockerfileFixtures.names.filter { (try? DockerfileFixtures.options($0).buildah) == true }
    }

    struct Inspect: Decodable {
        struct OCI: Decodable { var config: Config? }
        struct Config: Decodable {
            var Env: [String]?
            var Cmd: [String]?
            var Entrypoint: [String]?
            var WorkingDir: String?
            var User: String?
            var Labels: [String: String]?
            var ExposedPorts: [String: [String: String]]?
            var Volumes: [String: [String: String]]?
            var StopSignal: String?
        }
        var OCIv1: OCI
    }

    static func run(_ args: [String], in dir: String? = nil) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        if let dir { p.currentDirectoryURL = URL(fileURLWithPath: dir) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// buildah needs root here (its storage lives in /var/lib/containers).
    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/buildah")
    }

    @Test("the cross-checked subset is substantial")
    func subsetSize() { #expect(Self.cases.count >= 12) }

    @Test(
        "Env, Cmd, Entrypoint, WorkingDir, User, Labels, ExposedPorts (and Volumes, StopSignal) match buildah",
        .enabled(if: DockerfileBuildahTests.available, "needs root and buildah (scripts/install-deps)"),
        arguments: DockerfileBuildahTests.cases)
    func matchesBuildah(name: String) throws {
        let f = try DockerfileFixtures.options(name)
        let built = try DockerfileFixtures.resolve(name)
        let ours = try #require(built.config(ofStage: built.finalStage.index))
        let ctx = try DockerfileFixtures.context(name)
        let tag = "localhost/ociforge-dftest-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        var args = [
            "buildah", "bud", "--isolation", "chroot", "--quiet", "--layers=false", "-f",
            ctx + "/" + (f.dockerfile ?? "Dockerfile"), "-t", tag
        ]
        for (k, v) in (f.buildArgs ?? [:]).sorted(by: { $0.key < $1.key }) { args += ["--build-arg", "\(k)=\(v)"] }
        if let t = f.target { args += ["--target", t] }
        args.append(ctx)
        let (status, _, stderr) = try Self.run(args)
        try #require(status == 0, "buildah bud failed: \(stderr)")
        defer { _ = try? Self.run(["buildah", "rmi", "-f", tag]) }
        let (s2, json, e2) = try Self.run(["buildah", "inspect", "--type", "image", tag])
        try #require(s2 == 0, "buildah inspect failed: \(e2)")
        let theirs = try #require(try JSONDecoder().decode(Inspect.self, from: Data(json.utf8)).OCIv1.config)
        #expect(ours.env == theirs.Env, "\(name): Env")
        #expect(ours.cmd == theirs.Cmd, "\(name): Cmd")
        #expect(ours.entrypoint == theirs.Entrypoint, "\(name): Entrypoint")
        #expect((ours.workingDir ?? "") == (theirs.WorkingDir ?? ""), "\(name): WorkingDir")
        #expect((ours.user ?? "") == (theirs.User ?? ""), "\(name): User")
        var labels = theirs.Labels ?? [:]
        labels["io.buildah.version"] = nil
        #expect((ours.labels ?? [:]) == labels, "\(name): Labels")
        #expect(
            (ours.exposedPorts ?? []) == (theirs.ExposedPorts.map { Array($0.keys).sorted() } ?? []),
            "\(name): ExposedPorts")
        #expect((ours.volumes ?? []) == (theirs.Volumes.map { Array($0.keys).sorted() } ?? []), "\(name): Volumes")
        #expect(ours.stopSignal == theirs.StopSignal, "\(name): StopSignal")
    }
}
