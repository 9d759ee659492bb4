import CCurl
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `HTTPTransport` over libcurl's easy API (the system's libcurl, OpenSSL flavour).
///
/// - Every transfer runs `curl_easy_perform` on its own thread, off the cooperative pool; the thread blocks on the
///   socket and on the file it writes, so a slow disk slows the transfer instead of queueing data in memory.
/// - Download bodies go straight from libcurl's receive buffer (`bufferSize`) to the file and the SHA-256 hasher;
///   uploads are read from the file in `bufferSize` pieces (`Content-Length` from the file's size), never whole.
/// - Request bodies are never replayed by libcurl (no seek callback): a connection that dies mid-request fails
///   the request, and `RegistryClient` retries it as a whole (uploads in a new session).
/// - Redirects are followed here, not by libcurl: `Authorization` is dropped as soon as a hop leaves the
///   original scheme, host and port (`RedirectPolicy`); 303 (and 301/302 after POST) continue as GET.
/// - No progress for `timeout` seconds (nothing received or sent) fails the request; so does a connect taking
///   longer. Dropped connections, resets and stalls surface as `OCIWriterError(.network)`, which
///   `RegistryClient` retries.
/// - TLS peers are verified (host name and chain) against the system CA store, or `caFile` / `$SSL_CERT_FILE`;
///   only http and https are spoken.
/// - Idle handles (and with them their keep-alive connections) are pooled, at most `maxIdleHandles`.
public final class CurlTransport: HTTPTransport, Sendable {
    /// Seconds without progress (and for connecting) before a request fails.
    public let timeout: TimeInterval
    /// libcurl's receive and upload buffer size per transfer.
    public let bufferSize: Int
    /// CA bundle that replaces libcurl's default (the system store); `$SSL_CERT_FILE` when not given.
    public let caFile: String?
    /// Upper bound on a whole exchange, progress or not (nil: none; blob transfers only use `timeout`).
    public let totalTimeout: TimeInterval?
    private let maxIdleHandles: Int
    private let idle = Mutex<[CurlHandle]>([])

    /// Redirect hops followed per request.
    static let maxRedirects = 10

    public init(
        timeout: TimeInterval = 60, bufferSize: Int = 512 << 10, maxIdleHandles: Int = 8,
        totalTimeout: TimeInterval? = nil, caFile: String? = nil
    ) {
        _ = Self.globalInit
        let envCA = ProcessInfo.processInfo.environment["SSL_CERT_FILE"]
        self.caFile = caFile ?? (envCA?.isEmpty == false ? envCA : nil)
        self.timeout = timeout
        self.totalTimeout = totalTimeout
        self.bufferSize = max(16 << 10, min(bufferSize, 512 << 10))
        self.maxIdleHandles = maxIdleHandles
    }

    /// `curl_global_init` once per process (thread-safe in libcurl ≥ 7.84, but done once anyway).
    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    public func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws -> HTTPResponse {
        let x = CurlExchange(downloadPath: nil, memoryLimit: maxBodyBytes)
        let url = try await run(request, x)
        return x.response(url: url)
    }

    /// `send` for synchronous callers: blocks the calling thread (never call it on the cooperative pool).
    public func sendBlocking(_ request: HTTPRequest, maxBodyBytes: Int) throws -> HTTPResponse {
        let x = CurlExchange(downloadPath: nil, memoryLimit: maxBodyBytes)
        let url = try perform(request, x)
        return x.response(url: url)
    }

    public func download(_ request: HTTPRequest, to path: String) async throws -> DownloadResult {
        let x = CurlExchange(downloadPath: path, memoryLimit: 1 << 20)
        x.downloadLimit = request.maxDownloadBytes
        let url: URL
        do {
            url = try await run(request, x)
        } catch {
            x.discardFile()
            throw error
        }
        let response = x.response(url: url)
        guard (200..<300).contains(response.status) else {
            return DownloadResult(response: response, digest: nil, size: 0)
        }
        return DownloadResult(response: response, digest: x.takeDigest(), size: x.written)
    }

    /// `OCIFORGE_HTTP_DEBUG=1` traces method, URL and status on stderr (never headers, bodies or query strings,
    /// which may carry signed-URL secrets).
    static let debug = ProcessInfo.processInfo.environment["OCIFORGE_HTTP_DEBUG"] == "1"

    static func redacted(_ u: URL) -> String {
        guard var c = URLComponents(url: u, resolvingAgainstBaseURL: false) else { return "?" }
        let hadQuery = c.query != nil
        c.query = nil
        c.user = nil
        c.password = nil
        return (c.string ?? "?") + (hadQuery ? "?…" : "")
    }

    static func trace(_ s: String) {
        if debug { FileHandle.standardError.write(Data((s + "\n").utf8)) }
    }

    /// Runs the whole request (with its redirects) on a new thread; returns the URL that answered.
    private func run(_ request: HTTPRequest, _ x: CurlExchange) async throws -> URL {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<URL, Error>) in
                let thread = Thread { [self] in
                    cont.resume(with: Result { try self.perform(request, x) })
                }
                thread.name = "ociforge-http"
                thread.start()
            }
        } onCancel: {
            x.cancel()
        }
    }

    /// Blocking: one exchange per redirect hop.
    private func perform(_ request: HTTPRequest, _ x: CurlExchange) throws -> URL {
        var req = request
        var hops = 0
        while true {
            if x.isCancelled { throw CancellationError() }
            try exchange(req, x)
            guard [301, 302, 303, 307, 308].contains(x.status), let loc = x.headers["location"],
                let next = URL(string: loc, relativeTo: req.url)?.absoluteURL,
                let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https"
            else {
                return req.url
            }
            hops += 1
            guard hops <= Self.maxRedirects else {
                // A misconfigured server, not a transient failure: not retried.
                throw OCIWriterError(
                    .registry,
                    "too many redirects (more than \(Self.maxRedirects)) starting at \(Self.redacted(request.url))")
            }
            if !RedirectPolicy.sameOrigin(req.url, next) {
                for k in req.headers.keys where k.lowercased() == "authorization" { req.headers[k] = nil }
            }
            if x.status == 303 && req.method != "HEAD" || (x.status == 301 || x.status == 302) && req.method == "POST" {
                req.method = "GET"
                req.body = .none
                for k in req.headers.keys
                where ["content-length", "content-type", "content-range"].contains(k.lowercased()) {
                    req.headers[k] = nil
                }
            }
            req.url = next
        }
    }

    private func takeHandle() throws -> CurlHandle {
        if let h = idle.withLock({ $0.popLast() }) { return h }
        guard let p = curl_easy_init() else {
            throw OCIWriterError(.network, "libcurl could not create a transfer handle (out of memory?)")
        }
        return CurlHandle(p)
    }

    private func giveBack(_ h: CurlHandle) {
        idle.withLock { if $0.count < maxIdleHandles { $0.append(h) } }
    }

    /// One HTTP exchange (no redirect following) on a pooled handle.
    private func exchange(_ req: HTTPRequest, _ x: CurlExchange) throws {
        Self.trace("> \(req.method) \(Self.redacted(req.url))")
        let handle = try takeHandle()
        let h = handle.pointer
        curl_easy_reset(h)
        x.startHop(method: req.method)
        var list: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(list) }
        defer { x.endHop() }

        func set(_ opt: CURLoption, _ v: Int) throws {
            let rc = ociforge_curl_setopt_long(h, opt, v)
            guard rc == CURLE_OK else { throw Self.optionError(opt, rc) }
        }
        func set(_ opt: CURLoption, _ s: String) throws {
            let rc = s.withCString { ociforge_curl_setopt_ptr(h, opt, $0) }
            guard rc == CURLE_OK else { throw Self.optionError(opt, rc) }
        }
        func setPointer(_ opt: CURLoption, _ p: UnsafeRawPointer?) throws {
            let rc = ociforge_curl_setopt_ptr(h, opt, p)
            guard rc == CURLE_OK else { throw Self.optionError(opt, rc) }
        }

        let ctx = UnsafeRawPointer(Unmanaged.passUnretained(x).toOpaque())
        try set(CURLOPT_URL, req.url.absoluteString)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_USERAGENT, "ociforge")
        try set(CURLOPT_SSL_VERIFYPEER, 1)
        try set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { try set(CURLOPT_CAINFO, caFile) }
        try set(CURLOPT_CONNECTTIMEOUT, max(1, Int(timeout.rounded(.up))))
        try set(CURLOPT_LOW_SPEED_LIMIT, 1)
        try set(CURLOPT_LOW_SPEED_TIME, max(1, Int(timeout.rounded(.up))))
        if let totalTimeout { try set(CURLOPT_TIMEOUT_MS, max(1, Int(totalTimeout * 1000))) }
        try set(CURLOPT_BUFFERSIZE, bufferSize)
        try set(CURLOPT_UPLOAD_BUFFERSIZE, bufferSize)
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try setPointer(CURLOPT_ERRORBUFFER, UnsafeRawPointer(x.errorBuffer))

        var rc = ociforge_curl_setopt_data_cb(h, CURLOPT_HEADERFUNCTION) { ptr, size, n, ud in
            let x = Unmanaged<CurlExchange>.fromOpaque(ud!).takeUnretainedValue()
            x.receiveHeader(UnsafeRawBufferPointer(start: ptr, count: size * n))
            return size * n
        }
        guard rc == CURLE_OK else { throw Self.optionError(CURLOPT_HEADERFUNCTION, rc) }
        try setPointer(CURLOPT_HEADERDATA, ctx)
        rc = ociforge_curl_setopt_data_cb(h, CURLOPT_WRITEFUNCTION) { ptr, size, n, ud in
            let x = Unmanaged<CurlExchange>.fromOpaque(ud!).takeUnretainedValue()
            return x.receiveBody(UnsafeRawBufferPointer(start: ptr, count: size * n)) ? size * n : 0
        }
        guard rc == CURLE_OK else { throw Self.optionError(CURLOPT_WRITEFUNCTION, rc) }
        try setPointer(CURLOPT_WRITEDATA, ctx)
        rc = ociforge_curl_setopt_xferinfo_cb(h) { ud, _, _, _, _ in
            Unmanaged<CurlExchange>.fromOpaque(ud!).takeUnretainedValue().isCancelled ? 1 : 0
        }
        guard rc == CURLE_OK else { throw Self.optionError(CURLOPT_XFERINFOFUNCTION, rc) }
        try setPointer(CURLOPT_XFERINFODATA, ctx)
        try set(CURLOPT_NOPROGRESS, 0)

        // Method and body.
        var hasBody = false
        switch req.body {
        case .none:
            break
        case .bytes(let b):
            x.uploadBytes = b
            x.uploadSize = Int64(b.count)
            hasBody = true
        case .file(let path):
            // A fresh descriptor per exchange: a retry or a 307/308 re-reads the file from the start.
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw OCIWriterError.sys("cannot open file for upload", path: path) }
            x.uploadFD = fd
            x.uploadPath = path
            x.uploadSize = try LayoutIO.fileSize(fd, path: path)
            hasBody = true
        }
        switch req.method {
        case "GET" where !hasBody: try set(CURLOPT_HTTPGET, 1)
        case "HEAD": try set(CURLOPT_NOBODY, 1)
        default: try set(CURLOPT_CUSTOMREQUEST, req.method)
        }
        if hasBody {
            try set(CURLOPT_UPLOAD, 1)
            let r1 = ociforge_curl_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(x.uploadSize))
            guard r1 == CURLE_OK else { throw Self.optionError(CURLOPT_INFILESIZE_LARGE, r1) }
            rc = ociforge_curl_setopt_data_cb(h, CURLOPT_READFUNCTION) { buf, size, n, ud in
                let x = Unmanaged<CurlExchange>.fromOpaque(ud!).takeUnretainedValue()
                return x.readBody(into: UnsafeMutableRawBufferPointer(start: buf, count: size * n))
            }
            guard rc == CURLE_OK else { throw Self.optionError(CURLOPT_READFUNCTION, rc) }
            try setPointer(CURLOPT_READDATA, ctx)
            // No CURLOPT_SEEKFUNCTION: libcurl then cannot replay a body on its own when a reused connection dies
            // before answering (CURLE_SEND_FAIL_REWIND). A replayed PUT or PATCH may hit an upload session the
            // registry already closed or advanced; RegistryClient retries with a new session instead.
        }

        // Headers: the caller's, except a Content-Length libcurl computes itself for bodies; no
        // `Expect: 100-continue` round trip (a 401 costs one resent body at most, and every retry re-reads the file).
        for (k, v) in req.headers {
            if hasBody && k.lowercased() == "content-length" { continue }
            list = curl_slist_append(list, "\(k): \(v)")
        }
        list = curl_slist_append(list, "Expect:")
        try setPointer(CURLOPT_HTTPHEADER, UnsafeRawPointer(list))

        let result = curl_easy_perform(h)
        Self.trace(
            "< \(x.status) \(req.method) \(Self.redacted(req.url))\(result == CURLE_OK ? "" : " curl error \(result.rawValue)")"
        )
        if x.isCancelled { throw CancellationError() }
        if let e = x.error { throw e }
        guard result == CURLE_OK else { throw transferError(result, x, req) }
        try x.finishHop()
        giveBack(handle)
    }

    private static func optionError(_ opt: CURLoption, _ rc: CURLcode) -> OCIWriterError {
        OCIWriterError(
            .network,
            "libcurl refused option \(opt.rawValue): \(String(cString: curl_easy_strerror(rc))) (libcurl \(String(cString: curl_version())))"
        )
    }

    private func transferError(_ rc: CURLcode, _ x: CurlExchange, _ req: HTTPRequest) -> OCIWriterError {
        let host = req.url.host.map { h in req.url.port.map { "\(h):\($0)" } ?? h } ?? "?"
        let detail = x.errorMessage ?? String(cString: curl_easy_strerror(rc))
        switch rc {
        case CURLE_SEND_FAIL_REWIND:
            return OCIWriterError(
                .network,
                "connection to \(host) closed before it answered \(req.method) (the body is not replayed on the same session)"
            )
        case CURLE_OPERATION_TIMEDOUT:
            return OCIWriterError(
                .network, "request to \(host) timed out (no progress for \(Int(timeout)) s): \(detail)")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            return OCIWriterError(
                .network,
                "TLS verification of \(host) failed: \(detail) (is the registry's CA in the system store or $SSL_CERT_FILE? plain HTTP needs --insecure-registry)"
            )
        default:
            return OCIWriterError(.network, "connection to \(host) failed: \(detail) (curl error \(rc.rawValue))")
        }
    }
}

/// An easy handle (with its keep-alive connection cache); cleaned up when dropped.
final class CurlHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ p: UnsafeMutableRawPointer) { pointer = p }
    deinit { curl_easy_cleanup(pointer) }
}

/// State of one request across its redirect hops, touched by libcurl's callbacks on the transfer thread (and read
/// by the caller after the thread finished; `cancelled` is the only cross-thread field).
final class CurlExchange: @unchecked Sendable {
    let downloadPath: String?
    let memoryLimit: Int
    private let cancelled = Atomic<Bool>(false)
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    // Response of the current hop.
    private(set) var status = 0
    private(set) var headers: [String: String] = [:]
    private var body: [UInt8] = []
    private var method = "GET"

    // Download file of a 2xx answer.
    private var fd: Int32 = -1
    private var createdFile = false
    private var hasher: SHA256Hasher?
    private(set) var written: Int64 = 0
    /// Bytes a 2xx download body may have (nil: unbounded).
    var downloadLimit: Int64?

    // Upload source of the current hop.
    var uploadBytes: [UInt8] = []
    var uploadFD: Int32 = -1
    var uploadPath = ""
    var uploadSize: Int64 = 0
    private var uploadOffset: Int64 = 0

    /// A failure of our own (file I/O, limits) that made a callback abort the transfer.
    private(set) var error: Error?

    init(downloadPath: String?, memoryLimit: Int) {
        self.downloadPath = downloadPath
        self.memoryLimit = memoryLimit
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        if fd >= 0 { close(fd) }
        if uploadFD >= 0 { close(uploadFD) }
        errorBuffer.deallocate()
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    func cancel() { cancelled.store(true, ordering: .relaxed) }

    var errorMessage: String? {
        let s = String(cString: errorBuffer)
        return s.isEmpty ? nil : s
    }

    func startHop(method: String) {
        self.method = method
        status = 0
        headers = [:]
        body = []
        uploadBytes = []
        uploadOffset = 0
        uploadSize = 0
        errorBuffer[0] = 0
    }

    func endHop() {
        if uploadFD >= 0 { close(uploadFD) }
        uploadFD = -1
        uploadBytes = []
    }

    /// After a complete exchange: a 2xx download without a body still yields an (empty) file.
    func finishHop() throws {
        guard let path = downloadPath, (200..<300).contains(status), method != "HEAD" else { return }
        if fd < 0 { try openFile(path) }
        close(fd)
        fd = -1
    }

    func response(url: URL) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: body, url: url)
    }

    func takeDigest() -> Digest? { hasher.take()?.finalize() }

    func discardFile() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if createdFile, let p = downloadPath { unlink(p) }
        createdFile = false
    }

    private func openFile(_ path: String) throws {
        let f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw OCIWriterError.sys("cannot create download file", path: path) }
        fd = f
        createdFile = true
        hasher = SHA256Hasher()
        written = 0
    }

    /// One header line; a status line starts a new response (1xx interim answers are replaced).
    func receiveHeader(_ line: UnsafeRawBufferPointer) {
        var end = line.count
        while end > 0 && (line[end - 1] == 0x0A || line[end - 1] == 0x0D) { end -= 1 }
        guard end > 0 else { return }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[..<end]), as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            let parts = text.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
            body = []
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if let old = headers[name] { headers[name] = old + ", " + value } else { headers[name] = value }
    }

    /// Body bytes: a 2xx download goes to the file and the hasher; anything else is kept in memory, bounded.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let path = downloadPath, (200..<300).contains(status) {
            do {
                if fd < 0 { try openFile(path) }
                if let limit = downloadLimit, written + Int64(bytes.count) > limit {
                    throw OCIWriterError(.limitExceeded, "download body exceeds \(limit) bytes", path: path)
                }
                hasher!.update(bytes)
                try LayoutIO.writeAll(fd, bytes, path: path)
                written += Int64(bytes.count)
                return true
            } catch {
                self.error = error
                return false
            }
        }
        if body.count + bytes.count > memoryLimit {
            // Error answers of downloads and redirect bodies are only kept for diagnostics: truncate them.
            if downloadPath != nil || (300..<400).contains(status) {
                body.append(contentsOf: bytes.prefix(max(0, memoryLimit - body.count)))
                return true
            }
            error = OCIWriterError(.limitExceeded, "response body (HTTP \(status)) exceeds \(memoryLimit) bytes")
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Fills libcurl's upload buffer from the request body; 0 at the end.
    func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let want = Int(min(Int64(buffer.count), uploadSize - uploadOffset))
        guard want > 0 else { return 0 }
        if uploadFD >= 0 {
            while true {
                let n = pread(uploadFD, buffer.baseAddress, want, off_t(uploadOffset))
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    error = OCIWriterError.sys("cannot read file for upload", path: uploadPath)
                    return ociforge_curl_readfunc_abort()
                }
                if n == 0 {
                    error = OCIWriterError(
                        .io, "file shrank during upload (expected \(uploadSize) bytes)", path: uploadPath)
                    return ociforge_curl_readfunc_abort()
                }
                uploadOffset += Int64(n)
                return n
            }
        }
        uploadBytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + Int(uploadOffset), byteCount: want)
        }
        uploadOffset += Int64(want)
        return want
    }

}
