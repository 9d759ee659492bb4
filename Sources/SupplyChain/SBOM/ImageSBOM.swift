import OCIWriter

/// SBOMs of existing images: the Debian packages of the final layer stack (the last state of
/// /var/lib/dpkg/status), plus what the caller knows (lockfiles, toolchains).
public enum ImageSBOM {
    /// The image's dpkg packages; none when the image has no dpkg database.
    public static func dpkgPackages(of image: ResolvedImage) throws -> [SBOMPackage] {
        let status: [UInt8]?
        let osRelease: [UInt8]?
        do {
            status = try image.fileContents("var/lib/dpkg/status")
            osRelease = try image.fileContents("usr/lib/os-release") ?? image.fileContents("etc/os-release")
        } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "cannot read the image's layers", cause: e)
        }
        guard let status else { return [] }
        let os = osRelease.map { OSRelease(String(decoding: $0, as: UTF8.self)) }
        return DpkgStatus.packages(String(decoding: status, as: UTF8.self), vendor: os?.id ?? "debian", distro: os?.distro)
    }

    /// An SBOM document of the image in `format`; `extra` (lockfile packages, toolchains) is merged in.
    public static func document(of image: ResolvedImage, name: String, format: SBOMFormat, sourceDateEpoch: Int64,
                                extra: [SBOMPackage] = []) throws -> [UInt8] {
        let subject = SBOMSubject(name: name, digest: image.manifestDescriptor.digest, created: sourceDateEpoch)
        return try renderSBOM(format, subject: subject, packages: try dpkgPackages(of: image) + extra)
    }

    /// The SBOM as an artifact about the image's manifest.
    public static func artifact(_ bytes: [UInt8], format: SBOMFormat, subject: Descriptor) throws -> Artifact {
        try Artifact(artifactType: format.mediaType, subject: subject,
                     layers: [ArtifactLayer(mediaType: format.mediaType, bytes: bytes)])
    }
}
