@testable import OCIWriter

/// Registry/layout JSON documents: decoded as manifest, index and image config (canonical decoder); whatever
/// decodes must re-encode and decode to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    check(Manifest.self, bytes)
    check(ImageIndex.self, bytes)
    check(ImageConfig.self, bytes)
    check(Descriptor.self, bytes)
    return 0
}

func check<T: Codable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) {
    guard let value = try? CanonicalJSON.decode(type, from: bytes, source: "fuzz") else { return }
    guard let encoded = try? CanonicalJSON.encode(value) else { fatalError("\(T.self) decoded but does not encode") }
    guard let again = try? CanonicalJSON.decode(type, from: encoded, source: "fuzz"), again == value else {
        fatalError("\(T.self) does not round-trip: \(String(decoding: encoded, as: UTF8.self))")
    }
}
