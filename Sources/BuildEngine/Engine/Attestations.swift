import Foundation
import OCIWriter
import Planner
import SupplyChain
import Synchronization

/// The build's supply-chain step: SBOMs and provenance attached to the image as referrers in its layout before
/// delivery, then (for a `docker://` output) carried to the registry beside the pushed image and signed there.
extension BuildEngine {
    /// Generates the requested SBOMs (dpkg status of the final image's layers, the lockfiles it carries, the
    /// plan's pinned toolchains) and the provenance, and attaches them to the image in its layout.
    static func attest(_ report: inout BuildReport, inputs: BuildInputs, options: BuildOptions)
        throws(BuildEngineError)
    {
        let a = options.attestations
        guard !a.attachesNothing else { return }
        do {
            let layout = try OCILayout.open(at: report.layout)
            let image = try layout.resolve(tag: report.tag)
            let toolchains = BuildProvenance.toolchainPackages(inputs.plan)
            var request = BuildAttestationRequest(
                layout: layout, tag: report.tag, imageName: report.reference,
                sourceDateEpoch: options.sourceDateEpoch ?? 0, formats: a.sbomFormats,
                lockfiles: try lockfiles(in: image, inputs: inputs, warnings: &report.warnings),
                toolchains: toolchains,
                provenance: a.provenance ? try BuildProvenance.facts(inputs, report: report, options: options) : nil)
            if a.buildStageSBOM, let debian = inputs.buildStagePackages {
                request.buildStage = debian + toolchains + sourceLockfilePackages(inputs, warnings: &report.warnings)
            }
            report.attestations = try BuildAttestations.attach(request)
        } catch {
            throw BuildEngineError(
                .attestation,
                "the image was built into oci-layout:\(report.layout):\(report.tag) but its SBOM/provenance could not be attached (build with --sbom none --no-provenance to skip them)",
                cause: error)
        }
        let kinds = report.attestations.compactMap { $0.artifactType?.rawValue }.joined(separator: ", ")
        options.emit(.message("attached \(kinds) to \(report.manifestDigest)"))
    }

    /// The lockfiles among the build's source files that the image carries (at its working directory), read from
    /// the image's layers: only what the runtime image holds is listed. One ociforge cannot read is left out of the
    /// SBOM with a warning (the build itself used it as its package manager reads it).
    static func lockfiles(in image: ResolvedImage, inputs: BuildInputs, warnings: inout [BuildWarning]) throws
        -> [BuildAttestationRequest.Lockfile]
    {
        let workdir = image.config.value.config?.workingDir ?? "/"
        var out: [BuildAttestationRequest.Lockfile] = []
        for file in inputs.files {
            guard let kind = Lockfiles.kind(ofFileNamed: (file as NSString).lastPathComponent) else { continue }
            let path = (workdir as NSString).appendingPathComponent(file)
            guard let bytes = try image.fileContents(path) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            guard lockfilePackages(kind, text, path: path, warnings: &warnings) != nil else { continue }
            out.append(.init(path: path, text: text))
        }
        return out
    }

    /// The packages of every lockfile among the build's source files (the build stage had them all), for the
    /// build-stage SBOM; one ociforge cannot read is left out with a warning.
    static func sourceLockfilePackages(_ inputs: BuildInputs, warnings: inout [BuildWarning]) -> [SBOMPackage] {
        var out: [SBOMPackage] = []
        for file in inputs.files {
            guard let kind = Lockfiles.kind(ofFileNamed: (file as NSString).lastPathComponent),
                let data = FileManager.default.contents(atPath: inputs.directory + "/" + file)
            else { continue }
            out += lockfilePackages(kind, String(decoding: data, as: UTF8.self), path: file, warnings: &warnings) ?? []
        }
        return out
    }

    /// The packages `text` lists, or nil with a warning naming `path` when ociforge cannot read it.
    static func lockfilePackages(_ kind: Lockfiles.Kind, _ text: String, path: String, warnings: inout [BuildWarning])
        -> [SBOMPackage]?
    {
        do {
            return try Lockfiles.packages(kind, text, source: path)
        } catch {
            // The cause (a SupplyChainError) names the line and entry ociforge could not read.
            warnings.append(
                BuildWarning(
                    .attestation, "the SBOM does not list the packages of \(path): fix or regenerate it", cause: error))
            return nil
        }
    }

    /// A `docker://` output: pushes this build's attestations as referrers of the pushed manifest (referrers API,
    /// or the tag schema) and signs it with `--sign-key`.
    static func publishAttestations(_ report: inout BuildReport, options: BuildOptions) throws(BuildEngineError) {
        guard case .registry(let ref)? = options.output,
            !report.attestations.isEmpty || options.attestations.signingKey != nil
        else { return }
        let events = options.events
        let transport = ImageTransport(
            options: options.registryOptions, credentials: options.credentials, report: { events(.message($0)) })
        let attestations = report.attestations, key = options.attestations.signingKey
        let layout = report.layout, instances = platformManifests(report), pushed = report.manifestDigest
        let signed: SigstoreSignatures.SignResult?
        do {
            signed = try blocking {
                let client = try await transport.client(ref.registry)
                let source = LayoutReferrerStore(layout: try OCILayout.open(at: layout))
                let target = RegistryReferrerStore(client: client, repository: ref.repository)
                for d in attestations { try await target.attachArtifact(try await source.readArtifact(d)) }
                guard let key else { return nil }
                let top = try await SigstoreSignatures.sign(ref, client: client, key: key)
                // containers/image checks the signatures of the instance it pulls from an index (and the index's):
                // each platform manifest is signed too, under the same identity (the pushed tag).
                for digest in instances where top.imageDigest == pushed {
                    _ = try await SigstoreSignatures.sign(
                        ref.with(tag: ref.tag, digest: digest), client: client, key: key)
                }
                return top
            }
        } catch {
            throw BuildEngineError(
                .attestation,
                "the image was pushed to \(ref) but its attestations or signature could not be written there (attach them later with `ociforge image copy --with-referrers oci-layout:\(layout):\(report.tag) docker://\(ref)`, sign with `ociforge image sign`)",
                cause: error)
        }
        if !attestations.isEmpty { events(.message("attached \(attestations.count) referrer(s) at \(ref)")) }
        if let signed {
            guard signed.imageDigest == report.manifestDigest else {
                throw BuildEngineError(
                    .attestation,
                    "\(ref) names \(signed.imageDigest) after the push of \(report.manifestDigest) (another push to the same tag?): the signature is for \(signed.imageDigest)"
                )
            }
            report.signatureTag = SigstoreSignatures.tag(for: signed.imageDigest)
            events(.message("signed \(ref)@\(signed.imageDigest) (tag \(report.signatureTag!))"))
            for digest in instances { events(.message("signed \(ref)@\(digest) (platform manifest)")) }
        }
    }

    /// `--sign-key` signs a registry image, or a layout image with `--sign-identity` (the reference it will be pulled
    /// by); refused before building for an archive output, or a layout output without an identity.
    static func refuseUnsignableOutput(_ options: BuildOptions) throws(BuildEngineError) {
        let a = options.attestations
        guard a.signingKey != nil else {
            guard a.signingIdentity == nil else {
                throw BuildEngineError(.unsupported, "--sign-identity names what --sign-key signs: give --sign-key too")
            }
            return
        }
        switch options.output {
        case .registry?:
            guard a.signingIdentity == nil else {
                throw BuildEngineError(
                    .unsupported, "--sign-identity is for an oci-layout: output (a pushed image names itself)")
            }
        case .dockerArchive?:
            throw BuildEngineError(
                .unsupported,
                "--sign-key cannot sign a docker-archive output (it holds no signatures): build into --output oci-layout:<path>:<tag> with --sign-identity, or push with --output docker://<reference>"
            )
        case .ociLayout?, nil:
            guard a.signingIdentity != nil else {
                throw BuildEngineError(
                    .unsupported,
                    "--sign-key on an OCI layout output needs --sign-identity host/repository[:tag] (the registry reference the image will be pulled by, once copied there with `ociforge image copy --with-referrers`)"
                )
            }
        }
    }

    /// A layout output signed with `--sign-key`: the signature is stored in the layout (tag `sha256-<hex>.sig`).
    static func signLayout(_ report: inout BuildReport, options: BuildOptions) throws(BuildEngineError) {
        guard let key = options.attestations.signingKey, let identity = options.attestations.signingIdentity,
            options.output.map({ if case .ociLayout = $0 { true } else { false } }) ?? true
        else { return }
        do {
            let layout = try OCILayout.open(at: report.layout)
            let r = try LayoutSignatures.sign(layout, tag: report.tag, identity: identity, key: key)
            for digest in platformManifests(report) {
                _ = try LayoutSignatures.sign(layout, digest: digest, identity: identity, key: key)
            }
            report.signatureTag = SigstoreSignatures.tag(for: r.imageDigest)
            options.emit(.message("signed \(identity)@\(r.imageDigest) (layout tag \(report.signatureTag!))"))
        } catch {
            throw BuildEngineError(
                .attestation,
                "the image was built into oci-layout:\(report.layout):\(report.tag) but could not be signed there (sign it with `ociforge image sign --identity`)",
                cause: error)
        }
    }

    /// The platform manifests of a multi-platform build (empty for one image): signed beside the index.
    static func platformManifests(_ report: BuildReport) -> [Digest] {
        (report.platforms ?? []).map(\.manifestDigest).filter { $0 != report.manifestDigest }
    }
}
