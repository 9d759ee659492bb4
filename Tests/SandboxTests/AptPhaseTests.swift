import Foundation
import OCIWriter
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The script shared by the root and rootless apt phases: installs python3 and cron (whose maintainer
/// script chowns), deletes a file, replaces a directory (opaque) and removes one (whiteout).
let aptScript = """
    set -e
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 cron
    python3 -c 'print("py-ok")'
    rm /etc/issue
    rm -rf /usr/share/doc/debconf
    rm -rf /var/log/apt && mkdir /var/log/apt && echo fresh > /var/log/apt/marker
    """

let aptCaches = [
    CacheMount(name: "apt-lists", target: "/var/lib/apt/lists"),
    CacheMount(name: "apt-archives", target: "/var/cache/apt/archives")
]

/// A manifest of a tree as seen inside a sandbox: type, mode, owner, size, mtime (non-directories), link
/// target, path, and a sha256 of every regular file.
let manifestScript = """
    cd /
    { find . -xdev -type d -printf 'd %m %U %G %p\\n'
      find . -xdev ! -type d -printf '%y %m %U %G %s %T@ %l %p\\n'
      find . -xdev -type f -print0 | xargs -0 -r sha256sum; } | LC_ALL=C sort |
      grep -v -E ' \\./etc/(resolv\\.conf|hosts|hostname)$'  # the sandbox's private per-run files
    """

@Suite("apt phases", .serialized)
struct AptPhaseTests {
    @Test("root: apt-get install python3 cron; the change set applied to the base equals the merged view")
    func aptAsRoot() throws {
        let sb = try Fixture.rootSandbox()
        let base = try Fixture.debianRootfs()
        var phase = PhaseSpec(name: "apt", command: ["/bin/sh", "-c", aptScript])
        phase.caches = aptCaches
        let out = Fixture.Output()
        let o = try sb.run(phase, base: base, output: out.sink)
        defer { o.discard() }
        #expect(out.lines.contains("py-ok"))
        let paths = Set(o.changes.changes.map(\.path))
        #expect(paths.contains("usr/bin/python3.11"))
        #expect(o.changes.changes.contains(.delete(path: "etc/issue")))
        #expect(o.changes.changes.contains(.delete(path: "usr/share/doc/debconf")))
        #expect(o.changes.changes.contains(.opaque(directory: "var/log/apt")))
        #expect(
            !paths.contains { $0.hasPrefix("var/lib/apt/lists/") || $0.hasPrefix("var/cache/apt/archives/") },
            "apt lists/archives leaked into the diff")
        #expect(!paths.contains { $0.hasPrefix("proc/") || $0.hasPrefix("dev/") || $0.hasPrefix("sys/") })

        // cron's maintainer script chowned its spool to group crontab: kept in the namespace's range.
        var st = stat()
        #expect(lstat(o.upper + "/var/spool/cron/crontabs", &st) == 0)
        let g0 = sb.identity.gidMap[0].hostID
        #expect(st.st_gid > g0 && st.st_gid < g0 + 65536, "crontabs gid \(st.st_gid)")
        #expect(o.idMapping.containerGID(forHost: st.st_gid) != 0)

        try expectChangeSetMatchesMergedView(sb: sb, base: base, outcome: o)
        try expectLayerMatchesMergedView(base: base, outcome: o)
    }
}

/// Writes the phase's layer, unpacks base + layer with the OCIWriter extractor and compares TreeManifests
/// (type/mode/owner/size/content/link/xattrs) with the overlay's merged view mounted read-only on the host.
func expectLayerMatchesMergedView(base: String, outcome o: PhaseOutcome) throws {
    let work = try Fixture.tempDir("layer")
    defer {
        _ = try? runHost("/bin/umount", [work + "/merged"])
        try? FileManager.default.removeItem(atPath: work)
    }
    let layer = work + "/layer.tar.gz"
    let r = try o.writeLayer(to: layer)
    #expect(r.entryCount > 100)
    // The layer holds container ids (0…65535), never the host range.
    let listing = try runHost("/bin/sh", ["-c", "tar -tvzf \(layer) --numeric-owner | awk '{print $2}' | sort -u"])
    #expect(!listing.output.contains("1000000"), "\(listing.output.prefix(300))")
    let names = try runHost("/bin/sh", ["-c", "tar -tzf \(layer)"]).output
    #expect(names.contains("etc/.wh.issue"))
    #expect(names.contains("var/log/apt/.wh..wh..opq"))
    #expect(!names.contains("var/lib/apt/lists/deb.debian.org"))
    #expect(!names.contains("var/cache/apt/archives/python3"))

    let unpacked = work + "/unpacked"
    #expect(try runHost("/bin/cp", ["-a", base, unpacked]).status == 0)
    _ = try LayerExtractor(options: LayerExtractionOptions(ownership: .map(o.idMapping))).apply(
        LayerSource(path: layer), to: unpacked)

    let merged = work + "/merged"
    mkdir(merged, 0o755)
    let m = try runHost(
        "/bin/mount",
        [
            "-t", "overlay", "overlay", "-o",
            "ro,lowerdir=\(o.upper):\(base),redirect_dir=nofollow,metacopy=off,userxattr", merged
        ])
    try #require(m.status == 0, "\(m.output)")
    let excluded = ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"]
    let a = try TreeManifest.capture(root: merged, options: .init(excludedPaths: excluded))
    let b = try TreeManifest.capture(root: unpacked, options: .init(excludedPaths: excluded))
    #expect(a.lines.count > 1000)
    let d = a.diff(b)
    #expect(d.isEmpty, "merged view vs unpacked layer:\n\(d.prefix(30).joined(separator: "\n"))")
}

extension ChangeSet.Change {
    var path: String {
        switch self {
        case .add(let p, _), .delete(let p): return p
        case .opaque(let p): return p
        }
    }
}

/// Applies `outcome.changes` to a copy of `base` and compares its manifest with the merged view's.
func expectChangeSetMatchesMergedView(sb: Sandbox, base: String, outcome o: PhaseOutcome) throws {
    let work = try Fixture.tempDir("apply")
    defer { try? FileManager.default.removeItem(atPath: work) }
    let copy = work + "/rootfs"
    let cp = try runHost("/bin/cp", ["-a", base, copy])
    try #require(cp.status == 0, "\(cp.output)")
    try apply(o.changes, to: copy)

    func manifest(base: String, layers: [String]) throws -> String {
        let out = Fixture.Output()
        let m = try sb.run(
            PhaseSpec(name: "manifest", command: ["/bin/sh", "-c", manifestScript]), base: base, layers: layers,
            output: out.sink)
        m.discard()
        return out.text
    }
    let merged = try manifest(base: base, layers: [o.upper])
    let applied = try manifest(base: copy, layers: [])
    #expect(merged.count > 1000)
    if merged != applied {
        let a = Set(merged.split(separator: "\n")), b = Set(applied.split(separator: "\n"))
        Issue.record(
            "merged view and applied change set differ:\nonly merged: \(a.subtracting(b).sorted().prefix(20))\nonly applied: \(b.subtracting(a).sorted().prefix(20))"
        )
    }
}

/// Applies a change set the way an OCI layer unpacks: deletions and opaque markers, then additions.
func apply(_ cs: ChangeSet, to root: String) throws {
    let fm = FileManager.default
    for c in cs.changes {
        switch c {
        case .delete(let p): try? fm.removeItem(atPath: root + "/" + p)
        case .opaque(let d):
            for n in (try? fm.contentsOfDirectory(atPath: root + "/" + d)) ?? [] {
                try fm.removeItem(atPath: root + "/" + d + "/" + n)
            }
        case .add: break
        }
    }
    let adds = cs.changes.compactMap { c -> (String, String)? in
        if case .add(let p, let s) = c { return (p, s) }
        return nil
    }
    .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
    for (p, src) in adds {
        let dst = root + "/" + p
        var st = stat(), dt = stat()
        guard lstat(src, &st) == 0 else { throw SandboxError(.diff, "missing source", detail: src) }
        let exists = lstat(dst, &dt) == 0
        if st.st_mode & S_IFMT == S_IFDIR {
            if exists && dt.st_mode & S_IFMT != S_IFDIR { try fm.removeItem(atPath: dst) }
            if !exists || dt.st_mode & S_IFMT != S_IFDIR { mkdir(dst, 0o700) }
            lchown(dst, st.st_uid, st.st_gid)
            chmod(dst, st.st_mode & 0o7777)
        } else {
            if exists { try fm.removeItem(atPath: dst) }
            let r = try runHost("/bin/cp", ["-a", "--no-dereference", "--no-target-directory", src, dst])
            if r.status != 0 { throw SandboxError(.diff, "cp failed", detail: r.output) }
        }
    }
}
