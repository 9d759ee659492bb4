import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Lays verified archives out as a staging tree: each archive is unpacked into its own directory, its single
/// top-level directory (if it has exactly one entry and that is a directory) stripped, and the result moved to
/// `<staging>/opt/ociforge/toolchains/<tool>/<version>`. Rust archives are rust-installer tarballs: the
/// components listed in their `components` file are merged into the prefix (each `manifest.in` dropped).
/// Work happens in a temporary sibling of `staging`, renamed into place only when complete.
struct StagingTree {
    let tool: ToolKind
    let flavor: ToolchainFlavor
    let version: String
    let staging: String

    func build(_ archives: [VerifiedArchive]) throws(ToolchainError) {
        let (parent, base) = Self.split(staging)
        try ToolchainCache.makeDirectory(parent, parents: true)
        try Self.requireAbsentOrEmpty(staging)
        let work = parent + "/.\(base).ociforge-staging-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try ToolchainCache.makeDirectory(work, parents: false)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let tree = work + "/tree"
        var prefix = tree
        for c in ToolchainPrefix.path(tool, flavor: flavor, version: version).split(separator: "/") {
            try ToolchainCache.makeDirectory(prefix, parents: false)
            prefix += "/" + c
        }
        if tool == .rust { try ToolchainCache.makeDirectory(prefix, parents: false) }
        for (i, a) in archives.enumerated() {
            let raw = work + "/raw-\(i)"
            try ToolchainCache.makeDirectory(raw, parents: false)
            let links = try ArchiveUnpacker(archive: a.path, url: a.url).unpack(format: a.format, into: raw)
            let (root, strip) = try Self.treeRoot(raw, links: links, url: a.url)
            if tool == .rust {
                try mergeRustComponents(root, links: links, skip: strip, into: prefix, url: a.url)
            } else {
                guard rename(root, prefix) == 0 else {
                    throw ToolchainError(
                        .io, "cannot move the unpacked tree into place", path: prefix, cause: Errno(errno))
                }
            }
        }
        _ = rmdir(staging)
        guard rename(tree, staging) == 0 else {
            throw ToolchainError(
                .io, "cannot rename the staging tree into place (did something create it meanwhile?)",
                path: staging, cause: Errno(errno))
        }
    }

    /// The directory holding the toolchain inside `raw`: its only entry when that is a directory (stripped), else
    /// `raw` itself. Symlinks are re-checked against the stripped root. Returns the root and the stripped count.
    static func treeRoot(_ raw: String, links: [ArchiveUnpacker.Link], url: String) throws(ToolchainError) -> (
        String, Int
    ) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: raw)) ?? []
        guard names.count == 1 else { return (raw, 0) }
        var st = stat()
        guard lstat(raw + "/" + names[0], &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return (raw, 0) }
        for l in links where !ArchivePath.symlinkStaysInside(entry: Array(l.entry.dropFirst()), target: l.target) {
            throw ToolchainError(
                .hostileArchive,
                "symlink '\(l.entry.joined(separator: "/"))' -> '\(l.target)' leaves the toolchain tree; refused",
                url: url)
        }
        return (raw + "/" + names[0], 1)
    }

    /// Moves every component directory named in `<root>/components` into `prefix`, merging directories.
    private func mergeRustComponents(
        _ root: String, links: [ArchiveUnpacker.Link], skip: Int, into prefix: String,
        url: String
    ) throws(ToolchainError) {
        guard let list = try? String(contentsOfFile: root + "/components", encoding: .utf8) else {
            throw ToolchainError(.archive, "not a rust-installer tarball: no 'components' file at its top", url: url)
        }
        let components = list.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        for c in components where !c.isEmpty {
            guard let parts = ArchivePath.components(c), parts.count == 1 else {
                throw ToolchainError(.hostileArchive, "component name '\(c)' is not a plain directory name", url: url)
            }
            for l in links where l.entry.count > skip + 1 && l.entry[skip] == c {
                guard ArchivePath.symlinkStaysInside(entry: Array(l.entry.dropFirst(skip + 1)), target: l.target) else {
                    throw ToolchainError(
                        .hostileArchive,
                        "symlink '\(l.entry.joined(separator: "/"))' -> '\(l.target)' leaves component \(c); refused",
                        url: url)
                }
            }
            try Self.merge(root + "/" + c, into: prefix, skipping: ["manifest.in"], url: url)
        }
    }

    private static func merge(_ src: String, into dst: String, skipping: Set<String>, url: String)
        throws(ToolchainError)
    {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: src)) ?? []
        for n in names.sorted() where !skipping.contains(n) {
            var s = stat(), d = stat()
            let from = src + "/" + n, to = dst + "/" + n
            if lstat(to, &d) != 0 {
                guard rename(from, to) == 0 else {
                    throw ToolchainError(.io, "cannot move component file", path: to, cause: Errno(errno))
                }
            } else if lstat(from, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR, (d.st_mode & S_IFMT) == S_IFDIR {
                try merge(from, into: to, skipping: [], url: url)
            } else {
                throw ToolchainError(.archive, "two components both provide '\(n)'", url: url, path: to)
            }
        }
    }

    static func split(_ path: String) -> (String, String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return (".", p) }
        return (slash == p.startIndex ? "/" : String(p[..<slash]), String(p[p.index(after: slash)...]))
    }

    static func requireAbsentOrEmpty(_ path: String) throws(ToolchainError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["?"]
        guard (st.st_mode & S_IFMT) == S_IFDIR, names.isEmpty else {
            throw ToolchainError(
                .io, "the staging directory exists and is not empty; remove it or choose another path", path: path)
        }
    }
}
