import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A small HTTP/1.1 file server on 127.0.0.1 (free port, one thread per connection, `Connection: close`) serving
/// files from memory or from a directory, counting requests per path. `truncate` serves a file's full
/// `Content-Length` but closes after half the body (a dropped connection a static server cannot produce on demand).
final class LoopbackServer: Sendable {
    struct State {
        var files: [String: [UInt8]] = [:]
        var directory: String?
        var counts: [String: Int] = [:]
        var truncate: Set<String> = []
    }

    let port: Int
    private let fd: Int32
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)

    var base: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, len) == 0 && listen(s, 64) == 0 && getsockname(s, $0, &len) == 0
            }
        }
        guard s >= 0, ok else { throw POSIXError(.EADDRNOTAVAIL) }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    /// Idempotent (a second close could hit a descriptor number reused meanwhile).
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// Serves `bytes` at `path` (which may include a query string).
    func put(_ path: String, _ bytes: [UInt8]) { state.withLock { $0.files[path] = bytes } }
    func put(_ path: String, _ text: String) { put(path, Array(text.utf8)) }
    func body(_ path: String) -> [UInt8]? { state.withLock { $0.files[path] } }
    func remove(_ path: String) { state.withLock { _ = $0.files.removeValue(forKey: path) } }
    /// Serves files below `dir` for paths not given with `put`.
    func serveDirectory(_ dir: String) { state.withLock { $0.directory = dir } }
    func truncate(_ path: String) { state.withLock { _ = $0.truncate.insert(path) } }
    func count(_ path: String) -> Int { state.withLock { $0.counts[path] ?? 0 } }
    var totalRequests: Int { state.withLock { $0.counts.values.reduce(0, +) } }
    func resetCounts() { state.withLock { $0.counts = [:] } }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue } else { return } }
            Thread { [self] in serve(c) }.start()
        }
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while buf.firstRange(of: [13, 10, 13, 10]) == nil {
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return }
            buf += chunk[0..<n]
        }
        let line = String(decoding: buf.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        guard line.count >= 2 else { return }
        let path = String(line[1])
        let (memory, dir, cut) = state.withLock { s -> ([UInt8]?, String?, Bool) in
            s.counts[path, default: 0] += 1
            return (s.files[path], s.directory, s.truncate.contains(path))
        }
        var body = memory
        if body == nil, let dir, !path.contains(".."), !path.contains("?"),
            let d = FileManager.default.contents(atPath: dir + (path.removingPercentEncoding ?? path))
        {
            body = [UInt8](d)
        }
        let status = body == nil ? "404 Not Found" : "200 OK"
        let payload = body ?? Array("not found\n".utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        send(c, Array(head.utf8))
        send(c, cut ? Array(payload.prefix(payload.count / 2)) : payload)
    }

    private func send(_ c: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(c, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            off += n
        }
    }
}
