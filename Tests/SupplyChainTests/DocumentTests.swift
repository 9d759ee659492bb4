import Foundation
import OCIWriter
import Testing

@testable import SupplyChain

/// SBOM writers validated by independent validators from PyPI (spdx-tools, cyclonedx-python-lib; see
/// scripts/install-deps), and provenance determinism.
@Suite("SBOM documents and provenance")
struct DocumentTests {
    static let subject = SBOMSubject(
        name: "127.0.0.1:5000/app:v1", digest: Digest.of(Array("image".utf8)), created: 1_700_000_000)

    static func packages() throws -> [SBOMPackage] {
        try Lockfiles.packages(
            .packageLock,
            #"{"packages":{"node_modules/@types/node":{"version":"20.1.0"},"node_modules/express":{"version":"4.19.2"}}}"#,
            source: "package-lock.json")
            + Lockfiles.packages(.requirements, "Flask==3.0.3\n", source: "requirements.txt")
            + Lockfiles.packages(.goSum, "github.com/gin-gonic/gin v1.9.1 h1:x=\n", source: "go.sum")
            + DpkgStatus.packages(
                "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n",
                distro: "debian-12")
            + [
                SBOMPackage.toolchain(
                    name: "node", version: "20.11.0",
                    url: "https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.xz",
                    sha256: String(repeating: "ab", count: 32))
            ]
    }

    static let cdxValidator = """
        import sys
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
        err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
        print(err if err else "valid")
        sys.exit(1 if err else 0)
        """

    @Test("SPDX 2.3 validates with pyspdxtools; a broken document does not")
    func spdx() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let bytes = try renderSBOM(.spdx, subject: Self.subject, packages: try Self.packages())
        #expect(try renderSBOM(.spdx, subject: Self.subject, packages: try Self.packages().reversed()) == bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""created":"2023-11-14T22:13:20Z""#))
        #expect(text.contains("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"))
        #expect(text.contains(#""documentNamespace":"https://ociforge.dev/spdx/\#(Self.subject.digest.hex)/runtime""#))
        let good = try dir.write("good.spdx.json", text)
        let (st, out) = try run(["pyspdxtools", "-i", good])
        #expect(st == 0, "\(out)")
        let bad = try dir.write(
            "bad.spdx.json", text.replacingOccurrences(of: #""SPDXID":"SPDXRef-Image""#, with: #""SPDXID":"Image""#))
        #expect(try run(["pyspdxtools", "-i", bad]).0 != 0)
    }

    @Test("CycloneDX 1.6 validates with cyclonedx-python-lib; a broken document does not")
    func cyclonedx() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let bytes = try renderSBOM(.cyclonedx, subject: Self.subject, packages: try Self.packages())
        let text = String(decoding: bytes, as: UTF8.self)
        let script = try dir.write("v.py", Self.cdxValidator)
        let good = try dir.write("good.cdx.json", text)
        let (st, out) = try run(["python3", script, good])
        #expect(st == 0, "\(out)")
        #expect(text.contains(#""serialNumber":"urn:uuid:"#) && text.contains(#""specVersion":"1.6""#))
        let bad = try dir.write(
            "bad.cdx.json", text.replacingOccurrences(of: #""type":"library""#, with: #""type":"librar""#))
        #expect(try run(["python3", script, bad]).0 != 0)
    }

    @Test("provenance: byte-identical for the same inputs, secrets never appear")
    func provenance() throws {
        func inputs() -> ProvenanceStatement.Inputs {
            ProvenanceStatement.Inputs(
                subjectName: "127.0.0.1:5000/app", subjectDigest: Self.subject.digest,
                externalParameters: .object([
                    "plan": .object(["start": .string("node server.js")]),
                    "buildArgs": .object(["NPM_TOKEN": .string("s3cr3t-value"), "MODE": .string("prod")]),
                    "env": .array([.string("URL=https://u:s3cr3t-value@host")])
                ]),
                resolvedDependencies: [
                    .init(
                        uri: "pkg:docker/debian@bookworm", digest: ["sha256": String(repeating: "1", count: 64)],
                        name: "base"),
                    .init(
                        uri: "https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.xz",
                        digest: ["sha256": String(repeating: "2", count: 64)], name: "node")
                ],
                secretKeys: ["NPM_TOKEN"], secretValues: ["s3cr3t-value"], sourceDateEpoch: 1_700_000_000)
        }
        let a = try ProvenanceStatement(inputs()).encoded()
        let b = try ProvenanceStatement(inputs()).encoded()
        #expect(a == b)
        let text = String(decoding: a, as: UTF8.self)
        #expect(!text.contains("s3cr3t-value") && !text.contains("NPM_TOKEN"))
        #expect(text.contains("[REDACTED]") && text.contains(#""MODE":"prod""#))
        let obj = try JSONSerialization.jsonObject(with: Data(a)) as! [String: Any]
        #expect(obj["_type"] as? String == "https://in-toto.io/Statement/v1")
        #expect(obj["predicateType"] as? String == "https://slsa.dev/provenance/v1")
        let pred = obj["predicate"] as! [String: Any]
        let def = pred["buildDefinition"] as! [String: Any]
        #expect((def["resolvedDependencies"] as! [[String: Any]]).map { $0["name"] as! String } == ["base", "node"])
        let artifact = try ProvenanceStatement(inputs()).artifact(
            subject: Descriptor(mediaType: .ociManifest, digest: Self.subject.digest, size: 1))
        #expect(artifact.artifactType == .inTotoJSON && artifact.payload() == a)
    }
}
