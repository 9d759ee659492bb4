import Foundation
import OCIWriter

/// Signatures in the containers/image "sigstore" attachment format (what podman's `sigstoreSigned` policy and
/// cosign's key-based `verify` read): an OCI image manifest at tag `sha256-<hex>.sig` in the image's repository,
/// one layer per signature, each layer the simple-signing payload (media type
/// `application/vnd.dev.cosign.simplesigning.v1+json`) with the base64 ECDSA signature in the
/// `dev.cosignproject.cosign/signature` annotation; the config is an image config whose `rootfs.diff_ids` are the
/// layer digests. A new signature is appended (read, modify, write).
public enum SigstoreSignatures {
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"

    /// The tag holding the signatures of `digest`.
    public static func tag(for digest: Digest) -> String { "sha256-\(digest.hex).sig" }

    public struct SignResult: Sendable {
        public var imageDigest: Digest
        public var signatureManifest: Digest
        /// Signatures in the manifest after this one was added.
        public var signatureCount: Int
        public var payload: SimpleSigningPayload
    }

    /// Signs the manifest `reference` names (the top-level manifest or index) and appends the signature.
    /// The payload's identity is `host/repository[:tag]` of `reference`.
    public static func sign(
        _ reference: ImageReference, client: RegistryClient, key: SigningKey,
        creator: String? = "ociforge", timestamp: Int64? = nil
    ) async throws -> SignResult {
        let repo = reference.repository
        let image = try await image(client) {
            try await client.fetchManifest(repository: repo, reference: reference.reference)
        }
        var identity = "\(reference.registry)/\(repo)"
        if let tag = reference.tag { identity += ":" + tag }
        let (payload, layer, bytes) = try signatureLayer(
            identity: identity, digest: image.digest, key: key, creator: creator, timestamp: timestamp)
        let sigTag = tag(for: image.digest)
        return try await self.image(client) {
            var layers = try await existingLayers(client, repository: repo, tag: sigTag)
            layers.removeAll { $0.digest == layer.digest && $0.annotations == layer.annotations }
            layers.append(layer)
            try await client.pushSmallBlob(repository: repo, descriptor: layer, bytes: bytes)
            let manifest = try await putSignatures(layers, client: client, repository: repo, tag: sigTag)
            return SignResult(
                imageDigest: image.digest, signatureManifest: manifest, signatureCount: layers.count, payload: payload)
        }
    }

    /// One signature layer and what verifying it gave.
    public struct CheckedSignature: Sendable {
        public var layer: Digest
        public var payload: SimpleSigningPayload?
        /// nil when the signature verified and names the image; else why it was not accepted.
        public var rejection: String?
    }

    public struct VerifyResult: Sendable {
        public var imageDigest: Digest
        public var signatures: [CheckedSignature]
        public var accepted: [CheckedSignature] { signatures.filter { $0.rejection == nil } }
    }

    /// Checks every signature of the image `reference` names against `key`: the ECDSA signature over the payload,
    /// the payload's manifest digest and its repository (`host/repository`, tag ignored, as cosign writes only
    /// the repository). Throws `.unsigned` when there are no signatures and `.verificationFailed` when none is
    /// accepted; the result lists each signature with its verdict. `signedRepository` (`host/repository`) is the
    /// repository the signatures must name when it differs from the image's (an image copied after signing; the
    /// policy.json equivalent is `exactRepository`).
    public static func verify(
        _ reference: ImageReference, client: RegistryClient, key: SigningKey,
        signedRepository: String? = nil
    ) async throws -> VerifyResult {
        let repo = reference.repository
        let image = try await image(client) {
            try await client.fetchManifest(repository: repo, reference: reference.reference)
        }
        let layers = try await self.image(client) {
            try await existingLayers(client, repository: repo, tag: tag(for: image.digest))
        }
        guard !layers.isEmpty else {
            throw SupplyChainError(
                .unsigned, "\(reference) (\(image.digest)) has no signatures (no tag \(tag(for: image.digest)))")
        }
        var checked: [CheckedSignature] = []
        for layer in layers {
            checked.append(
                try await check(
                    layer, client: client, repository: repo, image: image.digest,
                    expectedRepository: signedRepository ?? "\(reference.registry)/\(repo)", key: key))
        }
        let result = VerifyResult(imageDigest: image.digest, signatures: checked)
        guard !result.accepted.isEmpty else {
            let why = checked.compactMap(\.rejection).joined(separator: "; ")
            throw SupplyChainError(
                .verificationFailed, "no signature of \(reference) (\(image.digest)) is valid for this key: \(why)")
        }
        return result
    }

    static func check(
        _ layer: Descriptor, client: RegistryClient, repository: String, image: Digest,
        expectedRepository: String, key: SigningKey
    ) async throws -> CheckedSignature {
        let sig: [UInt8]
        switch signatureBytes(layer) {
        case .success(let bytes): sig = bytes
        case .failure(let rejected): return rejected.checked
        }
        let bytes = try await self.image(client) {
            try await client.fetchSmallBlob(repository: repository, descriptor: layer)
        }
        return try verdict(
            layer, signature: sig, payloadBytes: bytes, image: image, expectedRepository: expectedRepository,
            key: key)
    }

    /// A signature layer (media type and annotation already checked) judged on its payload bytes.
    static func verdict(
        _ layer: Descriptor, signature: [UInt8], payloadBytes bytes: [UInt8], image: Digest,
        expectedRepository: String, key: SigningKey
    ) throws -> CheckedSignature {
        guard key.verify(signature: signature, message: bytes) else {
            return CheckedSignature(
                layer: layer.digest, payload: nil,
                rejection: "signature in layer \(layer.digest) was not made by this key")
        }
        let payload = try SimpleSigningPayload.decode(bytes, source: "signature payload \(layer.digest)")
        if payload.critical.type != SimpleSigningPayload.signatureType {
            return CheckedSignature(
                layer: layer.digest, payload: payload,
                rejection: "payload type '\(payload.critical.type)' is not '\(SimpleSigningPayload.signatureType)'")
        }
        if payload.critical.image.dockerManifestDigest != image.string {
            return CheckedSignature(
                layer: layer.digest, payload: payload,
                rejection: "signature is for \(payload.critical.image.dockerManifestDigest), not \(image)")
        }
        if payload.repository != expectedRepository {
            return CheckedSignature(
                layer: layer.digest, payload: payload,
                rejection: "signature names repository \(payload.repository), not \(expectedRepository)")
        }
        return CheckedSignature(layer: layer.digest, payload: payload, rejection: nil)
    }

    /// The media type and annotation checks of a signature layer: the raw signature, or why it is rejected.
    static func signatureBytes(_ layer: Descriptor) -> Result<[UInt8], CheckedSignatureRejection> {
        guard layer.mediaType == .cosignSimpleSigning else {
            return .failure(
                .init(
                    checked: CheckedSignature(
                        layer: layer.digest, payload: nil,
                        rejection:
                            "layer \(layer.digest) has media type \(layer.mediaType), not a simple-signing payload")))
        }
        guard let b64 = layer.annotations?[signatureAnnotation], let sig = Data(base64Encoded: b64) else {
            return .failure(
                .init(
                    checked: CheckedSignature(
                        layer: layer.digest, payload: nil,
                        rejection: "layer \(layer.digest) has no base64 \(signatureAnnotation) annotation")))
        }
        return .success(Array(sig))
    }

    /// A signature layer rejected before its payload is read.
    struct CheckedSignatureRejection: Error { var checked: CheckedSignature }

    /// The simple-signing payload naming `identity` and `digest`, signed by `key`, as a signature layer.
    static func signatureLayer(
        identity: String, digest: Digest, key: SigningKey, creator: String?, timestamp: Int64?
    ) throws -> (SimpleSigningPayload, Descriptor, [UInt8]) {
        let payload = SimpleSigningPayload(
            dockerReference: identity, manifestDigest: digest, creator: creator, timestamp: timestamp)
        let bytes = try payload.encoded()
        let signature = try key.sign(bytes)
        let layer = Descriptor(
            mediaType: .cosignSimpleSigning, digest: Digest.of(bytes), size: Int64(bytes.count),
            annotations: [signatureAnnotation: Data(signature).base64EncodedString()])
        return (payload, layer, bytes)
    }

    /// The signature manifest's config (an image config whose `rootfs.diff_ids` are the layer digests) and the
    /// manifest itself.
    static func signatureDocuments(_ layers: [Descriptor]) throws
        -> (config: EncodedDocument<ImageConfig>, configDescriptor: Descriptor, manifest: EncodedDocument<Manifest>)
    {
        var config = ImageConfig(
            platform: Platform(architecture: "", os: ""), rootfs: RootFS(diffIDs: layers.map(\.digest)))
        config.config = ContainerConfig()
        let configDoc = try EncodedDocument(config)
        let configDesc = Descriptor(mediaType: .ociConfig, digest: configDoc.digest, size: configDoc.size)
        return (configDoc, configDesc, try EncodedDocument(Manifest(config: configDesc, layers: layers)))
    }

    /// Copies the signatures of `digest` from one repository to another (same or another registry), merging with
    /// signatures the target already has (layers not present there are appended). Returns how many signatures the
    /// target holds afterwards (0: the source has none and nothing was written).
    @discardableResult
    public static func copy(
        _ digest: Digest, from source: RegistryClient, repository sourceRepo: String,
        to target: RegistryClient, repository targetRepo: String
    ) async throws -> Int {
        let sigTag = tag(for: digest)
        let incoming = try await image(source) { try await existingLayers(source, repository: sourceRepo, tag: sigTag) }
        guard !incoming.isEmpty else { return 0 }
        var layers = try await image(target) { try await existingLayers(target, repository: targetRepo, tag: sigTag) }
        for layer in incoming
        where !layers.contains(where: { $0.digest == layer.digest && $0.annotations == layer.annotations }) {
            let bytes = try await image(source) {
                try await source.fetchSmallBlob(repository: sourceRepo, descriptor: layer)
            }
            try await image(target) {
                try await target.pushSmallBlob(repository: targetRepo, descriptor: layer, bytes: bytes)
            }
            layers.append(layer)
        }
        try await image(target) { try await putSignatures(layers, client: target, repository: targetRepo, tag: sigTag) }
        return layers.count
    }

    /// Writes the signature manifest (config with `rootfs.diff_ids` = the layer digests) at `tag`; the layers'
    /// blobs must be in the repository already.
    @discardableResult
    static func putSignatures(_ layers: [Descriptor], client: RegistryClient, repository: String, tag: String)
        async throws -> Digest
    {
        let docs = try signatureDocuments(layers)
        try await client.pushSmallBlob(
            repository: repository, descriptor: docs.configDescriptor, bytes: docs.config.bytes)
        return try await client.putManifest(
            repository: repository, reference: tag, bytes: docs.manifest.bytes, mediaType: .ociManifest)
    }

    /// The signature layers at `tag` (none when the tag does not exist).
    static func existingLayers(_ client: RegistryClient, repository: String, tag: String) async throws -> [Descriptor] {
        do {
            let doc = try await client.fetchManifest(repository: repository, reference: tag)
            return try EncodedDocument<Manifest>(bytes: doc.bytes, source: "\(client.registry)/\(repository):\(tag)")
                .value.layers
        } catch let e as OCIWriterError where e.code == .notFound {
            return []
        }
    }

    /// Runs registry work, wrapping OCIWriter errors as `.image` with the original as `cause`.
    static func image<T: Sendable>(_ client: RegistryClient, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "registry \(client.registry)", cause: e)
        }
    }
}
