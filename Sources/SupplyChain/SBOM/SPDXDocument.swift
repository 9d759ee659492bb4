import OCIWriter

/// SPDX 2.3 JSON (spdx-spec chapters 6–7, 11): the image as the described package, every SBOM package as a package
/// it CONTAINS, purls as PACKAGE-MANAGER external references.
struct SPDXDocument: Encodable {
    struct CreationInfo: Encodable {
        var created: String
        var creators: [String]
    }
    struct Checksum: Encodable {
        var algorithm: String
        var checksumValue: String
    }
    struct ExternalRef: Encodable {
        var referenceCategory: String
        var referenceType: String
        var referenceLocator: String
    }
    struct Package: Encodable {
        var SPDXID: String
        var name: String
        var versionInfo: String?
        var downloadLocation: String
        var filesAnalyzed: Bool
        var supplier: String?
        var sourceInfo: String?
        var primaryPackagePurpose: String?
        var checksums: [Checksum]?
        var externalRefs: [ExternalRef]?
        var comment: String?
    }
    struct Relationship: Encodable {
        var spdxElementId: String
        var relationshipType: String
        var relatedSpdxElement: String
    }

    var spdxVersion = "SPDX-2.3"
    var dataLicense = "CC0-1.0"
    var SPDXID = "SPDXRef-DOCUMENT"
    var name: String
    var documentNamespace: String
    var creationInfo: CreationInfo
    var packages: [Package]
    var relationships: [Relationship]

    init(subject: SBOMSubject, packages list: [SBOMPackage]) {
        name = "\(subject.name) (\(subject.scope))"
        documentNamespace = "https://ociforge.dev/spdx/\(subject.digest.hex)/\(subject.scope)"
        creationInfo = CreationInfo(
            created: subject.createdRFC3339, creators: ["Tool: \(SBOMTool.name)-\(SBOMTool.version)"])
        let imageID = "SPDXRef-Image"
        var pkgs = [
            Package(
                SPDXID: imageID, name: subject.name, versionInfo: subject.digest.string,
                downloadLocation: "NOASSERTION",
                filesAnalyzed: false, primaryPackagePurpose: "CONTAINER",
                checksums: [Checksum(algorithm: "SHA256", checksumValue: subject.digest.hex)])
        ]
        var rels = [
            Relationship(spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: imageID)
        ]
        var used = Set<String>()
        for p in list {
            let id = Self.identifier(p, used: &used)
            var sourceInfo: String?
            if let s = p.sourcePackage { sourceInfo = "built package from: \(s) \(p.sourceVersion ?? p.version)" }
            pkgs.append(
                Package(
                    SPDXID: id, name: p.name, versionInfo: p.version,
                    downloadLocation: p.downloadLocation ?? "NOASSERTION",
                    filesAnalyzed: false, supplier: nil, sourceInfo: sourceInfo,
                    primaryPackagePurpose: p.ecosystem == .toolchain ? "APPLICATION" : "LIBRARY",
                    checksums: p.sha256.map { [Checksum(algorithm: "SHA256", checksumValue: $0)] },
                    externalRefs: p.purl.map {
                        [ExternalRef(referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: $0)]
                    },
                    comment: "found in \(p.foundIn)"))
            rels.append(Relationship(spdxElementId: imageID, relationshipType: "CONTAINS", relatedSpdxElement: id))
        }
        packages = pkgs
        relationships = rels
    }

    /// `SPDXRef-<ecosystem>-<name>-<version>` reduced to `[A-Za-z0-9.-]`, made unique with a counter.
    static func identifier(_ p: SBOMPackage, used: inout Set<String>) -> String {
        let raw = "\(p.ecosystem.rawValue)-\(p.name)-\(p.version)" + (p.architecture.map { "-" + $0 } ?? "")
        let clean = String(
            raw.map { c -> Character in c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-") ? c : "-" })
        var id = "SPDXRef-" + clean, n = 2
        while !used.insert(id).inserted {
            id = "SPDXRef-\(clean)-\(n)"
            n += 1
        }
        return id
    }
}
