import Testing

@testable import OCIWriter

@Suite struct DigestTests {
    @Test func sha256OfEmpty() {
        #expect(
            Digest.of([UInt8]()).string == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test(arguments: [
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "sha256:../../../../etc/passwd000000000000000000000000000000000000000000000",
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ""
    ])
    func rejectsInvalid(_ s: String) {
        #expect(throws: OCIWriterError.self) { try Digest(s) }
    }

    @Test func canonicalJSONSortsKeys() throws {
        let d = Descriptor(
            mediaType: .ociLayerGzip, digest: Digest.of([1, 2, 3]), size: 3, annotations: ["z": "1", "a": "2"])
        let s = String(decoding: try CanonicalJSON.encode(d), as: UTF8.self)
        #expect(
            s
                == #"{"annotations":{"a":"2","z":"1"},"digest":"sha256:039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3}"#
        )
    }

    @Test func ambiguousManifestRejected() {
        let doc =
            #"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[],"manifests":[]}"#
        #expect(throws: OCIWriterError.self) {
            try CanonicalJSON.decode(Manifest.self, from: Array(doc.utf8), source: "m.json")
        }
    }
}
