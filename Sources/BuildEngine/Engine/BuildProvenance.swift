import Foundation
import OCIWriter
import Planner
import SupplyChain

/// The SLSA provenance facts of a build, from what it consumed and nothing else (no clock, host name or output
/// path), so the same inputs give the same statement:
/// - external parameters: the resolved plan (and its digest) and/or the Dockerfile (path, digest, build args,
///   target, platform), the build options that change the image (bases, network, SOURCE_DATE_EPOCH) and the ids
///   of the secrets offered (their values are redacted wherever they occur);
/// - resolved dependencies: the source files' digest (`SourceDigest`), the git revision when the app is a work
///   tree, every base image and every image files were copied or mounted from with its digest, every pinned
///   upstream toolchain with its archive digest.
enum BuildProvenance {
    static let planBuildType = "https://ociforge.dev/build/plan/v1"
    static let dockerfileBuildType = "https://ociforge.dev/build/dockerfile/v1"

    static func facts(_ inputs: BuildInputs, report: BuildReport, options: BuildOptions) throws
        -> BuildAttestationRequest.Provenance
    {
        var params: [String: JSONValue] = [:]
        if let plan = inputs.plan {
            let bytes = try CanonicalJSON.encode(plan)
            params["plan"] = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
            params["planDigest"] = .string(Digest.of(bytes).description)
        }
        if let df = inputs.dockerfile {
            var d: [String: JSONValue] = [
                "path": .string(df.dockerfile), "context": .string(df.context), "platform": .string(df.platform),
                "buildArgs": .object(df.buildArgs.mapValues(JSONValue.string))
            ]
            if let path = inputs.dockerfilePath {
                d["digest"] = .string(try CacheKey.fileDigest(path).description)
            }
            if let t = df.target { d["target"] = .string(t) }
            params["dockerfile"] = .object(d)
        }
        var o: [String: JSONValue] = ["network": .string(options.network.rawValue)]
        if let b = options.base { o["base"] = .string(b) }
        if let b = options.runtimeBase { o["runtimeBase"] = .string(b) }
        if let e = options.sourceDateEpoch { o["sourceDateEpoch"] = .number(e) }
        if !options.secrets.isEmpty { o["secrets"] = .array(options.secrets.map(\.id).sorted().map(JSONValue.string)) }
        params["options"] = .object(o)
        return BuildAttestationRequest.Provenance(
            buildType: inputs.dockerfile == nil ? planBuildType : dockerfileBuildType,
            externalParameters: .object(params),
            resolvedDependencies: try dependencies(inputs, report: report),
            secretValues: options.secrets.map(\.value))
    }

    static func dependencies(_ inputs: BuildInputs, report: BuildReport) throws
        -> [ProvenanceStatement.ResourceDescriptor]
    {
        typealias R = ProvenanceStatement.ResourceDescriptor
        let source = try SourceDigest.of(directory: inputs.directory, files: inputs.files)
        var deps = [R(digest: ["sha256": source.hex], name: "source")]
        if let git = ImageBuilder.gitInfo(inputs.directory) {
            deps.append(
                R(
                    uri: git.source.map { "git+\($0)@\(git.revision)" }, digest: ["gitCommit": git.revision],
                    name: "source-revision"))
        }
        for b in report.bases {
            deps.append(R(uri: b.name, digest: ["sha256": b.digest.hex], name: b.dependencyName))
        }
        for (name, pin) in toolchainPins(inputs.plan) {
            let parts = pin.digest.split(separator: ":", maxSplits: 1).map(String.init)
            deps.append(
                R(
                    uri: pin.url, digest: parts.count == 2 ? [parts[0]: parts[1]] : nil,
                    name: "toolchain:\(name)@\(pin.version)"))
        }
        return deps
    }

    /// The plan's pinned upstream toolchains (name, pin).
    static func toolchainPins(_ plan: ResolvedPlan?) -> [(String, ToolchainPin)] {
        (plan?.toolchains ?? []).compactMap { t in t.upstream?.pin.map { (t.name, $0) } }
    }

    /// The pinned toolchains as SBOM packages (those with a SHA-256: what the SBOM's checksum field takes).
    static func toolchainPackages(_ plan: ResolvedPlan?) -> [SBOMPackage] {
        toolchainPins(plan).compactMap { name, pin in
            guard pin.digest.hasPrefix("sha256:") else { return nil }
            return SBOMPackage.toolchain(
                name: name, version: pin.version, url: pin.url, sha256: String(pin.digest.dropFirst(7)))
        }
    }
}
