/// `security.capability` values as seen from inside a user namespace.
///
/// A file capability set inside a user namespace is stored by the kernel as a v3 value
/// (`struct vfs_ns_cap_data`: magic, two permitted/inheritable pairs, rootid) whose rootid is the *host* uid of the
/// namespace's root. Copied into a layer unchanged, it would name e.g. uid 1000000000 as the root that the
/// capability applies to, which no container runtime matches. Read from inside the namespace the kernel would show a
/// v2 value; this converts the host view to that.
enum FileCapabilities {
    static let xattrName = Array("security.capability".utf8)
    private static let revisionMask: UInt32 = 0xFF00_0000
    private static let revision2: UInt32 = 0x0200_0000
    private static let revision3: UInt32 = 0x0300_0000

    /// The value to record for a file whose owners are mapped through `mapping`. v1/v2 values are returned as they
    /// are; a v3 value whose rootid maps to container root becomes the equivalent v2 value; a v3 value with another
    /// mapped rootid keeps v3 with the container rootid; an unmapped rootid is an error naming the file.
    static func containerValue(_ value: [UInt8], mapping: IDMapping, path: String) throws -> [UInt8] {
        guard value.count >= 4 else { return value }
        let magic = le32(value, 0)
        guard magic & revisionMask == revision3 else { return value }
        guard value.count == 24 else {
            throw OCIWriterError(
                .layerWrite, "malformed security.capability (v3 value of \(value.count) bytes, expected 24)", path: path
            )
        }
        let hostRoot = le32(value, 20)
        guard let containerRoot = mapping.containerUID(forHost: hostRoot) else {
            throw OCIWriterError(
                .layerWrite,
                "security.capability names root uid \(hostRoot), which is not mapped into the user namespace",
                path: path)
        }
        if containerRoot == 0 {
            var v2 = value[0..<20].map { $0 }
            put32(&v2, 0, revision2 | (magic & ~revisionMask))
            return v2
        }
        var v3 = value
        put32(&v3, 20, containerRoot)
        return v3
    }

    private static func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    private static func put32(_ b: inout [UInt8], _ i: Int, _ v: UInt32) {
        for k in 0..<4 { b[i + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) }
    }
}
