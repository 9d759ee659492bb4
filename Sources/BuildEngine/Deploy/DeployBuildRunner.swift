import Foundation
import OCIWriter
import Planner
import Sandbox

/// `deploy-build`: reads every deployment file (all validation first), plans every resource, builds them with
/// bounded parallelism into one shared layer cache, pushes each, and only when all succeeded rewrites the files
/// with each build block replaced by the pinned reference. Any failure stops before anything is rewritten.
public struct DeployBuildRunner: Sendable {
    public let options: DeployBuildOptions

    public init(options: DeployBuildOptions) { self.options = options }

    struct Planned: Sendable {
        var index: Int
        var resource: DeploymentResource
        var planOptions: PlanOptions
        var result: PlanResult
        var reference: String
    }

    public func run(files paths: [String]) throws -> DeployBuildResult {
        try validateRegistry()
        let files = try read(paths)
        let targets = try outputTargets(paths)
        let resources = files.flatMap(\.resources)
        do { try DeploymentReader.checkDistinctTargets(resources, registry: options.registry) } catch {
            throw DeployBuildError(.read, "two resources have the same image", cause: error)
        }
        if resources.isEmpty {
            options.log("no machine, app or service with a build block: the files are written unchanged")
        }
        let planned = try resources.enumerated().map { try plan($0.element, index: $0.offset) }
        try requireRunnable(planned)
        let deployed = try buildAll(planned)
        var images: [String: [TextSpan: String]] = [:]
        for d in deployed { images[d.resource.location.file, default: [:]][d.resource.span] = d.pinned }
        var rewritten: [(path: String, bytes: [UInt8])] = []
        for file in files {
            do {
                rewritten.append((file.path, try DeploymentRewriter.rewrite(file, images: images[file.path] ?? [:])))
            } catch {
                throw DeployBuildError(.write, "cannot rewrite \(file.path)", cause: error)
            }
        }
        if let targets { try DeploymentFileWriter.writeAll(zip(targets, rewritten).map { ($0, $1.bytes) }) }
        return DeployBuildResult(resources: deployed, files: rewritten, written: targets ?? [])
    }

    /// Every resource's foreign platforms checked (binfmt_misc handlers) before any resource is built: no registry
    /// gets the images of some resources only.
    func requireRunnable(_ planned: [Planned]) throws {
        for p in planned {
            for platform in options.platforms {
                var o = BuildOptions(output: nil)
                o.platform = platform
                o.crossCompile = options.crossCompile
                let request = BuildRequest(
                    source: .app(directory: p.resource.appDirectory, plan: p.result, planOptions: p.planOptions),
                    options: o)
                do { try TargetPlatform.requireRunnable(request) } catch {
                    throw DeployBuildError(
                        .options, "cannot build for \(platform)", resource: p.resource.label, cause: error)
                }
            }
        }
    }

    func validateRegistry() throws {
        let parts = options.registry.split(separator: "/", maxSplits: 1)
        guard parts.count == 2,
            (try? ImageReference(parsing: "\(options.registry)/probe:latest"))?.registry == String(parts[0])
        else {
            throw DeployBuildError(
                .options,
                "--registry \(options.registry) is not host/namespace (for example registry.example.com/team or 127.0.0.1:5000/ns)"
            )
        }
    }

    func read(_ paths: [String]) throws -> [DeploymentFile] {
        let reader = DeploymentReader(environment: options.environment)
        return try paths.map { path in
            do { return try reader.read(path: path) } catch {
                throw DeployBuildError(.read, "invalid deployment file", cause: error)
            }
        }
    }

    /// Target paths for `--output-dir` / `--in-place` (nil for standard output), checked before anything is built.
    func outputTargets(_ paths: [String]) throws -> [String]? {
        switch options.output {
        case .standardOutput:
            return nil
        case .inPlace:
            return paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        case .directory(let dir):
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw DeployBuildError(.options, "--output-dir \(dir) is not an existing directory")
            }
            let targets = paths.map {
                URL(fileURLWithPath: dir).appendingPathComponent(($0 as NSString).lastPathComponent).standardizedFileURL
                    .path
            }
            if Set(targets).count != targets.count {
                throw DeployBuildError(
                    .options, "two input files have the same name; --output-dir would write one over the other")
            }
            let inputs = Set(paths.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
            if let clash = targets.first(where: inputs.contains) {
                throw DeployBuildError(
                    .options, "--output-dir would overwrite the input \(clash); use --in-place for that")
            }
            return targets
        }
    }

    func plan(_ r: DeploymentResource, index: Int) throws -> Planned {
        var o = PlanOptions()
        o.buildBlocks = r.blocks
        o.environment = options.plannerEnvironment
        let reference = r.reference(registry: options.registry)
        o.image = reference
        do {
            let result = try Planner.plan(appDirectory: r.appDirectory, options: o)
            for w in result.warnings { options.log("warning: \(r.label): \(w)") }
            return Planned(index: index, resource: r, planOptions: o, result: result, reference: reference)
        } catch {
            throw DeployBuildError(.plan, "cannot plan the build of \(r.appDirectory)", resource: r.label, cause: error)
        }
    }
}
