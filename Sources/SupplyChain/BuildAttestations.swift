import OCIWriter

/// What a build knows that its attestations record (the engine fills it in after the image is written).
public struct BuildAttestationRequest: Sendable {
    /// A lockfile the build installed dependencies from (its path for messages and its text).
    public struct Lockfile: Sendable {
        public var path: String
        public var text: String
        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }

    /// The provenance facts (the subject is the image itself).
    public struct Provenance: Sendable {
        public var buildType: String
        public var externalParameters: JSONValue
        public var resolvedDependencies: [ProvenanceStatement.ResourceDescriptor]
        public var secretKeys: Set<String>
        public var secretValues: [String]

        public init(
            buildType: String = "https://ociforge.dev/build/plan/v1", externalParameters: JSONValue,
            resolvedDependencies: [ProvenanceStatement.ResourceDescriptor], secretKeys: Set<String> = [],
            secretValues: [String] = []
        ) {
            self.buildType = buildType
            self.externalParameters = externalParameters
            self.resolvedDependencies = resolvedDependencies
            self.secretKeys = secretKeys
            self.secretValues = secretValues
        }
    }

    public var layout: OCILayout
    public var tag: String
    /// The name recorded in the documents (the image reference).
    public var imageName: String
    public var sourceDateEpoch: Int64
    public var formats: [SBOMFormat]
    public var lockfiles: [Lockfile]
    public var toolchains: [SBOMPackage]
    public var provenance: Provenance?
    /// The build stage's packages (its dpkg status, the toolchains, the lockfiles of the source), for a second SBOM
    /// per format annotated `dev.ociforge.sbom.scope: build` (`--sbom-build-stage`); nil: none.
    public var buildStage: [SBOMPackage]?

    public init(
        layout: OCILayout, tag: String, imageName: String, sourceDateEpoch: Int64, formats: [SBOMFormat] = [.spdx],
        lockfiles: [Lockfile] = [], toolchains: [SBOMPackage] = [], provenance: Provenance? = nil
    ) {
        self.layout = layout
        self.tag = tag
        self.imageName = imageName
        self.sourceDateEpoch = sourceDateEpoch
        self.formats = formats
        self.lockfiles = lockfiles
        self.toolchains = toolchains
        self.provenance = provenance
    }
}

/// Attaches a build's SBOMs and provenance to the image it wrote, as referrers in its OCI layout (a later push with
/// `ReferrerTransfer.copy` carries them to the registry).
public enum BuildAttestations {
    /// Generates and attaches the attestations; returns the artifact descriptors in the order written.
    /// Blocking (reads the layers): call it off the cooperative pool.
    @discardableResult
    public static func attach(_ r: BuildAttestationRequest) throws -> [Descriptor] {
        let image: ResolvedImage
        do { image = try r.layout.resolve(tag: r.tag) } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "cannot open the built image \(r.tag)", cause: e)
        }
        var packages = try ImageSBOM.dpkgPackages(of: image) + r.toolchains
        for l in r.lockfiles {
            let name = String(l.path.split(separator: "/").last ?? "")
            guard let kind = Lockfiles.kind(ofFileNamed: name) else {
                throw SupplyChainError(.invalidInput, "not a lockfile ociforge reads", location: l.path)
            }
            packages += try Lockfiles.packages(kind, l.text, source: l.path)
        }
        let subject = SBOMSubject(
            name: r.imageName, digest: image.manifestDescriptor.digest, created: r.sourceDateEpoch)
        var artifacts: [Artifact] = []
        for format in r.formats {
            let bytes = try renderSBOM(format, subject: subject, packages: packages)
            artifacts.append(try ImageSBOM.artifact(bytes, format: format, subject: image.manifestDescriptor))
        }
        if let build = r.buildStage {
            let stage = SBOMSubject(
                name: r.imageName, digest: image.manifestDescriptor.digest, created: r.sourceDateEpoch, scope: "build")
            for format in r.formats {
                let bytes = try renderSBOM(format, subject: stage, packages: build)
                artifacts.append(
                    try ImageSBOM.artifact(
                        bytes, format: format, subject: image.manifestDescriptor,
                        annotations: [ImageSBOM.scopeAnnotation: "build"]))
            }
        }
        if let p = r.provenance {
            let inputs = ProvenanceStatement.Inputs(
                subjectName: r.imageName, subjectDigest: image.manifestDescriptor.digest, buildType: p.buildType,
                externalParameters: p.externalParameters, resolvedDependencies: p.resolvedDependencies,
                secretKeys: p.secretKeys, secretValues: p.secretValues, sourceDateEpoch: r.sourceDateEpoch)
            artifacts.append(try ProvenanceStatement(inputs).artifact(subject: image.manifestDescriptor))
        }
        do {
            return try artifacts.map { try r.layout.attach($0) }
        } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "cannot attach attestations to \(r.tag)", cause: e)
        }
    }
}
