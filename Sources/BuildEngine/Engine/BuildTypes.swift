import Foundation
import OCIWriter
import Sandbox

/// How `ImageBuilder` builds.
public struct BuildOptions: Sendable {
    /// The OCI layout to write into (created when missing) and the tag to give the image.
    public var layoutPath: String
    public var tag: String
    /// The image reference reported (`name:tag`).
    public var reference: String
    /// Secrets offered to every step as /run/secrets/<id> (and exported as `$ID` when a valid variable name);
    /// their ids, never their values, are part of the cache key.
    public var secrets: [Secret] = []
    public var network: NetworkMode = .host
    /// A PEM bundle of extra trusted CAs (e.g. a TLS-intercepting egress proxy's) for build phases: mounted like a
    /// secret (tmpfs, never in a layer) and named by PIP_CERT, REQUESTS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE,
    /// NODE_EXTRA_CA_CERTS, GIT_SSL_CAINFO, CARGO_HTTP_CAINFO.
    public var caBundle: String?
    /// Run every step even when a cached layer exists (the results still refresh the cache).
    public var noCache = false
    /// Default: `<state>/build-cache`.
    public var cacheDirectory: String?
    /// Overrides the plan's build image (`debian:<suite>`, a rootfs directory or tarball).
    public var base: String?
    /// Overrides the plan's runtime base.
    public var runtimeBase: String?
    /// Clamp file times and set `created` (from `SOURCE_DATE_EPOCH`).
    public var sourceDateEpoch: Int64?
    /// Only the host platform can be built (the sandbox runs the build's commands natively).
    public var platform: Platform?
    /// Progress lines (phase, cache hit, elapsed, bytes).
    public var progress: @Sendable (String) -> Void = { _ in }
    /// Build events (steps started, cached, finished, layer bytes, phase output) for a `BuildProgressReporter`;
    /// when set, `ImageBuilder` reports through it instead of `progress`, and phase output (unless `phaseOutput`
    /// is set) goes to it as `.output` events.
    public var events: (@Sendable (BuildEvent) -> Void)?
    /// Where phase output goes (default: prefixed lines on stderr).
    public var phaseOutput: (@Sendable (String, Bool) -> Void)?
    /// How registry bases (`FROM host/repo:tag` in a Dockerfile) are pulled: `--insecure-registry` and the like.
    public var registryOptions = RegistryOptions()

    public init(layoutPath: String, tag: String, reference: String) {
        self.layoutPath = layoutPath
        self.tag = tag
        self.reference = reference
    }
}

/// One layer of the built image.
public struct BuiltLayer: Codable, Sendable, Hashable {
    /// `build` or `runtime`.
    public var stage: String
    public var phase: String
    public var createdBy: String
    public var digest: String
    public var diffID: String
    public var size: Int64
    public var uncompressedSize: Int64
    /// True when taken from the layer cache.
    public var cached: Bool
}

public struct PhaseTiming: Codable, Sendable, Hashable {
    public var stage: String
    public var phase: String
    /// `ran`, `cached`, `empty` (ran, changed nothing) or `skipped` (nothing to run).
    public var status: String
    public var seconds: Double
}

/// The result of a build (the CLI's `--json`).
public struct BuildReport: Codable, Sendable {
    public var reference: String
    public var layout: String
    public var tag: String
    public var manifestDigest: String
    public var configDigest: String
    /// Layers of the final image, bottom first.
    public var layers: [BuiltLayer]
    /// Compressed / uncompressed sizes of the final image's layers.
    public var imageSize: Int64
    public var imageUncompressedSize: Int64
    /// Compressed / uncompressed sizes of the build stage (base + every build layer).
    public var buildStageSize: Int64
    public var buildStageUncompressedSize: Int64
    /// Phases whose commands ran in this build, in order (`stage/phase`).
    public var executed: [String]
    /// Phases taken from the cache.
    public var cached: [String]
    public var timings: [PhaseTiming]
    public var totalSeconds: Double
    public var annotations: [String: String]
    public var warnings: [String]
}

/// A build failure: the phase, the command, its exit status and last output lines.
public struct BuildError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var phase: String?
    public var command: String?
    public var exitStatus: Int32?
    public var lastOutput: String?

    public init(_ message: String, phase: String? = nil, command: String? = nil, exitStatus: Int32? = nil, lastOutput: String? = nil) {
        self.message = message
        self.phase = phase
        self.command = command
        self.exitStatus = exitStatus
        self.lastOutput = lastOutput
    }

    public var description: String {
        var s = message
        if let phase { s += "\n  phase: \(phase)" }
        if let command { s += "\n  command: \(command)" }
        if let exitStatus { s += "\n  exit status: \(exitStatus)" }
        if let lastOutput, !lastOutput.isEmpty { s += "\n  " + lastOutput }
        s += "\n  no image was written; the previous image at the output (if any) is unchanged"
        return s
    }
}
