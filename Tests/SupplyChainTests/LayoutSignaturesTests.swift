import Foundation
import OCIWriter
import Testing

@testable import SupplyChain

@Suite("Layout signatures")
struct LayoutSignaturesTests {
    static let identity = "registry.example/app:v1"

    @Test("sign into a layout: tag sha256-<hex>.sig, verified by the key, refused by another key and repository")
    func signAndVerify() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let layout = try BuildAttestationsTests.image(dir)
        let image = try LayoutSignatures.entry(layout, tag: "v1")
        let k1 = try SigningKey.generate(), k2 = try SigningKey.generate()

        #expect(throws: SupplyChainError.self) {
            try LayoutSignatures.verify(layout, tag: "v1", key: k1, signedRepository: "registry.example/app")
        }
        let signed = try LayoutSignatures.sign(layout, tag: "v1", identity: Self.identity, key: k1, timestamp: 1)
        #expect(signed.imageDigest == image.digest && signed.signatureCount == 1)
        #expect(try layout.tags() == ["v1", "sha256-\(image.digest.hex).sig"])

        let ok = try LayoutSignatures.verify(layout, tag: "v1", key: k1, signedRepository: "registry.example/app")
        #expect(ok.accepted.count == 1 && ok.accepted[0].payload?.critical.identity.dockerReference == Self.identity)
        let other = #expect(throws: SupplyChainError.self) {
            try LayoutSignatures.verify(layout, tag: "v1", key: k2, signedRepository: "registry.example/app")
        }
        #expect(other?.code == .verificationFailed && other?.message.contains("not made by this key") == true)
        let repo = #expect(throws: SupplyChainError.self) {
            try LayoutSignatures.verify(layout, tag: "v1", key: k1, signedRepository: "registry.example/other")
        }
        #expect(repo?.message.contains("names repository registry.example/app") == true)

        // A second key appends; signing again with the same payload does not duplicate it.
        #expect(try LayoutSignatures.sign(layout, tag: "v1", identity: Self.identity, key: k2).signatureCount == 2)
        #expect(try LayoutSignatures.signatureLayers(layout, of: image.digest).count == 2)
        #expect(
            try LayoutSignatures.verify(layout, tag: "v1", key: k2, signedRepository: "registry.example/app")
                .accepted.count == 1)
        // The layout stays valid with its signature tag (every entry and blob re-derived).
        let report = LayoutVerifier.verify(layout)
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test("signing an index in a layout signs each manifest it lists too (what podman checks on pull)")
    func indexWithInstances() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let layout = try BuildAttestationsTests.image(dir)
        let image = try LayoutSignatures.entry(layout, tag: "v1")
        var instance = Descriptor(mediaType: image.mediaType, digest: image.digest, size: image.size)
        instance.platform = Platform(architecture: "amd64", os: "linux")
        let index = try layout.writeBlob(
            bytes: try CanonicalJSON.encode(ImageIndex(manifests: [instance])), mediaType: .ociIndex)
        try layout.tag(index, as: "multi")
        let key = try SigningKey.generate()
        let r = try LayoutSignatures.signWithInstances(layout, tag: "multi", identity: Self.identity, key: key)
        #expect(r.top.imageDigest == index.digest && r.instances == [image.digest])
        for d in [index.digest, image.digest] {
            #expect(try LayoutSignatures.signatureLayers(layout, of: d).count == 1, "\(d)")
        }
        // An image manifest has no instances.
        #expect(
            try LayoutSignatures.signWithInstances(layout, tag: "v1", identity: Self.identity, key: key).instances == []
        )
    }

    @Test("a tampered signature payload or a bad identity is refused")
    func refusals() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let layout = try BuildAttestationsTests.image(dir)
        let key = try SigningKey.generate()
        for bad in ["app:v1", "registry.example/", "docker://registry.example/app", "registry.example/app@sha256:1"] {
            let e = #expect(throws: SupplyChainError.self) {
                try LayoutSignatures.sign(layout, tag: "v1", identity: bad, key: key)
            }
            #expect(e?.code == .invalidInput, "\(bad)")
        }
        #expect(throws: SupplyChainError.self) {
            try LayoutSignatures.sign(layout, tag: "missing", identity: Self.identity, key: key)
        }
        let absent = #expect(throws: SupplyChainError.self) {
            try LayoutSignatures.sign(layout, digest: Digest.of([1, 2, 3]), identity: Self.identity, key: key)
        }
        #expect(absent?.message.contains("has no manifest") == true)
        let r = try LayoutSignatures.sign(layout, tag: "v1", identity: Self.identity, key: key)
        // The annotation replaced by the same key's signature of another image's payload: it does not match the
        // stored payload blob, so the signature is refused.
        let layer = try #require(try LayoutSignatures.signatureLayers(layout, of: r.imageDigest).first)
        let forged = SimpleSigningPayload(
            dockerReference: Self.identity, manifestDigest: Digest.of(Array("other".utf8)), creator: nil,
            timestamp: nil)
        let forgedBytes = try forged.encoded()
        var tampered = layer
        tampered.annotations?[SigstoreSignatures.signatureAnnotation] =
            Data(try key.sign(forgedBytes)).base64EncodedString()
        let docs = try SigstoreSignatures.signatureDocuments([tampered])
        _ = try layout.writeBlob(document: docs.config, mediaType: .ociConfig)
        let m = try layout.writeBlob(document: docs.manifest, mediaType: .ociManifest)
        try layout.tag(m, as: SigstoreSignatures.tag(for: r.imageDigest))
        let e = #expect(throws: SupplyChainError.self) {
            try LayoutSignatures.verify(layout, tag: "v1", key: key, signedRepository: "registry.example/app")
        }
        #expect(e?.code == .verificationFailed)
    }
}
