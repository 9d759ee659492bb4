@testable import OCIWriter

/// Registry authentication input: up to the first newline a `WWW-Authenticate` header value, after it a token
/// server's JSON reply (also given to the registry error body summariser).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let all = Array(UnsafeBufferPointer(start: data, count: size))
    let half = all.firstIndex(of: 0x0a) ?? all.count
    let header = String(decoding: all[..<half], as: UTF8.self)
    if let ch = AuthChallenge(header: header) {
        _ = ch.params["realm"]
    }
    let body = Array(all[min(half + 1, all.count)...])
    _ = TokenResponse(json: body)
    _ = TokenResponse(json: all)
    _ = RegistryErrorBody.summary(body)
    return 0
}
