import Foundation
import OCIWriter

/// Sigstore signatures kept in an OCI image layout, in the same form a registry holds them: the signature manifest
/// (one simple-signing layer per signature, see `SigstoreSignatures`) is tagged `sha256-<hex>.sig` in index.json and
/// its blobs are in `blobs/sha256/`. Copying that tag to a registry is all it takes for podman's `sigstoreSigned`
/// policy or cosign to find the signatures there.
public enum LayoutSignatures {
    /// The index.json entry `tag` names (the image manifest or index a signature covers).
    public static func entry(_ layout: OCILayout, tag: String) throws -> Descriptor {
        guard
            let d = try layout.readIndex().manifests.last(where: {
                $0.annotations?[Descriptor.refNameAnnotation] == tag
            })
        else {
            throw SupplyChainError(.image, "no image tagged '\(tag)' in the layout \(layout.path)")
        }
        return d
    }

    /// Signs what `tag` names with `key`; the payload names `identity` (`host/repository[:tag]`: the reference the
    /// image will be pulled by once copied to a registry). Existing signatures are kept.
    public static func sign(
        _ layout: OCILayout, tag: String, identity: String, key: SigningKey,
        creator: String? = "ociforge", timestamp: Int64? = nil
    ) throws -> SigstoreSignatures.SignResult {
        try sign(
            layout, digest: try entry(layout, tag: tag).digest, identity: identity, key: key, creator: creator,
            timestamp: timestamp)
    }

    /// Signs the manifest `digest` (a platform manifest of an index the layout holds) as `sign(_:tag:…)` does.
    public static func sign(
        _ layout: OCILayout, digest: Digest, identity: String, key: SigningKey,
        creator: String? = "ociforge", timestamp: Int64? = nil
    ) throws -> SigstoreSignatures.SignResult {
        try checkIdentity(identity)
        guard layout.hasBlob(digest) else {
            throw SupplyChainError(.image, "the layout \(layout.path) has no manifest \(digest) to sign")
        }
        let (payload, layer, bytes) = try SigstoreSignatures.signatureLayer(
            identity: identity, digest: digest, key: key, creator: creator, timestamp: timestamp)
        var layers = try signatureLayers(layout, of: digest)
        layers.removeAll { $0.digest == layer.digest && $0.annotations == layer.annotations }
        layers.append(layer)
        let manifest = try layoutWork(layout) {
            _ = try layout.writeBlob(bytes: bytes, mediaType: layer.mediaType)
            return try writeSignatures(layers, to: layout, of: digest)
        }
        return .init(
            imageDigest: digest, signatureManifest: manifest, signatureCount: layers.count, payload: payload)
    }

    /// Checks every signature of what `tag` names against `key`, as `SigstoreSignatures.verify` does for a registry:
    /// the payload must name the image's digest and `signedRepository` (`host/repository`).
    public static func verify(_ layout: OCILayout, tag: String, key: SigningKey, signedRepository: String) throws
        -> SigstoreSignatures.VerifyResult
    {
        let image = try entry(layout, tag: tag)
        let layers = try signatureLayers(layout, of: image.digest)
        guard !layers.isEmpty else {
            throw SupplyChainError(
                .unsigned,
                "oci-layout:\(layout.path):\(tag) (\(image.digest)) has no signatures (no tag \(SigstoreSignatures.tag(for: image.digest)))"
            )
        }
        var checked: [SigstoreSignatures.CheckedSignature] = []
        for layer in layers {
            switch SigstoreSignatures.signatureBytes(layer) {
            case .failure(let rejected): checked.append(rejected.checked)
            case .success(let sig):
                let bytes = try layoutWork(layout) { try layout.readBlob(layer) }
                checked.append(
                    try SigstoreSignatures.verdict(
                        layer, signature: sig, payloadBytes: bytes, image: image.digest,
                        expectedRepository: signedRepository, key: key))
            }
        }
        let result = SigstoreSignatures.VerifyResult(imageDigest: image.digest, signatures: checked)
        guard !result.accepted.isEmpty else {
            throw SupplyChainError(
                .verificationFailed,
                "no signature of oci-layout:\(layout.path):\(tag) (\(image.digest)) is valid for this key: "
                    + checked.compactMap(\.rejection).joined(separator: "; "))
        }
        return result
    }

    /// The signature layers of `digest` in the layout (none when it has no `sha256-<hex>.sig` tag).
    public static func signatureLayers(_ layout: OCILayout, of digest: Digest) throws -> [Descriptor] {
        let sigTag = SigstoreSignatures.tag(for: digest)
        return try layoutWork(layout) {
            guard
                let d = try layout.readIndex().manifests.last(where: {
                    $0.annotations?[Descriptor.refNameAnnotation] == sigTag
                })
            else { return [] }
            return try layout.readDocument(Manifest.self, d).value.layers
        }
    }

    /// Copies the signatures of `digest` from the layout to a registry repository (tag `sha256-<hex>.sig`),
    /// merged with those already there. Returns how many the registry holds afterwards (0: none to copy).
    @discardableResult
    public static func copy(_ digest: Digest, from layout: OCILayout, to client: RegistryClient, repository: String)
        async throws -> Int
    {
        let incoming = try signatureLayers(layout, of: digest)
        guard !incoming.isEmpty else { return 0 }
        let sigTag = SigstoreSignatures.tag(for: digest)
        var layers = try await SigstoreSignatures.image(client) {
            try await SigstoreSignatures.existingLayers(client, repository: repository, tag: sigTag)
        }
        for layer in incoming
        where !layers.contains(where: { $0.digest == layer.digest && $0.annotations == layer.annotations }) {
            let bytes = try layoutWork(layout) { try layout.readBlob(layer) }
            try await SigstoreSignatures.image(client) {
                try await client.pushSmallBlob(repository: repository, descriptor: layer, bytes: bytes)
            }
            layers.append(layer)
        }
        try await SigstoreSignatures.image(client) {
            try await SigstoreSignatures.putSignatures(layers, client: client, repository: repository, tag: sigTag)
        }
        return layers.count
    }

    /// Copies the signatures of `digest` from a registry repository into the layout, merged with its own.
    @discardableResult
    public static func copy(_ digest: Digest, from client: RegistryClient, repository: String, to layout: OCILayout)
        async throws -> Int
    {
        let sigTag = SigstoreSignatures.tag(for: digest)
        let incoming = try await SigstoreSignatures.image(client) {
            try await SigstoreSignatures.existingLayers(client, repository: repository, tag: sigTag)
        }
        guard !incoming.isEmpty else { return 0 }
        var layers = try signatureLayers(layout, of: digest)
        for layer in incoming
        where !layers.contains(where: { $0.digest == layer.digest && $0.annotations == layer.annotations }) {
            let bytes = try await SigstoreSignatures.image(client) {
                try await client.fetchSmallBlob(repository: repository, descriptor: layer)
            }
            try layoutWork(layout) { _ = try layout.writeBlob(bytes: bytes, mediaType: layer.mediaType) }
            layers.append(layer)
        }
        try layoutWork(layout) { _ = try writeSignatures(layers, to: layout, of: digest) }
        return layers.count
    }

    /// Writes the config and manifest of `layers` (blobs already in the layout) and tags it `sha256-<hex>.sig`.
    static func writeSignatures(_ layers: [Descriptor], to layout: OCILayout, of digest: Digest) throws -> Digest {
        let docs = try SigstoreSignatures.signatureDocuments(layers)
        _ = try layout.writeBlob(document: docs.config, mediaType: .ociConfig)
        let manifest = try layout.writeBlob(document: docs.manifest, mediaType: .ociManifest)
        try layout.tag(manifest, as: SigstoreSignatures.tag(for: digest))
        return manifest.digest
    }

    /// `host/repository[:tag]` with a host and a repository (podman matches the pulled reference against it).
    static func checkIdentity(_ identity: String) throws {
        let parts = identity.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, !parts[1].isEmpty, !identity.contains("@"), !identity.contains("://") else {
            throw SupplyChainError(
                .invalidInput,
                "signed identity '\(identity)' is not host/repository[:tag]: name the registry reference the image will be pulled by"
            )
        }
    }

    /// Runs layout work, wrapping OCIWriter errors as `.image` with the original as `cause`.
    static func layoutWork<T>(_ layout: OCILayout, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "layout \(layout.path)", cause: e)
        }
    }
}
