import Foundation
import Testing

@testable import OCIWriter

/// Header-level checks (a full 8 GiB stream takes ~30 s in a debug build: the size record is checked here on
/// the header the writer emits for such a file, parsed by Python's tarfile).
@Suite struct LayerTarHeaderTests {
    /// Parses the first member of `headerBytes` (data need not follow: tarfile reads lazily in stream mode).
    static func parseFirst(_ headerBytes: [UInt8]) throws -> [String: Any] {
        let dir = try LayerTempDir("hdr")
        try LayerFS.bytes(dir.sub("h.tar"), headerBytes)
        let script = """
            import tarfile, json, sys
            tf = tarfile.open(sys.argv[1], 'r|')
            m = tf.next()
            enc = lambda s: s.encode('utf-8', 'surrogateescape').hex()
            print(json.dumps(dict(name=enc(m.name), size=m.size, uid=m.uid, gid=m.gid, mtime=int(m.mtime), type=m.type.decode(),
                  linkname=enc(m.linkname), pax=sorted(m.pax_headers.keys()))))
            """
        let r = layerRun(["/usr/bin/env", "python3", "-c", script, dir.sub("h.tar")])
        try #require(r.status == 0, "\(r.stderr)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    @Test func largeFileGetsPaxSize() throws {
        let size: Int64 = 8 * 1024 * 1024 * 1024 + 1
        let h = try TarHeader.encode(
            TarEntry(path: Array("big/file".utf8), kind: .regular(size: size), mode: 0o644, uid: 0, gid: 0, mtime: 0))
        #expect(h.count == 3 * 512)  // PAX header + one record block + ustar header
        let text = String(decoding: h, as: UTF8.self)
        #expect(text.contains("19 size=8589934593\n"))
        let m = try Self.parseFirst(h)
        #expect(m["size"] as? Int == Int(size))
        #expect(m["pax"] as? [String] == ["size"])
        // Exactly at the ustar limit no PAX record is needed.
        let edge = try TarHeader.encode(
            TarEntry(
                path: Array("f".utf8), kind: .regular(size: TarHeader.maxOctal11), mode: 0o644, uid: 0, gid: 0, mtime: 0
            ))
        #expect(edge.count == 512)
    }

    @Test func bigIdsLongLinksAndFarMtimes() throws {
        let target = Array(String(repeating: "t/", count: 80).utf8)
        let h = try TarHeader.encode(
            TarEntry(
                path: Array("l".utf8), kind: .symlink(target: target), mode: 0o777,
                uid: 3_000_000, gid: 2_097_151, mtime: 0o77777777777 + 1))
        let m = try Self.parseFirst(h)
        #expect(m["uid"] as? Int == 3_000_000 && m["gid"] as? Int == 2_097_151)
        #expect(m["pax"] as? [String] == ["linkpath", "mtime", "uid"])
        #expect(layerUnhex(m["linkname"] as! String) == target)
        #expect(m["mtime"] as? Int == 0o77777777777 + 1)
    }

    @Test func paxRecordLengthCountsItself() {
        // "9 a=bcd\n" is 8 bytes; a record whose digits roll over must still count itself exactly.
        #expect(TarHeader.paxRecord(key: Array("a".utf8), value: Array("b".utf8)) == Array("6 a=b\n".utf8))
        for n in 0..<200 {
            let r = TarHeader.paxRecord(key: Array("k".utf8), value: [UInt8](repeating: 0x41, count: n))
            let space = r.firstIndex(of: 0x20)!
            #expect(Int(String(decoding: r[..<space], as: UTF8.self)) == r.count)
        }
    }

    @Test func ustarFieldsAreDeterministic() throws {
        let h = try TarHeader.encode(
            TarEntry(path: Array("dir".utf8), kind: .directory, mode: 0o2755, uid: 1, gid: 2, mtime: 1_700_000_000))
        #expect(h.count == 512)
        #expect(Array(h[0..<4]) == Array("dir/".utf8))
        #expect(String(decoding: h[100..<107], as: UTF8.self) == "0002755")
        #expect(
            String(decoding: h[257..<263], as: UTF8.self) == "ustar\0"
                && String(decoding: h[263..<265], as: UTF8.self) == "00")
        #expect(h[265..<329].allSatisfy { $0 == 0 })  // uname, gname empty
        #expect(String(decoding: h[329..<336], as: UTF8.self) == "0000000" && h[336] == 0)  // devmajor 0
        #expect(h[156] == UInt8(ascii: "5"))
        var sum = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        #expect(Int(String(decoding: h[148..<154], as: UTF8.self), radix: 8) == sum)
    }

    @Test func ustarSplitVersusPax() {
        let exact = Array((String(repeating: "p", count: 155) + "/" + String(repeating: "n", count: 100)).utf8)
        let split = TarHeader.splitUstar(exact)
        #expect(split?.0.count == 155 && split?.1.count == 100)
        #expect(TarHeader.splitUstar(Array(String(repeating: "x", count: 101).utf8)) == nil)
        #expect(TarHeader.splitUstar(Array((String(repeating: "p", count: 156) + "/n").utf8)) == nil)
    }
}
