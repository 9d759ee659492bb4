import Foundation
import Yams

/// lttle.cloud resources: `machine:` / `app:` with `build: auto`, `build: {options: {dir, name, tag, image}}` or
/// `build: {docker: {context, dockerfile, name, tag, image, args}}`.
extension DeploymentSession {
    func lttle(kind: String, _ value: Yams.Node, document: Int) throws(PlannerError) -> DeploymentResource? {
        guard case let .mapping(m) = value else { return nil }
        let fields = entries(m)
        guard let build = fields["build"] else { return nil }
        let path = "\(kind).build"
        if let image = fields["image"] {
            throw fail(
                .invalidValue, "a \(kind) has either image or build, not both; remove one", image.key, "\(kind).image")
        }
        let span = try span(build.key, parent: m, path: path)
        let name = try stringField(fields["name"], "\(kind).name")
        let namespace = try stringField(fields["namespace"], "\(kind).namespace")
        var reader = ConfigReader(file: file, strict: true)
        var blocks = BuildBlocks()
        let strategy: String
        var appDirectory = directory
        switch build.value {
        case let .scalar(s) where !YAMLConfig.isNull(build.value):
            guard s.string == "auto" else {
                throw fail(
                    .invalidValue,
                    "build is auto, options: {dir, name, tag, image} or docker: {context, dockerfile, name, tag, image, args}; found \"\(s.string)\"",
                    build.value, path)
            }
            blocks.build = BuildBlock(strategy: .plan)
            strategy = "auto"
        case .mapping:
            let node = try YAMLConfig.configNode(build.value, key: build.key, file: file, path: path)
            let forms = try reader.table(node, path, keys: ["options", "docker"])
            guard forms.count == 1, let form = forms.first else {
                throw fail(.invalidValue, "build takes exactly one of options or docker", node, path)
            }
            strategy = form.key
            if form.key == "options" {
                var options = try reader.optionsBlock(form.node, form.path)
                if let dir = options.dir, dir != "." {
                    appDirectory = directory + "/" + dir
                    guard isDirectory(appDirectory) else {
                        throw fail(
                            .io, "\(dir) is not a directory next to the deployment file", Self.child(form.node, "dir"),
                            "\(form.path).dir")
                    }
                }
                options.dir = nil  // resolved here: the Planner plans the directory itself
                blocks.options = options
                blocks.build = BuildBlock(strategy: .plan)
            } else {
                let docker = try reader.dockerBlock(form.node, form.path)
                let context = docker.context ?? "."
                let contextPath = context == "." ? directory : directory + "/" + context
                guard isDirectory(contextPath) else {
                    throw fail(
                        .io, "the build context \(context) is not a directory next to the deployment file",
                        Self.child(form.node, "context") ?? form.node, "\(form.path).context")
                }
                let dockerfile = docker.dockerfile ?? "Dockerfile"
                guard isFile(contextPath + "/" + dockerfile) else {
                    throw fail(
                        .dockerfileNotFound,
                        "Dockerfile not found: \(context == "." ? dockerfile : context + "/" + dockerfile)",
                        Self.child(form.node, "dockerfile") ?? form.node, "\(form.path).dockerfile")
                }
                blocks.docker = docker
                blocks.build = BuildBlock(strategy: .dockerfile)
            }
        default:
            throw fail(.type, "build is auto, options: {...} or docker: {...}", build.key, path)
        }
        var resourceName = name
        if let name, let namespace, namespace != "default" { resourceName = "\(namespace)-\(name)" }
        let (imageName, imageTag, full) = Self.target(
            blocks, generated: resourceName.map(ImageNames.fromResourceName) ?? ImageNames.generated(from: appDirectory)
        )
        return DeploymentResource(
            format: .lttle, kind: kind, name: name, location: location(build.key, document: document),
            appDirectory: appDirectory, blocks: blocks, strategy: strategy, imageName: imageName,
            imageTag: imageTag, fullImage: full, buildEnvironment: [:], span: span)
    }

    /// `image` (full reference) over `name` / `tag` over the generated name and `latest`.
    static func target(_ blocks: BuildBlocks, generated: String) -> (String, String, Bool) {
        if let image = blocks.image, let parts = ImageNames.split(image) { return (parts.name, parts.tag, true) }
        return (blocks.name ?? generated, blocks.tag ?? "latest", false)
    }
}
