/// Somewhere referrers can be listed, read and attached: a registry repository or an OCI layout.
public protocol ReferrerStore: Sendable {
    /// For messages: `registry/repository` or the layout path.
    var name: String { get }
    func listReferrers(of subject: Digest, artifactType: MediaType?) async throws -> ReferrersListing
    func readArtifact(_ descriptor: Descriptor) async throws -> Artifact
    @discardableResult
    func attachArtifact(_ artifact: Artifact) async throws -> Descriptor
}

/// A registry repository (referrers API, else the tag schema).
public struct RegistryReferrerStore: ReferrerStore {
    public let client: RegistryClient
    public let repository: String

    public init(client: RegistryClient, repository: String) {
        self.client = client
        self.repository = repository
    }

    public var name: String { "\(client.registry)/\(repository)" }

    public func listReferrers(of subject: Digest, artifactType: MediaType?) async throws -> ReferrersListing {
        try await client.referrers(repository: repository, subject: subject, artifactType: artifactType)
    }

    public func readArtifact(_ descriptor: Descriptor) async throws -> Artifact {
        try await client.fetchArtifact(repository: repository, descriptor: descriptor)
    }

    public func attachArtifact(_ artifact: Artifact) async throws -> Descriptor {
        try await client.attach(artifact, repository: repository).descriptor
    }

    /// The descriptor of the manifest or index `reference` names (the subject referrers point at).
    public func subject(_ reference: ImageReference) async throws -> Descriptor {
        try await client.fetchManifest(repository: repository, reference: reference.reference).descriptor
    }
}

/// An OCI layout (artifacts as untagged index.json entries with `artifactType`).
public struct LayoutReferrerStore: ReferrerStore {
    public let layout: OCILayout

    public init(layout: OCILayout) { self.layout = layout }

    public var name: String { layout.path }

    public func listReferrers(of subject: Digest, artifactType: MediaType?) async throws -> ReferrersListing {
        let l = layout
        return try await OCILayout.offloading { try l.referrers(of: subject, artifactType: artifactType) }
    }

    public func readArtifact(_ descriptor: Descriptor) async throws -> Artifact {
        let l = layout
        return try await OCILayout.offloading { try l.artifact(descriptor) }
    }

    public func attachArtifact(_ artifact: Artifact) async throws -> Descriptor {
        let l = layout
        return try await OCILayout.offloading { try l.attach(artifact) }
    }

    /// The descriptor of the image `tag` names (or the layout's only image), as stored in index.json.
    public func subject(tag: String?) throws -> Descriptor {
        try layout.rootDescriptor(tag: tag)
    }
}
