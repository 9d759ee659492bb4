import Foundation
import OCIWriter
import Testing

/// `ociforge build --export-dockerfile`: the exported Dockerfile built by `buildah bud --isolation chroot` gives the
/// image `ociforge build` gives — the same start command, env, working directory, user and exposed port, and the
/// same /app tree (tree manifests: types, modes, owners, contents). Both stages start from the same Debian minbase
/// (buildah's FROM lines point at it as `oci:<layout>:base`; ociforge's slim runtime base strips docs and
/// locales, so only /app is compared as a tree).
@Suite("Exported Dockerfile built by buildah", .serialized)
struct ExportedDockerfileTests {
    typealias E2E = BuildEndToEndTests
    typealias Exec = DockerfileExecTests

    @Test(
        "buildah bud of the export equals ociforge build",
        .enabled(if: Exec.available, "needs root, buildah and podman"),
        arguments: ["planner/shell-script/app", "apps/php-hello", "planner/staticfile/app"])
    func equivalent(fixture: String) throws {
        let dir = try Exec.tempDir("export")
        defer { dir.remove() }
        let app = try E2E.app(fixture, in: dir)
        let out = dir.path + "/oci"
        let exported = dir.path + "/Dockerfile"
        try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":ours",
            // The bookworm suite: buildah builds both stages on the bookworm minbase layout below.
            extra: ["--base", "debian:bookworm", "--export-dockerfile", exported])
        let base = try Exec.baseLayout()
        var text = try String(contentsOfFile: exported, encoding: .utf8)
        for from in ["FROM debian:bookworm-slim", "FROM debian:bookworm "] {
            text = text.replacingOccurrences(of: from, with: "FROM oci:\(base):base" + (from.hasSuffix(" ") ? " " : ""))
        }
        #expect(!text.contains("FROM debian:"), "\(text)")
        try text.write(toFile: exported, atomically: true, encoding: .utf8)
        let theirs = try Exec.buildahBuild(app, file: exported, extra: ["--ignorefile", exported + ".dockerignore"])
        defer { theirs.remove() }
        let ours = dir.path + "/unpacked"
        try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(out):ours", ours])
        let options = TreeManifest.Options(subpath: "app", includeRoot: false)
        let diff = try TreeManifest.capture(root: ours, options: options).diff(
            TreeManifest.capture(root: theirs.root, options: options))
        #expect(diff == [], "/app differs (- ociforge, + buildah):\n\(diff.prefix(40).joined(separator: "\n"))")
        let config = try Exec.containerConfig(out, tag: "ours")
        for k in ["Cmd", "Env", "WorkingDir", "User", "ExposedPorts"] {
            #expect(Exec.field(config, k) == Exec.field(theirs.config, k), "\(fixture): config \(k)")
        }
    }
}
