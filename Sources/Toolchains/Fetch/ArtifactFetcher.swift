import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// Downloads archives into the host cache, verifying them before anything else sees them:
/// 1. the expected checksum comes from the index, or from the channel's checksum file (fetched first);
/// 2. a cached blob with that checksum is used as is (no request);
/// 3. otherwise the archive is streamed to `tmp/` with a size bound (the published size, else `maxDownloadBytes`),
///    its size compared with the published one, its checksum with the expected one;
/// 4. only then is it renamed into `blobs/sha256/`. Any failure removes the temporary file: nothing is cached.
struct ArtifactFetcher: Sendable {
    let transport: any HTTPTransport
    let fetcher: IndexFetcher
    let cache: ToolchainCache
    let maxDownloadBytes: Int64

    /// What the archive must hash to.
    enum Expectation {
        case published(Checksum)
        case pinned(Digest)
    }

    func expectedChecksum(_ a: ToolchainArtifact, endpoint: ChannelEndpoint) async throws(ToolchainError) -> Checksum {
        switch a.checksum {
        case .inline(let c):
            return c
        case .openPGPSignature(let url):
            throw ToolchainError(
                .checksumMissing, "the channel publishes a signature, not a checksum, for this archive", url: url,
                endpoint: endpoint)
        case .file(let url, let name, let algorithm):
            let text = String(decoding: try await fetcher.bytes(url, endpoint), as: UTF8.self)
            guard let c = ChecksumFile.lookup(text, fileName: name, algorithm: algorithm) else {
                throw ToolchainError(
                    .checksumMissing, "the checksum file has no \(algorithm.rawValue) line for \(name)",
                    url: url, endpoint: endpoint)
            }
            return c
        }
    }

    /// The cached blob for `expect`, or nil.
    func cached(_ expect: Expectation) -> Digest? {
        switch expect {
        case .pinned(let d): return cache.contains(d) ? d : nil
        case .published(let c) where c.algorithm == .sha256:
            let d = try! Digest("sha256:" + c.hex)
            return cache.contains(d) ? d : nil
        case .published(let c): return cache.digest(forSHA512: c)
        }
    }

    func fetch(
        url: String, component: String, format: ArchiveFormat, size: Int64?, expect: Expectation,
        endpoint: ChannelEndpoint
    ) async throws(ToolchainError) -> VerifiedArchive {
        if let d = cached(expect) {
            return VerifiedArchive(
                component: component, url: url, format: format, digest: d,
                size: Self.fileSize(cache.blobPath(d)), path: cache.blobPath(d), downloaded: false)
        }
        let tmp = try cache.temporaryPath()
        defer { unlink(tmp) }
        let (sha256, downloaded) = try await download(
            url: url, component: component, size: size, to: tmp, endpoint: endpoint)
        try await Blocking.run { () throws(ToolchainError) in
            try verify(tmp, sha256: sha256, expect: expect, url: url, endpoint: endpoint)
        }
        try cache.commit(tmp, as: sha256)
        if case .published(let c) = expect, c.algorithm == .sha512 { try cache.record(sha512: c, digest: sha256) }
        return VerifiedArchive(
            component: component, url: url, format: format, digest: sha256, size: downloaded,
            path: cache.blobPath(sha256), downloaded: true)
    }

    /// An archive with a detached OpenPGP signature instead of a checksum: the signature is fetched first; an
    /// archive it already verified is taken from the cache; otherwise the download is checked with `gpgv` against
    /// the keyring and cached only when the signature is good.
    func fetchSigned(
        url: String, component: String, format: ArchiveFormat, signatureURL: String, verifier: OpenPGPVerifier,
        endpoint: ChannelEndpoint
    ) async throws(ToolchainError) -> VerifiedArchive {
        let signature = try await fetcher.bytes(signatureURL, endpoint)
        let signatureDigest = Digest.of(signature)
        if let d = cache.digest(forSignature: signatureDigest) {
            return VerifiedArchive(
                component: component, url: url, format: format, digest: d, size: Self.fileSize(cache.blobPath(d)),
                path: cache.blobPath(d), downloaded: false)
        }
        let tmp = try cache.temporaryPath()
        defer { unlink(tmp) }
        let (sha256, downloaded) = try await download(
            url: url, component: component, size: nil, to: tmp, endpoint: endpoint)
        try await Blocking.run { () throws(ToolchainError) in
            try verifier.verify(file: tmp, signature: signature, url: url, endpoint: endpoint)
        }
        try cache.commit(tmp, as: sha256)
        try cache.record(signature: signatureDigest, digest: sha256)
        return VerifiedArchive(
            component: component, url: url, format: format, digest: sha256, size: downloaded,
            path: cache.blobPath(sha256), downloaded: true)
    }

    /// Streams `url` to `tmp` within the size bound (the published size, else `maxDownloadBytes`); its sha256 and
    /// size. Fails on a non-2xx answer, fewer bytes than published, or more than the bound.
    private func download(
        url: String, component: String, size: Int64?, to tmp: String, endpoint: ChannelEndpoint
    ) async throws(ToolchainError) -> (Digest, Int64) {
        guard let u = URL(string: url), u.scheme != nil else {
            throw ToolchainError(.invalidIndex, "the archive URL is not valid", url: url, endpoint: endpoint)
        }
        let limit = size ?? maxDownloadBytes
        let result: DownloadResult
        do {
            result = try await transport.download(HTTPRequest(method: "GET", url: u, maxDownloadBytes: limit), to: tmp)
        } catch let e as OCIWriterError where e.code == .limitExceeded {
            throw ToolchainError(
                .tooLarge,
                "the download exceeds \(limit) bytes (\(size == nil ? "the download limit" : "the published size")); refused",
                url: url, endpoint: endpoint, cause: e)
        } catch {
            throw ToolchainError(
                .unreachable, "cannot download the \(component) archive", url: url, endpoint: endpoint,
                cause: error)
        }
        guard (200..<300).contains(result.response.status), let sha256 = result.digest else {
            throw ToolchainError(
                .httpStatus, "the channel answered HTTP \(result.response.status) for the \(component) archive",
                url: url, endpoint: endpoint)
        }
        if let size, result.size < size {
            throw ToolchainError(
                .truncated, "the download has \(result.size) bytes, the channel publishes \(size); refused",
                url: url, endpoint: endpoint)
        }
        guard result.size <= limit else {
            throw ToolchainError(
                .tooLarge, "the download has \(result.size) bytes, more than \(limit); refused", url: url,
                endpoint: endpoint)
        }
        return (sha256, result.size)
    }

    /// Compares the download with the expectation (a SHA-512 is computed by reading the file again: blocking).
    private func verify(
        _ file: String, sha256: Digest, expect: Expectation, url: String,
        endpoint: ChannelEndpoint
    ) throws(ToolchainError) {
        let (expected, actual): (String, String)
        switch expect {
        case .pinned(let d):
            (expected, actual) = (d.string, sha256.string)
        case .published(let c) where c.algorithm == .sha256:
            (expected, actual) = (c.description, "sha256:" + sha256.hex)
        case .published(let c):
            (expected, actual) = (c.description, try FileHashing.hash(file, c.algorithm).description)
        }
        guard expected == actual else {
            throw ToolchainError(
                .checksumMismatch, "the download hashes to \(actual), expected \(expected); refused and not cached",
                url: url, endpoint: endpoint)
        }
    }

    static func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }
}
