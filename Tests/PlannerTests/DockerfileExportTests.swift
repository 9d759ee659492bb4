import Foundation
import Testing

@testable import Planner

/// `plan --format dockerfile`: the export of every planner fixture parses and resolves with the Dockerfile front
/// end (BuildKit's rules), has the build stage and the runtime stage, mounts the plan's caches and secrets (never
/// ARG/ENV), and its final stage ends with the plan's Cmd, Env, WorkingDir, User and exposed port.
@Suite("Dockerfile export")
struct DockerfileExportTests {
    @Test("a plan with backports enables the suite before its apt step, as the engine does")
    func backportsSuiteEnabled() throws {
        let plan = try Planner.plan(
            appDirectory: FixtureSupport.root + "/go-backports/app", options: try FixtureSupport.options("go-backports")
        ).plan
        #expect(plan.aptSuites == ["trixie-backports"])
        let lines = try DockerfileExport.render(plan).dockerfile.split(separator: "\n").map(String.init)
        let sources = try #require(lines.firstIndex { $0.contains("ociforge-trixie-backports.sources") })
        #expect(
            lines[sources].contains("Suites: trixie-backports") && lines[sources].contains("debian-archive-keyring.gpg")
        )
        let apt = try #require(lines.firstIndex { $0.contains("golang-1.26-go/trixie-backports") })
        #expect(sources < apt)
    }

    @Test("exports resolve and carry the plan's runtime config", arguments: FixtureSupport.names)
    func export(name: String) throws {
        let app = FixtureSupport.root + "/" + name + "/app"
        guard let plan = try? Planner.plan(appDirectory: app, options: try FixtureSupport.options(name)).plan,
            plan.strategy == .plan, let deploy = plan.deploy
        else { return }
        let out = try DockerfileExport.render(plan)
        let file = NSTemporaryDirectory() + "ociforge-export-\(UUID().uuidString).Dockerfile"
        try out.dockerfile.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        // The planner plans the only subdirectory of an app without a provider match (nested-single-dir).
        let entries = try FileManager.default.contentsOfDirectory(atPath: app)
        let context =
            entries.count == 1 && plan.providers.first.map({ _ in true }) == true
                && FileManager.default.fileExists(atPath: app + "/" + entries[0] + "/.") ? app + "/" + entries[0] : app
        let resolved = try Dockerfile.resolve(
            path: file, display: "Dockerfile", context: context, options: DockerfileOptions())
        // BuildKit skips a stage nothing copies from (an app without build steps).
        #expect(
            resolved.stages.count == (out.dockerfile.contains("--from=build") ? 2 : 1),
            "\(name): build and runtime stages")
        let config = try #require(resolved.config(ofStage: resolved.finalStage.index))
        if let start = deploy.startCommand {
            let expected =
                deploy.base == "scratch" ? start.split(separator: " ").map(String.init) : ["/bin/sh", "-c", start]
            #expect(config.cmd == expected, "\(name)")
        }
        #expect(config.user == deploy.user, "\(name)")
        #expect(config.workingDir == deploy.workingDirectory, "\(name)")
        var env = deploy.env
        env["PATH"] = (deploy.paths + [DockerfileExport.defaultPath]).joined(separator: ":")
        #expect(Set(config.env ?? []) == Set(env.map { "\($0.key)=\($0.value)" }), "\(name)")
        #expect(Set(resolved.secrets) == Set(plan.steps.flatMap(\.secrets)), "\(name): secrets as secret mounts")
        for secret in plan.secrets {
            #expect(
                !out.dockerfile.contains("ARG \(secret)") && !out.dockerfile.contains("ENV \(secret)="),
                "\(name): \(secret)")
        }
        for cache in plan.caches.values { #expect(out.dockerfile.contains("target=\(cache.directory),"), "\(name)") }
    }

    @Test(".dockerignore: Docker patterns kept, git ones rewritten to Docker syntax")
    func dockerignore() {
        let text = DockerfileExport.dockerignore(
            BuildContext(
                exclude: [
                    "ociforge.plan.json", "docs", "!docs/keep", "gitignore:out/",
                    "gitignore:/build", "gitignore:a/b"
                ], useGitignore: true, files: []))
        #expect(
            text.split(separator: "\n").dropFirst().map(String.init) == [
                "ociforge.plan.json", "docs", "!docs/keep", "**/out", "build", "a/b", ".ociforge"
            ])
    }
}
