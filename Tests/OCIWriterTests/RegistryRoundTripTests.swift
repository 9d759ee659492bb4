import Foundation
import Testing

@testable import OCIWriter

/// Push/pull against Debian's docker-registry (distribution 2.8) started per test on a free loopback port.
@Suite("Registry round trips against docker-registry")
struct RegistryRoundTripTests {
    /// Small monolithic limit and chunk size so both upload paths run on small images.
    static func options() -> RegistryOptions {
        var o = RegistryOptions()
        o.monolithicUploadLimit = 1 << 20
        o.chunkSize = 256 << 10
        o.baseBackoff = 0.05
        o.timeout = 20
        return o
    }

    static let layerSizes = [2_000, 300_000, 3_000_000]

    /// Pushes `tag` from `src`, pulls it into a fresh store and checks every digest survived.
    static func roundTrip(
        _ client: RegistryClient, pullClient: RegistryClient? = nil, host: String, repo: String,
        dir: TempDir
    ) async throws -> (DirectoryImageStore, Descriptor) {
        let src = try DirectoryImageStore(try dir.sub("src-\(repo.replacingOccurrences(of: "/", with: "_"))"))
        let pushed = try TestImages.make(in: src, tag: "v1", layerSizes: layerSizes, seed: 7)
        let ref = try ImageReference(parsing: "\(host)/\(repo):v1")
        let root = try await client.push(from: src, tag: "v1", to: ref)
        #expect(root.digest == pushed.digest)

        let dst = try DirectoryImageStore(
            try dir.sub("dst-\(repo.replacingOccurrences(of: "/", with: "_"))-\(UUID().uuidString)"))
        let pulled = try await (pullClient ?? client).pull(ref, into: dst)
        #expect(pulled.digest == pushed.digest)
        #expect(try dst.resolve(tag: "v1").digest == pushed.digest)
        #expect(dst.allBlobDigests() == src.allBlobDigests())
        for hex in src.allBlobDigests() {
            let d = try Digest("sha256:" + hex)
            #expect(try dst.readBlob(d, maxBytes: 1 << 30) == src.readBlob(d, maxBytes: 1 << 30))
        }
        return (src, pushed)
    }

    @Test func noAuthRoundTripRepushAndMount() async throws {
        let reg = try TestRegistry()
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let client = try RegistryClient(registry: reg.host, credential: nil, options: Self.options())
        let (src, pushed) = try await Self.roundTrip(client, host: reg.host, repo: "team/app", dir: dir)
        let blobCount = Self.layerSizes.count + 1
        #expect(await client.stats.blobsUploaded == blobCount)
        let firstBytes = await client.stats.blobBytesUploaded
        #expect(firstBytes > 3_000_000)

        // Re-push: every blob is found by HEAD, no blob byte is sent.
        let again = try RegistryClient(registry: reg.host, credential: nil, options: Self.options())
        try await again.push(from: src, tag: "v1", to: try ImageReference(parsing: "\(reg.host)/team/app:v1"))
        #expect(await again.stats.blobBytesUploaded == 0)
        #expect(await again.stats.blobsSkipped == blobCount)
        #expect(await again.stats.blobsUploaded == 0)

        // Same image to a second repository: cross-repository mounts, still no bytes.
        var o = Self.options()
        o.mountFrom = ["team/app"]
        let mounter = try RegistryClient(registry: reg.host, credential: nil, options: o)
        try await mounter.push(from: src, tag: "v1", to: try ImageReference(parsing: "\(reg.host)/other/copy:v1"))
        #expect(await mounter.stats.blobsMounted == blobCount)
        #expect(await mounter.stats.blobBytesUploaded == 0)
        let m = try await mounter.fetchManifest(repository: "other/copy", reference: "v1")
        #expect(m.digest == pushed.digest)

        // Within one client, blobs seen in a repository are mounted into the next one without being told.
        try await client.push(from: src, tag: "v1", to: try ImageReference(parsing: "\(reg.host)/third/copy:v1"))
        #expect(await client.stats.blobsMounted == blobCount)
        #expect(await client.stats.blobBytesUploaded == firstBytes)
    }

    @Test func relativeLocations() async throws {
        let reg = try TestRegistry(relativeURLs: true)
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let client = try RegistryClient(registry: reg.host, credential: nil, options: Self.options())
        _ = try await Self.roundTrip(client, host: reg.host, repo: "rel/app", dir: dir)
    }

    @Test func htpasswdBasicAuth() async throws {
        let reg = try TestRegistry(auth: .htpasswd(user: "alice", password: "correct horse"))
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let good = try RegistryClient(
            registry: reg.host, credential: RegistryCredential(username: "alice", password: "correct horse"),
            options: Self.options())
        try await good.ping()
        _ = try await Self.roundTrip(good, host: reg.host, repo: "basic/app", dir: dir)

        let bad = try RegistryClient(
            registry: reg.host, credential: RegistryCredential(username: "alice", password: "wrong-pw-123"),
            options: Self.options())
        let e = try await #require(throws: OCIWriterError.self) {
            try await bad.fetchManifest(repository: "basic/app", reference: "v1")
        }
        #expect(e.code == .authentication)
        #expect(e.message.contains("rejected the username or password of 'alice'"), "\(e.message)")
        #expect(e.message.contains(reg.host))
        #expect(!e.message.contains("wrong-pw-123"))

        let anon = try RegistryClient(registry: reg.host, credential: nil, options: Self.options())
        let e2 = try await #require(throws: OCIWriterError.self) { try await anon.ping() }
        #expect(e2.message.contains("requires a username and password"), "\(e2.message)")
    }

    @Test func bearerTokenAuth() async throws {
        let reg = try TestRegistry(auth: .token(users: ["pusher": "pushpw", "reader": "readpw"], pushers: ["pusher"]))
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let pusher = try RegistryClient(
            registry: reg.host, credential: RegistryCredential(username: "pusher", password: "pushpw"),
            options: Self.options())
        // Anonymous pull tokens (`access_token`) work for pulling what the pusher pushed.
        let anon = try RegistryClient(registry: reg.host, credential: nil, options: Self.options())
        let (src, _) = try await Self.roundTrip(pusher, pullClient: anon, host: reg.host, repo: "tok/app", dir: dir)

        // A user whose token is pull-only gets a clear refusal on push.
        let reader = try RegistryClient(
            registry: reg.host, credential: RegistryCredential(username: "reader", password: "readpw"),
            options: Self.options())
        let e = try await #require(throws: OCIWriterError.self) {
            try await reader.push(from: src, tag: "v1", to: try ImageReference(parsing: "\(reg.host)/tok/other:v1"))
        }
        #expect(e.code == .authentication)
        #expect(e.message.contains("insufficient_scope") || e.message.contains("did not grant"), "\(e.message)")
        #expect(e.message.contains("repository:tok/other:push,pull"), "\(e.message)")

        let wrong = try RegistryClient(
            registry: reg.host, credential: RegistryCredential(username: "pusher", password: "nope-secret"),
            options: Self.options())
        let e2 = try await #require(throws: OCIWriterError.self) {
            try await wrong.fetchManifest(repository: "tok/app", reference: "v1")
        }
        #expect(e2.code == .authentication)
        #expect(e2.message.contains("rejected the username or password of 'pusher'"), "\(e2.message)")
        #expect(!e2.message.contains("nope-secret"))
    }

    @Test func manifestNotFoundAndPlatformErrors() async throws {
        let reg = try TestRegistry()
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let client = try RegistryClient(registry: reg.host, credential: nil, options: Self.options())
        let e = try await #require(throws: OCIWriterError.self) {
            try await client.fetchManifest(repository: "none/here", reference: "v1")
        }
        #expect(e.code == .notFound)
        #expect(
            e.message.contains("repository none/here") && e.message.contains("MANIFEST_UNKNOWN")
                || e.message.contains("NAME_UNKNOWN"), "\(e.message)")

        // A two-platform index: pull picks the requested platform; an unavailable one is a clear error.
        let src = try DirectoryImageStore(try dir.sub("multi"))
        let amd = try TestImages.make(
            in: src, tag: "amd", layerSizes: [1000], seed: 1, platform: Platform(architecture: "amd64", os: "linux"))
        let arm = try TestImages.make(
            in: src, tag: "arm", layerSizes: [1000], seed: 2,
            platform: Platform(architecture: "arm64", os: "linux", variant: "v8"))
        let index = try EncodedDocument(ImageIndex(manifests: [amd, arm]))
        let idx = try src.add(index.bytes, mediaType: .ociIndex)
        try src.setTag("multi", descriptor: idx)
        let ref = try ImageReference(parsing: "\(reg.host)/multi/app:latest")
        try await client.push(from: src, tag: "multi", to: ref)
        let fetched = try await client.fetchManifest(repository: "multi/app", reference: "latest")
        #expect(fetched.digest == idx.digest && fetched.mediaType == .ociIndex)

        let dst = try DirectoryImageStore(try dir.sub("pulled"))
        let got = try await client.pull(ref, into: dst, platform: Platform(architecture: "arm64", os: "linux"))
        #expect(got.digest == arm.digest)
        let e2 = try await #require(throws: OCIWriterError.self) {
            try await client.pull(ref, into: dst, platform: Platform(architecture: "s390x", os: "linux"))
        }
        #expect(e2.code == .platformNotFound)
        #expect(e2.message.contains("linux/amd64") && e2.message.contains("linux/arm64"), "\(e2.message)")
    }
}
