import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Conformance of `ociforge dockerfile build` with `buildah bud --isolation chroot` (issue 7, must-show 1): each
/// fixture's Dockerfile is built by both on the same base (`FROM scratch`, or the Debian minbase layout passed as
/// `--build-arg BASE=oci:<layout>:base`), and the unpacked filesystems (tree manifest: paths, types, modes, owners,
/// contents, link targets, hard links) and the config fields (`DockerfileExecTests.comparedFields`) must be equal.
///
/// Fixtures: the scratch front-end fixtures of Fixtures/dockerfile/ listed in `frontEndFixtures`, and every
/// directory of Fixtures/dockerfile-exec/ (`context/` with the Dockerfile, `options.json`). Options:
/// `debian` (pass BASE), `buildArgs`, `target`, `dockerfile`, `secrets` (id → value, given to both builders as
/// files), `buildahMountStubs` (RUN --mount targets buildah 1.28 leaves in its layer, see
/// `DockerfileExecTests.compare`), `buildahDockerfile` (where buildah 1.28 cannot parse what Docker documents —
/// heredocs, `--link`, `RUN --network` — buildah builds this file, the same steps in the syntax it has; `why`
/// says which difference), `buildahConfigDifferences` (config fields where buildah 1.28 departs from what Docker
/// documents, left out of the comparison), `buildahDifferentPaths` + `expectedFiles` (files where buildah 1.28 departs
/// from Docker: left out of both trees, ociforge's must have the given content), `registryBase` (BASE is the Debian base pushed to a loopback registry).
/// Cases run in parallel (each has its own temp dir, buildah image name, registry port and cache ids; buildah's
/// storage and ociforge's state dir lock what they share). Needs root, buildah and podman (scripts/install-deps).
@Suite("Dockerfile conformance with buildah")
struct DockerfileConformanceTests {
    struct Options: Decodable {
        var debian: Bool?
        var buildArgs: [String: String]?
        var target: String?
        var dockerfile: String?
        var buildahDockerfile: String?
        var secrets: [String: String]?
        var buildahMountStubs: [String]?
        /// Config fields where buildah 1.28 departs from Docker's documented result (`why` says how).
        var buildahConfigDifferences: [String]?
        /// Files where buildah 1.28 departs from Docker: left out of both trees; ours must hold `expectedFiles`.
        var buildahDifferentPaths: [String]?
        var expectedFiles: [String: String]?
        /// BASE is the Debian base pushed to a loopback registry (`FROM 127.0.0.1:<port>/…`).
        var registryBase: Bool?
    }

    /// Front-end fixtures (Fixtures/dockerfile/) executed as they are: FROM scratch, no RUN.
    static let frontEndFixtures = [
        "scratch-basic", "copy-directory-semantics", "add-archives", "workdir-relative", "from-stage-inheritance",
        "env-forms",
        "arg-scoping", "dockerignore-rules", "dockerfile-specific-ignore", "volume-stopsignal-maintainer",
        "expose-basic",
        "label-quotes-legacy", "substitution-basic", "env-arg-interplay"
    ].map { "dockerfile/" + $0 }

    /// Fixtures/dockerfile-exec/*: written for execution (most on the Debian base).
    static var execFixtures: [String] {
        let root = Harness.fixture("dockerfile-exec")
        return ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.fileExists(atPath: root + "/" + $0 + "/context") }
            .sorted().map { "dockerfile-exec/" + $0 }
    }

    /// All fixtures, or those named in OCIFORGE_CONFORMANCE_ONLY (comma-separated, while working on a few).
    static var cases: [String] {
        let all = frontEndFixtures + execFixtures
        guard let only = ProcessInfo.processInfo.environment["OCIFORGE_CONFORMANCE_ONLY"], !only.isEmpty else {
            return all
        }
        let names = Set(only.split(separator: ",").map(String.init))
        return all.filter { names.contains(($0 as NSString).lastPathComponent) }
    }

    static func options(_ fixture: String) throws -> Options {
        guard let d = FileManager.default.contents(atPath: Harness.fixture(fixture + "/options.json")) else {
            return Options()
        }
        return try JSONDecoder().decode(Options.self, from: d)
    }

    @Test("at least 25 distinct Dockerfiles are compared")
    func distinctDockerfiles() throws {
        var texts = Set<String>()
        var builds = Set<String>()
        let all = Self.frontEndFixtures + Self.execFixtures
        for c in all {
            let o = try Self.options(c)
            let df = o.dockerfile ?? "Dockerfile"
            let path = Harness.fixture(c + "/context/" + df)
            let text = try #require(
                try? String(contentsOfFile: path, encoding: .utf8), "\(c): no Dockerfile at \(path)")
            texts.insert(text)
            // Two fixtures share `FROM scratch / COPY . /ctx/` and differ in their ignore files.
            let ignore =
                [df + ".dockerignore", ".dockerignore"].lazy
                .compactMap { try? String(contentsOfFile: Harness.fixture(c + "/context/" + $0), encoding: .utf8) }
                .first ?? ""
            builds.insert(text + "\u{0}" + ignore)
        }
        #expect(builds.count == all.count, "every fixture is its own build")
        #expect(texts.count >= 25, "distinct Dockerfiles: \(texts.count)")
    }

    @Test(
        "image tree and config equal buildah's",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"),
        arguments: DockerfileConformanceTests.cases)
    func conforms(_ fixture: String) throws {
        let o = try Self.options(fixture)
        let dir = try DockerfileExecTests.tempDir("df-conf")
        defer { dir.remove() }
        let ctx = try DockerfileExecTests.fixtureContext(fixture, in: dir)
        var args = o.buildArgs ?? [:]
        if o.debian == true { args["BASE"] = "oci:\(try DockerfileExecTests.baseLayout()):base" }
        var registry: LocalRegistry?
        defer { registry?.stop() }
        var buildahExtra: [String] = []
        if o.registryBase == true {
            registry = try LocalRegistry(dir: dir.path + "/registry")
            // A unique repository per run: the state dir's pulled-image layout is shared between runs.
            let image = "127.0.0.1:\(registry!.port)/conformance-\(getpid())-\(UInt32.random(in: 0...UInt32.max)):1"
            try Harness.ok(
                [Harness.ociforge, "image", "push", "oci-layout:\(try DockerfileExecTests.baseLayout()):base", image],
                environment: DockerfileExecTests.env())
            args["BASE"] = image
            buildahExtra = ["--tls-verify=false"]
        }
        var secretFiles: [String: String] = [:]
        for (id, value) in o.secrets ?? [:] {
            let path = dir.path + "/secret-" + id
            try value.write(toFile: path, atomically: true, encoding: .utf8)
            secretFiles[id] = path
        }
        let extra = secretFiles.sorted { $0.key < $1.key }.flatMap { ["--secret", "\($0.key)=file:\($0.value)"] }
        try DockerfileExecTests.ociforgeBuild(
            ctx, file: o.dockerfile.map { ctx + "/" + $0 }, args: args, target: o.target,
            output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache", extra: extra)
        let theirs = try DockerfileExecTests.buildahBuild(
            ctx, file: (o.buildahDockerfile ?? o.dockerfile).map { ctx + "/" + $0 },
            args: args, target: o.target, secrets: secretFiles, extra: buildahExtra)
        defer { theirs.remove() }
        let unpacked = try DockerfileExecTests.compare(
            dir.path + "/ours", tag: "img", with: theirs, in: dir, stubs: o.buildahMountStubs ?? [],
            differing: o.buildahDifferentPaths ?? [], skipFields: o.buildahConfigDifferences ?? [])
        for (path, content) in o.expectedFiles ?? [:] {
            #expect(
                (try? String(contentsOfFile: unpacked + path, encoding: .utf8)) == content,
                "\(fixture): \(path) of ociforge's image")
        }
        // Secrets never reach the image or the layer cache.
        for value in (o.secrets ?? [:]).values {
            let grep = try Harness.run(["grep", "-r", "-l", "-F", value, dir.path + "/ours", dir.path + "/cache"])
            #expect(grep.status == 1, "a secret value appears in the image or the cache: \(grep.stdout)")
        }
    }
}
