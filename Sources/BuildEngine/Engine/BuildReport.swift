import Foundation
import OCIWriter

/// One layer of the built image.
public struct BuiltLayer: Codable, Sendable, Hashable {
    /// `build` or `runtime` (plan builds), the Dockerfile step's label (Dockerfile builds).
    public var stage: String
    public var phase: String
    public var createdBy: String
    public var digest: Digest
    public var diffID: Digest
    public var size: Int64
    public var uncompressedSize: Int64
    /// True when taken from the layer cache.
    public var cached: Bool
}

public struct PhaseTiming: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable {
        /// The step's commands ran (or its layer was written).
        case ran
        /// Taken from the cache.
        case cached
        /// Ran, changed nothing.
        case empty
        /// Nothing to run.
        case skipped
    }
    public var stage: String
    public var phase: String
    public var status: Status
    public var seconds: Double
}

/// The result of a build (the CLI's `--json`).
public struct BuildReport: Codable, Sendable {
    public var reference: String
    /// The layout the image was written into (the output, or the staging layout of a registry / archive output).
    public var layout: String
    public var tag: String
    public var manifestDigest: Digest
    public var configDigest: Digest
    /// Where the image was delivered (`oci-layout:…`, `docker://…`, `docker-archive:…`).
    public var output: String
    /// The digest the delivery reported (the registry's manifest digest for `docker://`).
    public var deliveredDigest: Digest?
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
    public var warnings: [BuildWarning]
    /// The base images the build started from (the provenance's resolved dependencies).
    public var bases: [BaseImageRecord] = []
    /// The SBOM and provenance artifacts attached to the image (referrers of `manifestDigest`), in the order written.
    public var attestations: [Descriptor] = []
    /// The sigstore signature tag written for a `docker://` output signed with `--sign-key`.
    public var signatureTag: String?
    /// A multi-platform build: each platform's image (`manifestDigest` is then the index's digest).
    public var platforms: [PlatformBuild]? = nil
}

/// Human-readable sizes and durations for progress lines and reports.
public enum BuildFormat {
    public static func bytes(_ n: Int64) -> String {
        let d = Double(n)
        if n >= 1 << 30 { return String(format: "%.2f GiB", d / 1073741824) }
        if n >= 1 << 20 { return String(format: "%.1f MiB", d / 1048576) }
        if n >= 1 << 10 { return String(format: "%.1f KiB", d / 1024) }
        return "\(n) B"
    }

    public static func seconds(_ s: Double) -> String { String(format: "%.1f s", s) }
}
