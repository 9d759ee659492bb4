import Foundation

/// The deployers whose files `deploy-build` reads.
public enum DeploymentFormat: String, Sendable, Equatable, Codable {
    /// lttle.cloud: documents with `machine:` or `app:` resources carrying `build:`.
    case lttle
    /// Compartment: `services: <name>: {path, build: {strategy, command, env, packages}}`.
    case compartment
}

/// Where a resource's build block is: file (as given), 1-based document, line and column of the `build` key.
public struct DeploymentLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var document: Int
    public var line: Int
    public var column: Int

    public var description: String { "\(file):\(line):\(column) (document \(document))" }
}

/// One resource with a build block, resolved to what the Planner and the push need.
public struct DeploymentResource: Sendable, Equatable {
    public var format: DeploymentFormat
    /// `machine`, `app` or `service`.
    public var kind: String
    /// The resource's name (lttle `name`, Compartment service key); nil when the resource has none.
    public var name: String?
    public var location: DeploymentLocation
    /// The directory to plan (absolute): the deployment file's directory, lttle `options.dir` below it, or
    /// Compartment's `path`.
    public var appDirectory: String
    /// The blocks as the Planner takes them (`PlanOptions.buildBlocks`).
    public var blocks: BuildBlocks
    /// The build block's form: `auto`, `options`, `docker` (lttle) or the strategy `auto`, `dockerfile`,
    /// `railpack` (Compartment).
    public var strategy: String
    /// Repository path below the registry namespace (or a full reference from `image`) and tag.
    public var imageName: String
    public var imageTag: String
    /// True when `image` named the full reference (it then replaces name and tag).
    public var fullImage: Bool
    /// Compartment `env`: the listed variables with their values (from the environment or `--env-file`); the
    /// only variables the build sees.
    public var buildEnvironment: [String: String]
    /// The bytes the rewriter replaces with `image: <reference>`.
    public var span: TextSpan

    /// `file document N machine "name"`, for messages.
    public var label: String {
        "\(location.file) document \(location.document) \(kind) \(name.map { "\"\($0)\"" } ?? "(unnamed)")"
    }

    /// The reference pushed to: `<registry>/<name>:<tag>`, or `image` (placed below `registry` when it names
    /// no registry host).
    public func reference(registry: String) -> String {
        let name = fullImage && ImageNames.hasRegistryHost(imageName) ? imageName : "\(registry)/\(imageName)"
        return "\(name):\(imageTag)"
    }
}

/// A parsed deployment file: its bytes (kept for the rewriter) and its resources in document order.
public struct DeploymentFile: Sendable, Equatable {
    public var path: String
    public var bytes: [UInt8]
    public var documentCount: Int
    public var resources: [DeploymentResource]
}

extension ImageNames {
    /// Whether a reference's first component is a registry host (`localhost`, or contains `.` or `:`).
    static func hasRegistryHost(_ reference: String) -> Bool {
        guard let slash = reference.firstIndex(of: "/") else { return false }
        let first = reference[..<slash]
        return first == "localhost" || first.contains(".") || first.contains(":")
    }

    /// A deterministic image name from a resource name: lowercased, runs of other characters folded to `-`.
    public static func fromResourceName(_ name: String) -> String {
        generated(from: name.replacingOccurrences(of: "/", with: "-"))
    }
}
