// MOVE: this directory (Sources/ociforge/DeployBuild/) is the deploy-build orchestration. It belongs in the
// BuildEngine module (Sources/BuildEngine/Deploy/) once that lands on main; it uses only Planner, Sandbox and
// OCIWriter (pushing goes through the `push` closure the CLI passes), so it moves without changes.
// With BuildEngine's API (engine branch, eb22567): make the types public; `runBuild` becomes
// `BuildEngine.buildBlocking(BuildRequest(source: .app(directory:plan:planOptions:), options:), runner: sandbox)`
// with `output: .ociLayout(<work>/layout-<i>, tag)` (resources can share an app directory, so each stages in a
// layout of its own), `progress`/`phaseOutput` become one `events` logger, and `push` becomes a field
// `transport: ImageTransport` (the CLI passes `RegistryFlags.transport`) used as
// `transport.copyBlocking(.ociLayout(path:tag:), .registry(ref))`; the CLI maps flags and renders the table.
import Foundation
import OCIWriter
import Planner
import Sandbox

/// Where `deploy-build` writes the rewritten deployment files.
enum DeployOutput: Sendable, Equatable {
    /// Returned to the caller (the CLI prints them on standard output).
    case standardOutput
    /// `<directory>/<file name>` for each input.
    case directory(String)
    /// Over the inputs, each atomically, only after every resource was built and pushed.
    case inPlace
}

struct DeployBuildOptions: Sendable {
    /// `host/namespace` the images go below.
    var registry: String
    var output: DeployOutput = .standardOutput
    /// Resources built at once.
    var jobs = 2
    var noCache = false
    var cacheDirectory: String?
    var caBundle: String?
    var network: NetworkMode = .host
    var debugBuild = false
    var quiet = false
    /// The process environment with `--env-file` values laid over it (Compartment `env` values come from here).
    var environment: [String: String] = [:]
    /// NIXPACKS_* / OCIFORGE_* settings for the Planner.
    var plannerEnvironment: [String: String] = [:]
    var sourceDateEpoch: Int64?
    var registryOptions = RegistryOptions()
    /// Where each resource's OCI layout is written before it is pushed (removed afterwards by the caller).
    var workDirectory: String
    /// Progress lines, debug output and phase output (standard error).
    var log: @Sendable (String) -> Void = { _ in }
    /// Pushes `oci-layout:<path>:<tag>` to `docker://<reference>` with `image push`'s auth and transport; returns
    /// the manifest digest.
    var push: @Sendable (_ layout: String, _ tag: String, _ reference: String) throws -> Digest
}

/// One resource's outcome (a row of the summary table).
struct DeployedResource: Sendable {
    var resource: DeploymentResource
    /// `host/ns/name:tag@sha256:…`.
    var pinned: String
    var planStrategy: String
    var size: Int64
    var buildSeconds: Double
    var pushSeconds: Double
    var cachedSteps: Int
}

struct DeployBuildResult: Sendable {
    var resources: [DeployedResource]
    /// The rewritten files (input path, bytes) in input order; with `.standardOutput` nothing was written.
    var files: [(path: String, bytes: [UInt8])]
    /// Where each file was written (nil for standard output).
    var written: [String]
}

/// deploy-build's error: which file, document and resource failed, at which stage, and the underlying cause.
struct DeployBuildError: Error, CustomStringConvertible {
    enum Code: String, Sendable {
        case read      // a deployment file could not be read or is invalid
        case options   // a command-line value (registry, output directory) is unusable
        case plan      // the Planner failed for a resource
        case build     // the sandboxed build failed
        case push      // the push failed
        case write     // the rewritten files could not be written (inputs unchanged)
    }

    var code: Code
    /// `file document N kind "name"`, when one resource failed.
    var resource: String?
    var message: String
    var cause: (any Error)?

    init(_ code: Code, _ message: String, resource: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.resource = resource
        self.cause = cause
    }

    var description: String {
        var s = resource.map { "\($0): " } ?? ""
        s += message
        if let cause { s += ": \(cause)" }
        return s + "\n  no deployment file was rewritten"
    }
}
