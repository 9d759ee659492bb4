import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

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
        return dpkgPackages(status: status, osRelease: osRelease)
    }

    /// The dpkg packages of an unpacked root filesystem (`<rootfs>/var/lib/dpkg/status`); none without one.
    public static func dpkgPackages(rootfs: String) throws -> [SBOMPackage] {
        guard let status = FileManager.default.contents(atPath: rootfs + "/var/lib/dpkg/status") else { return [] }
        let osRelease =
            FileManager.default.contents(atPath: rootfs + "/usr/lib/os-release")
            ?? FileManager.default.contents(atPath: rootfs + "/etc/os-release")
        return dpkgPackages(status: Array(status), osRelease: osRelease.map(Array.init))
    }

    /// The packages of a dpkg status file, with the vendor and distribution of the os-release beside it.
    public static func dpkgPackages(status: [UInt8], osRelease: [UInt8]?) -> [SBOMPackage] {
        let os = osRelease.map { OSRelease(String(decoding: $0, as: UTF8.self)) }
        return DpkgStatus.packages(
            String(decoding: status, as: UTF8.self), vendor: os?.id ?? "debian", distro: os?.distro)
    }

    /// The packages of lockfiles read from the image's layers (absolute paths inside the image); the file name
    /// decides the format (`package-lock.json`, `uv.lock`, …).
    public static func lockfilePackages(of image: ResolvedImage, paths: [String]) throws -> [SBOMPackage] {
        var out: [SBOMPackage] = []
        for path in paths {
            let name = String(path.split(separator: "/").last ?? "")
            guard let kind = Lockfiles.kind(ofFileNamed: name) else {
                let known = Lockfiles.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                throw SupplyChainError(
                    .invalidInput, "\(path) is not a lockfile ociforge reads (\(known))", location: path)
            }
            let bytes: [UInt8]?
            do { bytes = try image.fileContents(path) } catch let e as OCIWriterError {
                throw SupplyChainError(.image, "cannot read \(path) from the image", cause: e)
            }
            guard let bytes else {
                throw SupplyChainError(.invalidInput, "the image has no file \(path)", location: path)
            }
            out += try Lockfiles.packages(kind, String(decoding: bytes, as: UTF8.self), source: path)
        }
        return out
    }

    /// An SBOM of the registry image `reference`: its manifest for `platform` is pulled into a temporary layout
    /// (removed afterwards) and read there. Returns the document and the manifest's descriptor.
    public static func document(
        of reference: ImageReference, client: RegistryClient, platform: Platform?, format: SBOMFormat,
        sourceDateEpoch: Int64, lockfiles: [String] = []
    ) async throws -> (bytes: [UInt8], subject: Descriptor) {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let dir = base + "/ociforge-sbom-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let layout = try OCILayout.create(at: dir)
            _ = try await client.pull(reference, into: layout, tag: "sbom", platform: platform)
            let image = try layout.resolve(tag: "sbom")
            let extra = try lockfilePackages(of: image, paths: lockfiles)
            return (
                try document(
                    of: image, name: reference.description, format: format, sourceDateEpoch: sourceDateEpoch,
                    extra: extra),
                image.manifestDescriptor
            )
        } catch let e as OCIWriterError {
            throw SupplyChainError(.image, "cannot read \(reference)", cause: e)
        }
    }

    /// An SBOM document of the image in `format`; `extra` (lockfile packages, toolchains) is merged in.
    public static func document(
        of image: ResolvedImage, name: String, format: SBOMFormat, sourceDateEpoch: Int64,
        extra: [SBOMPackage] = []
    ) throws -> [UInt8] {
        let subject = SBOMSubject(name: name, digest: image.manifestDescriptor.digest, created: sourceDateEpoch)
        return try renderSBOM(format, subject: subject, packages: try dpkgPackages(of: image) + extra)
    }

    /// The SBOM as an artifact about the image's manifest.
    /// The annotation marking the build stage's SBOM (`--sbom-build-stage`); the runtime image's has none.
    public static let scopeAnnotation = "dev.ociforge.sbom.scope"

    public static func artifact(
        _ bytes: [UInt8], format: SBOMFormat, subject: Descriptor, annotations: [String: String]? = nil
    ) throws -> Artifact {
        try Artifact(
            artifactType: format.mediaType, subject: subject,
            layers: [ArtifactLayer(mediaType: format.mediaType, bytes: bytes)], annotations: annotations)
    }
}
