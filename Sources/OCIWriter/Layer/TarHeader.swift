/// One entry of a layer tar, as recorded (owners already mapped, mtime already clamped).
struct TarEntry: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case regular(size: Int64)
        case directory
        case symlink(target: [UInt8])
        case hardlink(target: [UInt8])
        case fifo
        case charDevice(major: UInt32, minor: UInt32)
        case blockDevice(major: UInt32, minor: UInt32)
    }

    /// Layer path: relative, `/`-separated, no trailing `/` (directories get one in the header).
    var path: [UInt8]
    var kind: Kind
    /// Permission bits including setuid/setgid/sticky (07777).
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    /// Seconds since the epoch, >= 0.
    var mtime: Int64
    /// Sorted by name bytes.
    var xattrs: [(name: [UInt8], value: [UInt8])] = []

    static func == (a: TarEntry, b: TarEntry) -> Bool {
        a.path == b.path && a.kind == b.kind && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid
            && a.mtime == b.mtime && a.xattrs.map(\.name) == b.xattrs.map(\.name)
            && a.xattrs.map(\.value) == b.xattrs.map(\.value)
    }
}

/// ustar headers with PAX extended headers only where ustar cannot represent the entry.
enum TarHeader {
    static let blockSize = 512
    /// Largest value of an 11-digit octal field (size, mtime).
    static let maxOctal11: Int64 = 0o77777777777
    /// Largest value of a 7-digit octal field (uid, gid, devmajor, devminor).
    static let maxOctal7: UInt64 = 0o7777777
    /// Fixed name of every PAX extended header (deterministic; readers ignore it).
    static let paxHeaderName: [UInt8] = Array("PaxHeader".utf8)

    /// The header block(s) for `entry`: an optional PAX `x` header with its records, then the ustar header.
    static func encode(_ entry: TarEntry) throws -> [UInt8] {
        var records: [(key: [UInt8], value: [UInt8])] = []
        var name = entry.path
        if case .directory = entry.kind { name.append(0x2F) }

        // Name: ustar name, or prefix + name, or PAX `path`.
        var nameField: [UInt8] = []
        var prefixField: [UInt8] = []
        let ascii = name.allSatisfy { $0 < 0x80 }
        if ascii && name.count <= 100 {
            nameField = name
        } else if ascii, let (p, n) = splitUstar(name) {
            prefixField = p
            nameField = n
        } else {
            records.append((Array("path".utf8), name))
            nameField = Array(name.filter { $0 < 0x80 }.prefix(100))
        }

        var linkField: [UInt8] = []
        var size: Int64 = 0
        var type: UInt8
        var devMajor: UInt32 = 0, devMinor: UInt32 = 0
        switch entry.kind {
        case .regular(let s):
            type = 0x30
            size = s
        case .directory: type = 0x35
        case .symlink(let t), .hardlink(let t):
            if case .symlink = entry.kind { type = 0x32 } else { type = 0x31 }
            if t.count <= 100 && t.allSatisfy({ $0 < 0x80 }) {
                linkField = t
            } else {
                records.append((Array("linkpath".utf8), t))
                linkField = Array(t.filter { $0 < 0x80 }.prefix(100))
            }
        case .fifo: type = 0x36
        case .charDevice(let ma, let mi):
            type = 0x33
            devMajor = ma
            devMinor = mi
        case .blockDevice(let ma, let mi):
            type = 0x34
            devMajor = ma
            devMinor = mi
        }
        guard UInt64(devMajor) <= maxOctal7, UInt64(devMinor) <= maxOctal7 else {
            throw OCIWriterError(
                .layerWrite, "device number \(devMajor):\(devMinor) does not fit a tar header",
                path: String(decoding: entry.path, as: UTF8.self))
        }
        precondition(size >= 0 && entry.mtime >= 0)

        var sizeField = size
        if size > maxOctal11 {
            records.append((Array("size".utf8), Array(String(size).utf8)))
            sizeField = 0
        }
        var mtimeField = entry.mtime
        if entry.mtime > maxOctal11 {
            records.append((Array("mtime".utf8), Array(String(entry.mtime).utf8)))
            mtimeField = 0
        }
        var uidField = UInt64(entry.uid), gidField = UInt64(entry.gid)
        if uidField > maxOctal7 {
            records.append((Array("uid".utf8), Array(String(entry.uid).utf8)))
            uidField = 0
        }
        if gidField > maxOctal7 {
            records.append((Array("gid".utf8), Array(String(entry.gid).utf8)))
            gidField = 0
        }
        for x in entry.xattrs {
            records.append((Array("SCHILY.xattr.".utf8) + x.name, x.value))
        }
        let needsBinary = records.contains { r in
            (r.key == Array("path".utf8) || r.key == Array("linkpath".utf8)) && !isValidUTF8(r.value)
        }
        if needsBinary { records.append((Array("hdrcharset".utf8), Array("BINARY".utf8))) }

        var out: [UInt8] = []
        if !records.isEmpty {
            records.sort { $0.key.lexicographicallyPrecedes($1.key) }
            var body: [UInt8] = []
            for r in records { body += paxRecord(key: r.key, value: r.value) }
            out += ustar(
                name: paxHeaderName, prefix: [], mode: 0o644, uid: 0, gid: 0, size: Int64(body.count),
                mtime: 0, type: 0x78, link: [], devMajor: nil, devMinor: nil)
            out += body
            out += [UInt8](repeating: 0, count: padding(Int64(body.count)))
        }
        let isDevice: Bool
        switch entry.kind {
        case .charDevice, .blockDevice: isDevice = true
        default: isDevice = false
        }
        out += ustar(
            name: nameField, prefix: prefixField, mode: entry.mode & 0o7777, uid: uidField, gid: gidField,
            size: sizeField, mtime: mtimeField, type: type, link: linkField,
            devMajor: isDevice ? devMajor : nil, devMinor: isDevice ? devMinor : nil)
        return out
    }

    /// Zero bytes that pad `size` bytes of data to a whole block.
    static func padding(_ size: Int64) -> Int {
        let r = Int(size % Int64(blockSize))
        return r == 0 ? 0 : blockSize - r
    }

    /// One PAX record: `<len> <key>=<value>\n`, where len counts the whole record including its own digits.
    static func paxRecord(key: [UInt8], value: [UInt8]) -> [UInt8] {
        let rest = 1 + key.count + 1 + value.count + 1
        var len = rest + 1
        while String(len).utf8.count + rest != len { len = String(len).utf8.count + rest }
        return Array(String(len).utf8) + [0x20] + key + [0x3D] + value + [0x0A]
    }

    /// Splits an ASCII path longer than 100 bytes at a `/` into ustar prefix (<= 155) and name (<= 100).
    static func splitUstar(_ path: [UInt8]) -> ([UInt8], [UInt8])? {
        guard path.count <= 256 else { return nil }
        var i = min(155, path.count - 2)
        while i > 0 {
            if path[i] == 0x2F {
                let rest = path.count - i - 1
                if rest > 100 { return nil }
                if rest >= 1 { return (Array(path[0..<i]), Array(path[(i + 1)...])) }
            }
            i -= 1
        }
        return nil
    }

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func ustar(
        name: [UInt8], prefix: [UInt8], mode: UInt32, uid: UInt64, gid: UInt64, size: Int64,
        mtime: Int64, type: UInt8, link: [UInt8], devMajor: UInt32?, devMinor: UInt32?
    ) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (i, b) in bytes.prefix(width).enumerated() { h[offset + i] = b }
        }
        func octal(_ v: UInt64, at offset: Int, width: Int) {
            var digits = Array(String(v, radix: 8).utf8)
            if digits.count < width - 1 { digits = [UInt8](repeating: 0x30, count: width - 1 - digits.count) + digits }
            put(digits, at: offset, width: width - 1)
            h[offset + width - 1] = 0
        }
        put(name, at: 0, width: 100)
        octal(UInt64(mode), at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(UInt64(size), at: 124, width: 12)
        octal(UInt64(mtime), at: 136, width: 12)
        h[156] = type
        put(link, at: 157, width: 100)
        put(Array("ustar".utf8), at: 257, width: 6)
        put([0x30, 0x30], at: 263, width: 2)
        // uname/gname stay empty: owners are numeric only.
        octal(UInt64(devMajor ?? 0), at: 329, width: 8)
        octal(UInt64(devMinor ?? 0), at: 337, width: 8)
        put(prefix, at: 345, width: 155)
        // Checksum: computed with the field as spaces, written as 6 octal digits, NUL, space.
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + UInt32($1) }
        var digits = Array(String(sum, radix: 8).utf8)
        if digits.count < 6 { digits = [UInt8](repeating: 0x30, count: 6 - digits.count) + digits }
        put(digits, at: 148, width: 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }
}
