import Foundation
import Testing

@testable import OCIWriter

/// Referrers: attach, list, copy to another repository and pull into a layout, against a registry with the
/// referrers API (in-process) and Debian's docker-registry (no API: the tag schema).
@Suite("OCI referrers")
struct ReferrersTests {
    static func sbom(_ subject: Descriptor, _ text: String, type: MediaType = .spdxJSON) throws -> Artifact {
        try Artifact(
            artifactType: type, subject: subject, layers: [ArtifactLayer(mediaType: type, bytes: Array(text.utf8))],
            annotations: ["org.opencontainers.image.created": "1970-01-01T00:00:00Z"])
    }

    /// Pushes a small image to `host/repo:v1`; returns its descriptor.
    static func pushImage(_ client: RegistryClient, host: String, repo: String, dir: TempDir) async throws -> Descriptor
    {
        let store = try DirectoryImageStore(try dir.sub("src-\(repo)"))
        try TestImages.make(in: store, tag: "v1", layerSizes: [1000], seed: 3)
        return try await client.push(from: store, tag: "v1", to: try ImageReference(parsing: "\(host)/\(repo):v1"))
    }

    @Test("artifact manifest: empty config, artifactType, subject")
    func artifactShape() throws {
        let subject = Descriptor(mediaType: .ociManifest, digest: Digest.of([1]), size: 10, annotations: ["x": "y"])
        let a = try Self.sbom(subject, "{}")
        let m = a.manifest.value
        #expect(m.config == Descriptor.emptyJSON)
        #expect(m.config.digest.string == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        #expect(m.artifactType == .spdxJSON)
        #expect(m.subject == Descriptor(mediaType: .ociManifest, digest: subject.digest, size: 10))
        #expect(a.descriptor.artifactType == .spdxJSON && a.descriptor.digest == a.manifest.digest)
        #expect(throws: OCIWriterError.self) { try Artifact(manifestBytes: a.manifest.bytes, blobs: [:], source: "t") }
    }

    @Test("registry with the referrers API: OCI-Subject, listing, filter, no fallback tag")
    func referrersAPI() async throws {
        let reg = try ReferrersFakeRegistry()
        defer { reg.stop() }
        let dir = try TempDir("referrers-api")
        defer { dir.remove() }
        let client = try RegistryClient(registry: reg.host, credential: nil)
        let image = try await Self.pushImage(client, host: reg.host, repo: "app", dir: dir)
        let spdx = try await client.attach(try Self.sbom(image, #"{"spdx":1}"#), repository: "app")
        let prov = try await client.attach(try Self.sbom(image, #"{"prov":1}"#, type: .inTotoJSON), repository: "app")
        #expect(spdx.indexedBy == .api && prov.indexedBy == .api)
        #expect(reg.tags("app") == ["v1"])  // no sha256-<hex> fallback tag

        let all = try await client.referrers(repository: "app", subject: image.digest)
        #expect(all.source == .api)
        #expect(Set(all.referrers.map(\.digest)) == [spdx.descriptor.digest, prov.descriptor.digest])
        let only = try await client.referrers(repository: "app", subject: image.digest, artifactType: .inTotoJSON)
        #expect(only.referrers.map(\.digest) == [prov.descriptor.digest])
        // Paginated answers (Link: rel="next") are followed.
        reg.pageSize = 1
        let before = reg.referrerRequests
        let paged = try await client.referrers(repository: "app", subject: image.digest)
        #expect(paged.referrers.map(\.digest) == all.referrers.map(\.digest))
        #expect(reg.referrerRequests - before == 2)
        reg.pageSize = nil

        // Copy to another repository of the same registry, then into a layout.
        let src = RegistryReferrerStore(client: client, repository: "app")
        _ = try await client.push(
            from: try DirectoryImageStore(dir.path + "/src-app"), tag: "v1",
            to: try ImageReference(parsing: "\(reg.host)/copy:v1"))
        let copied = try await ReferrerTransfer.copy(
            subject: image.digest, from: src,
            to: RegistryReferrerStore(client: client, repository: "copy"))
        #expect(copied.count == 2)
        #expect(try await client.referrers(repository: "copy", subject: image.digest).referrers.count == 2)

        let layout = try OCILayout.create(at: dir.path + "/layout")
        _ = try await client.pull(try ImageReference(parsing: "\(reg.host)/app:v1"), into: layout, tag: "v1")
        try await ReferrerTransfer.copy(subject: image.digest, from: src, to: LayoutReferrerStore(layout: layout))
        let inLayout = try layout.referrers(of: image.digest)
        #expect(inLayout.source == .layout)
        #expect(Set(inLayout.referrers.map(\.digest)) == [spdx.descriptor.digest, prov.descriptor.digest])
        #expect(try layout.artifact(inLayout.referrers[0]).payload() != nil)
        // The layout still has exactly one image for commands that take "the layout's only image".
        #expect(try layout.rootDescriptor(tag: nil).digest == image.digest)
        #expect(try layout.resolve().manifestDescriptor.digest == image.digest)
    }

    @Test("docker-registry without the API: tag schema, read-modify-write, copy, layout")
    func tagSchema() async throws {
        let reg = try TestRegistry()
        defer { reg.stop() }
        let dir = try TempDir("referrers-tags")
        defer { dir.remove() }
        let client = try RegistryClient(registry: reg.host, credential: nil)
        let image = try await Self.pushImage(client, host: reg.host, repo: "app", dir: dir)
        let a = try await client.attach(try Self.sbom(image, #"{"a":1}"#), repository: "app")
        let b = try await client.attach(try Self.sbom(image, #"{"b":2}"#, type: .cycloneDXJSON), repository: "app")
        #expect(a.indexedBy == .tagSchema && b.indexedBy == .tagSchema)
        // Attaching the same artifact again does not duplicate its entry.
        _ = try await client.attach(try Self.sbom(image, #"{"a":1}"#), repository: "app")

        let tag = RegistryClient.referrersTag(for: image.digest)
        let index = try await client.fetchManifest(repository: "app", reference: tag)
        #expect(index.mediaType == .ociIndex)
        let listing = try await client.referrers(repository: "app", subject: image.digest)
        #expect(listing.source == .tagSchema)
        #expect(listing.referrers.map(\.digest) == [a.descriptor.digest, b.descriptor.digest])
        #expect(listing.referrers.map(\.artifactType) == [.spdxJSON, .cycloneDXJSON])
        #expect(
            try await client.referrers(repository: "app", subject: image.digest, artifactType: .cycloneDXJSON).referrers
                .count == 1)
        // skopeo reads the fallback index as an ordinary index.
        let (st, out) = try run(
            "/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(reg.host)/app:\(tag)"])
        #expect(st == 0 && out.contains(b.descriptor.digest.string))

        _ = try await client.push(
            from: try DirectoryImageStore(dir.path + "/src-app"), tag: "v1",
            to: try ImageReference(parsing: "\(reg.host)/other/copy:v1"))
        try await ReferrerTransfer.copy(
            subject: image.digest, from: RegistryReferrerStore(client: client, repository: "app"),
            to: RegistryReferrerStore(client: client, repository: "other/copy"))
        let there = try await client.referrers(repository: "other/copy", subject: image.digest)
        #expect(there.referrers.map(\.digest) == [a.descriptor.digest, b.descriptor.digest])
        let fetched = try await client.fetchArtifact(repository: "other/copy", descriptor: there.referrers[1])
        #expect(fetched.payload() == Array(#"{"b":2}"#.utf8))

        let layout = try OCILayout.create(at: dir.path + "/layout")
        _ = try await client.pull(try ImageReference(parsing: "\(reg.host)/other/copy:v1"), into: layout, tag: "v1")
        try await ReferrerTransfer.copy(
            subject: image.digest, from: RegistryReferrerStore(client: client, repository: "other/copy"),
            to: LayoutReferrerStore(layout: layout))
        #expect(try layout.referrers(of: image.digest).referrers.count == 2)
        #expect(try layout.referrers(of: Digest.of([9])).referrers.isEmpty)
        #expect(try layout.resolve().manifestDescriptor.digest == image.digest)
        // umoci-style readers: the layout stays valid for skopeo.
        let (st2, out2) = try run("/usr/bin/skopeo", ["inspect", "oci:\(layout.path):v1"])
        #expect(st2 == 0, "\(out2)")
    }
}
