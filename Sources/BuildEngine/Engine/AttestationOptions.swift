import SupplyChain

/// What a build attaches to the image it writes, as BuildKit's `--sbom` / `--provenance` do, and the key that signs
/// a pushed image. The documents are referrers of the image manifest: stored beside it in the layout and pushed
/// with it to a `docker://` output (the referrers API, or the `sha256-<hex>` tag schema).
public struct AttestationOptions: Sendable {
    /// The SBOM documents (empty: none). Default: SPDX 2.3.
    public var sbomFormats: [SBOMFormat] = [.spdx]
    /// An in-toto statement with a SLSA v1 provenance predicate (default: attached).
    public var provenance = true
    /// Signs the image pushed to a `docker://` output (sigstore attachment at tag `sha256-<hex>.sig`), or the image
    /// written to an OCI layout (the signature stored in the layout at that tag, see docs/supply-chain.md).
    public var signingKey: SigningKey?
    /// For a layout output: the `host/repository[:tag]` the signature names (where the image will be pulled from).
    public var signingIdentity: String?
    /// A second SBOM per format for the build stage (its Debian packages, every toolchain, the source's
    /// lockfiles), annotated `dev.ociforge.sbom.scope: build` (`--sbom-build-stage`; plan builds).
    public var buildStageSBOM = false

    public init(
        sbomFormats: [SBOMFormat] = [.spdx], provenance: Bool = true, signingKey: SigningKey? = nil,
        signingIdentity: String? = nil
    ) {
        self.sbomFormats = sbomFormats
        self.provenance = provenance
        self.signingKey = signingKey
        self.signingIdentity = signingIdentity
    }

    /// Nothing to attach (the signature is separate: it needs a registry).
    var attachesNothing: Bool { sbomFormats.isEmpty && !provenance }
}
