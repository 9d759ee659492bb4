import Foundation
import OCIWriter
import Planner
import Sandbox
import SupplyChain

/// `verify-rebuild`: which image to check against what.
public struct RebuildCheckRequest: Sendable {
    /// The image: an OCI layout or a registry image whose referrers hold the build's provenance statement.
    public var image: ImageLocation
    /// The app directory (plan builds) or build context (Dockerfile builds) to rebuild from.
    public var directory: String
    /// How the rebuild runs (CA bundle, secrets, registry access, events). Its output, cache, bases, network,
    /// SOURCE_DATE_EPOCH and attestations are set from the provenance.
    public var options: BuildOptions
    /// A layout to keep the rebuilt image in (nil: a run directory of the state, removed afterwards).
    public var keepLayout: String?

    public init(image: ImageLocation, directory: String, options: BuildOptions, keepLayout: String? = nil) {
        self.image = image
        self.directory = directory
        self.options = options
        self.keepLayout = keepLayout
    }
}

/// The result of `verify-rebuild`: equal when the rebuilt manifest is the original's; otherwise the differing
/// layers with their differing files (`ImageComparison`).
public struct RebuildCheckReport: Codable, Sendable {
    public var buildType: String
    /// The source digest the provenance records and that of the directory rebuilt from.
    public var recordedSource: String?
    public var currentSource: String
    public var comparison: ImageComparison
    /// Where the rebuilt image was kept (nil: removed).
    public var rebuiltLayout: String?
    /// What the rebuild took from the state directory instead of making it again (`RebuildState`): paths relative
    /// to that state. Everything else ran in a fresh state directory.
    public var reusedState: [String]
    public var equal: Bool { comparison.equal }
}

extension BuildEngine {
    /// Rebuilds the image from the plan / Dockerfile and options its provenance records, from `directory`, in a
    /// fresh state directory (`RebuildState`: empty layer cache and cache mounts, every step runs again; only the
    /// Debian base tarballs and digest-pinned toolchain archives are reused), and compares the result with the
    /// original layer by layer.
    public static func verifyRebuild(_ request: RebuildCheckRequest, runner: any PhaseRunner)
        throws(BuildEngineError) -> RebuildCheckReport
    {
        let run: RunDirectory
        do { run = try runner.state.newRun() } catch {
            throw BuildEngineError(.cache, "cannot create a run directory for the rebuild", cause: error)
        }
        defer { run.remove() }
        do {
            let original = try RebuildSource.original(request.image, options: request.options, into: run.path)
            let recorded = try RebuildSource.provenance(of: original, image: request.image, options: request.options)
            var rebuild = try RebuildSource.request(
                recorded, directory: BuildRequest.absolute(request.directory), options: request.options,
                work: run.path)
            let tag = original.tag ?? "latest"
            let layout = request.keepLayout.map(BuildRequest.absolute) ?? run.path + "/rebuilt"
            rebuild.options.output = .ociLayout(path: layout, tag: tag)
            rebuild.options.cacheDirectory = run.path + "/cache"
            rebuild.options.noCache = true
            rebuild.options.attestations = AttestationOptions(sbomFormats: [], provenance: false)
            let fresh = try RebuildState.fresh(at: run.path + "/state", from: runner.state)
            if rebuild.options.toolchains.stateDirectory == nil {
                rebuild.options.toolchains.stateDirectory = fresh.toolchainArchives
            }
            request.options.emit(
                .message(
                    "rebuilding \(original.manifestDescriptor.digest) from \(request.directory) in the fresh state \(fresh.state.path) (reusing \(fresh.reused.joined(separator: ", ")))"
                ))
            let (report, inputs) = try image(rebuild, runner: runner.with(state: fresh.state))
            let rebuilt = try OCILayout.open(at: report.layout).resolve(tag: report.tag)
            return RebuildCheckReport(
                buildType: recorded.buildType, recordedSource: recorded.sourceDigest,
                currentSource: try SourceDigest.of(directory: inputs.directory, files: inputs.files).description,
                comparison: try ImageComparison.compare(original, rebuilt),
                rebuiltLayout: request.keepLayout == nil ? nil : layout, reusedState: fresh.reused)
        } catch {
            throw BuildEngineError.wrapping(error, "verify-rebuild of \(request.image)")
        }
    }
}
