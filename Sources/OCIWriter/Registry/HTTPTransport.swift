import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import CCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Body of an HTTP request. Files are streamed from disk, never loaded whole.
public enum HTTPBody: Sendable {
    case none
    case bytes([UInt8])
    case file(String)
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [String: String]
    public var body: HTTPBody

    public init(method: String, url: URL, headers: [String: String] = [:], body: HTTPBody = .none) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    /// The body when it was collected in memory (error bodies, manifests, tokens); empty for file downloads.
    public var body: [UInt8]
    /// The URL that answered (after redirects).
    public var url: URL

    public init(status: Int, headers: [String: String], body: [UInt8], url: URL) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Outcome of a streamed download: the response, and for a 2xx answer the sha256 and size of what was written.
public struct DownloadResult: Sendable {
    public var response: HTTPResponse
    public var digest: Digest?
    public var size: Int64
}

/// The small HTTP surface the registry client needs; tests may substitute their own.
public protocol HTTPTransport: Sendable {
    /// Sends `request`; the response body is collected in memory up to `maxBodyBytes` (more is an error).
    func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws -> HTTPResponse
    /// Sends `request`; a 2xx body is streamed to a new file at `path` and hashed while written.
    /// Other bodies are collected in memory (bounded) for error reporting and nothing is written.
    func download(_ request: HTTPRequest, to path: String) async throws -> DownloadResult
}

/// `HTTPTransport` over FoundationNetworking's URLSession (libcurl on Linux).
///
/// - `Authorization` is removed when a redirect leads to another host (URLSession on Linux keeps it otherwise).
/// - Request bodies from files are streamed from disk (`httpBodyStream`).
/// - Download bodies are written to disk chunk by chunk from the data delegate and hashed on the way.
public final class URLSessionTransport: HTTPTransport, @unchecked Sendable {
    private let session: URLSession
    private let delegate: SessionDelegate
    /// Seconds without progress before a request fails.
    public let timeout: TimeInterval

    public init(timeout: TimeInterval = 60, maxConnectionsPerHost: Int = 8) {
        let config = URLSessionConfiguration.ephemeral
        config.httpMaximumConnectionsPerHost = maxConnectionsPerHost
        config.timeoutIntervalForRequest = timeout
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.urlCache = nil
        config.httpCookieStorage = nil
        config.httpShouldSetCookies = false
        let delegate = SessionDelegate()
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        self.delegate = delegate
        self.timeout = timeout
        self.session = URLSession(configuration: config, delegate: delegate, delegateQueue: queue)
    }

    deinit { session.invalidateAndCancel() }

    public func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws -> HTTPResponse {
        let handler = TaskHandler(filePath: nil, memoryLimit: maxBodyBytes)
        try await run(request, handler)
        return handler.result(url: request.url)
    }

    public func download(_ request: HTTPRequest, to path: String) async throws -> DownloadResult {
        let handler = TaskHandler(filePath: path, memoryLimit: 1 << 20)
        do {
            try await run(request, handler)
        } catch {
            handler.discardFile()
            throw error
        }
        var response = handler.result(url: request.url)
        if (200..<300).contains(response.status) {
            guard handler.downloaded else {
                throw OCIWriterError(.network, "download from \(request.url.host ?? "?") ended without a body file")
            }
            let (digest, size) = try await offPool { try Self.hashFile(path) }
            return DownloadResult(response: response, digest: digest, size: size)
        }
        if handler.downloaded {
            response.body = (try? LayoutIO.readFile(path, limit: 1 << 20)) ?? []
            unlink(path)
        }
        return DownloadResult(response: response, digest: nil, size: 0)
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

    static func hashFile(_ path: String) throws -> (Digest, Int64) {
        let fd = try LayoutIO.openRegularFile(path)
        defer { close(fd) }
        var hasher = SHA256Hasher()
        var total: Int64 = 0
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = try LayoutIO.read(fd, into: buf, path: path)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buf[..<n]))
            total += Int64(n)
        }
        // No fsync here: the store makes the blob durable when it moves it into place.
        return (hasher.finalize(), total)
    }

    private func run(_ request: HTTPRequest, _ handler: TaskHandler) async throws {
        if Self.debug { FileHandle.standardError.write(Data("> \(request.method) \(Self.redacted(request.url))\n".utf8)) }
        defer {
            if Self.debug { FileHandle.standardError.write(Data("< \(handler.status) \(request.method) \(Self.redacted(request.url)) \(handler.error.map { "\($0)" } ?? "")\n".utf8)) }
        }
        var r = URLRequest(url: request.url)
        r.httpMethod = request.method
        r.timeoutInterval = timeout
        for (k, v) in request.headers { r.setValue(v, forHTTPHeaderField: k) }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, Error>) in
                handler.continuation = cont
                let task: URLSessionTask
                switch request.body {
                case .none where handler.filePath != nil:
                    // URLSession writes download bodies to its own file synchronously as they arrive (bounded
                    // memory); data-delegate delivery queues chunks without backpressure.
                    task = session.downloadTask(with: r)
                case .none:
                    task = session.dataTask(with: r)
                case .bytes(let b):
                    if request.method == "GET" || request.method == "HEAD" {
                        task = session.dataTask(with: r)
                    } else {
                        task = session.uploadTask(with: r, from: Data(b))
                    }
                case .file(let p):
                    // A fresh stream per request (a retry re-reads the file). Measured on loopback: about twice
                    // the throughput of uploadTask(with:fromFile:) and less memory; the caller sets Content-Length.
                    guard let stream = InputStream(fileAtPath: p) else {
                        handler.error = OCIWriterError(.io, "cannot open file for upload", path: p)
                        handler.continuation = nil
                        cont.resume()
                        return
                    }
                    var rs = r
                    rs.httpBodyStream = stream
                    task = session.dataTask(with: rs)
                }
                handler.task = task
                delegate.register(task, handler)
                task.resume()
            }
        } onCancel: {
            handler.cancel()
        }
        if let error = handler.error { throw error }
    }
}

/// Per-task state, touched from the session's serial delegate queue (and read after completion).
final class TaskHandler: @unchecked Sendable {
    let filePath: String?
    let memoryLimit: Int
    var continuation: CheckedContinuation<Void, Error>?
    var task: URLSessionTask?
    var status = 0
    var headers: [String: String] = [:]
    var finalURL: URL?
    var body: [UInt8] = []
    var fd: Int32 = -1
    var written: Int64 = 0
    var ctx: OpaquePointer?
    var error: Error?
    private let lock = NSLock()

    init(filePath: String?, memoryLimit: Int) {
        self.filePath = filePath
        self.memoryLimit = memoryLimit
    }

    deinit {
        if fd >= 0 { close(fd) }
        if let ctx { EVP_MD_CTX_free(ctx) }
    }

    var cancelledByCaller = false
    /// The download task's body file was moved to `filePath`.
    var downloaded = false

    /// Takes URLSession's temporary body file (it is deleted when the callback returns).
    func finishedDownload(at location: URL) {
        guard let path = filePath else { return }
        if rename(location.path, path) == 0 {
            downloaded = true
            return
        }
        if errno == EXDEV {
            do {
                try FileManager.default.copyItem(atPath: location.path, toPath: path)
                downloaded = true
            } catch {
                self.error = OCIWriterError(.io, "cannot move the downloaded body: \(error)", path: path)
            }
        } else {
            self.error = OCIWriterError.sys("cannot move the downloaded body into place", path: path)
        }
    }

    /// Status and headers of a download task (which gets no data-task response callback).
    func takeResponse(of task: URLSessionTask) {
        guard status == 0, let http = task.response as? HTTPURLResponse else { return }
        status = http.statusCode
        finalURL = http.url
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
    }

    func cancel() {
        let t: URLSessionTask? = lock.withLock { cancelledByCaller = true; return task }
        t?.cancel()
    }

    func receive(response: URLResponse) -> Bool {
        guard let http = response as? HTTPURLResponse else {
            error = OCIWriterError(.network, "non-HTTP response from \(response.url?.host ?? "?")")
            return false
        }
        status = http.statusCode
        finalURL = http.url
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
        if let path = filePath, (200..<300).contains(status) {
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd < 0 {
                error = OCIWriterError.sys("cannot create download file", path: path)
                return false
            }
            ctx = EVP_MD_CTX_new()
            EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        }
        return true
    }

    func receive(data: Data) -> Bool {
        if fd >= 0 {
            let ok: Bool = data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return true }
                EVP_DigestUpdate(ctx, base, raw.count)
                var off = 0
                while off < raw.count {
                    let n = write(fd, base + off, raw.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    off += n
                }
                return true
            }
            if !ok {
                error = OCIWriterError.sys("cannot write download file", path: filePath)
                return false
            }
            written += Int64(data.count)
        } else {
            if body.count + data.count > memoryLimit {
                error = OCIWriterError(.limitExceeded, "response body from \(finalURL?.host ?? "registry") exceeds \(memoryLimit) bytes")
                return false
            }
            body.append(contentsOf: data)
        }
        return true
    }

    func complete(_ err: Error?) {
        if error == nil, let err {
            let ns = err as NSError
            let host = task?.originalRequest?.url.map { u in u.host.map { h in u.port.map { "\(h):\($0)" } ?? h } ?? "?" } ?? "?"
            if ns.code == NSURLErrorCancelled && status == 401 && !lock.withLock({ cancelledByCaller }) {
                // The 401 of a Basic challenge, which the delegate rejects (see SessionDelegate): the response
                // was delivered, only the body is lost. The caller handles the challenge itself.
                error = nil
            } else if ns.code == NSURLErrorCancelled {
                error = CancellationError()
            } else if ns.code == NSURLErrorTimedOut {
                error = OCIWriterError(.network, "request to \(host) timed out (no progress)")
            } else {
                error = OCIWriterError(.network, "connection to \(host) failed: \(ns.localizedDescription) (URLError \(ns.code))")
            }
        }
        if fd >= 0 {
            if error == nil, fsync(fd) != 0 {
                error = OCIWriterError.sys("cannot sync download file", path: filePath)
            }
            close(fd)
            fd = -1
        }
        let c = continuation
        continuation = nil
        c?.resume()
    }

    func discardFile() {
        if let p = filePath, ctx != nil || downloaded { unlink(p) }
    }

    func finishHash() -> Digest? {
        guard let ctx else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &len) }
        return Digest(sha256Bytes: out)
    }

    func result(url: URL) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: body, url: finalURL ?? url)
    }
}

final class SessionDelegate: NSObject, URLSessionDataDelegate, URLSessionDownloadDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var handlers: [Int: TaskHandler] = [:]

    func register(_ task: URLSessionTask, _ handler: TaskHandler) {
        lock.withLock { handlers[task.taskIdentifier] = handler }
    }

    private func handler(_ task: URLSessionTask) -> TaskHandler? { lock.withLock { handlers[task.taskIdentifier] } }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let h = handler(dataTask) else { return completionHandler(.cancel) }
        completionHandler(h.receive(response: response) ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let h = handler(dataTask) else { return }
        if !h.receive(data: data) { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let h = lock.withLock { handlers.removeValue(forKey: task.taskIdentifier) }
        h?.takeResponse(of: task)
        h?.complete(error)
    }

    func urlSession(_ session: URLSession, downloadTask: URLSessionDownloadTask, didFinishDownloadingTo location: URL) {
        handler(downloadTask)?.takeResponse(of: downloadTask)
        handler(downloadTask)?.finishedDownload(at: location)
    }

    /// URLSession on Linux stops (never completes the task) at a 401 Basic challenge unless the delegate answers;
    /// rejecting it ends the task after the 401 response was delivered. Authentication is done by
    /// `RegistryAuthenticator`, never by URLSession.
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        completionHandler(.rejectProtectionSpace, nil)
    }

    /// Redirects keep `Authorization` only when they stay on the same scheme, host and port.
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        var r = request
        let from = task.originalRequest?.url ?? response.url
        if !RedirectPolicy.sameOrigin(from, request.url) {
            r.setValue(nil, forHTTPHeaderField: "Authorization")
        }
        completionHandler(r)
    }
}

enum RedirectPolicy {
    static func sameOrigin(_ a: URL?, _ b: URL?) -> Bool {
        guard let a, let b else { return false }
        func port(_ u: URL) -> Int { u.port ?? (u.scheme?.lowercased() == "https" ? 443 : 80) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
            && port(a) == port(b)
    }
}
