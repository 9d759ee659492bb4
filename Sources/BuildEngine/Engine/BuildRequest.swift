import Foundation
import OCIWriter
import Planner

/// What to build: an app (planned by `Planner.plan`, built by its plan or its Dockerfile) or a Dockerfile on its
/// own, and how.
public struct BuildRequest: Sendable {
    public enum Source: Sendable {
        /// An app directory and its planning result; `planOptions` are the options it was planned with (the engine
        /// resolves the plan's Dockerfile with them again, against the configs of its base images).
        case app(directory: String, plan: PlanResult, planOptions: PlanOptions)
        /// A Dockerfile (`path`) with its build context directory and the front end's options (build args, target).
        case dockerfile(path: String, context: String, options: DockerfileOptions)
    }

    public var source: Source
    public var options: BuildOptions

    public init(source: Source, options: BuildOptions) {
        self.source = source
        self.options = options
    }

    /// The app directory or the Dockerfile's context, absolute.
    var directory: String {
        switch source {
        case .app(let d, _, _): return Self.absolute(d)
        case .dockerfile(_, let c, _): return Self.absolute(c)
        }
    }

    /// The layout the image is written into and its tag: the output layout, or `<directory>/.ociforge/oci` (the
    /// default output, and the staging layout of a registry or archive output).
    func destination() -> ImageDestination {
        let defaultTag: String
        var reference = options.reference
        switch source {
        case .app(_, let result, _):
            defaultTag = result.plan.image.tag.isEmpty ? "latest" : result.plan.image.tag
            reference = reference ?? result.plan.image.reference
        case .dockerfile:
            defaultTag = "latest"
        }
        let layout: String, tag: String
        if case .ociLayout(let path, let t)? = options.output {
            layout = Self.absolute(path)
            tag = t ?? defaultTag
        } else {
            layout = directory + "/.ociforge/oci"
            tag = defaultTag
        }
        return ImageDestination(
            layoutPath: layout, tag: tag,
            reference: reference ?? "\((layout as NSString).lastPathComponent):\(tag)")
    }

    static func absolute(_ p: String) -> String {
        let path = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
