@testable import OCIWriter

/// Registry authentication input: the first half of the bytes is a `WWW-Authenticate` header value, the second
/// a token server's JSON reply; also the registry error body summariser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let all = Array(UnsafeBufferPointer(start: data, count: size))
    let half = all.count / 2
    let header = String(decoding: all[..<half], as: UTF8.self)
    if let ch = AuthChallenge(header: header) {
        _ = ch.params["realm"]
    }
    let body = Array(all[half...])
    _ = TokenResponse(json: body)
    _ = TokenResponse(json: all)
    _ = RegistryErrorBody.summary(all)
    return 0
}
