import OCIWriter

/// An in-toto Statement v1 (in-toto/attestation spec/v1/statement.md) with a SLSA Provenance v1 predicate
/// (slsa.dev/provenance/v1). Everything in it comes from the inputs: no clock, host name or path is read, so the
/// same inputs give the same bytes.
public struct ProvenanceStatement: Encodable, Sendable {
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let predicateType = "https://slsa.dev/provenance/v1"

    public struct Subject: Encodable, Sendable {
        public var name: String
        public var digest: [String: String]
    }

    /// A SLSA ResourceDescriptor (base image, toolchain archive, source revision).
    public struct ResourceDescriptor: Encodable, Sendable, Equatable {
        public var uri: String?
        public var digest: [String: String]?
        public var name: String?
        public var downloadLocation: String?

        public init(
            uri: String? = nil, digest: [String: String]? = nil, name: String? = nil, downloadLocation: String? = nil
        ) {
            self.uri = uri
            self.digest = digest
            self.name = name
            self.downloadLocation = downloadLocation
        }
    }

    public struct Predicate: Encodable, Sendable {
        public struct BuildDefinition: Encodable, Sendable {
            public var buildType: String
            public var externalParameters: JSONValue
            public var internalParameters: JSONValue?
            public var resolvedDependencies: [ResourceDescriptor]
        }
        public struct Builder: Encodable, Sendable {
            public var id: String
            public var version: [String: String]?
        }
        public struct Metadata: Encodable, Sendable {
            public var invocationId: String?
            public var startedOn: String?
            public var finishedOn: String?
        }
        public struct RunDetails: Encodable, Sendable {
            public var builder: Builder
            public var metadata: Metadata?
        }
        public var buildDefinition: BuildDefinition
        public var runDetails: RunDetails
    }

    public var _type = statementType
    public var subject: [Subject]
    public var predicateType = predicateType
    public var predicate: Predicate

    /// The inputs of a provenance statement.
    public struct Inputs: Sendable {
        public var subjectName: String
        public var subjectDigest: Digest
        public var builderID: String
        public var builderVersion: String
        public var buildType: String
        /// The resolved plan / Dockerfile and build arguments as given by the user.
        public var externalParameters: JSONValue
        public var internalParameters: JSONValue?
        public var resolvedDependencies: [ResourceDescriptor]
        /// Keys dropped from the parameters wherever they appear (secret names) and values scrubbed from strings.
        public var secretKeys: Set<String>
        public var secretValues: [String]
        /// SOURCE_DATE_EPOCH of the build, recorded as start and finish (reproducible: not the wall clock).
        public var sourceDateEpoch: Int64?

        public init(
            subjectName: String, subjectDigest: Digest, builderID: String = "https://ociforge.dev/builder",
            builderVersion: String = SBOMTool.version, buildType: String = "https://ociforge.dev/build/plan/v1",
            externalParameters: JSONValue, internalParameters: JSONValue? = nil,
            resolvedDependencies: [ResourceDescriptor], secretKeys: Set<String> = [], secretValues: [String] = [],
            sourceDateEpoch: Int64? = nil
        ) {
            self.subjectName = subjectName
            self.subjectDigest = subjectDigest
            self.builderID = builderID
            self.builderVersion = builderVersion
            self.buildType = buildType
            self.externalParameters = externalParameters
            self.internalParameters = internalParameters
            self.resolvedDependencies = resolvedDependencies
            self.secretKeys = secretKeys
            self.secretValues = secretValues
            self.sourceDateEpoch = sourceDateEpoch
        }
    }

    public init(_ i: Inputs) {
        subject = [Subject(name: i.subjectName, digest: ["sha256": i.subjectDigest.hex])]
        let deps = i.resolvedDependencies.sorted { ($0.name ?? "", $0.uri ?? "") < ($1.name ?? "", $1.uri ?? "") }
        let when = i.sourceDateEpoch.map(RFC3339.format)
        predicate = Predicate(
            buildDefinition: .init(
                buildType: i.buildType,
                externalParameters: i.externalParameters.redacting(keys: i.secretKeys, values: i.secretValues),
                internalParameters: i.internalParameters?.redacting(keys: i.secretKeys, values: i.secretValues),
                resolvedDependencies: deps),
            runDetails: .init(
                builder: .init(id: i.builderID, version: ["ociforge": i.builderVersion]),
                metadata: when.map { .init(invocationId: nil, startedOn: $0, finishedOn: $0) }))
    }

    /// Canonical JSON bytes (sorted keys, no whitespace).
    public func encoded() throws -> [UInt8] { try CanonicalJSON.encode(self) }

    /// The statement as an OCI artifact about `subject` (artifactType `application/vnd.in-toto+json`).
    public func artifact(subject: Descriptor) throws -> Artifact {
        try Artifact(
            artifactType: .inTotoJSON, subject: subject,
            layers: [
                ArtifactLayer(
                    mediaType: .inTotoJSON, bytes: try encoded(),
                    annotations: ["in-toto.io/predicate-type": Self.predicateType])
            ],
            annotations: ["in-toto.io/predicate-type": Self.predicateType])
    }
}
