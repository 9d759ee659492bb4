import Foundation
import Testing

@testable import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct LayerWriterTests {
    /// Maps whoever runs the tests to root, so owners in goldens do not depend on the user.
    static var selfAsRoot: IDMapping {
        IDMapping(
            uids: [.init(containerID: 0, hostID: getuid(), count: 1)],
            gids: [.init(containerID: 0, hostID: getgid(), count: 1)])
    }

    /// A small tree with fixed contents, modes and mtimes (one mtime newer than the epoch used below).
    static func makeGoldenTree(_ root: String) throws {
        try LayerFS.mkdir(root)
        try LayerFS.mkdir(root + "/bin")
        try LayerFS.file(root + "/bin/tool", "#!/bin/sh\necho hi\n", mode: 0o755)
        try LayerFS.symlink("tool", root + "/bin/tool-link")
        try LayerFS.mkdir(root + "/etc")
        try LayerFS.file(root + "/etc/conf", "key=value\n", mode: 0o600)
        try LayerFS.link(root + "/etc/conf", root + "/etc/hard")
        try LayerFS.mkdir(root + "/data", mode: 0o700)
        let long = String(repeating: "x", count: 120)
        try LayerFS.file(root + "/data/" + long, String(repeating: "long name\n", count: 60))
        try LayerFS.mkdir(root + "/data/" + String(repeating: "d", count: 90), mode: 0o750)
        try LayerFS.file(
            root + "/data/" + String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 60), "split\n")
        try LayerFS.mkdir(root + "/tmp", mode: 0o1777)
        try LayerFS.file(root + "/suid", "s\n", mode: 0o4755)
        try LayerFS.file(root + "/sgid", "g\n", mode: 0o2711)
        try LayerFS.file(root + "/café", "unicode\n")
        try LayerFS.mkfifo(root + "/fifo")
        try LayerFS.file(root + "/a-c", "sorts between a and a/\n")
        try LayerFS.mkdir(root + "/a")
        try LayerFS.file(root + "/a/b", "b\n")
        let all = [
            "bin/tool", "bin/tool-link", "bin", "etc/conf", "etc", "data/" + long,
            "data/" + String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 60),
            "data/" + String(repeating: "d", count: 90), "data", "tmp", "suid", "sgid", "café", "fifo", "a-c", "a/b",
            "a"
        ]
        for p in all { try LayerFS.mtime(root + "/" + p, 1_600_000_000) }
        try LayerFS.mtime(root + "/etc/conf", 1_800_000_000)  // newer than the epoch: clamped
    }

    static let goldenEpoch: Int64 = 1_700_000_000
    static let goldenDiffID = "sha256:edb9214cb10e0cc082baf388dcb19a1d2c1eefaf6ad3d17e412ba1c59e506b17"
    static let goldenIsalDigest = "sha256:501dcc0715a917471a8c427d0622050e12a0f497acccea32d69cc609d54eca19"
    static let goldenZlibDigest = "sha256:c872792c2896024061296ce5c2f64070840bdb1f35c24bbb50832d7e333bd00f"

    @Test func goldenTreeDigests() throws {
        let dir = try LayerTempDir("golden")
        try Self.makeGoldenTree(dir.sub("tree"))
        var options = LayerWriteOptions(sourceDateEpoch: Self.goldenEpoch, idMapping: Self.selfAsRoot)
        let isal = try LayerWriter.write(directory: dir.sub("tree"), to: dir.sub("isal.tgz"), options: options)
        options.gzip = GzipSettings(engine: .zlib(level: 6), chunkSize: 0)
        let zlib = try LayerWriter.write(directory: dir.sub("tree"), to: dir.sub("zlib.tgz"), options: options)
        options.compression = .none
        let plain = try LayerWriter.write(directory: dir.sub("tree"), to: dir.sub("plain.tar"), options: options)

        #expect(isal.diffID.string == Self.goldenDiffID)
        #expect(isal.digest.string == Self.goldenIsalDigest)
        #expect(zlib.digest.string == Self.goldenZlibDigest)
        #expect(zlib.diffID == isal.diffID)
        #expect(plain.diffID == isal.diffID && plain.digest == plain.diffID)
        #expect(isal.compressor == "gzip isal-1 chunk=1048576 (isa-l 2.30.0)")
        #expect(zlib.compressor.hasPrefix("gzip zlib-6 chunk=0 (zlib "))
        #expect(isal.mediaType == .ociLayerGzip && plain.mediaType == .ociLayer)
        #expect(isal.entryCount == 18)
        #expect(isal.descriptor == Descriptor(mediaType: .ociLayerGzip, digest: isal.digest, size: isal.size))

        // Sizes and digests are those of the files on disk; the uncompressed tar is the plain blob.
        let plainBytes = try LayerFS.readBytes(dir.sub("plain.tar"))
        #expect(Digest.of(plainBytes) == plain.diffID && Int64(plainBytes.count) == plain.uncompressedSize)
        #expect(plainBytes.count % 512 == 0)
        #expect(plainBytes.suffix(1024).allSatisfy { $0 == 0 })
        let isalBytes = try LayerFS.readBytes(dir.sub("isal.tgz"))
        #expect(Digest.of(isalBytes) == isal.digest && Int64(isalBytes.count) == isal.size)
        #expect(try CompressionTests.gunzip(isalBytes) == plainBytes)
        #expect(try CompressionTests.gunzip(try LayerFS.readBytes(dir.sub("zlib.tgz"))) == plainBytes)

        // What the golden holds, checked by an independent reader.
        let m = try layerPythonTarList(dir.sub("isal.tgz"))
        let names = m.map(\.nameString)
        let d90 = "data/" + String(repeating: "d", count: 90)
        #expect(
            names
                == [
                    "a", "a-c", "a/b", "bin", "bin/tool", "bin/tool-link", "café", "data",
                    "data/" + String(repeating: "x", count: 120), d90, d90 + "/" + String(repeating: "f", count: 60),
                    "etc", "etc/conf", "etc/hard", "fifo", "sgid", "suid", "tmp"
                ].sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        let byName = Dictionary(uniqueKeysWithValues: m.map { ($0.nameString, $0) })
        #expect(byName["etc/conf"]?.mtime == Self.goldenEpoch)
        #expect(byName["etc/hard"]?.type == "1" && byName["etc/hard"]?.linkString == "etc/conf")
        #expect(byName["tmp"]?.mode == 0o1777 && byName["suid"]?.mode == 0o4755 && byName["sgid"]?.mode == 0o2711)
        #expect(byName["data"]?.mode == 0o700 && byName["etc/conf"]?.mode == 0o600)
        #expect(byName["bin/tool-link"]?.type == "2" && byName["bin/tool-link"]?.linkString == "tool")
        #expect(byName["fifo"]?.type == "6")
        #expect(byName["café"]?.pax["path"] == Array("café".utf8))
        #expect(byName["data/" + String(repeating: "x", count: 120)]?.pax["path"] != nil)
        #expect(byName[d90 + "/" + String(repeating: "f", count: 60)]?.pax.isEmpty == true)  // ustar prefix split
        #expect(m.allSatisfy { $0.uid == 0 && $0.gid == 0 && $0.uname.isEmpty && $0.gname.isEmpty })
        #expect(byName["bin/tool"]?.data == Array("#!/bin/sh\necho hi\n".utf8))
    }

    /// Locates the `ociforge` executable built next to the test bundle.
    static func ociforgeBinary() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "ociforge"
            ).path,
            FileManager.default.currentDirectoryPath + "/.build/debug/ociforge"
        ]
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        throw OCIWriterError(
            .notFound,
            "ociforge executable not found next to the tests (\(candidates.joined(separator: ", "))): run `swift build --build-tests` first"
        )
    }

    /// Two copies of one tree in different parents, created and written by separate processes with
    /// different umask, TZ and locale, and different mtimes all newer than SOURCE_DATE_EPOCH.
    @Test func reproducibleAcrossProcessesUmaskTZLocale() throws {
        let bin = try Self.ociforgeBinary()
        let dir = try LayerTempDir("repro")
        let script = #"""
            set -e
            umask "$UMASK"
            mkdir -p "$ROOT/deep/parent/tree/sub" "$ROOT/deep/parent/tree/empty"
            cd "$ROOT/deep/parent"
            printf 'hello\n' > tree/sub/file
            printf '#!/bin/sh\n' > tree/run
            ln -s sub/file tree/link
            ln tree/sub/file tree/hard
            mkfifo tree/pipe
            chmod 0644 tree/sub/file; chmod 0755 tree/run tree tree/sub; chmod 0700 tree/empty; chmod 0640 tree/pipe
            touch -h -d "@$MTIME" tree/sub/file tree/run tree/link tree/sub tree/empty tree/pipe tree
            exec "$OCIFORGE" layer create tree -o "$ROOT/layer.tgz" --json --threads "$THREADS"
            """#
        var results: [[String: Any]] = []
        for (i, v) in [("022", "UTC", "C", "1750000000", "1"), ("077", "Asia/Kolkata", "C.UTF-8", "1760000000", "2")]
            .enumerated()
        {
            let root = dir.sub("copy\(i)" + String(repeating: "/nest", count: i))
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let env = [
                "PATH": "/usr/bin:/bin", "UMASK": v.0, "TZ": v.1, "LC_ALL": v.2, "LANG": v.2, "MTIME": v.3,
                "ROOT": root, "OCIFORGE": bin, "THREADS": v.4, "SOURCE_DATE_EPOCH": "1700000000"
            ]
            let r = layerRun(["/bin/sh", "-c", script], environment: env)
            try #require(r.status == 0, "child \(i) failed: \(r.stderr)")
            let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            results.append(obj)
        }
        #expect(results[0]["diffID"] as? String == results[1]["diffID"] as? String)
        #expect(results[0]["digest"] as? String == results[1]["digest"] as? String)
        #expect(results[0]["size"] as? Int == results[1]["size"] as? Int)
        // The manifest that references the layer is then identical too.
        func manifestDigest(_ r: [String: Any]) throws -> Digest {
            let layer = Descriptor(
                mediaType: .ociLayerGzip, digest: try Digest(r["digest"] as! String), size: Int64(r["size"] as! Int))
            let config = Descriptor(
                mediaType: .ociConfig, digest: Digest.of(Array((r["diffID"] as! String).utf8)), size: 71)
            return try EncodedDocument(Manifest(config: config, layers: [layer])).digest
        }
        #expect(try manifestDigest(results[0]) == manifestDigest(results[1]))
        let m = try layerPythonTarList(dir.sub("copy0/layer.tgz"))
        #expect(m.allSatisfy { $0.mtime == 1_700_000_000 })
        #expect(m.map(\.nameString) == ["empty", "hard", "link", "pipe", "run", "sub", "sub/file"])
        #expect(m.first { $0.nameString == "sub/file" }?.type == "1")  // hard link: "hard" sorts first
    }

    @Test func devicesXattrsSocketsAndOrdering() throws {
        let dir = try LayerTempDir("kinds")
        let t = dir.sub("t")
        try LayerFS.mkdir(t)
        try LayerFS.mknod(t + "/null", char: true, major: 1, minor: 3, mode: 0o666)
        try LayerFS.mknod(t + "/loop", char: false, major: 7, minor: 300, mode: 0o660)
        try LayerFS.file(t + "/x", "xattrs\n")
        try LayerFS.setxattr(t + "/x", "user.zeta", [0, 0xFF, 0x0A])
        try LayerFS.setxattr(t + "/x", "user.alpha", Array("1".utf8))
        try LayerFS.setxattr(t + "/x", "trusted.overlay.opaque", Array("y".utf8))
        try LayerFS.setxattr(t + "/x", "security.selinux", Array("system_u:object_r:tmp_t:s0".utf8))
        try LayerFS.socket(t + "/sock")
        try LayerFS.mkdir(t + "/a")
        try LayerFS.file(t + "/a/2", "")
        try LayerFS.file(t + "/a!", "")
        try LayerFS.file(t + "/a.b", "")
        try LayerFS.file(t + "/a0", "")
        try LayerFS.file(t + "/B", "")
        try LayerFS.file(t + "/z", "second link, sorts last")
        try LayerFS.link(t + "/z", t + "/m")
        try LayerFS.bytes(t + "/bad\u{1}", [1])
        let badName = t + "/" + String(decoding: [0x6E, 0xFF, 0xFE], as: UTF8.self)
        // Create a file whose name is not valid UTF-8 through a byte path.
        let raw = Array(t.utf8) + [0x2F, 0x6E, 0xFF, 0xFE, 0]
        let fd = raw.withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        try #require(fd >= 0)
        close(fd)
        _ = badName

        let r = try LayerWriter.write(
            directory: t, to: dir.sub("l.tgz"), options: LayerWriteOptions(sourceDateEpoch: 0))
        #expect(r.warnings.count == 1 && r.warnings[0].contains("sock"))
        let m = try layerPythonTarList(dir.sub("l.tgz"))
        #expect(
            m.map(\.name) == [
                Array("B".utf8), Array("a".utf8), Array("a!".utf8), Array("a.b".utf8), Array("a/2".utf8),
                Array("a0".utf8), Array("bad\u{1}".utf8), Array("loop".utf8), Array("m".utf8),
                Array("null".utf8), [0x6E, 0xFF, 0xFE], Array("x".utf8), Array("z".utf8)
            ])
        let byName = Dictionary(uniqueKeysWithValues: m.map { ($0.name, $0) })
        let null = try #require(byName[Array("null".utf8)])
        #expect(null.type == "3" && null.devmajor == 1 && null.devminor == 3 && null.mode == 0o666)
        let loop = try #require(byName[Array("loop".utf8)])
        #expect(loop.type == "4" && loop.devmajor == 7 && loop.devminor == 300)
        let x = try #require(byName[Array("x".utf8)])
        #expect(x.pax.keys.sorted() == ["SCHILY.xattr.user.alpha", "SCHILY.xattr.user.zeta"])
        #expect(x.pax["SCHILY.xattr.user.zeta"] == [0, 0xFF, 0x0A])
        #expect(byName[Array("z".utf8)]?.type == "1" && byName[Array("z".utf8)]?.linkString == "m")
        #expect(byName[[0x6E, 0xFF, 0xFE]]?.pax["hdrcharset"] == Array("BINARY".utf8))
        #expect(m.allSatisfy { $0.mtime == 0 })

        // Raw header checks: non-devices carry zero device numbers, PAX records are sorted, xattr keys ordered.
        let plain = try LayerWriter.write(
            directory: t, to: dir.sub("l.tar"), options: LayerWriteOptions(compression: .none))
        #expect(plain.warnings.count == 1)
        let tar = try LayerFS.readBytes(dir.sub("l.tar"))
        let text = String(decoding: tar, as: UTF8.self)
        let alpha = try #require(text.range(of: "SCHILY.xattr.user.alpha"))
        let zeta = try #require(text.range(of: "SCHILY.xattr.user.zeta"))
        #expect(alpha.lowerBound < zeta.lowerBound)
        #expect(!text.contains("selinux") && !text.contains("overlay"))
        #expect(!text.contains("atime") && !text.contains("ctime"))
        // GNU tar agrees on the listing.
        let gnu = layerRun(["/bin/tar", "-tvf", dir.sub("l.tar")])
        #expect(gnu.status == 0)
        #expect(gnu.stdout.contains("a/2") && gnu.stdout.contains("m\n") && gnu.stdout.contains("z link to m"))
    }

    @Test func destinationPrefix() throws {
        let dir = try LayerTempDir("dest")
        try LayerFS.mkdir(dir.sub("app"), mode: 0o750)
        try LayerFS.file(dir.sub("app/main"), "main\n", mode: 0o755)
        try LayerFS.mtime(dir.sub("app"), 1000)
        let r = try LayerWriter.write(
            directory: dir.sub("app"), destination: "/usr/local/app", to: dir.sub("l.tar"),
            options: LayerWriteOptions(compression: .none, sourceDateEpoch: 5000, idMapping: Self.selfAsRoot))
        #expect(r.entryCount == 4)
        let m = try layerPythonTarList(dir.sub("l.tar"))
        #expect(m.map(\.nameString) == ["usr", "usr/local", "usr/local/app", "usr/local/app/main"])
        #expect(m[0].mode == 0o755 && m[1].mode == 0o755 && m[0].mtime == 5000 && m[0].type == "5")
        #expect(m[2].mode == 0o750 && m[2].mtime == 1000)
        #expect(throws: OCIWriterError.self) {
            try LayerWriter.write(directory: dir.sub("app"), destination: "/usr/../etc", to: dir.sub("x.tar"))
        }
        #expect(!LayerFS.exists(dir.sub("x.tar")))
    }

    @Test func changeSetWhiteoutsParentsAndMapping() throws {
        let dir = try LayerTempDir("changes")
        let up = dir.sub("upper")
        try LayerFS.mkdir(up)
        try LayerFS.mkdir(up + "/etc", mode: 0o755)
        try LayerFS.mkdir(up + "/var", mode: 0o711)
        try LayerFS.mkdir(up + "/var/cache", mode: 0o755)
        try LayerFS.file(up + "/var/cache/new", "new\n")
        try LayerFS.link(up + "/var/cache/new", up + "/var/cache-x")
        try LayerFS.file(up + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        try LayerFS.mkdir(up + "/opt", mode: 0o755)
        try LayerFS.chown(up + "/etc/passwd", 100_000, 100_005)
        try LayerFS.chown(up + "/var/cache/new", 101_000, 101_000)
        let mapping = IDMapping(
            uids: [
                .init(containerID: 0, hostID: 100_000, count: 65536), .init(containerID: 0, hostID: getuid(), count: 1)
            ],
            gids: [
                .init(containerID: 0, hostID: 100_000, count: 65536), .init(containerID: 0, hostID: getgid(), count: 1)
            ])
        let changes = ChangeSet([
            .add(path: "var/cache/new", source: up + "/var/cache/new"),
            .delete(path: "var/cache/old"),
            .delete(path: "var/cache/zzz"),
            .add(path: "etc/passwd", source: up + "/etc/passwd"),
            .opaque(directory: "opt"),
            .add(path: "opt", source: up + "/opt"),
            .delete(path: "top"),
            .add(path: "var/cache-x", source: up + "/var/cache-x")
        ])
        let r = try LayerWriter.write(
            changes: changes, to: dir.sub("l.tgz"),
            options: LayerWriteOptions(sourceDateEpoch: 10, idMapping: mapping))
        let m = try layerPythonTarList(dir.sub("l.tgz"))
        #expect(
            m.map(\.nameString) == [
                ".wh.top", "etc", "etc/passwd", "opt", "opt/.wh..wh..opq", "var",
                "var/cache", "var/cache-x", "var/cache/.wh.old", "var/cache/.wh.zzz", "var/cache/new"
            ])
        #expect(r.entryCount == m.count)
        let byName = Dictionary(uniqueKeysWithValues: m.map { ($0.nameString, $0) })
        #expect(byName["etc/passwd"]?.uid == 0 && byName["etc/passwd"]?.gid == 5)
        #expect(byName["var/cache/new"]?.uid == 1000 && byName["var/cache/new"]?.gid == 1000)
        // Missing parents come from the mirrored source tree (var is 0711 there), else 0755 root.
        #expect(byName["var"]?.mode == 0o711 && byName["var/cache"]?.mode == 0o755)
        #expect(byName["var/cache/.wh.old"]?.size == 0 && byName["var/cache/.wh.old"]?.type == "0")
        // cache-x is a second path of the same inode as var/cache/new and sorts first: it holds the data.
        #expect(byName["var/cache-x"]?.type == "0" && byName["var/cache/new"]?.type == "1")
        #expect(byName["var/cache/new"]?.linkString == "var/cache-x")

        // An owner outside the mapping is an error naming the file.
        try LayerFS.chown(up + "/etc/passwd", 300_000, 0)
        let e = try #require(throws: OCIWriterError.self) {
            try LayerWriter.write(
                changes: ChangeSet([.add(path: "etc/passwd", source: up + "/etc/passwd")]),
                to: dir.sub("bad.tgz"), options: LayerWriteOptions(idMapping: mapping))
        }
        #expect(e.path == up + "/etc/passwd" && e.message.contains("300000"))
        #expect(!LayerFS.exists(dir.sub("bad.tgz")))
    }

    @Test(arguments: [
        ("../etc/passwd", "'..'"), ("/etc/passwd", "leading '/'"), ("a/./b", "'.'"), ("a//b", "empty path component"),
        ("a/.wh.b", ".wh."), ("a/.wh..wh..opq", ".wh."), ("bad\u{0}name", "NUL"), (".", "layer root")
    ])
    func changeSetPathValidation(_ path: String, _ expected: String) throws {
        let dir = try LayerTempDir("invalid")
        try LayerFS.file(dir.sub("f"), "f")
        let e = try #require(throws: OCIWriterError.self) {
            try LayerWriter.write(changes: ChangeSet([.add(path: path, source: dir.sub("f"))]), to: dir.sub("l.tgz"))
        }
        #expect(e.message.contains(expected), "\(e)")
        #expect(e.path == path)
        let d = try #require(throws: OCIWriterError.self) {
            try LayerWriter.write(changes: ChangeSet([.delete(path: path)]), to: dir.sub("l.tgz"))
        }
        #expect(d.path == path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["f"])
    }

    @Test func changeSetConflicts() throws {
        let dir = try LayerTempDir("conflict")
        try LayerFS.file(dir.sub("f"), "f")
        try LayerFS.mkdir(dir.sub("d"))
        let cases: [ChangeSet] = [
            ChangeSet([.add(path: "a", source: dir.sub("f")), .add(path: "a", source: dir.sub("f"))]),
            ChangeSet([.add(path: "a", source: dir.sub("f")), .delete(path: "a")]),
            ChangeSet([.add(path: "a", source: dir.sub("f")), .opaque(directory: "a")]),
            ChangeSet([.add(path: "a", source: dir.sub("f")), .add(path: "a/b", source: dir.sub("f"))]),
            ChangeSet([.add(path: "a", source: "relative/source")]),
            ChangeSet([.add(path: "a", source: dir.sub("missing"))])
        ]
        for c in cases {
            let e = try #require(throws: OCIWriterError.self) {
                try LayerWriter.write(changes: c, to: dir.sub("l.tgz"))
            }
            #expect(e.path != nil, "\(e)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["d", "f"])
    }

    /// A failure in the middle of the walk leaves neither the output nor a temp file behind; a success leaves
    /// exactly the output.
    @Test func failedWriteLeavesNothing() throws {
        let dir = try LayerTempDir("atomic")
        let t = dir.sub("t")
        try LayerFS.mkdir(t)
        try LayerFS.bytes(t + "/big", layerTestBytes(3 << 20))
        try LayerFS.mkdir(t + "/z")
        try LayerFS.file(t + "/z/.wh.sneaky", "")
        try LayerFS.mkdir(dir.sub("out"))
        let e = try #require(throws: OCIWriterError.self) {
            try LayerWriter.write(directory: t, to: dir.sub("out/l.tgz"))
        }
        #expect(e.code == .unsafeEntry && e.path?.contains("z/.wh.sneaky") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.sub("out")) == [])
        try FileManager.default.removeItem(atPath: t + "/z/.wh.sneaky")
        _ = try LayerWriter.write(directory: t, to: dir.sub("out/l.tgz"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.sub("out")) == ["l.tgz"])
        // The output may live inside the tree it is written from: it is not included in itself.
        let inside = try LayerWriter.write(
            directory: t, to: t + "/self.tar", options: LayerWriteOptions(compression: .none))
        #expect(try layerPythonTarList(t + "/self.tar").map(\.nameString) == ["big", "z"])
        #expect(inside.entryCount == 2)
    }

    /// The source root may be a symlink (followed); symlinks inside the tree are stored as links.
    @Test func symlinkedRootAndInnerLinks() throws {
        let dir = try LayerTempDir("symroot")
        try LayerFS.mkdir(dir.sub("real"))
        try LayerFS.file(dir.sub("real/f"), "f\n")
        try LayerFS.symlink("/etc", dir.sub("real/etc-link"))
        try LayerFS.symlink("real", dir.sub("via"))
        let a = try LayerWriter.write(
            directory: dir.sub("via"), to: dir.sub("a.tar"), options: LayerWriteOptions(compression: .none))
        let b = try LayerWriter.write(
            directory: dir.sub("real"), to: dir.sub("b.tar"), options: LayerWriteOptions(compression: .none))
        #expect(a.diffID == b.diffID)
        let m = try layerPythonTarList(dir.sub("a.tar"))
        #expect(m.map(\.nameString) == ["etc-link", "f"])
        #expect(m[0].type == "2" && m[0].linkString == "/etc")
        let e = try #require(throws: OCIWriterError.self) {
            try LayerWriter.write(directory: dir.sub("real/f"), to: dir.sub("c.tar"))
        }
        #expect(e.message.contains("not a directory"))
    }

    /// Deletions and opaque markers under directories the change set does not add: the parents are
    /// synthesized once as 0755 root directories (mtime = SOURCE_DATE_EPOCH), whiteouts come first among siblings.
    @Test func changeSetSynthesizedParents() async throws {
        let dir = try LayerTempDir("synth")
        try LayerFS.file(dir.sub("f"), "f\n")
        let changes = ChangeSet([
            .delete(path: "usr/share/doc/a"),
            .opaque(directory: "usr/share/man"),
            .add(path: "usr/share/doc-base", source: dir.sub("f")),
            .delete(path: "usr/share/doc/b"),
            .add(path: "usr/share/doc/0", source: dir.sub("f"))
        ])
        let out = dir.sub("l.tar")
        let r = try await LayerWriter.offPool {
            try LayerWriter.write(
                changes: changes, to: out, options: LayerWriteOptions(compression: .none, sourceDateEpoch: 77))
        }
        let m = try layerPythonTarList(out)
        #expect(
            m.map(\.nameString) == [
                "usr", "usr/share", "usr/share/doc", "usr/share/doc-base", "usr/share/doc/.wh.a",
                "usr/share/doc/.wh.b", "usr/share/doc/0", "usr/share/man", "usr/share/man/.wh..wh..opq"
            ])
        #expect(r.entryCount == 9)
        for e in m where e.type == "5" { #expect(e.mode == 0o755 && e.uid == 0 && e.mtime == 77) }
        #expect(
            m.filter { $0.nameString.contains(".wh.") }.allSatisfy { $0.type == "0" && $0.size == 0 && $0.mtime == 77 })
    }

    /// A tree deeper than PATH_MAX is walked through directory fds; the deep names go into PAX `path` records.
    @Test func deeperThanPathMax() throws {
        let dir = try LayerTempDir("deep")
        try LayerFS.mkdir(dir.sub("t"))
        let component = String(repeating: "d", count: 30)
        var fd = open(dir.sub("t"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        let depth = 160  // 160 × 31 bytes ≈ 5 KB > PATH_MAX (4096)
        for _ in 0..<depth {
            try #require(mkdirat(fd, component, 0o755) == 0)
            let next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            try #require(next >= 0)
            fd = next
        }
        let ffd = openat(fd, "leaf", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        try #require(ffd >= 0)
        _ = write(ffd, "deep\n", 5)
        close(ffd)
        close(fd)
        let r = try LayerWriter.write(
            directory: dir.sub("t"), to: dir.sub("l.tgz"), options: LayerWriteOptions(sourceDateEpoch: 0))
        #expect(r.entryCount == depth + 1)
        let m = try layerPythonTarList(dir.sub("l.tgz"))
        let leaf = try #require(m.last)
        #expect(leaf.nameString == Array(repeating: component, count: depth).joined(separator: "/") + "/leaf")
        #expect(leaf.data == Array("deep\n".utf8))
        // Clean up through fds too (FileManager cannot remove paths this long everywhere).
        #expect(layerRun(["/bin/rm", "-rf", dir.sub("t")]).status == 0)
    }

    @Test func threadsDoNotChangeOutput() throws {
        let dir = try LayerTempDir("threads")
        let t = dir.sub("t")
        try LayerFS.mkdir(t)
        for i in 0..<5 { try LayerFS.bytes(t + "/f\(i)", layerTestBytes(700_000 + i * 1000, seed: UInt64(i))) }
        var digests: Set<Digest> = []
        for (compression, threads) in [(LayerCompression.gzip, 1), (.gzip, 2), (.gzip, 4), (.zstd, 1), (.zstd, 2)] {
            let r = try LayerWriter.write(
                directory: t, to: dir.sub("l-\(compression)-\(threads)"),
                options: LayerWriteOptions(compression: compression, threads: threads))
            digests.insert(r.digest)
            #expect(r.uncompressedSize > 3_500_000)
        }
        #expect(digests.count == 2)  // one gzip digest, one zstd digest
    }
}
