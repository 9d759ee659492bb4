import Foundation

@testable import OCIWriter

/// An in-process registry that implements the distribution-spec 1.1 referrers API (Debian's docker-registry does
/// not): blobs (monolithic uploads), manifests by tag and digest, `OCI-Subject` on manifest PUTs that carry a
/// subject, and `GET /v2/<name>/referrers/<digest>[?artifactType=]`.
final class ReferrersFakeRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var blobs: [String: [UInt8]] = [:]
    private var manifests: [String: (bytes: [UInt8], type: String)] = [:]  // "repo@digest" and "repo:tag"
    private var subjects: [String: [Descriptor]] = [:]  // "repo@subject" → referrers
    private(set) var referrerRequests = 0
    /// When set, referrers are answered this many per page with `Link: <…>; rel="next"`.
    var pageSize: Int? {
        get { lock.withLock { _pageSize } }
        set { lock.withLock { _pageSize = newValue } }
    }
    private var _pageSize: Int?
    private var server: FakeHTTPServer!

    var host: String { "127.0.0.1:\(server.port)" }

    init() throws {
        server = try FakeHTTPServer { [unowned self] req in self.handle(req) }
    }

    func stop() { server.stop() }

    /// Tags present in `repo`.
    func tags(_ repo: String) -> [String] {
        lock.withLock {
            manifests.keys.filter { $0.hasPrefix(repo + ":") }.map { String($0.dropFirst(repo.count + 1)) }.sorted()
        }
    }

    private func handle(_ r: FakeHTTPServer.Request) -> FakeHTTPServer.Response {
        var path = r.path, query = ""
        if let q = path.firstIndex(of: "?") {
            query = String(path[path.index(after: q)...])
            path = String(path[..<q])
        }
        if path == "/v2/" { return .init(status: 200) }
        func split(_ marker: String) -> (String, String)? {
            guard let m = path.range(of: marker) else { return nil }
            return (
                String(path[path.index(path.startIndex, offsetBy: 4)..<m.lowerBound]), String(path[m.upperBound...])
            )
        }
        return lock.withLock {
            if let (repo, rest) = split("/blobs/uploads/") {
                if r.method == "POST" {
                    return .init(status: 202, headers: ["Location": "/v2/\(repo)/blobs/uploads/\(UUID().uuidString)"])
                }
                guard r.method == "PUT", let d = query.split(separator: "&").first(where: { $0.hasPrefix("digest=") })
                else { return .init(status: 400) }
                let digest = String(d.dropFirst(7)).removingPercentEncoding ?? ""
                guard Digest.of(r.body).string == digest else {
                    return .init(status: 400, body: Array(#"{"errors":[{"code":"DIGEST_INVALID"}]}"#.utf8))
                }
                _ = rest
                blobs[digest] = r.body
                return .init(status: 201, headers: ["Docker-Content-Digest": digest])
            }
            if let (_, digest) = split("/blobs/") {
                guard let b = blobs[digest] else { return .init(status: 404) }
                return .init(status: 200, body: b)
            }
            if let (repo, subject) = split("/referrers/") {
                referrerRequests += 1
                var list = subjects["\(repo)@\(subject)"] ?? []
                var headers = ["Content-Type": MediaType.ociIndex.rawValue]
                if let t = query.split(separator: "&").first(where: { $0.hasPrefix("artifactType=") }) {
                    let want = String(t.dropFirst(13)).removingPercentEncoding ?? ""
                    list = list.filter { $0.artifactType?.rawValue == want }
                    headers["OCI-Filters-Applied"] = "artifactType"
                }
                if let size = _pageSize {
                    let page =
                        query.split(separator: "&").first { $0.hasPrefix("page=") }.flatMap { Int($0.dropFirst(5)) }
                        ?? 0
                    if (page + 1) * size < list.count {
                        let q = (query.split(separator: "&").filter { !$0.hasPrefix("page=") } + ["page=\(page + 1)"])
                            .joined(separator: "&")
                        headers["Link"] = "</v2/\(repo)/referrers/\(subject)?\(q)>; rel=\"next\""
                    }
                    list = Array(list.dropFirst(page * size).prefix(size))
                }
                return .init(
                    status: 200, headers: headers, body: try! CanonicalJSON.encode(ImageIndex(manifests: list)))
            }
            if let (repo, ref) = split("/manifests/") {
                let key = ref.hasPrefix("sha256:") ? "\(repo)@\(ref)" : "\(repo):\(ref)"
                if r.method == "PUT" {
                    let digest = Digest.of(r.body)
                    let type = r.header("content-type") ?? ""
                    manifests[key] = (r.body, type)
                    manifests["\(repo)@\(digest)"] = (r.body, type)
                    var headers = ["Docker-Content-Digest": digest.string]
                    if let m = try? CanonicalJSON.decode(Manifest.self, from: r.body, source: "put"), let s = m.subject
                    {
                        let entry = Descriptor(
                            mediaType: MediaType(type), digest: digest, size: Int64(r.body.count),
                            annotations: m.annotations, artifactType: m.artifactType ?? m.config.mediaType)
                        subjects["\(repo)@\(s.digest)", default: []].removeAll { $0.digest == digest }
                        subjects["\(repo)@\(s.digest)", default: []].append(entry)
                        headers["OCI-Subject"] = s.digest.string
                    }
                    return .init(status: 201, headers: headers)
                }
                guard let m = manifests[key] else {
                    return .init(status: 404, body: Array(#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#.utf8))
                }
                return .init(
                    status: 200, headers: ["Content-Type": m.type, "Docker-Content-Digest": Digest.of(m.bytes).string],
                    body: m.bytes)
            }
            return .init(status: 404)
        }
    }
}
