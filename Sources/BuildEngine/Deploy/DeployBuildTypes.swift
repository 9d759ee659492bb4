import Foundation
import OCIWriter
import Planner
import Sandbox

/// Where `deploy-build` writes the rewritten deployment files.
public enum DeployOutput: Sendable, Equatable {
    /// Returned to the caller (the CLI prints them on standard output).
    case standardOutput
    /// `<directory>/<file name>` for each input.
    case directory(String)
    /// Over the inputs, each atomically, only after every resource was built and pushed.
    case inPlace
}

public struct DeployBuildOptions: Sendable {
    /// `host/namespace` the images go below.
    public var registry: String
    public var output: DeployOutput = .standardOutput
    /// Resources built at once.
    public var jobs = 2
    public var noCache = false
    public var cacheDirectory: String?
    public var caBundle: String?
    public var network: NetworkMode = .host
    public var debugBuild = false
    public var quiet = false
    /// The process environment with `--env-file` values laid over it (Compartment `env` values come from here).
    public var environment: [String: String] = [:]
    /// NIXPACKS_* / OCIFORGE_* settings for the Planner.
    public var plannerEnvironment: [String: String] = [:]
    public var sourceDateEpoch: Int64?
    /// Every resource's platforms (`BuildOptions.platforms`): two or more push one OCI index per resource.
    public var platforms: [Platform] = []
    /// `BuildOptions.crossCompile`.
    public var crossCompile = true
    public var registryOptions = RegistryOptions()
    /// Where each resource's OCI layout is written before it is pushed (removed afterwards by the caller).
    public var workDirectory: String
    /// Progress lines, debug output and phase output (standard error).
    public var log: @Sendable (String) -> Void = { _ in }
    /// Pushes each image (`image push`'s transport: credentials, retries, insecure registries).
    public var transport: ImageTransport

    public init(registry: String, workDirectory: String, transport: ImageTransport) {
        self.registry = registry
        self.workDirectory = workDirectory
        self.transport = transport
    }
}

/// One resource's outcome (a row of the summary table).
public struct DeployedResource: Sendable {
    public var resource: DeploymentResource
    /// `host/ns/name:tag@sha256:…`.
    public var pinned: String
    public var planStrategy: String
    public var size: Int64
    public var buildSeconds: Double
    public var pushSeconds: Double
    public var cachedSteps: Int
}

public struct DeployBuildResult: Sendable {
    public var resources: [DeployedResource]
    /// The rewritten files (input path, bytes) in input order; with `.standardOutput` nothing was written.
    public var files: [(path: String, bytes: [UInt8])]
    /// Where each file was written (nil for standard output).
    public var written: [String]
}

/// deploy-build's error: which file, document and resource failed, at which stage, and the underlying cause.
public struct DeployBuildError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        case read  // a deployment file could not be read or is invalid
        case options  // a command-line value (registry, output directory) is unusable
        case plan  // the Planner failed for a resource
        case build  // the sandboxed build failed
        case push  // the push failed
        case write  // the rewritten files could not be written (inputs unchanged)
    }

    public var code: Code
    /// `file document N kind "name"`, when one resource failed.
    public var resource: String?
    public var message: String
    public var cause: (any Error)?

    init(_ code: Code, _ message: String, resource: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.resource = resource
        self.cause = cause
    }

    public var description: String {
        var s = resource.map { "\($0): " } ?? ""
        s += message
        if let cause { s += ": \(cause)" }
        return s + "\n  no deployment file was rewritten"
    }
}
