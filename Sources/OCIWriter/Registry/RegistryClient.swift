import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Tunables of registry transfers.
public struct RegistryOptions: Sendable {
    /// `host[:port]` values that may be spoken to over plain HTTP (loopback hosts always may).
    public var insecureRegistries: Set<String> = []
    /// Attempts per operation for retryable failures (408, 429, 5xx, dropped connections, timeouts).
    public var maxAttempts = 5
    /// First backoff delay in seconds; doubles per attempt, with ±50 % jitter, capped by `maxBackoff`.
    public var baseBackoff: Double = 0.2
    public var maxBackoff: Double = 10
    /// Blobs up to this size are uploaded with one streamed PUT; larger ones in `chunkSize` PATCH requests.
    public var monolithicUploadLimit: Int64 = 128 << 20
    public var chunkSize = 8 << 20
    /// Concurrent blob uploads.
    public var parallelism = 4
    /// Concurrent blob downloads. Each costs one transfer thread and a 512 KiB receive buffer (peak RSS of a
    /// 500 MB pull ≈ 38 MiB with 2 or 4). On a loaded 2-core host against a loopback registry 2 was as fast as or
    /// faster than 4 or 6 (hashing and writing compete for the same cores), hence the default; remote registries
    /// with per-connection limits may gain from more (`--parallel-downloads`).
    public var downloadParallelism = 2
    /// Seconds without progress before a request is abandoned.
    public var timeout: TimeInterval = 60
    /// Repositories of the same registry to try cross-repository mounts from.
    public var mountFrom: [String] = []

    public init() {}
}

/// Counters of what actually crossed the wire (tests and progress output read them).
public actor TransferStats {
    public private(set) var blobBytesUploaded: Int64 = 0
    public private(set) var blobBytesDownloaded: Int64 = 0
    public private(set) var blobsSkipped = 0
    public private(set) var blobsMounted = 0
    public private(set) var blobsUploaded = 0
    public private(set) var blobsDownloaded = 0
    public private(set) var retries = 0

    func uploaded(_ n: Int64) { blobBytesUploaded += n }
    func blobDone(uploaded: Bool) { if uploaded { blobsUploaded += 1 } }
    func downloaded(_ n: Int64) {
        blobBytesDownloaded += n
        blobsDownloaded += 1
    }
    func skipped() { blobsSkipped += 1 }
    func mounted() { blobsMounted += 1 }
    func retried() { retries += 1 }
}

/// How a blob push ended.
public enum BlobPushOutcome: Sendable, Equatable {
    case alreadyPresent
    case mounted(from: String)
    case uploaded
}

/// A client for one registry (distribution-spec v2 API).
public final class RegistryClient: Sendable {
    /// `host[:port]` as users write it (`docker.io` for Docker Hub).
    public let registry: String
    public let baseURL: URL
    public let options: RegistryOptions
    public let stats = TransferStats()
    let transport: HTTPTransport
    let auth: RegistryAuthenticator
    let knownLocations = BlobLocations()

    public init(
        registry: String, credential: RegistryCredential?, options: RegistryOptions = RegistryOptions(),
        transport: HTTPTransport? = nil
    ) throws {
        let reg = registry.lowercased()
        let api = reg == ImageReference.dockerHub ? "registry-1.docker.io" : reg
        let plain =
            Self.isLoopback(api) || options.insecureRegistries.contains(reg) || options.insecureRegistries.contains(api)
        guard let url = URL(string: (plain ? "http://" : "https://") + api) else {
            throw OCIWriterError(.invalidReference, "invalid registry host '\(registry)'")
        }
        self.registry = reg
        self.baseURL = url
        self.options = options
        let t = transport ?? CurlTransport(timeout: options.timeout)
        self.transport = t
        self.auth = RegistryAuthenticator(registry: reg, credential: credential, transport: t)
    }

    /// True for `localhost`, `127.0.0.0/8` and `::1` (with or without a port).
    public static func isLoopback(_ hostPort: String) -> Bool {
        var host = hostPort
        if host.hasPrefix("[") {
            host = String(host.dropFirst().prefix(while: { $0 != "]" }))
        } else if let c = host.lastIndex(of: ":"), host.filter({ $0 == ":" }).count == 1 {
            host = String(host[..<c])
        }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    // MARK: - Request core

    static func scope(_ repo: String, push: Bool) -> String { "repository:\(repo):" + (push ? "push,pull" : "pull") }

    func url(_ path: String) -> URL { URL(string: baseURL.absoluteString + path)! }

    func fail(_ op: String, _ repo: String?, _ why: String, code: OCIWriterError.Code = .registry) -> OCIWriterError {
        OCIWriterError(code, "registry \(registry)\(repo.map { ", repository \($0)" } ?? ""): \(op) failed: \(why)")
    }

    /// An error (retryable or not) for an unexpected HTTP status.
    func statusError(_ op: String, _ repo: String?, _ r: HTTPResponse) -> Error {
        let detail = RegistryErrorBody.summary(r.body).map { " \($0)" } ?? ""
        let code: OCIWriterError.Code =
            r.status == 401 || r.status == 403 ? .authentication : (r.status == 404 ? .notFound : .registry)
        var hint = ""
        if r.status == 403 { hint = " (the credentials lack permission for this repository)" }
        let e = fail(op, repo, "HTTP \(r.status)\(detail)\(hint)", code: code)
        if r.status == 408 || r.status == 429 || (500...599).contains(r.status) {
            return RetryableFailure(e, retryAfter: r.header("retry-after").flatMap(Double.init))
        }
        return e
    }

    /// Sends one request with authorization, answering 401 challenges (at most twice).
    func send(
        _ op: String, repo: String?, scope: [String], _ request: HTTPRequest, maxBody: Int = 4 << 20,
        downloadTo: String? = nil
    ) async throws -> DownloadResult {
        var attempt = 0
        try await auth.prepare(scope: scope, operation: op)
        while true {
            var req = request
            let header = await auth.header(scope: scope)
            if let header { req.headers["Authorization"] = header }
            let result: DownloadResult
            do {
                if let downloadTo {
                    result = try await transport.download(req, to: downloadTo)
                } else {
                    result = DownloadResult(
                        response: try await transport.send(req, maxBodyBytes: maxBody), digest: nil, size: 0)
                }
            } catch let e as OCIWriterError where e.code == .network {
                throw RetryableFailure(fail(op, repo, e.message, code: .network))
            }
            if result.response.status == 401 && attempt < 2 {
                attempt += 1
                do {
                    try await auth.handleUnauthorized(
                        result.response, scope: scope, sent: header, operation: op + (repo.map { " in \($0)" } ?? ""))
                } catch let e as OCIWriterError {
                    throw OCIWriterError(
                        e.code, e.message + (RegistryErrorBody.summary(result.response.body).map { " [\($0)]" } ?? ""))
                }
                continue
            }
            if result.response.status != 401 {
                if header == nil { await auth.noteAnonymous() } else { await auth.accepted(header) }
            }
            return result
        }
    }

    /// Runs `body` until it succeeds, retrying `RetryableFailure`s with exponential backoff and jitter.
    func withRetries<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let r as RetryableFailure {
                attempt += 1
                guard attempt < options.maxAttempts else {
                    throw OCIWriterError(r.error.code, r.error.message + " (gave up after \(attempt) attempts)")
                }
                await stats.retried()
                let exp = min(options.maxBackoff, options.baseBackoff * pow(2, Double(attempt - 1)))
                let delay = min(options.maxBackoff, max(r.retryAfter ?? 0, exp * Double.random(in: 0.5...1.5)))
                try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            }
        }
    }

    /// Checks that the registry speaks the v2 API and that the credentials (if any) are accepted.
    public func ping() async throws {
        try await withRetries {
            let r = try await send(
                "checking the API (/v2/)", repo: nil, scope: [], HTTPRequest(method: "GET", url: url("/v2/"))
            ).response
            guard r.status == 200 else { throw statusError("checking the API (/v2/)", nil, r) }
        }
    }

    // MARK: - Manifests

    /// A manifest or index as fetched: exact bytes, media type and digest.
    public struct FetchedManifest: Sendable {
        public var bytes: [UInt8]
        public var mediaType: MediaType
        public var digest: Digest
        public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count)) }
    }

    /// GETs a manifest by tag or digest with the full Accept list; verifies the digest (and size when given).
    public func fetchManifest(repository: String, reference: String, expected: Descriptor? = nil) async throws
        -> FetchedManifest
    {
        let op = "fetching manifest \(reference)"
        return try await withRetries {
            let req = HTTPRequest(
                method: "GET", url: url("/v2/\(repository)/manifests/\(reference)"),
                headers: ["Accept": MediaType.manifestAccept.map(\.rawValue).joined(separator: ", ")])
            let r = try await send(op, repo: repository, scope: [Self.scope(repository, push: false)], req).response
            guard r.status == 200 else { throw statusError(op, repository, r) }
            let digest = Digest.of(r.body)
            if let want = expected?.digest ?? (try? Digest(reference)), want != digest {
                throw fail(
                    op, repository, "DIGEST_INVALID: content hashes to \(digest), expected \(want)",
                    code: .digestMismatch)
            }
            if let size = expected?.size, size != Int64(r.body.count) {
                throw fail(
                    op, repository, "size \(r.body.count) differs from the descriptor's \(size)", code: .sizeMismatch)
            }
            if let h = r.header("docker-content-digest"), (try? Digest(h)) != nil, h != digest.string {
                throw fail(
                    op, repository, "Docker-Content-Digest \(h) does not match the content's \(digest)",
                    code: .digestMismatch)
            }
            return FetchedManifest(
                bytes: r.body,
                mediaType: Self.detectMediaType(
                    r.body, header: r.header("content-type"), expected: expected?.mediaType), digest: digest)
        }
    }

    static func detectMediaType(_ bytes: [UInt8], header: String?, expected: MediaType?) -> MediaType {
        if let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] {
            if let mt = obj["mediaType"] as? String { return MediaType(mt) }
            if let h = header?.split(separator: ";").first.map({ String($0).trimmingCharacters(in: .whitespaces) }),
                MediaType(h).isIndex || MediaType(h).isManifest
            {
                return MediaType(h)
            }
            if let expected { return expected }
            return obj["manifests"] != nil ? .ociIndex : .ociManifest
        }
        return expected ?? MediaType(header ?? MediaType.ociManifest.rawValue)
    }

    /// PUTs manifest bytes under `reference` (tag or digest) with `Content-Type` = `mediaType`.
    @discardableResult
    public func putManifest(repository: String, reference: String, bytes: [UInt8], mediaType: MediaType) async throws
        -> Digest
    {
        _ = try await putManifestResponse(
            repository: repository, reference: reference, bytes: bytes, mediaType: mediaType)
        return Digest.of(bytes)
    }

    /// PUTs a manifest and returns the response (its `OCI-Subject` header matters to referrers).
    func putManifestResponse(repository: String, reference: String, bytes: [UInt8], mediaType: MediaType) async throws
        -> HTTPResponse
    {
        let op = "pushing manifest \(reference)"
        let digest = Digest.of(bytes)
        return try await withRetries {
            let req = HTTPRequest(
                method: "PUT", url: url("/v2/\(repository)/manifests/\(reference)"),
                headers: ["Content-Type": mediaType.rawValue], body: .bytes(bytes))
            let r = try await send(op, repo: repository, scope: [Self.scope(repository, push: true)], req).response
            guard r.status == 201 || r.status == 200 else { throw statusError(op, repository, r) }
            if let h = r.header("docker-content-digest"), h != digest.string {
                throw fail(
                    op, repository, "the registry stored digest \(h) but the manifest hashes to \(digest)",
                    code: .digestMismatch)
            }
            return r
        }
    }

    // MARK: - Blobs

    /// HEADs a blob; its size when present.
    public func blobSize(repository: String, digest: Digest, push: Bool = false) async throws -> Int64? {
        let op = "checking blob \(digest)"
        return try await withRetries {
            let r = try await send(
                op, repo: repository, scope: [Self.scope(repository, push: push)],
                HTTPRequest(method: "HEAD", url: url("/v2/\(repository)/blobs/\(digest)"))
            ).response
            if r.status == 404 { return nil }
            guard r.status == 200 else { throw statusError(op, repository, r) }
            return r.header("content-length").flatMap(Int64.init) ?? 0
        }
    }

    /// Downloads a blob to a new file `path`, verifying digest and size; on any failure nothing is left at `path`.
    public func downloadBlob(repository: String, descriptor: Descriptor, to path: String) async throws {
        let op = "downloading blob \(descriptor.digest)"
        try await withRetries {
            unlink(path)
            let req = HTTPRequest(method: "GET", url: url("/v2/\(repository)/blobs/\(descriptor.digest)"))
            let res: DownloadResult
            do {
                res = try await send(
                    op, repo: repository, scope: [Self.scope(repository, push: false)], req, downloadTo: path)
            } catch {
                unlink(path)
                throw error
            }
            guard (200..<300).contains(res.response.status) else {
                unlink(path)
                throw statusError(op, repository, res.response)
            }
            if res.size != descriptor.size {
                unlink(path)
                // A short body is a dropped connection; a long one is a broken registry or proxy.
                let e = fail(
                    op, repository, "received \(res.size) bytes, expected \(descriptor.size)", code: .sizeMismatch)
                if res.size < descriptor.size { throw RetryableFailure(e) }
                throw e
            }
            if res.digest != descriptor.digest {
                unlink(path)
                throw fail(
                    op, repository,
                    "DIGEST_INVALID: content hashes to \(res.digest.map(\.string) ?? "?"), expected \(descriptor.digest); the blob was discarded",
                    code: .digestMismatch)
            }
            await stats.downloaded(res.size)
        }
        await knownLocations.note(descriptor.digest, repository)
    }

    /// Pushes the blob stored in file `path`: HEAD (skip), cross-repository mount, else upload
    /// (monolithic PUT or chunked PATCH), each retry in a new upload session.
    public func pushBlob(repository: String, descriptor: Descriptor, file path: String) async throws -> BlobPushOutcome
    {
        if let size = try await blobSize(repository: repository, digest: descriptor.digest, push: true),
            size == descriptor.size || size == 0
        {
            await stats.skipped()
            await knownLocations.note(descriptor.digest, repository)
            return .alreadyPresent
        }
        let candidates = (options.mountFrom + (await knownLocations.repos(descriptor.digest))).filter {
            $0 != repository
        }
        var seen = Set<String>()
        for from in candidates where seen.insert(from).inserted {
            switch try await tryMount(repository: repository, digest: descriptor.digest, from: from) {
            case .mounted:
                await stats.mounted()
                await knownLocations.note(descriptor.digest, repository)
                return .mounted(from: from)
            case .session(let s):
                // 202: the registry opened an upload session instead; cancel it and upload below.
                if let s { await cancelSession(s) }
            case .refused:
                continue
            }
            break
        }
        try await withRetries {
            try await uploadOnce(repository: repository, descriptor: descriptor, file: path)
        }
        await stats.blobDone(uploaded: true)
        await knownLocations.note(descriptor.digest, repository)
        return .uploaded
    }

    enum MountResult {
        case mounted
        case session(URL?)
        case refused
    }

    private func tryMount(repository: String, digest: Digest, from: String) async throws -> MountResult {
        let op = "mounting blob \(digest) from \(from)"
        var comps = URLComponents(url: url("/v2/\(repository)/blobs/uploads/"), resolvingAgainstBaseURL: false)!
        comps.queryItems = [URLQueryItem(name: "mount", value: digest.string), URLQueryItem(name: "from", value: from)]
        let req = HTTPRequest(method: "POST", url: comps.url!, headers: ["Content-Length": "0"])
        let r = try await withRetries {
            try await send(
                op, repo: repository, scope: [Self.scope(repository, push: true), Self.scope(from, push: false)], req
            ).response
        }
        switch r.status {
        case 201: return .mounted
        case 202: return .session(location(r, request: req.url))
        default: return .refused
        }
    }

    private func cancelSession(_ u: URL) async {
        _ = try? await transport.send(
            HTTPRequest(
                method: "DELETE", url: u, headers: (await auth.header(scope: [])).map { ["Authorization": $0] } ?? [:]),
            maxBodyBytes: 1 << 16)
    }

    /// Resolves a `Location` header against the request URL; the location's own query is kept.
    static func resolveLocation(_ value: String, against request: URL) -> URL? {
        URL(string: value, relativeTo: request)?.absoluteURL
    }

    private func location(_ r: HTTPResponse, request: URL) -> URL? {
        r.header("location").flatMap { Self.resolveLocation($0, against: request) }
    }

    static func adding(_ name: String, _ value: String, to u: URL) -> URL {
        var c = URLComponents(url: u, resolvingAgainstBaseURL: false)!
        var items = c.queryItems ?? []
        items.removeAll { $0.name == name }
        items.append(URLQueryItem(name: name, value: value))
        c.queryItems = items
        // '+' is not encoded by URLComponents but registries decode it as a space.
        c.percentEncodedQuery = c.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return c.url!
    }

    /// One upload session from POST to the final PUT.
    private func uploadOnce(repository: String, descriptor: Descriptor, file path: String) async throws {
        let d = descriptor.digest
        let scope = [Self.scope(repository, push: true)]
        let start = HTTPRequest(
            method: "POST", url: url("/v2/\(repository)/blobs/uploads/"), headers: ["Content-Length": "0"])
        let r = try await send("starting upload of blob \(d)", repo: repository, scope: scope, start).response
        guard r.status == 202, var loc = location(r, request: start.url) else {
            if r.status == 202 {
                throw fail("starting upload of blob \(d)", repository, "202 without a Location header")
            }
            throw statusError("starting upload of blob \(d)", repository, r)
        }
        do {
            if descriptor.size <= options.monolithicUploadLimit {
                let op = "uploading blob \(d)"
                let req = HTTPRequest(
                    method: "PUT", url: Self.adding("digest", d.string, to: loc),
                    headers: ["Content-Type": "application/octet-stream", "Content-Length": String(descriptor.size)],
                    body: .file(path))
                let res = try await send(op, repo: repository, scope: scope, req).response
                try finish(res, op: op, repository: repository, digest: d)
                await stats.uploaded(descriptor.size)
                return
            }
            loc = try await uploadChunks(repository: repository, descriptor: descriptor, file: path, location: loc)
            let op = "completing upload of blob \(d)"
            let req = HTTPRequest(
                method: "PUT", url: Self.adding("digest", d.string, to: loc), headers: ["Content-Length": "0"])
            let res = try await send(op, repo: repository, scope: scope, req).response
            try finish(res, op: op, repository: repository, digest: d)
        } catch {
            await cancelSession(loc)
            throw error
        }
    }

    private func finish(_ res: HTTPResponse, op: String, repository: String, digest: Digest) throws {
        if res.status == 400, let summary = RegistryErrorBody.summary(res.body),
            summary.contains("DIGEST_INVALID") || summary.contains("BLOB_UPLOAD_INVALID")
        {
            // The registry refused what arrived (a connection that died mid-body can be replayed by libcurl from a
            // stream that cannot rewind). Nothing was stored; retry with a new session. A blob that is corrupt
            // on disk fails the same way every time and is reported after the last attempt.
            throw RetryableFailure(fail(op, repository, "HTTP 400 \(summary)", code: .digestMismatch))
        }
        guard res.status == 201 || res.status == 204 || res.status == 200 else {
            throw statusError(op, repository, res)
        }
        if let h = res.header("docker-content-digest"), h != digest.string {
            throw fail(op, repository, "the registry stored digest \(h), expected \(digest)", code: .digestMismatch)
        }
    }

    /// PATCHes `Content-Range` chunks, continuing from the registry-reported `Range`; returns the newest Location.
    private func uploadChunks(repository: String, descriptor: Descriptor, file path: String, location: URL) async throws
        -> URL
    {
        let op = "uploading blob \(descriptor.digest)"
        let scope = [Self.scope(repository, push: true)]
        var loc = location
        var offset: Int64 = 0
        var stuck = 0
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIWriterError.sys("cannot open blob for upload", path: path) }
        defer { close(fd) }
        while offset < descriptor.size {
            let len = Int(min(Int64(options.chunkSize), descriptor.size - offset))
            let chunk = try await Self.readChunk(fd: fd, offset: offset, count: len, path: path)
            let req = HTTPRequest(
                method: "PATCH", url: loc,
                headers: [
                    "Content-Type": "application/octet-stream",
                    "Content-Range": "\(offset)-\(offset + Int64(len) - 1)",
                    "Content-Length": String(len)
                ],
                body: .bytes(chunk))
            let r = try await send(op, repo: repository, scope: scope, req).response
            if let l = self.location(r, request: loc) { loc = l }
            if r.status == 416 {
                // The registry has a different idea of the offset: ask it and resume from there.
                stuck += 1
                guard stuck <= 3 else {
                    throw fail(op, repository, "the registry kept rejecting the chunk range (HTTP 416)")
                }
                let st = try await send(
                    "querying upload status of \(descriptor.digest)", repo: repository, scope: scope,
                    HTTPRequest(method: "GET", url: loc)
                ).response
                if let l = self.location(st, request: loc) { loc = l }
                guard st.status == 204 || st.status == 200 else {
                    throw statusError("querying upload status of \(descriptor.digest)", repository, st)
                }
                offset = Self.rangeEnd(st.header("range")).map { $0 + 1 } ?? 0
                continue
            }
            guard r.status == 202 || r.status == 204 else { throw statusError(op, repository, r) }
            stuck = 0
            let next = Self.rangeEnd(r.header("range")).map { $0 + 1 } ?? (offset + Int64(len))
            await stats.uploaded(Int64(len))
            offset = next
        }
        return loc
    }

    /// The inclusive end of a `Range: 0-N` (or `bytes=0-N`) header.
    static func rangeEnd(_ header: String?) -> Int64? {
        guard var h = header?.trimmingCharacters(in: .whitespaces) else { return nil }
        if h.hasPrefix("bytes=") { h.removeFirst(6) }
        let parts = h.split(separator: "-")
        guard parts.count == 2, let end = Int64(parts[1]) else { return nil }
        return end
    }

    static func readChunk(fd: Int32, offset: Int64, count: Int, path: String) async throws -> [UInt8] {
        try await offPool {
            var buf = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = buf.withUnsafeMutableBytes {
                    pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw OCIWriterError.sys("cannot read blob for upload", path: path) }
                done += n
            }
            return buf
        }
    }
}

/// Which repositories of a registry are known to hold a blob (for cross-repository mounts).
actor BlobLocations {
    fileprivate(set) var map: [Digest: [String]] = [:]
    func note(_ d: Digest, _ repo: String) {
        if !(map[d]?.contains(repo) ?? false) { map[d, default: []].append(repo) }
    }
    func repos(_ d: Digest) -> [String] { map[d] ?? [] }
}

/// Runs blocking work on a global dispatch queue instead of the cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { cont in
        DispatchQueue.global().async {
            cont.resume(with: Result { try body() })
        }
    }
}
