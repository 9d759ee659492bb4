import Testing

@testable import OCIWriter

@Suite struct FileCapabilitiesTests {
    static let mapping = IDMapping(
        uids: [.init(containerID: 0, hostID: 1_000_000_000, count: 65536)],
        gids: [.init(containerID: 0, hostID: 1_000_000_000, count: 65536)])

    /// cap_net_bind_service+ep as the kernel stores it for a file set inside a namespace rooted at host uid 1e9.
    static func v3(rootid: UInt32) -> [UInt8] {
        var b: [UInt8] = [0x01, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        for k in 0..<4 { b.append(UInt8((rootid >> (8 * UInt32(k))) & 0xFF)) }
        return b
    }

    @Test func v3WithNamespaceRootBecomesV2() throws {
        let out = try FileCapabilities.containerValue(
            Self.v3(rootid: 1_000_000_000), mapping: Self.mapping, path: "bin/ping")
        #expect(out == [0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func v3WithOtherMappedRootKeepsV3() throws {
        let out = try FileCapabilities.containerValue(Self.v3(rootid: 1_000_001_000), mapping: Self.mapping, path: "x")
        #expect(out == Self.v3(rootid: 1000))
    }

    @Test func unmappedRootIsAnError() {
        #expect(throws: OCIWriterError.self) {
            try FileCapabilities.containerValue(Self.v3(rootid: 5), mapping: Self.mapping, path: "x")
        }
    }

    @Test func v2AndMalformedValues() throws {
        let v2: [UInt8] = [0x01, 0x00, 0x00, 0x02] + [UInt8](repeating: 0, count: 16)
        #expect(try FileCapabilities.containerValue(v2, mapping: Self.mapping, path: "x") == v2)
        #expect(throws: OCIWriterError.self) {
            try FileCapabilities.containerValue([0x01, 0x00, 0x00, 0x03, 0, 0], mapping: Self.mapping, path: "x")
        }
    }
}
