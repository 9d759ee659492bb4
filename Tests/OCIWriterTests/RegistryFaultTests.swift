import Foundation
import Testing

@testable import OCIWriter

/// Faults injected by a proxy between the client and a real docker-registry: transfers either complete with the
/// same digests or fail cleanly; a corrupted blob is never accepted.
@Suite("Registry transfers under injected faults", .timeLimit(.minutes(10)))
struct RegistryFaultTests {
    static func options() -> RegistryOptions {
        var o = RegistryRoundTripTests.options()
        o.timeout = 3
        o.maxAttempts = 6
        return o
    }

    struct Setup {
        let reg: TestRegistry
        let proxy: FaultProxy
        let dir: TempDir
        let src: DirectoryImageStore
        let image: Descriptor
        func stop() {
            proxy.stop()
            reg.stop()
            dir.remove()
        }
    }

    static func setup() throws -> Setup {
        let reg = try TestRegistry()
        let dir = try TempDir()
        let proxy = try FaultProxy(upstreamPort: reg.port, dir: dir)
        let src = try DirectoryImageStore(try dir.sub("src"))
        let image = try TestImages.make(in: src, tag: "v1", layerSizes: RegistryRoundTripTests.layerSizes, seed: 11)
        return Setup(reg: reg, proxy: proxy, dir: dir, src: src, image: image)
    }

    static func assertSameImage(_ a: DirectoryImageStore, _ b: DirectoryImageStore) throws {
        #expect(a.allBlobDigests() == b.allBlobDigests())
        for hex in a.allBlobDigests() {
            let d = try Digest("sha256:" + hex)
            #expect(try b.readBlob(d, maxBytes: 1 << 30) == a.readBlob(d, maxBytes: 1 << 30))
        }
    }

    @Test func pushSurvivesErrorsAndDroppedConnections() async throws {
        let s = try Self.setup()
        defer { s.stop() }
        try s.proxy.setRules([
            .init(method: "POST", path: "/blobs/uploads/", action: "status:429"),
            .init(method: "PATCH", path: "/blobs/uploads/", action: "status:500"),
            .init(method: "PATCH", path: "/blobs/uploads/", action: "drop_request"),
            .init(method: "PUT", path: "/blobs/uploads/", action: "status:503"),
            .init(method: "PUT", path: "/blobs/uploads/", action: "drop_request"),
            .init(method: "PUT", path: "/manifests/", action: "status:502"),
            .init(method: "HEAD", path: "/blobs/", action: "stall:5")
        ])
        let client = try RegistryClient(registry: s.proxy.host, credential: nil, options: Self.options())
        let ref = try ImageReference(parsing: "\(s.proxy.host)/faults/push:v1")
        let root = try await client.push(from: s.src, tag: "v1", to: ref)
        #expect(root.digest == s.image.digest)
        #expect(try s.proxy.stats().fired == 7)
        #expect(await client.stats.retries >= 7)

        // Verify through the registry directly.
        let direct = try RegistryClient(registry: s.reg.host, credential: nil, options: Self.options())
        let dst = try DirectoryImageStore(try s.dir.sub("check"))
        let pulled = try await direct.pull(try ImageReference(parsing: "\(s.reg.host)/faults/push:v1"), into: dst)
        #expect(pulled.digest == s.image.digest)
        try Self.assertSameImage(s.src, dst)

        // Re-push through the proxy: no blob byte crosses the wire (counted by the proxy).
        try s.proxy.setRules([])
        let again = try RegistryClient(registry: s.proxy.host, credential: nil, options: Self.options())
        try await again.push(from: s.src, tag: "v1", to: ref)
        #expect(try s.proxy.stats().uploadBodyBytes == 0)
    }

    @Test func pullSurvivesErrorsDropsAndStalls() async throws {
        let s = try Self.setup()
        defer { s.stop() }
        let direct = try RegistryClient(registry: s.reg.host, credential: nil, options: Self.options())
        try await direct.push(from: s.src, tag: "v1", to: try ImageReference(parsing: "\(s.reg.host)/faults/pull:v1"))
        try s.proxy.setRules([
            .init(method: "GET", path: "/manifests/", action: "status:503"),
            .init(method: "GET", path: "/blobs/sha256:", action: "status:500"),
            .init(method: "GET", path: "/blobs/sha256:", action: "status:429"),
            .init(method: "GET", path: "/blobs/sha256:", action: "drop_response"),
            .init(method: "GET", path: "/blobs/sha256:", action: "stall:5")
        ])
        let client = try RegistryClient(registry: s.proxy.host, credential: nil, options: Self.options())
        let dst = try DirectoryImageStore(try s.dir.sub("dst"))
        let pulled = try await client.pull(try ImageReference(parsing: "\(s.proxy.host)/faults/pull:v1"), into: dst)
        #expect(pulled.digest == s.image.digest)
        #expect(try s.proxy.stats().fired == 5)
        try Self.assertSameImage(s.src, dst)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dst.root + "/blobs/sha256").filter {
            $0.hasPrefix(".")
        }
        #expect(leftovers.isEmpty)
    }

    @Test func corruptedPullIsRejectedAndLeavesNothing() async throws {
        let s = try Self.setup()
        defer { s.stop() }
        let direct = try RegistryClient(registry: s.reg.host, credential: nil, options: Self.options())
        try await direct.push(
            from: s.src, tag: "v1", to: try ImageReference(parsing: "\(s.reg.host)/faults/corrupt:v1"))
        let big = try #require(
            try CanonicalJSON.decode(
                Manifest.self, from: s.src.readBlob(s.image.digest, maxBytes: 1 << 20), source: "m"
            ).layers.last)
        try s.proxy.setRules([.init(method: "GET", path: "/blobs/\(big.digest)", action: "corrupt_response", times: -1)]
        )
        let client = try RegistryClient(registry: s.proxy.host, credential: nil, options: Self.options())
        let dst = try DirectoryImageStore(try s.dir.sub("dst"))
        let e = try await #require(throws: OCIWriterError.self) {
            try await client.pull(try ImageReference(parsing: "\(s.proxy.host)/faults/corrupt:v1"), into: dst)
        }
        #expect(e.code == .digestMismatch)
        #expect(e.message.contains("DIGEST_INVALID") && e.message.contains(big.digest.string), "\(e.message)")
        #expect(e.message.contains("faults/corrupt") && e.message.contains(s.proxy.host))
        #expect(!dst.allBlobDigests().contains(big.digest.hex))
        #expect(dst.allBlobDigests().allSatisfy { !$0.hasPrefix(".") })
        #expect(throws: OCIWriterError.self) { try dst.resolve(tag: "v1") }
    }

    @Test func corruptedUploadIsNeverAccepted() async throws {
        let s = try Self.setup()
        defer { s.stop() }
        // Every upload body to the registry is corrupted: the registry must refuse, the client must fail cleanly.
        try s.proxy.setRules([
            .init(method: "PUT", path: "/blobs/uploads/", action: "corrupt_request", times: -1),
            .init(method: "PATCH", path: "/blobs/uploads/", action: "corrupt_request", times: -1)
        ])
        let client = try RegistryClient(registry: s.proxy.host, credential: nil, options: Self.options())
        let e = try await #require(throws: OCIWriterError.self) {
            try await client.push(
                from: s.src, tag: "v1", to: try ImageReference(parsing: "\(s.proxy.host)/faults/badup:v1"))
        }
        #expect(e.message.contains("DIGEST_INVALID"), "\(e.message)")
        #expect(e.message.contains("faults/badup"))
        let direct = try RegistryClient(registry: s.reg.host, credential: nil, options: Self.options())
        let m = try CanonicalJSON.decode(
            Manifest.self, from: s.src.readBlob(s.image.digest, maxBytes: 1 << 20), source: "m")
        for l in m.layers where l.size > 0 {
            #expect(try await direct.blobSize(repository: "faults/badup", digest: l.digest) == nil)
        }
        await #expect(throws: OCIWriterError.self) {
            try await direct.fetchManifest(repository: "faults/badup", reference: "v1")
        }
    }
}
