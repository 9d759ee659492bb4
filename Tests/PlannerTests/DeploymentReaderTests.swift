import Foundation
import Testing

@testable import Planner

@Suite("Deployment file reading: resources, defaults, paths")
struct DeploymentReaderTests {
    static let lttleFile = """
        # two documents, three resources
        machine:
          name: Shell App
          build: auto
          resources: {cpu: 1, memory: 256}
        ---
        app:
          name: web
          namespace: team
          build:
            options:
              dir: ./services/web/
              tag: v2
        service:
          name: not-a-build
        machine:
          name: worker
          build:
            docker:
              context: worker
              dockerfile: Dockerfile.prod
              image: other.example:5000/custom/worker:7
              args: {GREETING: hi, N: 3}

        """

    @Test("lttle: auto, options with dir, docker with args; names, tags, image override, directories")
    func lttle() throws {
        let dir = try TempApp(["services/web/index.html": "x", "worker/Dockerfile.prod": "FROM scratch\n"])
        try Self.lttleFile.write(toFile: dir.path + "/lttle.yaml", atomically: true, encoding: .utf8)
        let file = try DeploymentReader().read(path: dir.path + "/lttle.yaml")
        #expect(file.documentCount == 2)
        #expect(file.resources.map(\.strategy) == ["auto", "options", "docker"])
        let (auto, options, docker) = (file.resources[0], file.resources[1], file.resources[2])
        #expect(auto.location.line == 4 && auto.location.document == 1 && auto.location.column == 3)
        #expect(auto.imageName == "shell-app" && auto.imageTag == "latest")
        #expect(auto.reference(registry: "r.io/ns") == "r.io/ns/shell-app:latest")
        #expect(auto.blocks.build?.strategy == .plan)
        #expect(auto.appDirectory == dir.path)
        #expect(options.imageName == "team-web" && options.imageTag == "v2")
        #expect(options.appDirectory == dir.path + "/services/web")
        #expect(options.blocks.options?.dir == nil)
        #expect(options.location.document == 2)
        #expect(docker.blocks.build?.strategy == .dockerfile)
        #expect(docker.blocks.docker?.args == ["GREETING": "hi", "N": "3"])
        #expect(docker.reference(registry: "r.io/ns") == "other.example:5000/custom/worker:7")
    }

    @Test("lttle: image without a registry host goes below --registry; no name falls back to the directory")
    func imageBelowRegistry() throws {
        let dir = try TempApp(["My App/x": "", "Dockerfile": "FROM scratch\n"])
        let yaml =
            "machine:\n  build:\n    options:\n      dir: My App\n---\napp:\n  name: b\n  build:\n    docker:\n      image: team/b\n"
        let file = try DeploymentReader().parse(bytes: Array(yaml.utf8), path: "d.yaml", directory: dir.path)
        #expect(file.resources[0].reference(registry: "h:5000/ns") == "h:5000/ns/my-app:latest")
        #expect(file.resources[1].reference(registry: "h:5000/ns") == "h:5000/ns/team/b:latest")
    }

    @Test("Compartment: path relative to the file, strategies, env values from the environment only")
    func compartment() throws {
        let dir = try TempApp(["deploy/api/main.py": "", "web/Dockerfile": "FROM scratch\n"])
        let yaml = """
            services:
              api:
                path: api
                build:
                  strategy: railpack
                  command: make build
                  env: [API_TOKEN]
                  packages:
                    build: [gcc, "libpq-dev=15.4-0+deb12u1"]
                    runtime: [libpq5]
              web:
                path: ../web
                build: {strategy: auto}
              db:
                image: postgres:16
            """
        let file = try DeploymentReader(environment: ["API_TOKEN": "s3cret", "OTHER": "x"])
            .parse(bytes: Array(yaml.utf8), path: "deploy/c.yaml", directory: dir.path + "/deploy")
        #expect(file.resources.count == 2)
        let api = file.resources[0]
        #expect(api.format == .compartment && api.kind == "service" && api.name == "api")
        #expect(api.strategy == "railpack" && api.blocks.build?.strategy == .plan)
        #expect(api.blocks.build?.command == "make build")
        #expect(api.blocks.build?.packagesBuild == ["gcc", "libpq-dev=15.4-0+deb12u1"])
        #expect(api.buildEnvironment == ["API_TOKEN": "s3cret"])
        #expect(api.appDirectory == dir.path + "/deploy/api")
        #expect(api.reference(registry: "r/ns") == "r/ns/api:latest")
        #expect(file.resources[1].appDirectory == dir.path + "/web")
        #expect(file.resources[1].strategy == "auto")
    }

    @Test("--env-file: KEY=VALUE, comments, export, quotes; errors with line")
    func envFile() throws {
        let env = try EnvFile.parse("# c\n\nA=1\r\nexport B=\"two words\"\nC='x=y'\nD=\n", file: ".env")
        #expect(env == ["A": "1", "B": "two words", "C": "x=y", "D": ""])
        #expect(throws: PlannerError(.syntax, "expected KEY=VALUE", file: ".env", line: 2)) {
            try EnvFile.parse("A=1\nnot a pair\n", file: ".env")
        }
    }

    @Test("Planner takes a deployment file's blocks over ociforge.toml's")
    func plannerUsesBlocks() throws {
        let dir = try TempApp(["start.sh": "#!/bin/sh\necho hi\n", "ociforge.toml": "[options]\nname = \"fromtoml\"\n"])
        var options = PlanOptions()
        options.buildBlocks = BuildBlocks(build: BuildBlock(strategy: .plan), docker: nil)
        options.buildBlocks?.options = ImageOptionsBlock()
        options.buildBlocks?.options?.tag = "v9"
        let result = try Planner.plan(appDirectory: dir.path, options: options)
        #expect(result.plan.image.tag == "v9")
        #expect(result.plan.image.name != "fromtoml")
    }
}

@Suite("Deployment files: aliases to anchors outside build blocks")
struct DeploymentAliasTests {
    @Test("an alias inside a build block reads the anchored value; the anchor outside survives the rewrite")
    func aliasToOutside() throws {
        let dir = try TempApp([:])
        let yaml = "x-defaults: &d {tag: v3}\nmachine:\n  name: a\n  build:\n    options: *d\n  keep: *d\n"
        let file = try DeploymentReader().parse(bytes: Array(yaml.utf8), path: "d.yaml", directory: dir.path)
        #expect(file.resources.first?.imageTag == "v3")
        let out = try DeploymentRewriter.rewrite(file, images: [file.resources[0].span: "r/a:v3@sha256:00"])
        #expect(
            String(decoding: out, as: UTF8.self)
                == "x-defaults: &d {tag: v3}\nmachine:\n  name: a\n  image: r/a:v3@sha256:00\n  keep: *d\n")
    }
}
