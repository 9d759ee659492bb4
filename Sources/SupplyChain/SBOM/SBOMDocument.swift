import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// What an SBOM describes and when (inputs of the SPDX and CycloneDX writers).
public struct SBOMSubject: Sendable, Equatable {
    /// Image name for humans (`registry/repository:tag` or a layout path:tag).
    public var name: String
    /// The image manifest digest: the documents' identity (namespace, serial number) derives from it.
    public var digest: Digest
    /// Seconds since the epoch: SOURCE_DATE_EPOCH of the build (0 when unset), never the wall clock.
    public var created: Int64
    /// `runtime` or `build` (the build stage's own SBOM).
    public var scope: String

    public init(name: String, digest: Digest, created: Int64, scope: String = "runtime") {
        self.name = name
        self.digest = digest
        self.created = created
        self.scope = scope
    }

    /// RFC 3339 UTC without fractions.
    public var createdRFC3339: String { RFC3339.format(created) }
}

public enum SBOMFormat: String, Sendable, CaseIterable {
    case spdx, cyclonedx

    public var mediaType: MediaType { self == .spdx ? .spdxJSON : .cycloneDXJSON }
}

/// The tool that writes the documents.
public enum SBOMTool {
    public static let name = "ociforge"
    public static let version = "0.1.0"
}

/// Renders packages as an SBOM document of `format`: canonical JSON (sorted keys), packages sorted.
public func renderSBOM(_ format: SBOMFormat, subject: SBOMSubject, packages: [SBOMPackage]) throws -> [UInt8] {
    let list = SBOMPackage.normalised(packages)
    switch format {
    case .spdx: return try CanonicalJSON.encode(SPDXDocument(subject: subject, packages: list))
    case .cyclonedx: return try CanonicalJSON.encode(CycloneDXDocument(subject: subject, packages: list))
    }
}

enum RFC3339 {
    static func format(_ epoch: Int64) -> String {
        var t = time_t(epoch)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func p(_ v: Int32, _ n: Int) -> String { String(v).leftPadded(n) }
        return
            "\(p(tmv.tm_year + 1900, 4))-\(p(tmv.tm_mon + 1, 2))-\(p(tmv.tm_mday, 2))T\(p(tmv.tm_hour, 2)):\(p(tmv.tm_min, 2)):\(p(tmv.tm_sec, 2))Z"
    }
}
