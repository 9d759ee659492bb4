import Foundation
import Testing

@testable import OCIWriter

@Suite struct ExtractLayerTests {
    static func sha(_ s: String) -> String { Digest.of(Array(s.utf8)).hex }

    /// Every entry type, extracted onto an empty rootfs, gives exactly the expected manifest.
    @Test func everyEntryTypeExtractsExactly() throws {
        let s = try ExtractSandbox()
        let root = geteuid() == 0
        var conf = CraftedEntry.file("etc/conf", "key=value\n", mode: 0o640, uid: 1000, gid: 1001)
        conf.pax = [("SCHILY.xattr.user.a", Array("1".utf8)), ("SCHILY.xattr.user.b", [0x00, 0x20, 0xff])]
        var fifo = CraftedEntry.fifo("run/fifo")
        fifo.mode = 0o644
        var snowman = CraftedEntry.file("placeholder", "snow")
        snowman.pax = [("path", Array("\u{2603}".utf8))]
        let longName = "deep/" + String(repeating: "n", count: 150)
        let entries: [CraftedEntry] = [
            .dir("./"), .dir("bin"), .file("bin/sh", "#!/bin/sh\n", mode: 0o755), .file("bin/su", "su", mode: 0o4755),
            .hardlink("bin/link", "bin/sh"), .dir("etc", mode: 0o750, uid: 1000, gid: 1000), conf,
            .dir("tmp", mode: 0o1777), .file("usr/lib/x.so", "elf"), .symlink("lib", "usr/lib"),
            .device("dev/null", char: true, 1, 3), .device("dev/loop0", char: false, 7, 0), fifo,
            .dir("deep"), .file(longName, "long"), .file("caf\u{e9}", "utf8"), .file("empty"),
            CraftedEntry(name: [0x66, 0xff], kind: .file, data: Array("latin".utf8)), snowman
        ]
        let o = try s.extract(
            [entries],
            options: LayerExtractionOptions(
                ownership: root ? .preserve : .ignore,
                devices: root ? .create : .skip))
        #expect(o.error == nil)
        #expect(o.reports.first?.entries == entries.count)
        let u = root ? "uid=0 gid=0" : "uid=\(geteuid()) gid=\(getegid())"
        let etcOwner = root ? "uid=1000 gid=1000" : u
        let confOwner = root ? "uid=1000 gid=1001" : u
        var expected = [
            "/ dir mode=0755 \(u)",
            "/bin dir mode=0755 \(u)",
            "/bin/link file mode=0755 \(u) size=10 sha256=\(Self.sha("#!/bin/sh\n")) hardlink=/bin/link",
            "/bin/sh file mode=0755 \(u) size=10 sha256=\(Self.sha("#!/bin/sh\n")) hardlink=/bin/link",
            "/bin/su file mode=4755 \(u) size=2 sha256=\(Self.sha("su"))",
            "/caf\\xc3\\xa9 file mode=0644 \(u) size=4 sha256=\(Self.sha("utf8"))",
            "/deep dir mode=0755 \(u)",
            "/\(longName) file mode=0644 \(u) size=4 sha256=\(Self.sha("long"))",
            "/dev dir mode=0755 \(u)"
        ]
        if root {
            expected += ["/dev/loop0 block mode=0600 \(u) dev=7:0", "/dev/null char mode=0600 \(u) dev=1:3"]
        }
        expected += [
            "/empty file mode=0644 \(u) size=0 sha256=\(Self.sha(""))",
            "/etc dir mode=0750 \(etcOwner)",
            "/etc/conf file mode=0640 \(confOwner) size=10 sha256=\(Self.sha("key=value\n")) xattr.user.a=1 xattr.user.b=\\x00\\x20\\xff",
            "/f\\xff file mode=0644 \(u) size=5 sha256=\(Self.sha("latin"))",
            "/lib symlink mode=0777 \(u) target=usr/lib",
            "/run dir mode=0755 \(u)",
            "/run/fifo fifo mode=0644 \(u)",
            "/tmp dir mode=1777 \(u)",
            "/usr dir mode=0755 \(u)",
            "/usr/lib dir mode=0755 \(u)",
            "/usr/lib/x.so file mode=0644 \(u) size=3 sha256=\(Self.sha("elf"))",
            "/\\xe2\\x98\\x83 file mode=0644 \(u) size=4 sha256=\(Self.sha("snow"))"
        ]
        let got = try s.rootManifest().lines
        #expect(got == expected, "diff: \(TreeManifest(lines: expected).diff(TreeManifest(lines: got)))")
        // mtimes: files and declared directories carry the entry's mtime (directories set after their children).
        let timed = try TreeManifest.capture(root: s.rootfs, options: .init(includeMtimes: true)).lines
        for p in ["/etc ", "/etc/conf ", "/bin/sh ", "/lib ", "/run/fifo ", "/ dir"] {
            let line = try #require(timed.first { $0.hasPrefix(p) })
            #expect(line.hasSuffix("mtime=1700000000.000000000"), "\(line)")
        }
    }

    /// Whiteouts and opaque markers across two layers, including order independence and same-layer entries.
    @Test func whiteoutAndOpaqueSemantics() throws {
        let s = try ExtractSandbox()
        let lower: [CraftedEntry] = [
            .dir("a"), .file("a/keep", "k"), .file("a/gone", "g"), .dir("a/sub"), .file("a/sub/deep", "d"),
            .dir("b"), .file("b/old1", "1"), .file("b/old2", "2"), .dir("b/sub"), .file("b/sub/old3", "3"),
            .file("c", "c"), .dir("d"), .file("d/x", "x"), .dir("e"), .file("e/l1", "l"),
            .dir("f"), .dir("f/inner"), .file("f/inner/old", "o"), .symlink("g", "a")
        ]
        let upper: [CraftedEntry] = [
            .file("a/.wh.gone"), .file("a/.wh.never-existed"),
            .dir("b"), .file("b/.wh..wh..opq"), .file("b/new", "n"), .dir("b/sub"), .file("b/sub/new3", "n3"),
            .file(".wh.c"), .file("c2", "same layer"), .file(".wh.c2"),
            .file("d/.wh.x"),
            .dir("e"), .file("e/n1", "n1"), .file("e/.wh..wh..opq"),
            .dir("f"), .dir("f/inner"), .file("f/inner/new", "n"), .file(".wh.f"),
            .file(".wh.g")
        ]
        let o = try s.extract([lower, upper])
        #expect(o.error == nil)
        #expect(s.rootListing() == ["a", "b", "c2", "d", "e", "f"])
        #expect(s.rootListing("a") == ["keep", "sub"])
        #expect(s.rootListing("a/sub") == ["deep"])
        #expect(s.rootListing("b") == ["new", "sub"])
        #expect(s.rootListing("b/sub") == ["new3"])
        #expect(s.rootListing("d").isEmpty)
        #expect(s.rootListing("e") == ["n1"])
        // `.wh.f` hides the lower f but keeps what this layer put there.
        #expect(s.rootListing("f") == ["inner"])
        #expect(s.rootListing("f/inner") == ["new"])
        #expect(s.rootRead("c2") == "same layer")
        let lines = try s.rootManifest().lines
        #expect(!lines.contains { $0.contains(".wh.") })
    }

    /// A file replacing a directory with content, and a directory replacing a file, across layers.
    @Test func typeChangesAcrossLayers() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.dir("x"), .dir("x/y"), .file("x/y/z", "z"), .file("f", "file"), .symlink("l", "x")],
            [.file("x", "now a file"), .dir("f"), .file("f/in", "in"), .dir("l")]
        ])
        #expect(o.error == nil)
        #expect(s.rootRead("x") == "now a file")
        #expect(s.kind("f") == "dir" && s.rootRead("f/in") == "in")
        #expect(s.kind("l") == "dir")
    }

    @Test(arguments: [LayerCompression.none, .gzip, .zstd])
    func compressedInputs(_ c: LayerCompression) throws {
        let s = try ExtractSandbox()
        let entries: [CraftedEntry] = [
            .dir("d"), .file("d/a", String(repeating: "abc", count: 100_000)), .symlink("d/l", "a")
        ]
        let file = try s.layer(entries, compression: c)
        let report = try LayerExtractor().apply(layer: file, compression: c, to: s.rootfs)
        #expect(report.compression == c)
        #expect(report.entries == 3)
        #expect(report.uncompressedBytes >= 300_000)
        #expect(s.rootRead("d/a") == String(repeating: "abc", count: 100_000))
        // Declared compression must match the bytes.
        let wrong: LayerCompression = c == .gzip ? .zstd : .gzip
        #expect(throws: OCIWriterError.self) {
            try LayerExtractor().apply(layer: file, compression: wrong, to: s.rootfs)
        }
        // Detection without a declared compression.
        #expect(try LayerExtractor().apply(layer: file, to: s.rootfs).compression == c)
    }

    /// Digest, size and diffID are computed in the extraction pass and checked against the source.
    @Test(arguments: [LayerCompression.none, .gzip, .zstd])
    func digestsVerifiedInOnePass(_ c: LayerCompression) throws {
        let s = try ExtractSandbox()
        let tar = CraftedTar.build([.dir("d"), .file("d/a", String(repeating: "xyz", count: 50_000))])
        let file = try s.layer(bytes: tar, compression: c)
        let blob = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let good = LayerSource(
            path: file, compression: c, digest: Digest.of(blob), size: Int64(blob.count),
            diffID: Digest.of(tar))
        let report = try LayerExtractor().apply(good, to: s.rootfs)
        #expect(report.digest == Digest.of(blob) && report.diffID == Digest.of(tar))
        #expect(report.compressedBytes == UInt64(blob.count) && report.uncompressedBytes == UInt64(tar.count))
        var badDiff = good
        badDiff.diffID = Digest.of([1])
        #expect(throws: OCIWriterError.self) { try LayerExtractor().apply(badDiff, to: s.rootfs) }
        var badSize = good
        badSize.size = 1
        let e = #expect(throws: OCIWriterError.self) { try LayerExtractor().apply(badSize, to: s.rootfs) }
        #expect(e?.code == .sizeMismatch)
        var badDigest = good
        badDigest.digest = Digest.of([2])
        #expect(throws: OCIWriterError.self) { try LayerExtractor().apply(badDigest, to: s.rootfs) }
        // unpack discards everything when the last layer does not match.
        let dest = s.dir + "/u"
        #expect(throws: OCIWriterError.self) { try LayerExtractor.unpack(layers: [good, badDigest], to: dest) }
        #expect(!FileManager.default.fileExists(atPath: dest))
        try LayerExtractor.unpack(layers: [good, good], to: dest)
        #expect(FileManager.default.fileExists(atPath: dest + "/d/a"))
    }

    /// Concatenated gzip members (parallel compressors) are one stream; garbage after the stream is refused.
    @Test func multiMemberGzipAndTrailingGarbage() throws {
        let s = try ExtractSandbox()
        let tar = CraftedTar.build([.file("a", "first"), .file("b", "second")])
        let half = 1024
        let p1 = try s.layer(bytes: Array(tar[0..<half]), compression: .gzip)
        let p2 = try s.layer(bytes: Array(tar[half...]), compression: .gzip)
        let joined = try Data(contentsOf: URL(fileURLWithPath: p1)) + Data(contentsOf: URL(fileURLWithPath: p2))
        let multi = s.dir + "/layers/multi.tar.gz"
        try joined.write(to: URL(fileURLWithPath: multi))
        let r = try LayerExtractor().apply(LayerSource(path: multi, diffID: Digest.of(tar)), to: s.rootfs)
        #expect(r.compression == .gzip && s.rootRead("b") == "second")
        let garbage = s.dir + "/layers/garbage.tar.gz"
        try (joined + Data("trailing".utf8)).write(to: URL(fileURLWithPath: garbage))
        let e = #expect(throws: OCIWriterError.self) { try LayerExtractor().apply(layer: garbage, to: s.rootfs) }
        #expect(e?.description.contains("trailing data") == true)
        // Truncated gzip.
        let truncated = s.dir + "/layers/trunc.tar.gz"
        try joined.prefix(joined.count - 20).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: OCIWriterError.self) { try LayerExtractor().apply(layer: truncated, to: s.rootfs) }
    }

    @Test func unsupportedCompressionRefused() throws {
        let s = try ExtractSandbox()
        let file = try s.layer([.file("a", "x")])
        try s.run("/bin/bzip2", ["-f", file])
        let e = #expect(throws: OCIWriterError.self) { try LayerExtractor().apply(layer: file + ".bz2", to: s.rootfs) }
        #expect(e?.description.contains(".bz2") == true)
        #expect(s.rootListing().isEmpty)
    }

    /// GNU tar's PAX output of a real tree (hard links, symlinks, FIFO, device, sparse file, long names, xattrs,
    /// special modes) extracts to the same manifest as the source.
    @Test func gnuTarRoundTrip() throws {
        let s = try ExtractSandbox()
        let src = s.dir + "/src"
        let script = """
            set -e
            mkdir -p \(src)/a/b/c \(src)/empty-dir \(src)/\(String(repeating: "long", count: 40))
            printf 'hello\\n' > \(src)/a/hello
            ln \(src)/a/hello \(src)/a/b/hello-link
            ln -s ../hello \(src)/a/b/rel
            ln -s /etc/passwd \(src)/abs
            mkfifo \(src)/a/fifo
            printf 'x' > \(src)/\(String(repeating: "long", count: 40))/\(String(repeating: "name", count: 50))
            truncate -s 10M \(src)/sparse && printf 'end' >> \(src)/sparse
            printf 'suid' > \(src)/suid && chmod 4755 \(src)/suid
            chmod 1777 \(src)/empty-dir
            chmod 0700 \(src)/a/b/c
            """ + (geteuid() == 0 ? "\nchown 123:456 \(src)/a/hello\nmknod \(src)/a/null c 1 3\n" : "")
        try s.run("/bin/sh", ["-c", script])
        let xr = src + "/a/hello"
        #expect(setXattr(xr, "user.mime", "text/plain") == 0)
        let tarFile = s.dir + "/layers/gnu.tar"
        try s.run(
            "/bin/tar",
            [
                "--format=pax", "--xattrs", "--xattrs-include=*", "--numeric-owner", "--sparse",
                "-C", src, "-cf", tarFile, "."
            ])
        try s.run("/bin/gzip", ["-n", tarFile])
        let o = try s.extract(files: [tarFile + ".gz"])
        #expect(o.error == nil)
        let want = try TreeManifest.capture(root: src)
        let got = try s.rootManifest()
        #expect(want.lines == got.lines, "\(want.diff(got))")
        #expect(want.lines.contains { $0.contains("xattr.user.mime=text/plain") })
    }

    /// A real system tree (GNU tar, PAX, gzip) extracts to the same manifest as the source, mtimes included.
    @Test func systemTreeRoundTripWithMtimes() throws {
        let source = try #require(
            ["/usr/share/zoneinfo", "/usr/share/perl5", "/usr/lib/python3"].first {
                FileManager.default.fileExists(atPath: $0)
            })
        let s = try ExtractSandbox()
        let tarFile = s.dir + "/layers/system.tar"
        try s.run("/bin/tar", ["--format=pax", "--numeric-owner", "-C", source, "-cf", tarFile, "."])
        try s.run("/usr/bin/zstd", ["-q", "--rm", tarFile])
        let o = try s.extract(files: [tarFile + ".zst"])
        #expect(o.error == nil)
        let options = TreeManifest.Options(includeMtimes: true, includeRoot: false)
        let want = try TreeManifest.capture(root: source, options: options)
        let got = try TreeManifest.capture(root: s.rootfs, options: options)
        // Unprivileged, owners are the extracting user's: compare the rest.
        func comparable(_ m: TreeManifest) -> TreeManifest {
            geteuid() == 0
                ? m
                : TreeManifest(
                    lines: m.lines.map {
                        $0.split(separator: " ").filter { !$0.hasPrefix("uid=") && !$0.hasPrefix("gid=") }.joined(
                            separator: " ")
                    })
        }
        #expect(want.lines.count > 100)
        #expect(comparable(want) == comparable(got), "\(comparable(want).diff(comparable(got)).prefix(20))")
    }

    /// Unprivileged-style options: owners ignored (left to the extracting user).
    @Test func ownershipIgnored() throws {
        let s = try ExtractSandbox()
        let o = try s.extract(
            [[.file("f", "x", uid: 4242, gid: 4343)]], options: LayerExtractionOptions(ownership: .ignore))
        #expect(o.error == nil)
        #expect(
            try s.rootManifest().lines.contains(
                "/f file mode=0644 uid=\(geteuid()) gid=\(getegid()) size=1 sha256=\(Self.sha("x"))"))
    }
}

@Suite struct ExtractUnpackTests {
    @Test func unpackRenamesIntoPlaceOnlyOnSuccess() throws {
        let s = try ExtractSandbox()
        let l1 = try s.layer(
            [.dir("etc"), .file("etc/os-release", "debian"), .file("etc/old", "o")], compression: .gzip)
        let l2 = try s.layer([.file("etc/.wh.old"), .file("etc/new", "n")], compression: .zstd)
        let dest = s.dir + "/unpacked"
        let reports = try LayerExtractor.unpack(
            layers: [LayerSource(path: l1, compression: .gzip), LayerSource(path: l2)], to: dest)
        #expect(reports.map(\.compression) == [.gzip, .zstd])
        let m = try TreeManifest.capture(root: dest).lines
        #expect(m.count == 4 && m[0] == "/ dir mode=0755 uid=\(geteuid()) gid=\(getegid())")
        #expect(m.contains { $0.hasPrefix("/etc/new file") } && !m.contains { $0.hasPrefix("/etc/old") })
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.dir).sorted() == [
                "host", "layers", "outside.txt", "rootfs", "unpacked"
            ])

        // Non-empty destination: refused before any work.
        #expect(throws: OCIWriterError.self) { try LayerExtractor.unpack(layers: [LayerSource(path: l1)], to: dest) }

        // A failing layer leaves no destination and no temporary directory.
        let bad = try s.layer([.file("ok", "1"), .file("../escape", "2")])
        let dest2 = s.dir + "/failed"
        let e = #expect(throws: OCIWriterError.self) {
            try LayerExtractor.unpack(layers: [LayerSource(path: l1), LayerSource(path: bad)], to: dest2)
        }
        #expect(e?.description.contains("'../escape'") == true)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.dir).sorted() == [
                "host", "layers", "outside.txt", "rootfs", "unpacked"
            ])

        // A failure after read-only directories were made leaves nothing behind either (unprivileged too).
        let ro = try s.layer([.dir("ro", mode: 0o555), .dir("ro/sub", mode: 0o500), .file("ro/sub/f", "x", mode: 0o400)]
        )
        let dest4 = s.dir + "/failed-ro"
        #expect(throws: OCIWriterError.self) {
            try LayerExtractor.unpack(layers: [LayerSource(path: ro), LayerSource(path: bad)], to: dest4)
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.dir).sorted() == [
                "host", "layers", "outside.txt", "rootfs", "unpacked"
            ])

        // An existing empty directory is replaced.
        let dest3 = s.dir + "/empty-target"
        try FileManager.default.createDirectory(atPath: dest3, withIntermediateDirectories: false)
        try LayerExtractor.unpack(layers: [LayerSource(path: l1)], to: dest3 + "/")
        #expect(FileManager.default.fileExists(atPath: dest3 + "/etc/os-release"))
    }
}

@Suite struct TreeManifestTests {
    @Test func sortsBytewiseAndGroupsHardLinks() throws {
        let s = try ExtractSandbox()
        let r = s.rootfs
        try s.run(
            "/bin/sh",
            [
                "-c",
                "mkdir -p \(r)/a \(r)/a-c && echo 1 > \(r)/a/b && ln \(r)/a/b \(r)/z && ln \(r)/a/b \(r)/a-c/y && ln -s 'a b' '\(r)/sp ace'"
            ])
        let lines = try s.rootManifest().lines
        #expect(
            lines.map { String($0.split(separator: " ")[0]) } == [
                "/", "/a", "/a-c", "/a-c/y", "/a/b", "/sp\\x20ace", "/z"
            ])
        #expect(lines.filter { $0.hasSuffix("hardlink=/a-c/y") }.count == 3)
        #expect(lines.contains { $0.hasPrefix("/sp\\x20ace symlink") && $0.hasSuffix("target=a\\x20b") })
    }

    @Test func sameTreeSameManifestAndDiffsReported() throws {
        let s = try ExtractSandbox()
        let layer = try s.layer([.dir("d", mode: 0o750), .file("d/f", "content"), .symlink("l", "d/f")])
        let one = s.dir + "/one", two = s.dir + "/two"
        try LayerExtractor.unpack(layers: [LayerSource(path: layer)], to: one)
        try LayerExtractor.unpack(layers: [LayerSource(path: layer)], to: two)
        let a = try TreeManifest.capture(root: one), b = try TreeManifest.capture(root: two)
        #expect(a == b && a.diff(b).isEmpty)
        #expect(a.text.hasSuffix("\n") && a.text.split(separator: "\n").count == a.lines.count)

        // Content, mode, owner, xattr, new and deleted entries all show up.
        try Data("changed".utf8).write(to: URL(fileURLWithPath: two + "/d/f"))
        chmod(two + "/d", 0o755)
        if geteuid() == 0 { #expect(lchown(two + "/l", 7, 8) == 0) }
        #expect(setXattr(two + "/d", "user.x", "1") == 0)
        try Data().write(to: URL(fileURLWithPath: two + "/added"))
        let c = try TreeManifest.capture(root: two)
        let d = a.diff(c)
        #expect(
            d.contains(
                "+ /added file mode=0644 uid=\(geteuid()) gid=\(getegid()) size=0 sha256=\(Digest.of([UInt8]()).hex)"))
        #expect(d.contains("~ /d: mode 0750 -> 0755"))
        #expect(d.contains("~ /d: xattr.user.x (none) -> 1"))
        #expect(d.contains("~ /d/f: size 7 -> 7") == false)
        #expect(d.contains { $0.hasPrefix("~ /d/f: sha256 ") })
        #expect(d.contains("~ /l: uid 0 -> 7") || geteuid() != 0)
        try FileManager.default.removeItem(atPath: two + "/added")
        #expect(c.diff(try TreeManifest.capture(root: two)).first?.hasPrefix("- /added file") == true)
    }

    /// The sandbox snapshot (mtimes included) sees a write through a host path that keeps size and mode.
    @Test func snapshotDetectsHostChanges() throws {
        let s = try ExtractSandbox()
        let before = try s.snapshot()
        var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, s.host + "/dir/inner", &times, 0) == 0)
        #expect(
            before.diff(try s.snapshot()) == [
                "~ /host/dir/inner: mtime \(before.lines.first { $0.hasPrefix("/host/dir/inner ") }!.split(separator: " ").last!.dropFirst(6)) -> 1.000000000"
            ])
        // Entries inside rootfs/ are excluded; the rootfs directory itself too.
        try Data("x".utf8).write(to: URL(fileURLWithPath: s.rootfs + "/inside"))
        #expect(try s.snapshot().lines.allSatisfy { !$0.hasPrefix("/rootfs") })
    }

    @Test func subpathAndExclusions() throws {
        let s = try ExtractSandbox()
        let m = try TreeManifest.capture(root: s.dir, options: .init(subpath: "host", excludedPaths: ["/dir"]))
        #expect(m.lines.map { String($0.split(separator: " ")[0]) } == ["/", "/canary", "/passwd"])
        let noRoot = try TreeManifest.capture(root: s.host, options: .init(includeRoot: false))
        #expect(
            noRoot.lines.map { String($0.split(separator: " ")[0]) } == ["/canary", "/dir", "/dir/inner", "/passwd"])
        #expect(setXattr(s.host + "/canary", "user.a=b", "c=d") == 0)
        #expect(try TreeManifest.capture(root: s.host).lines.contains { $0.hasSuffix(" xattr.user.a\\x3db=c=d") })
    }
}
