import OCIWriter

/// CycloneDX 1.6 JSON: the image as `metadata.component` (type container), every package as a component with
/// its purl, and one dependency entry (the image depends on all of them).
struct CycloneDXDocument: Encodable {
    struct Hash: Encodable {
        var alg: String
        var content: String
    }
    struct Property: Encodable {
        var name: String
        var value: String
    }
    struct ExternalReference: Encodable {
        var type: String
        var url: String
        var hashes: [Hash]?
    }
    struct Component: Encodable {
        var type: String
        var bomRef: String
        var name: String
        var version: String?
        var purl: String?
        var hashes: [Hash]?
        var externalReferences: [ExternalReference]?
        var properties: [Property]?
        enum CodingKeys: String, CodingKey {
            case type, name, version, purl, hashes, externalReferences, properties
            case bomRef = "bom-ref"
        }
    }
    struct Tools: Encodable { var components: [Component] }
    struct Metadata: Encodable {
        var timestamp: String
        var tools: Tools
        var component: Component
    }
    struct Dependency: Encodable {
        var ref: String
        var dependsOn: [String]
    }

    var bomFormat = "CycloneDX"
    var specVersion = "1.6"
    var serialNumber: String
    var version = 1
    var metadata: Metadata
    var components: [Component]
    var dependencies: [Dependency]

    init(subject: SBOMSubject, packages list: [SBOMPackage]) {
        serialNumber = "urn:uuid:" + Self.uuid(from: Digest.of(Array("\(subject.digest)/\(subject.scope)".utf8)))
        let image = Component(
            type: "container", bomRef: "image", name: subject.name, version: subject.digest.string,
            hashes: [Hash(alg: "SHA-256", content: subject.digest.hex)])
        metadata = Metadata(
            timestamp: subject.createdRFC3339,
            tools: Tools(components: [
                Component(type: "application", bomRef: "tool", name: SBOMTool.name, version: SBOMTool.version)
            ]),
            component: image)
        var refs = Set<String>()
        components = list.map { p in
            var ref = p.purl ?? "\(p.ecosystem.rawValue):\(p.name)@\(p.version)"
            var n = 2
            while !refs.insert(ref).inserted {
                ref = (p.purl ?? p.name) + "#\(n)"
                n += 1
            }
            var props = [Property(name: "ociforge:found-in", value: p.foundIn)]
            if let s = p.sourcePackage {
                props.append(
                    Property(name: "ociforge:deb:source", value: s + (p.sourceVersion.map { " (\($0))" } ?? "")))
            }
            let hashes = p.sha256.map { [Hash(alg: "SHA-256", content: $0)] }
            return Component(
                type: p.ecosystem == .toolchain ? "application" : "library", bomRef: ref, name: p.name,
                version: p.version,
                purl: p.purl, hashes: hashes,
                externalReferences: p.downloadLocation.map {
                    [ExternalReference(type: "distribution", url: $0, hashes: hashes)]
                },
                properties: props)
        }
        dependencies = [Dependency(ref: "image", dependsOn: components.map(\.bomRef))]
    }

    /// A UUID (version 5 layout) from the first 16 bytes of a digest.
    static func uuid(from d: Digest) -> String {
        var b = Array(d.hex.utf8.prefix(32)).map { Character(Unicode.Scalar($0)) }
        b[12] = "5"
        let variant = Int(String(b[16]), radix: 16)!
        b[16] = Character(String((variant & 0x3) | 0x8, radix: 16))
        let s = String(b)
        let i = s.startIndex
        func part(_ a: Int, _ n: Int) -> Substring { s[s.index(i, offsetBy: a)..<s.index(i, offsetBy: a + n)] }
        return "\(part(0, 8))-\(part(8, 4))-\(part(12, 4))-\(part(16, 4))-\(part(20, 12))"
    }
}
