import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where a list of referrers came from.
public enum ReferrersSource: String, Sendable, Codable {
    /// `GET /v2/<name>/referrers/<digest>` (distribution-spec 1.1).
    case api = "referrers-api"
    /// The fallback index at tag `sha256-<hex>`, for registries without the API.
    case tagSchema = "tag-schema"
    /// An OCI layout's index.json.
    case layout
}

/// The referrers of one subject.
public struct ReferrersListing: Sendable {
    public var subject: Digest
    public var referrers: [Descriptor]
    public var source: ReferrersSource
}

/// Referrers through the distribution-spec 1.1 API, with the referrers tag schema as fallback.
extension RegistryClient {
    /// The fallback tag of the referrers tag schema: `sha256-<hex>`.
    public static func referrersTag(for subject: Digest) -> String { "sha256-" + subject.hex }

    /// Lists the referrers of `subject`: from the API when the registry has it (anything but 404), else from the
    /// tag-schema index (no such tag: none). `artifactType` filters; the filter is applied here when the registry
    /// did not apply it (no `OCI-Filters-Applied: artifactType`).
    public func referrers(repository: String, subject: Digest, artifactType: MediaType? = nil) async throws
        -> ReferrersListing
    {
        let op = "listing referrers of \(subject)"
        var path = "/v2/\(repository)/referrers/\(subject)"
        if let artifactType {
            path +=
                "?artifactType="
                + (artifactType.rawValue.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        }
        var next: URL? = url(path)
        var list: [Descriptor] = []
        var pages = 0
        while let u = next {
            pages += 1
            guard pages <= 100 else { throw fail(op, repository, "more than 100 pages of referrers (Link: rel=next)") }
            let r = try await withRetries {
                let req = HTTPRequest(method: "GET", url: u, headers: ["Accept": MediaType.ociIndex.rawValue])
                let r = try await send(
                    op, repo: repository, scope: [Self.scope(repository, push: false)], req,
                    maxBody: Self.maxManifestBytes
                ).response
                guard r.status == 200 || r.status == 404 else { throw statusError(op, repository, r) }
                return r
            }
            if r.status == 404 {
                guard pages == 1 else { throw statusError(op, repository, r) }
                break
            }
            let index = try EncodedDocument<ImageIndex>(
                bytes: r.body, source: "\(registry)/\(repository) referrers of \(subject)"
            ).value
            let filtered =
                r.header("oci-filters-applied")?.split(separator: ",").contains {
                    $0.trimmingCharacters(in: .whitespaces) == "artifactType"
                } ?? false
            list += index.manifests.filter { artifactType == nil || filtered || $0.artifactType == artifactType }
            next = r.header("link").flatMap { Self.nextLink($0, against: u) }
            if next == nil { return ReferrersListing(subject: subject, referrers: list, source: .api) }
        }
        let fallback = try await tagSchemaIndex(repository: repository, subject: subject)?.manifests ?? []
        return ReferrersListing(
            subject: subject, referrers: fallback.filter { artifactType == nil || $0.artifactType == artifactType },
            source: .tagSchema)
    }

    /// The target of a `Link: <url>; rel="next"` header (RFC 8288), resolved against the request URL.
    static func nextLink(_ header: String, against request: URL) -> URL? {
        for part in header.split(separator: ",") {
            let p = part.trimmingCharacters(in: .whitespaces)
            guard p.hasPrefix("<"), let end = p.firstIndex(of: ">"),
                p[end...].replacingOccurrences(of: " ", with: "").contains("rel=\"next\"")
                    || p[end...].contains("rel=next")
            else { continue }
            return resolveLocation(String(p[p.index(after: p.startIndex)..<end]), against: request)
        }
        return nil
    }

    /// The tag-schema index of `subject`, or nil when the tag does not exist.
    func tagSchemaIndex(repository: String, subject: Digest) async throws -> ImageIndex? {
        let tag = Self.referrersTag(for: subject)
        do {
            let doc = try await fetchManifest(repository: repository, reference: tag)
            guard doc.mediaType.isIndex else {
                throw fail(
                    "reading referrers tag \(tag)", repository,
                    "the tag names a \(doc.mediaType), not an image index: another tool uses it for something else")
            }
            return try EncodedDocument<ImageIndex>(bytes: doc.bytes, source: "\(registry)/\(repository):\(tag)").value
        } catch let e as OCIWriterError where e.code == .notFound {
            return nil
        }
    }

    /// Fetches the artifact `descriptor` (manifest by digest, then its blobs into memory, each verified).
    public func fetchArtifact(repository: String, descriptor: Descriptor) async throws -> Artifact {
        let doc = try await fetchManifest(
            repository: repository, reference: descriptor.digest.string, expected: descriptor)
        let source = "\(registry)/\(repository)@\(doc.digest)"
        let manifest = try EncodedDocument<Manifest>(bytes: doc.bytes, source: source).value
        var blobs: [Digest: [UInt8]] = [:]
        for d in [manifest.config] + manifest.layers where blobs[d.digest] == nil {
            blobs[d.digest] = try await fetchSmallBlob(repository: repository, descriptor: d)
        }
        return try Artifact(manifestBytes: doc.bytes, blobs: blobs, source: source)
    }

    /// GETs a blob of at most `Artifact.blobLimit` bytes into memory, verifying size and digest.
    public func fetchSmallBlob(repository: String, descriptor: Descriptor) async throws -> [UInt8] {
        let op = "downloading blob \(descriptor.digest)"
        guard descriptor.size <= Int64(Artifact.blobLimit) else {
            throw fail(
                op, repository,
                "the blob is \(descriptor.size) bytes, more than the \(Artifact.blobLimit) read into memory",
                code: .limitExceeded)
        }
        if descriptor.digest == Descriptor.emptyJSON.digest { return Descriptor.emptyJSONBytes }
        return try await withRetries {
            let req = HTTPRequest(method: "GET", url: url("/v2/\(repository)/blobs/\(descriptor.digest)"))
            let r = try await send(
                op, repo: repository, scope: [Self.scope(repository, push: false)], req,
                maxBody: Int(descriptor.size) + 1
            ).response
            guard r.status == 200 else { throw statusError(op, repository, r) }
            guard Int64(r.body.count) == descriptor.size, Digest.of(r.body) == descriptor.digest else {
                throw fail(
                    op, repository,
                    "DIGEST_INVALID: received \(r.body.count) bytes hashing to \(Digest.of(r.body)), expected \(descriptor.size) bytes \(descriptor.digest)",
                    code: .digestMismatch)
            }
            return r.body
        }
    }

    /// Pushes in-memory blob bytes (through a temporary file, as `pushBlob` streams from disk).
    public func pushSmallBlob(repository: String, descriptor: Descriptor, bytes: [UInt8]) async throws {
        if try await blobSize(repository: repository, digest: descriptor.digest, push: true) != nil { return }
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = dir + "/ociforge-blob-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot create a temporary file for a blob upload", path: path) }
        defer { unlink(path) }
        do {
            try LayoutIO.writeAll(fd, bytes, path: path)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        _ = try await pushBlob(repository: repository, descriptor: descriptor, file: path)
    }

    /// How an artifact was attached.
    public struct AttachResult: Sendable {
        public var descriptor: Descriptor
        /// `.api` when the registry answered the manifest PUT with `OCI-Subject` (it indexes referrers itself),
        /// `.tagSchema` when ociforge updated the `sha256-<hex>` index.
        public var indexedBy: ReferrersSource
    }

    /// Pushes an artifact (blobs, then the manifest by digest). When the registry does not confirm with
    /// `OCI-Subject` that it indexed the subject, the tag-schema index is updated (read, add, write, read back).
    @discardableResult
    public func attach(_ artifact: Artifact, repository: String) async throws -> AttachResult {
        guard let subject = artifact.subject else {
            throw OCIWriterError(
                .invalidArgument,
                "artifact \(artifact.manifest.digest) has no subject, so it cannot be attached as a referrer")
        }
        let m = artifact.manifest.value
        for d in [m.config] + m.layers {
            try await pushSmallBlob(repository: repository, descriptor: d, bytes: artifact.blobs[d.digest]!)
        }
        let r = try await putManifestResponse(
            repository: repository, reference: artifact.manifest.digest.string,
            bytes: artifact.manifest.bytes, mediaType: m.mediaType ?? .ociManifest)
        if let h = r.header("oci-subject"), (try? Digest(h.trimmingCharacters(in: .whitespaces))) == subject.digest {
            return AttachResult(descriptor: artifact.descriptor, indexedBy: .api)
        }
        try await addToTagSchema(artifact.descriptor, subject: subject.digest, repository: repository)
        return AttachResult(descriptor: artifact.descriptor, indexedBy: .tagSchema)
    }

    /// Adds `entry` to the tag-schema index of `subject` (replacing an entry with the same digest). Concurrent
    /// writers may race: the index is read back after the write and the update repeated (up to 3 times) when
    /// another writer's version replaced it.
    func addToTagSchema(_ entry: Descriptor, subject: Digest, repository: String) async throws {
        let tag = Self.referrersTag(for: subject)
        for _ in 0..<3 {
            var index = try await tagSchemaIndex(repository: repository, subject: subject) ?? ImageIndex(manifests: [])
            if index.manifests.contains(entry) { return }
            index.manifests.removeAll { $0.digest == entry.digest }
            index.manifests.append(entry)
            index.mediaType = .ociIndex
            let doc = try EncodedDocument(index)
            try await putManifest(repository: repository, reference: tag, bytes: doc.bytes, mediaType: .ociIndex)
            if try await tagSchemaIndex(repository: repository, subject: subject)?.manifests.contains(entry) == true {
                return
            }
        }
        throw fail(
            "updating referrers tag \(tag)", repository, "other writers kept replacing the index; retry the command",
            code: .registry)
    }
}
