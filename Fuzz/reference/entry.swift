import OCIWriter

/// Image references (`registry/repo:tag@digest`), transport locations (`docker://`, `oci-layout:`,
/// `docker-archive:`), digests and platforms: parse, and a parsed value must print back to something that parses
/// to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let s = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let r = try? ImageReference(parsing: s) {
        guard let again = try? ImageReference(parsing: r.description), again == r else {
            fatalError(
                "ImageReference round trip failed for \(s.debugDescription) -> \(r.description.debugDescription)")
        }
    }
    _ = try? ImageLocation(parsing: s)
    _ = try? Digest(s)
    _ = try? Platform(parsing: s)
    return 0
}
