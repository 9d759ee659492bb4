import Foundation
import Yams

/// Compartment services: `services: <name>: {path, build: {strategy: auto|dockerfile|railpack, command,
/// env: [KEY...], packages: {build, runtime}}}`.
extension DeploymentSession {
    func compartment(_ value: Yams.Node, document: Int) throws(PlannerError) -> [DeploymentResource] {
        guard case let .mapping(services) = value else {
            throw fail(.type, "services is a mapping of service names to services", value, "services")
        }
        var out: [DeploymentResource] = []
        for (key, service) in services {
            guard let name = YAMLConfig.string(key) else {
                throw fail(.type, "service names are strings", key, "services")
            }
            guard case let .mapping(m) = service else { continue }
            let fields = entries(m)
            guard let build = fields["build"] else { continue }
            let path = "services.\(name).build"
            if let image = fields["image"] {
                throw fail(
                    .invalidValue, "a service has either image or build, not both; remove one", image.key,
                    "services.\(name).image")
            }
            guard case .mapping = build.value else {
                throw fail(.type, "build is a mapping: {strategy, command, env, packages}", build.key, path)
            }
            let span = try span(build.key, parent: m, path: path)
            var reader = ConfigReader(file: file, strict: true)
            let node = try YAMLConfig.configNode(build.value, key: build.key, file: file, path: path)
            let block = try reader.buildBlock(node, path)
            let relative = try stringField(fields["path"], "services.\(name).path") ?? "."
            let appDirectory =
                relative.hasPrefix("/")
                ? relative
                : URL(fileURLWithPath: directory + "/" + relative).standardizedFileURL.path
            guard isDirectory(appDirectory) else {
                throw fail(
                    .io, "path \(relative) is not a directory (paths are relative to the deployment file)",
                    fields["path"]?.value ?? key, "services.\(name).path")
            }
            if block.strategy == .dockerfile && !isFile(appDirectory + "/Dockerfile") {
                throw fail(
                    .dockerfileNotFound, "Dockerfile not found in \(relative) (strategy dockerfile)",
                    Self.child(node, "strategy"), "\(path).strategy")
            }
            var environmentValues: [String: String] = [:]
            for (i, variable) in (block.env ?? []).enumerated() {
                guard let v = environment[variable] else {
                    let item = Self.child(node, "env").map { reader.item($0, i) }
                    throw fail(
                        .invalidValue,
                        "\(variable) is listed for the build but set neither in the environment nor in an --env-file",
                        item, "\(path).env[\(i)]")
                }
                environmentValues[variable] = v
            }
            var strategy = "auto"
            if let s = Self.child(node, "strategy"), case let .string(text) = s.value { strategy = text }
            let (imageName, imageTag, full) = Self.target(
                BuildBlocks(build: block), generated: ImageNames.fromResourceName(name))
            out.append(
                DeploymentResource(
                    format: .compartment, kind: "service", name: name,
                    location: location(build.key, document: document),
                    appDirectory: appDirectory, blocks: BuildBlocks(build: block), strategy: strategy,
                    imageName: imageName, imageTag: imageTag, fullImage: full,
                    buildEnvironment: environmentValues, span: span))
        }
        return out
    }
}
