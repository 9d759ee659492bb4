import Foundation
import OCIWriter
import Planner
import Sandbox
import SupplyChain

/// What `verify-rebuild` starts from: the original image (an OCI layout, or a registry image pulled into the run
/// directory), the provenance statement attached to it, and the build request that statement describes.
enum RebuildSource {
    /// The parts of a recorded provenance statement a rebuild needs.
    struct Recorded {
        var buildType: String
        var parameters: [String: JSONValue]
        /// `sha256:<hex>` of the source files (the `source` dependency).
        var sourceDigest: String?
    }

    private struct Statement: Decodable {
        struct Dependency: Decodable {
            var name: String?
            var digest: [String: String]?
        }
        struct Definition: Decodable {
            var buildType: String
            var externalParameters: JSONValue
            var resolvedDependencies: [Dependency]?
        }
        struct Predicate: Decodable { var buildDefinition: Definition }
        var predicate: Predicate
    }

    /// The original image, resolved in a layout (a registry image is pulled into `dir` first); its tag is the one
    /// the build wrote (the `org.opencontainers.image.ref.name` annotation when present).
    static func original(_ image: ImageLocation, options: BuildOptions, into dir: String) throws -> ResolvedImage {
        var resolved: ResolvedImage
        switch image {
        case .ociLayout(let path, let tag):
            resolved = try OCILayout.open(at: BuildRequest.absolute(path)).resolve(tag: tag, platform: Platform.host)
        case .registry(let ref):
            let local = ImageLocation.ociLayout(path: dir + "/original", tag: ref.tag ?? "latest")
            _ = try transport(options).copyBlocking(image, local, platform: Platform.host)
            resolved = try OCILayout.open(at: dir + "/original").resolve(tag: ref.tag ?? "latest")
        case .dockerArchive:
            throw BuildEngineError(
                .unsupported,
                "verify-rebuild reads the provenance attached to the image: give an OCI layout or a registry image (a docker-archive holds no referrers)"
            )
        }
        if let name = resolved.manifest.value.annotations?["org.opencontainers.image.ref.name"] { resolved.tag = name }
        return resolved
    }

    /// The provenance statement attached to `original` (in its layout, or at the registry `image` names).
    static func provenance(of original: ResolvedImage, image: ImageLocation, options: BuildOptions) throws -> Recorded {
        let digest = original.manifestDescriptor.digest
        let t = transport(options)
        let statement: Statement? = try blocking {
            let store: any ReferrerStore
            if case .registry(let ref) = image {
                store = RegistryReferrerStore(client: try await t.client(ref.registry), repository: ref.repository)
            } else {
                store = LayoutReferrerStore(layout: original.layout)
            }
            let listed = try await store.listReferrers(of: digest, artifactType: .inTotoJSON).referrers
            guard let d = listed.first else { return nil }
            let artifact = try await store.readArtifact(d)
            guard let layer = artifact.manifest.value.layers.first, let bytes = artifact.blobs[layer.digest] else {
                return nil
            }
            return try JSONDecoder().decode(Statement.self, from: Data(bytes))
        }
        guard let statement, case .object(let params) = statement.predicate.buildDefinition.externalParameters else {
            throw BuildEngineError(
                .invalidInput,
                "\(image) (\(digest)) has no provenance statement attached: build it with `ociforge build` (provenance is on unless --no-provenance)"
            )
        }
        let source = statement.predicate.buildDefinition.resolvedDependencies?.first { $0.name == "source" }
        return Recorded(
            buildType: statement.predicate.buildDefinition.buildType, parameters: params,
            sourceDigest: source?.digest?["sha256"].map { "sha256:" + $0 })
    }

    /// The build request the recorded parameters describe, from `directory`, with `options`' runner settings.
    static func request(_ r: Recorded, directory: String, options given: BuildOptions, work: String) throws
        -> BuildRequest
    {
        var options = given
        let o = r.parameters["options"]?.object ?? [:]
        options.base = o["base"]?.string
        options.runtimeBase = o["runtimeBase"]?.string
        options.network = o["network"]?.string.flatMap(NetworkMode.init(rawValue:)) ?? .host
        if case .number(let e)? = o["sourceDateEpoch"] {
            options.sourceDateEpoch = e
        } else {
            options.sourceDateEpoch = nil
        }
        let needed = Set((o["secrets"]?.array ?? []).compactMap(\.string))
        let missing = needed.subtracting(options.secrets.map(\.id))
        guard missing.isEmpty else {
            throw BuildEngineError(
                .invalidInput,
                "the build used the secrets \(missing.sorted().joined(separator: ", ")): give them to verify-rebuild with --secret"
            )
        }
        if let plan = r.parameters["plan"] {
            let path = work + "/" + Planner.frozenFileName
            try Data(try CanonicalJSON.encode(plan)).write(to: URL(fileURLWithPath: path))
            var planOptions = PlanOptions()
            planOptions.frozenPlanPath = path
            let result = try Planner.plan(appDirectory: directory, options: planOptions)
            return BuildRequest(
                source: .app(directory: directory, plan: result, planOptions: planOptions), options: options)
        }
        guard let d = r.parameters["dockerfile"]?.object, let recordedPath = d["path"]?.string else {
            throw BuildEngineError(
                .invalidInput, "the provenance (\(r.buildType)) records neither a plan nor a Dockerfile to rebuild")
        }
        var dockerfileOptions = DockerfileOptions()
        dockerfileOptions.buildArgs = (d["buildArgs"]?.object ?? [:]).compactMapValues(\.string)
        dockerfileOptions.target = d["target"]?.string
        let path =
            recordedPath.hasPrefix("/")
            ? (FileManager.default.fileExists(atPath: recordedPath) ? recordedPath : directory + "/Dockerfile")
            : directory + "/" + recordedPath
        return BuildRequest(
            source: .dockerfile(path: path, context: directory, options: dockerfileOptions), options: options)
    }

    static func transport(_ options: BuildOptions) -> ImageTransport {
        let events = options.events
        return ImageTransport(
            options: options.registryOptions, credentials: options.credentials, report: { events(.message($0)) })
    }
}

extension JSONValue {
    fileprivate var string: String? { if case .string(let s) = self { s } else { nil } }
    fileprivate var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    fileprivate var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
