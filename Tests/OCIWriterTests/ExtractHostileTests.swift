import COCISys
import Foundation
import Testing

@testable import OCIWriter

/// Crafted hostile layers: every test proves (in `ExtractSandbox.extract`) that nothing outside the rootfs was
/// created, modified or deleted, and that the entry was refused with a message naming it, or contained.
@Suite struct ExtractHostileTests {
    // 1. `../` escape.
    @Test func dotDotEscapeRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.file("../outside.txt", "pwned"), .file("../host/new", "pwned")]])
        expectRefused(o, naming: "../outside.txt", "'..'")
        #expect(s.read("outside.txt") == "outside\n")
    }

    // 2. `..` hidden in the middle of a name.
    @Test func innerDotDotRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.dir("a"), .file("a/../../host/canary", "pwned")]])
        expectRefused(o, naming: "a/../../host/canary", "'..'")
    }

    // 3. Absolute names are relative to the rootfs.
    @Test func absoluteNameContained() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.file(s.host + "/planted", "x"), .file("/etc/evil", "y")]])
        #expect(o.error == nil)
        #expect(s.rootRead(String(s.host.dropFirst()) + "/planted") == "x")
        #expect(s.rootRead("etc/evil") == "y")
        #expect(s.read("host/planted") == nil)
        #expect(!FileManager.default.fileExists(atPath: "/etc/evil"))
    }

    // 4. Symlink to `/` then a file through it: lands inside the rootfs.
    @Test func symlinkToRootThenFileContained() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.symlink("rootlink", "/"), .dir("rootlink/etc"), .file("rootlink/etc/passwd", "inside")]
        ])
        #expect(o.error == nil)
        #expect(s.kind("rootlink") == "symlink")
        #expect(s.rootRead("etc/passwd") == "inside")
    }

    // 5. Symlink to `..` (and `../..`) then a file through it: `..` at the rootfs root stays at the root.
    @Test func symlinkToDotDotThenFileContained() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [
                .symlink("up", ".."), .symlink("upup", "../../.."), .file("up/outside.txt", "in-root"),
                .file("upup/host-file", "in-root too")
            ]
        ])
        #expect(o.error == nil)
        #expect(s.rootRead("outside.txt") == "in-root")
        #expect(s.rootRead("host-file") == "in-root too")
        #expect(s.read("outside.txt") == "outside\n")
    }

    // 6. Symlink to a host directory planted by an earlier layer, written through by a later layer.
    @Test func symlinkToHostFromEarlierLayer() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.symlink("abs", s.host), .symlink("rel", "../host"), .symlink("deep", "../../../../host")],
            [.file("abs/canary", "pwned")]
        ])
        expectRefused(o, naming: "abs/canary")
        #expect(s.read("host/canary") == "host secret\n")
        let o2 = try s.extract([[.file("rel/canary", "pwned")]])
        expectRefused(o2, naming: "rel/canary")
        // When the in-root target exists, the write is contained there.
        let o3 = try s.extract([
            [.dir("host"), .file("rel/canary", "contained")], [.file("deep/dir/inner", "contained2")]
        ])
        #expect(o3.error == nil)
        #expect(s.rootRead("host/canary") == "contained")
        #expect(s.read("host/dir/inner") == "inner secret\n")
    }

    // 7. Symlink loop.
    @Test func symlinkLoopRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.symlink("a", "b"), .symlink("b", "a"), .file("a/x", "loop")]])
        expectRefused(o, naming: "a/x", "symbolic links")
    }

    // 8. Replacing the root `.` with a symlink (or a file).
    @Test func replacingDotRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.symlink(".", s.host)]])
        expectRefused(o, naming: ".", "can only be a directory")
        let o2 = try s.extract([[.symlink("./", "/")]])
        expectRefused(o2, naming: "./")
        let o3 = try s.extract([[.file("/", "x")]])
        #expect(o3.error?.code == .unsafeEntry)
        #expect(s.kind("") == "dir")
    }

    // 9. Parent that is a regular file.
    @Test func parentIsFileRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.file("f", "data"), .file("f/child", "x")]])
        expectRefused(o, naming: "f/child", "not a directory")
        #expect(s.rootRead("f") == "data")
    }

    // 10. Hard link to a host path (absolute): resolved in-root, refused when missing there.
    @Test func hardLinkToHostAbsoluteRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.hardlink("pw", s.host + "/passwd")]])
        expectRefused(o, naming: "pw", "does not exist in the rootfs")
        let o2 = try s.extract([[.hardlink("pw2", "/etc/passwd")]])
        expectRefused(o2, naming: "pw2")
    }

    // 11. Hard link to ../outside.
    @Test func hardLinkDotDotRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.hardlink("out", "../outside.txt")]])
        expectRefused(o, naming: "out", "'..'")
    }

    // 12. Hard link through a symlink pointing to the host.
    @Test func hardLinkThroughSymlinkRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.symlink("h", s.host), .hardlink("stolen", "h/canary")]])
        expectRefused(o, naming: "stolen", "does not exist in the rootfs")
        // A hard link to a symlink or a directory is refused even inside.
        let o2 = try s.extract([[.hardlink("l2", "h")]])
        expectRefused(o2, naming: "l2", "not a regular file")
        let o3 = try s.extract([[.dir("d"), .hardlink("l3", "d")]])
        expectRefused(o3, naming: "l3", "not a regular file")
    }

    // 13. Absolute hard-link target inside the rootfs: contained (linked to the in-root file).
    @Test func absoluteHardLinkTargetContained() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.dir("etc"), .file("etc/passwd", "image passwd"), .hardlink("copy", "/etc/passwd")]])
        #expect(o.error == nil)
        #expect(s.rootRead("copy") == "image passwd")
        #expect(try s.rootManifest().lines.contains { $0.hasPrefix("/copy ") && $0.contains("hardlink=/copy") })
    }

    // 14. Writing through an existing symlink (from an earlier layer) must replace the link.
    @Test func fileReplacesSymlinkNotWrittenThrough() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.symlink("passwd", s.host + "/passwd"), .symlink("rel", "../host/canary")],
            [.file("passwd", "image"), .file("rel", "image2")]
        ])
        #expect(o.error == nil)
        #expect(s.kind("passwd") == "file")
        #expect(s.rootRead("passwd") == "image")
        #expect(s.rootRead("rel") == "image2")
        #expect(s.read("host/passwd") == "root:x:0:0:host:/root:/bin/sh\n")
        // Same inside one layer.
        let o2 = try s.extract([[.symlink("x", s.host + "/canary"), .file("x", "same layer")]])
        #expect(o2.error == nil)
        #expect(s.rootRead("x") == "same layer")
    }

    // 15. Writing through an existing hard link: a hard link into the host planted in the rootfs, and one made by
    // an earlier layer. The new file replaces the name; the other names keep their content.
    @Test func fileReplacesHardLinkNotWrittenThrough() throws {
        let s = try ExtractSandbox()
        #expect(link(s.host + "/canary", s.rootfs + "/planted") == 0)
        let o = try s.extract([
            [.file("a", "original"), .hardlink("b", "a")], [.file("planted", "new"), .file("b", "new b")]
        ])
        #expect(o.error == nil)
        #expect(s.read("host/canary") == "host secret\n")
        #expect(s.rootRead("planted") == "new")
        #expect(s.rootRead("a") == "original")
        #expect(s.rootRead("b") == "new b")
    }

    // 16. Whiteouts `.wh.`, `.wh..`, `.wh...` and whiteout names used as directories.
    @Test(arguments: [".wh.", ".wh..", ".wh...", "sub/.wh..", ".wh.x/y"])
    func invalidWhiteoutRefused(_ name: String) throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.dir("sub"), .file("sub/keep", "k")], [CraftedEntry(name: Array(name.utf8), kind: .file)]
        ])
        expectRefused(o, naming: name)
        #expect(s.rootRead("sub/keep") == "k")
    }

    // 17. Whiteout under a symlinked directory pointing outside: resolved in-root, the host file survives.
    @Test func whiteoutUnderSymlinkToHost() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.symlink("d", s.host), .symlink("r", "../host")],
            [.file("d/.wh.canary"), .file("r/.wh.canary"), .file("r/.wh.dir")]
        ])
        #expect(o.error == nil)
        #expect(FileManager.default.fileExists(atPath: s.host + "/dir/inner"))
        // In-root, the same whiteout does remove the in-root entry.
        let o2 = try s.extract([[.dir("host"), .file("host/canary", "in root")], [.file("r/.wh.canary")]])
        #expect(o2.error == nil)
        #expect(s.kind("host/canary") == nil)
        #expect(s.kind("r") == "symlink")
    }

    // 18. Opaque marker under a symlink to the host.
    @Test func opaqueUnderSymlinkToHost() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.symlink("d", s.host), .symlink("r", "../../host"), .file("keep", "k")],
            [.file("d/.wh..wh..opq"), .file("r/.wh..wh..opq")]
        ])
        #expect(o.error == nil)
        #expect(s.rootRead("keep") == "k")
        #expect(s.kind("d") == "symlink")
    }

    // 19. Whiteout path escape `../.wh.x`.
    @Test func whiteoutPathEscapeRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.file("../.wh.outside.txt"), .file("../host/.wh.canary")]])
        expectRefused(o, naming: "../.wh.outside.txt", "'..'")
        #expect(s.read("outside.txt") == "outside\n")
    }

    // 20. Device nodes under each policy.
    @Test func deviceNodePolicies() throws {
        let s = try ExtractSandbox()
        let entries: [CraftedEntry] = [.device("dev-null", char: true, 1, 3), .device("loop0", char: false, 7, 0)]
        let skip = try s.extract([entries], options: LayerExtractionOptions(devices: .skip))
        #expect(skip.error == nil)
        #expect(s.kind("dev-null") == nil && s.kind("loop0") == nil)
        #expect(skip.warnings.count == 2 && skip.warnings[0].description.contains("'dev-null'"))
        // A hard link to a skipped device is skipped too (with a warning), not an error.
        let linked = try s.extract(
            [[.device("tty", char: true, 5, 0), .hardlink("tty-link", "tty")]],
            options: LayerExtractionOptions(devices: .skip))
        #expect(linked.error == nil && s.kind("tty-link") == nil)
        #expect(linked.warnings.last?.description.contains("'tty-link'") == true)
        let refuse = try s.extract([entries], options: LayerExtractionOptions(devices: .refuse))
        expectRefused(refuse, naming: "dev-null", "device")
        if geteuid() == 0 {
            let create = try s.extract([entries], options: LayerExtractionOptions(devices: .create))
            #expect(create.error == nil)
            let m = try s.rootManifest().lines
            #expect(m.contains("/dev-null char mode=0600 uid=0 gid=0 dev=1:3"))
            #expect(m.contains("/loop0 block mode=0600 uid=0 gid=0 dev=7:0"))
        }
    }

    // 21. setuid/setgid files under each policy.
    @Test func setuidPolicies() throws {
        let s = try ExtractSandbox()
        let entries: [CraftedEntry] = [
            .file("su", "#!", mode: 0o4755), .file("sg", "#!", mode: 0o2711), .dir("sgdir", mode: 0o2775)
        ]
        #expect(try s.extract([entries], options: LayerExtractionOptions(setID: .keep)).error == nil)
        #expect(s.mode("su") == 0o4755 && s.mode("sg") == 0o2711 && s.mode("sgdir") == 0o2775)
        let strip = try s.extract([entries], options: LayerExtractionOptions(setID: .strip))
        #expect(strip.error == nil)
        #expect(s.mode("su") == 0o755 && s.mode("sg") == 0o711 && s.mode("sgdir") == 0o2775)
        #expect(strip.warnings.contains { $0.entry == "su" })
        let refuse = try s.extract([entries], options: LayerExtractionOptions(setID: .refuse))
        expectRefused(refuse, naming: "su", "setuid")
    }

    // 22. Overlay and SELinux xattrs smuggled in PAX records are never applied; others are.
    @Test func overlayXattrsDropped() throws {
        let s = try ExtractSandbox()
        var d = CraftedEntry.dir("d")
        d.pax = [
            ("SCHILY.xattr.trusted.overlay.opaque", Array("y".utf8)),
            ("SCHILY.xattr.user.overlay.redirect", Array("/etc".utf8)),
            ("SCHILY.xattr.security.selinux", Array("system_u:object_r:shadow_t:s0".utf8)),
            ("SCHILY.xattr.user.keep", Array("kept".utf8))
        ]
        var f = CraftedEntry.file("d/f", "x")
        f.pax = [("SCHILY.xattr.trusted.overlay.origin", [0, 1, 2]), ("SCHILY.xattr.user.other", Array("v".utf8))]
        let o = try s.extract([[d, f]], options: LayerExtractionOptions(xattrs: .apply))
        #expect(o.error == nil)
        let lines = try s.rootManifest().lines
        let dLine = try #require(lines.first { $0.hasPrefix("/d dir ") })
        let fLine = try #require(lines.first { $0.hasPrefix("/d/f file ") })
        #expect(dLine.hasSuffix(" xattr.user.keep=kept"))
        #expect(fLine.hasSuffix(" xattr.user.other=v"))
        // The manifest hides overlay/SELinux names too: check the raw list.
        let raw = try #require(listXattrs(s.rootfs + "/d"))
        #expect(raw == ["user.keep"])
        #expect(try #require(listXattrs(s.rootfs + "/d/f")) == ["user.other"])
        #expect(o.warnings.filter { $0.message.contains("never cross") }.count == 4)
    }

    // 23. Decompression bomb: 64 MiB of zeros in a few KiB of gzip, and many small entries over the total.
    @Test func decompressionBombRefused() throws {
        let s = try ExtractSandbox()
        let bomb = CraftedEntry(name: Array("bomb".utf8), kind: .file, data: [UInt8](repeating: 0, count: 64 << 20))
        let file = try s.layer([bomb], compression: .gzip)
        #expect(try #require(FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) < 1 << 20)
        var limits = ExtractionLimits()
        limits.maxTotalBytes = 8 << 20
        let o = try s.extract(files: [file], options: LayerExtractionOptions(limits: limits))
        expectRefused(o, naming: "bomb", "decompression bomb")
        #expect(s.kind("bomb") == nil)
        let many = (0..<20).map {
            CraftedEntry(name: Array("f\($0)".utf8), kind: .file, data: [UInt8](repeating: 1, count: 1 << 20))
        }
        let o2 = try s.extract(
            files: [try s.layer(many, compression: .zstd)], options: LayerExtractionOptions(limits: limits))
        expectRefused(o2, naming: "f7", "uncompressed bytes")
    }

    // 24. Huge entry count.
    @Test func entryCountLimit() throws {
        let s = try ExtractSandbox()
        var limits = ExtractionLimits()
        limits.maxEntries = 100
        let entries = (0..<101).map { CraftedEntry.file("e\($0)", "") }
        let o = try s.extract([entries], options: LayerExtractionOptions(limits: limits))
        expectRefused(o, naming: "e100", "entry count")
        #expect(o.error?.code == .limitExceeded)
        #expect(s.kind("e99") == "file")
    }

    // 25. Huge PAX header: over the configured limit, and over libarchive's own 1 MiB cap.
    @Test func hugePaxHeaderRefused() throws {
        let s = try ExtractSandbox()
        var big = CraftedEntry.file("big", "x")
        big.pax = [("comment", [UInt8](repeating: 0x61, count: 100 << 10))]
        var limits = ExtractionLimits()
        limits.maxHeaderBytes = 64 << 10
        let o = try s.extract([[big]], options: LayerExtractionOptions(limits: limits))
        expectRefused(o, naming: "big", "header")
        #expect(try s.extract([[big]]).error == nil)
        var huge = CraftedEntry.file("huge", "x")
        huge.pax = [("comment", [UInt8](repeating: 0x61, count: 2 << 20))]
        let o2 = try s.extract([[.file("first", "1"), huge]])
        let e = try #require(o2.error)
        #expect(e.description.contains("entry #1") && e.description.contains("after 'first'"))
        #expect(s.kind("huge") == nil)
    }

    // 26. Huge names: over the length limit, a component over NAME_MAX, too deep, too long symlink target.
    @Test func hugeNamesRefused() throws {
        let s = try ExtractSandbox()
        let long = String(repeating: "a/", count: 2100) + "x"
        let o = try s.extract([[.file(long, "x")]])
        #expect(o.error?.code == .limitExceeded && o.error!.description.contains("over the limit of 4096"))
        let comp = String(repeating: "c", count: 300)
        expectRefused(try s.extract([[.file(comp, "x")]]), naming: comp, "NAME_MAX")
        var limits = ExtractionLimits()
        limits.maxPathDepth = 8
        let deep = (0..<9).map { "d\($0)" }.joined(separator: "/")
        expectRefused(
            try s.extract([[.file(deep, "x")]], options: LayerExtractionOptions(limits: limits)), naming: deep, "depth")
        limits = ExtractionLimits()
        limits.maxLinkTargetLength = 64
        expectRefused(
            try s.extract(
                [[.symlink("l", String(repeating: "t", count: 65))]], options: LayerExtractionOptions(limits: limits)),
            naming: "l", "symlink target")
        #expect(s.rootListing().isEmpty)
    }

    // 27. NUL in a name (PAX path): libarchive truncates at the NUL; the entry is contained.
    @Test func nulInNameContained() throws {
        let s = try ExtractSandbox()
        var e = CraftedEntry.file("placeholder", "nul")
        e.pax = [("path", Array("a".utf8) + [0] + Array("/../../outside.txt".utf8))]
        let o = try s.extract([[e]])
        #expect(o.error == nil)
        #expect(s.rootListing() == ["a"])
        #expect(s.rootRead("a") == "nul")
    }

    // 28. Duplicate entries: dir then file, file then dir, file then symlink (the last wins; a dir merges).
    @Test func duplicateEntriesLastWins() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [
                .dir("x"), .file("x/child", "c"), .file("x", "file now"),
                .file("y", "file"), .dir("y", mode: 0o711),
                .file("z", "file"), .symlink("z", s.host),
                .dir("m", mode: 0o700), .file("m/a", "a"), .dir("m", mode: 0o755), .file("m/b", "b")
            ]
        ])
        #expect(o.error == nil)
        #expect(s.rootRead("x") == "file now")
        #expect(s.kind("y") == "dir" && s.mode("y") == 0o711)
        #expect(s.kind("z") == "symlink")
        #expect(s.rootListing("m") == ["a", "b"] && s.mode("m") == 0o755)
    }

    // 29. A symlink replacing a directory in a later layer, then written through in the same layer.
    @Test func symlinkReplacesDirectoryThenWrite() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.dir("etc"), .file("etc/hosts", "h")],
            [.symlink("etc", s.host), .file("etc/canary", "pwned")]
        ])
        expectRefused(o, naming: "etc/canary")
        #expect(s.kind("etc") == "symlink")
    }

    // 30. A dangling symlink as a parent is not followed out to create directories on the host.
    @Test func danglingSymlinkParentRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([[.symlink("new", s.dir + "/created-on-host"), .file("new/file", "x")]])
        expectRefused(o, naming: "new/file", "is a symlink to")
        #expect(!FileManager.default.fileExists(atPath: s.dir + "/created-on-host"))
    }

    // 31. The owner mapping refuses ids outside it; owners are applied through it.
    @Test func idMappingApplied() throws {
        let s = try ExtractSandbox()
        let m = IDMapping(
            uids: [.init(containerID: 0, hostID: 100000, count: 65536)],
            gids: [.init(containerID: 0, hostID: 200000, count: 65536)])
        let o = try s.extract(
            [[.file("bad", "x", uid: 70000, gid: 0)]], options: LayerExtractionOptions(ownership: .map(m)))
        expectRefused(o, naming: "bad", "outside the id mapping")
        let o2 = try s.extract(
            [[.file("badgid", "x", uid: 0, gid: 65536)]], options: LayerExtractionOptions(ownership: .map(m)))
        expectRefused(o2, naming: "badgid", "outside the id mapping")
        #expect(s.rootListing().isEmpty)
        if geteuid() == 0 {
            #expect(
                try s.extract(
                    [[.file("ok", "x", uid: 1000, gid: 1001)]], options: LayerExtractionOptions(ownership: .map(m))
                ).error == nil)
            #expect(try s.rootManifest().lines.contains { $0.hasPrefix("/ok file mode=0644 uid=101000 gid=201001") })
        }
    }

    // 32. Truncated / corrupt archives fail with the entry index.
    @Test func truncatedLayerRefused() throws {
        let s = try ExtractSandbox()
        var bytes = CraftedTar.build(
            [.file("a", "1"), .file("b", String(repeating: "z", count: 5000))], endMarker: false)
        bytes.removeLast(3000)
        let o = try s.extract(files: [try s.layer(bytes: bytes)])
        let e = try #require(o.error)
        #expect(e.description.contains("'b'") || e.description.contains("entry #"))
        #expect(s.kind("b") == nil)
        #expect(s.rootListing().filter { $0.hasPrefix(".ociforge-tmp") }.isEmpty)
    }

    // 33. A long chain of symlinks (no loop) is cut by the kernel's 40-hop limit.
    @Test func longSymlinkChainRefused() throws {
        let s = try ExtractSandbox()
        var entries: [CraftedEntry] = [.dir("target")]
        for i in 0..<50 { entries.append(.symlink("l\(i)", i == 49 ? "target" : "l\(i + 1)")) }
        entries.append(.file("l0/x", "x"))
        let o = try s.extract([entries])
        expectRefused(o, naming: "l0/x", "symbolic links")
        #expect(s.rootListing("target").isEmpty)
    }

    // 34. Symlinks into /proc (magic links such as /proc/self/root, /proc/self/cwd) resolve in-root.
    @Test func procMagicLinkRefused() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [
                .symlink("me", "/proc/self/root"), .symlink("cwd", "/proc/self/cwd"),
                .file("me" + s.host + "/canary", "pwned")
            ]
        ])
        expectRefused(o, naming: "me" + s.host + "/canary")
        let o2 = try s.extract([[.file("cwd/pwned", "x")]])
        expectRefused(o2, naming: "cwd/pwned")
        #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/pwned"))
    }

    // 35. A PAX size that lies (larger than the data, or absurd) is refused naming the entry.
    @Test func lyingPaxSizeRefused() throws {
        let s = try ExtractSandbox()
        var liar = CraftedEntry.file("liar", "tiny")
        liar.pax = [("size", Array("1000000".utf8))]
        let o = try s.extract([[.file("before", "ok"), liar]])
        expectRefused(o, naming: "liar")
        #expect(s.kind("liar") == nil)
        var absurd = CraftedEntry.file("absurd", "tiny")
        absurd.pax = [("size", Array("999999999999999".utf8))]
        let o2 = try s.extract([[absurd]])
        expectRefused(o2, naming: "absurd", "decompression bomb")
    }

    // 36. Owner ids outside uid_t (PAX numbers) are refused rather than truncated to root.
    @Test func invalidOwnerRefused() throws {
        let s = try ExtractSandbox()
        var big = CraftedEntry.file("big-uid", "x")
        big.pax = [("uid", Array("4294967296".utf8))]
        expectRefused(try s.extract([[big]]), naming: "big-uid", "not a valid uid:gid")
        var neg = CraftedEntry.file("max-gid", "x")
        neg.pax = [("gid", Array("4294967295".utf8))]
        expectRefused(try s.extract([[neg]]), naming: "max-gid", "not a valid uid:gid")
        #expect(s.rootListing().isEmpty)
    }

    // 37. aufs whiteout metadata names are skipped with a warning, never created; a directory entry named like
    // a whiteout is a whiteout, not a directory.
    @Test func whiteoutMetadataNamesNeverCreated() throws {
        let s = try ExtractSandbox()
        let o = try s.extract([
            [.file("keep", "k"), .dir("d"), .file("d/x", "x")],
            [.file(".wh..wh.plnk"), .dir(".wh..wh.orph"), .dir(".wh.keep"), .file("d/.wh.x")]
        ])
        #expect(o.error == nil)
        #expect(s.rootListing() == ["d"])
        #expect(s.rootListing("d").isEmpty)
        #expect(o.warnings.filter { $0.message.contains("whiteout metadata") }.count == 2)
    }
}

/// The raw xattr names of a path (not following a symlink), via the project's C helper.
func listXattrs(_ path: String) -> [String]? {
    let dfd = open(path, ocisys_o_path() | O_NOFOLLOW | O_CLOEXEC)
    guard dfd >= 0 else { return nil }
    defer { close(dfd) }
    var buf = [CChar](repeating: 0, count: 65536)
    let n = ocisys_llistxattr_at(dfd, nil, &buf, buf.count)
    guard n >= 0 else { return nil }
    return buf[0..<n].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        .sorted()
}
