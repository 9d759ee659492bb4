import Foundation
import Testing

@testable import Planner

/// Every validation rule of lttle and Compartment build blocks, with the file:line:column it reports.
@Suite("Deployment file validation")
struct DeploymentValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var yaml: String
        var files: [String: String] = [:]
        var environment: [String: String] = [:]
        var code: PlannerError.Code
        var line: Int?
        var column: Int? = nil
        var key: String?
        var messageContains: String
        var testDescription: String { label }
    }

    static let app = ["app/start.sh": "#!/bin/sh\necho hi\n", "Dockerfile": "FROM scratch\n"]

    static let lttle: [Case] = [
        Case(
            label: "lttle: build is neither auto nor a mapping", yaml: "machine:\n  name: a\n  build: manual\n",
            code: .invalidValue, line: 3, column: 10, key: "machine.build", messageContains: "build is auto, options"),
        Case(
            label: "lttle: build is empty (null)", yaml: "machine:\n  name: a\n  build:\n",
            code: .type, line: 3, column: 3, key: "machine.build", messageContains: "build is auto"),
        Case(
            label: "lttle: image and build together", yaml: "app:\n  name: a\n  image: x/y:1\n  build: auto\n",
            code: .invalidValue, line: 3, column: 3, key: "app.image", messageContains: "either image or build"),
        Case(
            label: "lttle: options and docker together",
            yaml: "machine:\n  name: a\n  build:\n    options: {}\n    docker: {}\n",
            code: .invalidValue, line: 3, key: "machine.build", messageContains: "exactly one of options or docker"),
        Case(
            label: "lttle: empty build mapping", yaml: "machine:\n  name: a\n  build: {}\n",
            code: .invalidValue, line: 3, key: "machine.build", messageContains: "exactly one of options or docker"),
        Case(
            label: "lttle: unknown key in build", yaml: "machine:\n  name: a\n  build:\n    option:\n      dir: app\n",
            code: .unknownKey, line: 4, column: 5, key: "machine.build.option",
            messageContains: "did you mean \"options\""),
        Case(
            label: "lttle: unknown key in options",
            yaml: "machine:\n  name: a\n  build:\n    options:\n      dir: app\n      tags: v1\n",
            code: .unknownKey, line: 6, column: 13, key: "machine.build.options.tags",
            messageContains: "did you mean \"tag\""),
        Case(
            label: "lttle: unknown key in docker",
            yaml: "machine:\n  name: a\n  build:\n    docker:\n      file: Dockerfile\n",
            code: .unknownKey, line: 5, key: "machine.build.docker.file", messageContains: "unknown key \"file\""),
        Case(
            label: "lttle: invalid tag", yaml: "machine:\n  name: a\n  build:\n    options:\n      tag: -v1\n",
            code: .invalidValue, line: 5, column: 12, key: "machine.build.options.tag",
            messageContains: "not a valid tag"),
        Case(
            label: "lttle: invalid name", yaml: "machine:\n  name: a\n  build:\n    docker:\n      name: My_App\n",
            code: .invalidValue, line: 5, key: "machine.build.docker.name", messageContains: "not a valid image name"),
        Case(
            label: "lttle: image with a digest",
            yaml: "machine:\n  name: a\n  build:\n    options:\n      image: r.io/a@sha256:00\n",
            code: .invalidValue, line: 5, key: "machine.build.options.image", messageContains: "not an image reference"),
        Case(
            label: "lttle: tag is not a string", yaml: "machine:\n  name: a\n  build:\n    options:\n      tag: 1\n",
            code: .type, line: 5, key: "machine.build.options.tag", messageContains: "expected a string"),
        Case(
            label: "lttle: null option", yaml: "machine:\n  name: a\n  build:\n    options:\n      tag:\n",
            code: .type, line: 5, column: 7, key: "machine.build.options.tag", messageContains: "null"),
        Case(
            label: "lttle: absolute dir", yaml: "machine:\n  name: a\n  build:\n    options:\n      dir: /srv/app\n",
            code: .invalidValue, line: 5, key: "machine.build.options.dir", messageContains: "relative path inside"),
        Case(
            label: "lttle: dir leaving the directory",
            yaml: "machine:\n  name: a\n  build:\n    options:\n      dir: ../elsewhere\n",
            code: .invalidValue, line: 5, key: "machine.build.options.dir", messageContains: "relative path inside"),
        Case(
            label: "lttle: dir that does not exist",
            yaml: "machine:\n  name: a\n  build:\n    options:\n      dir: ./missing\n",
            code: .io, line: 5, key: "machine.build.options.dir", messageContains: "missing is not a directory"),
        Case(
            label: "lttle: Dockerfile not found",
            yaml: "machine:\n  name: a\n  build:\n    docker:\n      dockerfile: Dockerfile.prod\n",
            code: .dockerfileNotFound, line: 5, key: "machine.build.docker.dockerfile",
            messageContains: "Dockerfile not found: Dockerfile.prod"),
        Case(
            label: "lttle: context that does not exist",
            yaml: "machine:\n  name: a\n  build:\n    docker:\n      context: web\n",
            code: .io, line: 5, key: "machine.build.docker.context", messageContains: "build context web"),
        Case(
            label: "lttle: args is not a mapping",
            yaml: "machine:\n  name: a\n  build:\n    docker:\n      args: [A=1]\n",
            code: .type, line: 5, key: "machine.build.docker.args", messageContains: "expected a table"),
        Case(
            label: "lttle: invalid build-arg name",
            yaml: "machine:\n  name: a\n  build:\n    docker:\n      args:\n        1A: x\n",
            code: .invalidValue, line: 5, key: "machine.build.docker.args.1A",
            messageContains: "not a valid build argument name"),
        Case(
            label: "lttle: build in a flow mapping", yaml: "machine: {name: a, build: auto}\n",
            code: .invalidValue, line: 1, column: 20, key: "machine.build", messageContains: "flow mapping"),
        Case(
            label: "lttle: anchor in a build block",
            yaml:
                "machine:\n  name: a\n  build:\n    options: &o {tag: v1}\n---\napp:\n  name: b\n  build:\n    options: *o\n",
            code: .invalidValue, line: 4, column: 14, key: "machine.build", messageContains: "anchors"),
        Case(
            label: "lttle: malformed YAML", yaml: "machine:\n  name: a\n  build: [auto\n",
            code: .syntax, line: 4, messageContains: "invalid YAML")
    ]

    static let compartment: [Case] = [
        Case(
            label: "compartment: unknown strategy", yaml: "services:\n  web:\n    build:\n      strategy: buildpacks\n",
            code: .invalidValue, line: 4, column: 17, key: "services.web.build.strategy",
            messageContains: "not a strategy"),
        Case(
            label: "compartment: command with dockerfile",
            yaml: "services:\n  web:\n    build:\n      strategy: dockerfile\n      command: make\n",
            code: .invalidValue, line: 5, key: "services.web.build.command",
            messageContains: "only allowed with the plan strategy"),
        Case(
            label: "compartment: packages with dockerfile",
            yaml: "services:\n  web:\n    build:\n      strategy: dockerfile\n      packages:\n        build: [curl]\n",
            code: .invalidValue, line: 5, key: "services.web.build.packages",
            messageContains: "not allowed with the dockerfile strategy"),
        Case(
            label: "compartment: packages with both lists empty",
            yaml:
                "services:\n  web:\n    path: app\n    build:\n      packages:\n        build: []\n        runtime: []\n",
            code: .invalidValue, line: 5, key: "services.web.build.packages", messageContains: "at least one package"),
        Case(
            label: "compartment: packages given but empty",
            yaml: "services:\n  web:\n    path: app\n    build:\n      packages: {}\n",
            code: .invalidValue, line: 5, key: "services.web.build.packages", messageContains: "at least one package"),
        Case(
            label: "compartment: package name grammar (first character)",
            yaml:
                "services:\n  web:\n    path: app\n    build:\n      packages:\n        build:\n          - curl\n          - -oops\n",
            code: .invalidValue, line: 8, column: 13, key: "services.web.build.packages.build[1]",
            messageContains: "must start with a letter or digit"),
        Case(
            label: "compartment: package name grammar (character)",
            yaml: "services:\n  web:\n    path: app\n    build:\n      packages:\n        runtime: [\"lib/x\"]\n",
            code: .invalidValue, line: 6, key: "services.web.build.packages.runtime[0]",
            messageContains: "character \"/\""),
        Case(
            label: "compartment: unknown key in packages",
            yaml: "services:\n  web:\n    path: app\n    build:\n      packages:\n        run: [curl]\n",
            code: .unknownKey, line: 6, key: "services.web.build.packages.run", messageContains: "unknown key \"run\""),
        Case(
            label: "compartment: unknown key in build",
            yaml: "services:\n  web:\n    path: app\n    build:\n      comand: make\n",
            code: .unknownKey, line: 5, column: 15, key: "services.web.build.comand",
            messageContains: "did you mean \"command\""),
        Case(
            label: "compartment: empty command",
            yaml: "services:\n  web:\n    path: app\n    build:\n      command: \"  \"\n",
            code: .invalidValue, line: 5, key: "services.web.build.command", messageContains: "must not be empty"),
        Case(
            label: "compartment: env is not a list",
            yaml: "services:\n  web:\n    path: app\n    build:\n      env: API_KEY\n",
            code: .type, line: 5, key: "services.web.build.env", messageContains: "expected an array"),
        Case(
            label: "compartment: env name grammar",
            yaml: "services:\n  web:\n    path: app\n    build:\n      env:\n        - OK\n        - 9LIVES\n",
            environment: ["OK": "1"], code: .invalidValue, line: 7, key: "services.web.build.env[1]",
            messageContains: "not a valid environment variable name"),
        Case(
            label: "compartment: env key without a value",
            yaml: "services:\n  web:\n    path: app\n    build:\n      env: [SET, UNSET]\n",
            environment: ["SET": "1"], code: .invalidValue, line: 5, key: "services.web.build.env[1]",
            messageContains: "UNSET is listed for the build but set neither"),
        Case(
            label: "compartment: path is not a directory",
            yaml: "services:\n  web:\n    path: ./nothere\n    build:\n      strategy: auto\n",
            code: .io, line: 3, column: 11, key: "services.web.path", messageContains: "not a directory"),
        Case(
            label: "compartment: dockerfile strategy without a Dockerfile",
            yaml: "services:\n  web:\n    path: app\n    build:\n      strategy: dockerfile\n",
            code: .dockerfileNotFound, line: 5, key: "services.web.build.strategy",
            messageContains: "Dockerfile not found in app"),
        Case(
            label: "compartment: build is not a mapping", yaml: "services:\n  web:\n    build: auto\n",
            code: .type, line: 3, key: "services.web.build", messageContains: "build is a mapping"),
        Case(
            label: "compartment: image and build together",
            yaml: "services:\n  web:\n    image: x\n    build:\n      strategy: auto\n",
            code: .invalidValue, line: 3, key: "services.web.image", messageContains: "either image or build"),
        Case(
            label: "compartment: services is not a mapping", yaml: "services:\n  - web\n",
            code: .type, line: 2, key: "services", messageContains: "mapping of service names")
    ]

    @Test(arguments: lttle + compartment)
    func rule(_ c: Case) throws {
        let dir = try TempApp(Self.app.merging(c.files) { $1 })
        let path = dir.path + "/deploy.yaml"
        try c.yaml.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            let file = try DeploymentReader(environment: c.environment).read(path: path)
            Issue.record("expected \(c.code), read \(file.resources.count) resources")
        } catch {
            #expect(error.code == c.code, "\(error)")
            #expect(error.file == path)
            #expect(error.line == c.line, "\(error)")
            if let column = c.column { #expect(error.column == column, "\(error)") }
            if let key = c.key { #expect(error.key == key, "\(error)") }
            #expect(error.message.contains(c.messageContains), "\(error)")
            #expect(error.description.hasPrefix("\(path):\(c.line.map(String.init) ?? "")"))
        }
    }

    @Test("two resources with the same image: an error naming both")
    func duplicateTargets() throws {
        let dir = try TempApp(Self.app)
        let path = dir.path + "/deploy.yaml"
        try "machine:\n  name: api\n  build: auto\n---\napp:\n  name: web\n  build:\n    options:\n      name: api\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let file = try DeploymentReader().read(path: path)
        #expect(throws: PlannerError.self) {
            try DeploymentReader.checkDistinctTargets(file.resources, registry: "r.io/ns")
        }
        do { try DeploymentReader.checkDistinctTargets(file.resources, registry: "r.io/ns") } catch {
            #expect(error.line == 7)
            #expect(error.message.contains("r.io/ns/api:latest is the image of both"))
            #expect(
                error.message.contains("document 1 machine \"api\"") && error.message.contains("document 2 app \"web\"")
            )
        }
    }

    @Test("the same rule reads the same from ociforge.toml and from a Compartment file")
    func sharedWithTOML() throws {
        let toml = try TempApp([
            "ociforge.toml": "[build]\nstrategy = \"dockerfile\"\ncommand = \"make\"\n", "Dockerfile": "FROM scratch\n"
        ])
        var tomlError: PlannerError?
        do { _ = try Planner.plan(appDirectory: toml.path, options: PlanOptions()) } catch { tomlError = error }
        let dir = try TempApp(Self.app)
        var yamlError: PlannerError?
        do {
            _ = try DeploymentReader().parse(
                bytes: Array("services:\n  s:\n    build:\n      strategy: dockerfile\n      command: make\n".utf8),
                path: "c.yaml", directory: dir.path)
        } catch { yamlError = error }
        #expect(tomlError?.message == yamlError?.message)
        #expect(tomlError?.key == "build.command")
        #expect(yamlError?.key == "services.s.build.command")
    }
}
