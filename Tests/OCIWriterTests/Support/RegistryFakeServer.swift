import Foundation

@testable import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny in-process HTTP/1.1 server (one thread per connection, `Connection: close`) for protocol cases a real
/// registry cannot produce on demand: 416 and short chunk acceptance, redirects to another host.
final class FakeHTTPServer: @unchecked Sendable {
    struct Request {
        var method: String
        var path: String
        var headers: [String: String]
        var body: [UInt8]
        func header(_ n: String) -> String? { headers[n.lowercased()] }
    }
    struct Response {
        var status: Int
        var headers: [String: String] = [:]
        var body: [UInt8] = []
    }

    let port: Int
    private let fd: Int32
    private let handler: @Sendable (Request) -> Response
    private let lock = NSLock()
    private var stopped = false

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw OCIWriterError.sys("socket") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(s, sa, len) == 0 && listen(s, 64) == 0 && getsockname(s, sa, &len) == 0
            }
        }
        guard ok else {
            close(s)
            throw OCIWriterError.sys("bind/listen")
        }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if lock.withLock({ stopped }) { return }
                if errno == EINTR { continue }
                return
            }
            let t = Thread { [self] in serve(c) }
            t.start()
        }
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress!, 65536, 0) }
            if n <= 0 { return false }
            buf += chunk[0..<n]
            return true
        }
        let sep: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            if let r = buf.firstRange(of: sep) {
                headerEnd = r.lowerBound
                break
            }
            if !fill() { return }
        }
        let head = String(decoding: buf[0..<headerEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let first = lines.removeFirst().split(separator: " ")
        guard first.count >= 2 else { return }
        var headers: [String: String] = [:]
        for l in lines {
            if let i = l.firstIndex(of: ":") {
                headers[l[..<i].lowercased()] = l[l.index(after: i)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = Array(buf[(headerEnd! + 4)...])
        if headers["expect"]?.lowercased() == "100-continue" {
            _ = "HTTP/1.1 100 Continue\r\n\r\n".utf8CString.withUnsafeBufferPointer {
                send(c, $0.baseAddress!, $0.count - 1, Int32(MSG_NOSIGNAL))
            }
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < length {
            buf = []
            if !fill() { return }
            body += buf
        }
        let req = Request(
            method: String(first[0]), path: String(first[1]), headers: headers, body: Array(body.prefix(length)))
        var resp = handler(req)
        resp.headers["Content-Length"] = String(resp.body.count)
        resp.headers["Connection"] = "close"
        var out = "HTTP/1.1 \(resp.status) X\r\n"
        for (k, v) in resp.headers { out += "\(k): \(v)\r\n" }
        out += "\r\n"
        let bytes = Array(out.utf8) + (req.method == "HEAD" ? [] : resp.body)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(c, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }
}
