import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge deploy-build` end to end: the lttle and Compartment fixtures built in the sandbox, pushed to a loopback
/// docker-registry with Bearer-token auth, rewritten with pinned references that skopeo resolves and podman runs;
/// a failing resource leaves every input file unchanged.
@Suite("deploy-build end to end", .serialized)
struct DeployBuildTests {
    static let cache = DebianBase.cacheDir + "/deploy-build-cache"
    static let user = "deployer", password = "deploy-s3cret"

    static func env(_ extra: [String: String] = [:]) -> [String: String] {
        ["OCIFORGE_STATE_DIR": BuildEndToEndTests.stateDir, "SOURCE_DATE_EPOCH": BuildEndToEndTests.epoch].merging(
            extra
        ) { $1 }
    }

    /// Copies Fixtures/deploy into a fresh directory and points the worker's BASE arg at the minbase layout.
    static func fixtures(_ dir: TempDir) throws -> String {
        chmod(dir.path, 0o755)
        let root = dir.path + "/deploy"
        try Harness.ok(["cp", "-r", Harness.fixture("deploy"), root])
        let lttle = root + "/lttle/lttle.yaml"
        let text = try String(contentsOfFile: lttle, encoding: .utf8)
        try text.replacingOccurrences(of: "@BASE@", with: "oci:\(try DockerfileExecTests.baseLayout()):base")
            .write(toFile: lttle, atomically: true, encoding: .utf8)
        return root
    }

    static func deployBuild(_ args: [String], cwd: String, env extra: [String: String] = [:]) throws -> ProcessOutput {
        try Harness.run(
            [Harness.ociforge, "deploy-build"] + args + [
                "--cache-dir", cache, "--quiet", "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"
            ],
            environment: env(extra), cwd: cwd, timeout: 1800)
    }

    /// `image: <ref>@sha256:…` lines of a rewritten file.
    static func pinned(_ text: String) -> [(reference: String, digest: String)] {
        text.split(separator: "\n").compactMap { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("image: "), let at = t.firstIndex(of: "@") else { return nil }
            return (String(t.dropFirst(7)[..<at]), String(t[t.index(after: at)...]))
        }
    }

    @Test(
        "lttle (three resources, two documents) and Compartment (two services): built, pushed with token auth, pinned, run",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func fixturesEndToEnd() throws {
        let dir = try TempDir.make("deploy-build")
        defer { dir.remove() }
        let root = try Self.fixtures(dir)
        let registry = try TokenRegistry(dir: dir.path + "/registry", user: Self.user, password: Self.password)
        defer { registry.stop() }
        let credentials = ["REGISTRY_USERNAME": Self.user, "REGISTRY_PASSWORD": Self.password]
        let ns = registry.host + "/team"

        // lttle: to --output-dir; the input stays as it was.
        let lttleInput = try String(contentsOfFile: root + "/lttle/lttle.yaml", encoding: .utf8)
        let outDir = dir.path + "/out"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let lttle = try Self.deployBuild(
            ["lttle/lttle.yaml", "--registry", ns, "--output-dir", outDir, "--jobs", "2"], cwd: root, env: credentials)
        #expect(lttle.status == 0, "\(lttle)")
        #expect(try String(contentsOfFile: root + "/lttle/lttle.yaml", encoding: .utf8) == lttleInput)
        let lttleOut = try String(contentsOfFile: outDir + "/lttle.yaml", encoding: .utf8)
        #expect(
            Self.pinned(lttleOut).map(\.reference) == ["\(ns)/hello:latest", "\(ns)/greeter:v1", "\(ns)/worker:latest"],
            "\(lttleOut)")
        #expect(!lttleOut.contains("build:") && lttleOut.contains("# built from this directory (start.sh)\n  image: "))
        #expect(lttleOut.hasPrefix("# lttle deployment: three resources in two documents\nmachine:\n  name: hello\n"))
        #expect(
            lttleOut.contains("  restart-policy: never\n")
                && lttleOut.contains("  environment: {GREETING: \"from lttle\"}\n---\napp:\n"))
        #expect(
            lttle.stderr.contains("RESOURCE") && lttle.stderr.contains("docker → dockerfile")
                && lttle.stderr.contains("options → plan"), "\(lttle.stderr)")

        // Again to standard output: every layer cached, the same digests (reproducible), the same bytes.
        let again = try Self.deployBuild(["lttle/lttle.yaml", "--registry", ns], cwd: root, env: credentials)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout == lttleOut)

        // Compartment: --in-place, the build env key from an --env-file.
        try "API_TOKEN=abc123\n".write(toFile: dir.path + "/build.env", atomically: true, encoding: .utf8)
        let compartment = try Self.deployBuild(
            ["compartment/compartment.yaml", "--registry", ns, "--in-place", "--env-file", dir.path + "/build.env"],
            cwd: root, env: credentials)
        #expect(compartment.status == 0, "\(compartment)")
        let compartmentOut = try String(contentsOfFile: root + "/compartment/compartment.yaml", encoding: .utf8)
        #expect(
            Self.pinned(compartmentOut).map(\.reference) == ["\(ns)/web:latest", "\(ns)/api:latest"],
            "\(compartmentOut)")
        let tokenLog = (try? String(contentsOfFile: dir.path + "/registry/token-requests.log", encoding: .utf8)) ?? ""
        #expect(tokenLog.contains("user=\(Self.user)"), "the pushes authenticated at the token server: \(tokenLog)")
        #expect(
            compartmentOut.contains("    image: postgres:16\n")
                && compartmentOut.contains("    environment:\n      LOG_LEVEL: info\n"))

        let expected = [
            "hello": "hello from the lttle root app\n", "greeter": "greetings from services/greeter\n",
            "worker": "hello-from-args (worker)\n", "web": "web service up\n",
            "api": "built with a token of 6 characters\nmedia-types installed\nAPI_TOKEN at runtime: unset\n"
        ]
        for (reference, digest) in Self.pinned(lttleOut) + Self.pinned(compartmentOut) {
            let repository = String(reference[..<reference.lastIndex(of: ":")!])
            let inspect = try Harness.run([
                "skopeo", "inspect", "--tls-verify=false", "--creds", "\(Self.user):\(Self.password)",
                "docker://\(repository)@\(digest)"
            ])
            #expect(inspect.status == 0, "\(inspect)")
            #expect(inspect.stdout.contains("\"Digest\": \"\(digest)\""), "\(inspect.stdout)")
            let name = String(repository.split(separator: "/").last!)
            // podman pulls anonymously: the token server grants pull to everyone, push to the deployer only.
            let run = try Harness.run(
                BuildEndToEndTests.podman + ["run", "--rm", "--tls-verify=false", "\(repository)@\(digest)"],
                timeout: 300)
            #expect(run.stdout == expected[name], "\(name): \(run)")
        }
    }

    @Test(
        "a failing resource rewrites nothing (in place, two files) and names file, document and resource",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func failureRewritesNothing() throws {
        let dir = try TempDir.make("deploy-build-fail")
        defer { dir.remove() }
        let root = try Self.fixtures(dir)
        try "#!/bin/sh\necho broken >&2\nexit 3\n".write(
            toFile: root + "/compartment/api/build.sh", atomically: true, encoding: .utf8)
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let inputs = ["lttle/lttle.yaml", "compartment/compartment.yaml"]
        let before = try inputs.map { try Data(contentsOf: URL(fileURLWithPath: root + "/" + $0)) }
        let listing = {
            try FileManager.default.contentsOfDirectory(atPath: root + "/lttle").sorted()
                + FileManager.default.contentsOfDirectory(atPath: root + "/compartment").sorted()
        }
        let filesBefore = try listing()

        let r = try Self.deployBuild(
            inputs + ["--registry", registry.host + "/ns", "--in-place", "--jobs", "1", "--debug-build"],
            cwd: root, env: ["API_TOKEN": "x"])
        #expect(r.status == 1, "\(r)")
        // --debug-build: each resource's plan and its phase scripts.
        #expect(
            r.stderr.contains("# compartment/compartment.yaml document 1 service \"api\": plan (plan)"), "\(r.stderr)")
        #expect(
            r.stderr.contains("# compartment/compartment.yaml document 1 service \"api\": phase build\n")
                && r.stderr.contains("sh build.sh"))
        #expect(
            r.stderr.contains("compartment/compartment.yaml document 1 service \"api\": build failed"), "\(r.stderr)")
        #expect(r.stderr.contains("no deployment file was rewritten"))
        #expect(try inputs.map { try Data(contentsOf: URL(fileURLWithPath: root + "/" + $0)) } == before)
        #expect(try listing() == filesBefore, "no temp file left next to the inputs")

        // An invalid file among the inputs: nothing is built and nothing rewritten, the error names file:line.
        try "services:\n  api:\n    path: api\n    build:\n      strategy: railpack\n      pakages: {build: [curl]}\n"
            .write(toFile: root + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try Self.deployBuild(
            ["lttle/lttle.yaml", "bad.yaml", "--registry", registry.host + "/ns", "--in-place"], cwd: root)
        #expect(bad.status == 1)
        #expect(
            bad.stderr.contains(
                "bad.yaml:6:7: services.api.build.pakages: unknown key \"pakages\" (did you mean \"packages\"?)"),
            "\(bad.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/lttle/lttle.yaml")) == before[0])
    }
}
