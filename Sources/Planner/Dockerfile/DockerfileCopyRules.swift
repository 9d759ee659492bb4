import Foundation

/// COPY/ADD source resolution, shared by the build context (at plan time) and stage or image filesystems (at
/// build time, `resolve(_:root:)`): sources are cleaned and cannot leave the root; a source with `*?[` is a
/// `filepath.Match` pattern over whole paths (an empty match copies nothing); a directory source copies its
/// contents (not the directory itself) into the destination; a file goes to `dest/<basename>` when the
/// destination ends in `/`, else to the destination path itself (the executor puts it inside when that path is
/// an existing directory, as Docker does); symbolic links named by a source are followed within the root, those
/// below a copied directory are copied as links; ADD extracts local archives (tar, gzip, bzip2, xz, zstd) into the
/// destination directory.
public enum DockerfileCopyRules {
    public struct Failure: Error, Equatable, Sendable {
        public var code: PlannerError.Code
        public var message: String
    }

    static func entries(
        source src: String, destination dest: String, slash: Bool, isAdd: Bool, tree: DockerfileContextTree,
        keyword: String, origin: String, display: String? = nil,
        exclude: DockerignoreMatcher = DockerignoreMatcher(),
        parents: Bool = false
    ) throws(Failure) -> (entries: [DockerfileCopyEntry], directory: Bool) {
        let shown = display ?? src
        // --parents: the path below the pivot (`/./` in the source, else the root) is kept under the destination.
        var pivot = ""
        var sourceText = src
        if parents, let r = src.range(of: "/./") {
            pivot = DockerfilePaths.contextRelative(String(src[..<r.lowerBound]))
            sourceText = String(src[..<r.lowerBound]) + "/" + String(src[r.upperBound...])
        }
        let rel = DockerfilePaths.contextRelative(sourceText)
        var matches: [String]
        if DockerfileGlob.hasMeta(rel) {
            guard DockerfileGlob.valid(rel) else {
                throw Failure(code: .invalidValue, message: "\(keyword) \(shown): malformed pattern")
            }
            matches = tree.entries.keys.filter {
                !$0.isEmpty && DockerfileGlob.match(rel, $0) && !exclude.excludes(DockerfilePaths.basename($0))
            }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            if matches.count > 1 && !slash && !parents {
                throw Failure(
                    code: .invalidValue,
                    message:
                        "When using \(keyword) with more than one source file, the destination must be a directory and end with a / (\(shown) matches \(matches.count) entries)"
                )
            }
        } else {
            guard tree.entries[rel] != nil else {
                let present =
                    FileManager.default.fileExists(atPath: tree.root + "/" + rel)
                    || (try? FileManager.default.destinationOfSymbolicLink(atPath: tree.root + "/" + rel)) != nil
                let why =
                    present && tree.ignoreFile != nil
                    ? "it is excluded by \(tree.ignoreFile!)" : "no such file or directory in \(origin)"
                throw Failure(code: .missingSource, message: "\(keyword) failed: \"\(shown)\" not found: \(why)")
            }
            matches = [rel]
        }
        var out: [DockerfileCopyEntry] = []
        var directory = false
        let destDir = dest.hasSuffix("/") ? dest : dest + "/"
        let destRoot = dest.hasSuffix("/") && dest != "/" ? String(dest.dropLast()) : dest
        for m in matches {
            var destDir = destDir, destRoot = destRoot, dest = dest, slash = slash
            if parents {
                let kept = pivot.isEmpty ? m : (m == pivot ? "" : String(m.dropFirst(pivot.count + 1)))
                let parent = kept.split(separator: "/").dropLast().joined(separator: "/")
                destDir = DockerfilePaths.join(destRoot, parent) + "/"
                if destDir == "//" { destDir = "/" }
                dest = destDir
                slash = true
                destRoot = DockerfilePaths.join(destRoot, kept)
            }
            var path = m
            var type = tree.entries[m]!
            if type == .symlink {
                guard let resolved = tree.followSymlink(m) else {
                    throw Failure(
                        code: .missingSource,
                        message:
                            "\(keyword) failed: \"\(m.isEmpty ? "/" : m)\" is a symbolic link that leaves \(origin) or dangles"
                    )
                }
                path = resolved
                type = tree.entries[resolved]!
            }
            if type == .directory {
                directory = true
                out.append(
                    DockerfileCopyEntry(
                        source: path.isEmpty ? "." : path, destination: destRoot, type: .directory, extract: nil))
                for d in tree.descendants(of: path) {
                    let relPart = path.isEmpty ? d : String(d.dropFirst(path.count + 1))
                    // --exclude patterns apply to paths relative to the copied directory.
                    if exclude.excludes(relPart) { continue }
                    out.append(
                        DockerfileCopyEntry(
                            source: d, destination: DockerfilePaths.join(destRoot, relPart), type: tree.entries[d]!,
                            extract: nil))
                }
            } else if isAdd, let archive = tree.archiveKind(path) {
                directory = true
                out.append(DockerfileCopyEntry(source: path, destination: destRoot, type: .file, extract: archive))
            } else {
                out.append(
                    DockerfileCopyEntry(
                        source: path, destination: slash ? destDir + DockerfilePaths.basename(m) : dest, type: .file,
                        extract: nil))
            }
        }
        return (out, directory)
    }

    /// Resolves a COPY whose sources come from a stage or an image (`copy.from` set): `root` is that
    /// filesystem on disk (the stage's rootfs). Entry sources are relative to `root`. Only the directories the
    /// sources name are walked.
    public static func resolve(_ copy: DockerfileCopy, root: String) throws(Failure) -> [DockerfileCopyEntry] {
        var out: [DockerfileCopyEntry] = []
        for src in copy.sources {
            let rel = DockerfilePaths.contextRelative(src)
            // The part before the first pattern character, resolved through symlinks inside the root.
            var fixed: [String] = []
            var rest: [String] = []
            for part in rel.split(separator: "/").map(String.init) {
                if rest.isEmpty && !DockerfileGlob.hasMeta(part) { fixed.append(part) } else { rest.append(part) }
            }
            let canonical = DockerfileContextTree.resolveInRoot(
                root, fixed.joined(separator: "/"), followLast: !rest.isEmpty)
            let pattern = ([canonical ?? fixed.joined(separator: "/")] + rest).filter { !$0.isEmpty }.joined(
                separator: "/")
            let tree = DockerfileContextTree(root: root, subtree: canonical ?? fixed.joined(separator: "/"))
            let slash = copy.destination.hasSuffix("/") || copy.parents
            var exclude = DockerignoreMatcher()
            if !copy.exclude.isEmpty {
                do {
                    exclude = try DockerignoreMatcher(text: copy.exclude.joined(separator: "\n"), file: "--exclude")
                } catch {
                    throw Failure(code: error.code, message: error.message)
                }
            }
            let found = try entries(
                source: pattern.isEmpty ? "." : pattern, destination: copy.destination, slash: slash, isAdd: false,
                tree: tree,
                keyword: "COPY",
                origin: copy.from?.stage.map { "stage \($0)" } ?? copy.from?.image ?? "the source filesystem",
                display: src, exclude: exclude, parents: copy.parents)
            out += found.entries
        }
        return out
    }
}

extension DockerfileContextTree {
    /// A tree of one subtree of `root` (and its ancestors), for stage/image filesystems: no ignore file.
    init(root: String, subtree: String) {
        var entries: [String: DockerfileCopyEntry.EntryType] = ["": .directory]
        let parts = subtree.split(separator: "/").map(String.init)
        var prefix = ""
        for (k, part) in parts.enumerated() {
            prefix = prefix.isEmpty ? part : prefix + "/" + part
            var st = stat()
            guard lstat(root + "/" + prefix, &st) == 0 else { break }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entries[prefix] = .directory
                if k == parts.count - 1 { Self.walk(root, prefix, DockerignoreMatcher(), &entries) }
            case S_IFLNK:
                entries[prefix] = .symlink
                // A symlink named by the source: include its target (resolved inside the root).
                if k == parts.count - 1, let target = Self.resolveInRoot(root, prefix, followLast: true),
                    target != prefix
                {
                    let other = DockerfileContextTree(root: root, subtree: target)
                    for (p, t) in other.entries { entries[p] = t }
                }
            case S_IFREG:
                entries[prefix] = .file
            default:
                break
            }
        }
        if parts.isEmpty { Self.walk(root, "", DockerignoreMatcher(), &entries) }
        self.init(root: root, entries: entries)
    }

    /// A relative path with every symlink component resolved inside `root` (absolute link targets start at
    /// `root`, `..` stops at it); the last component is followed only with `followLast`. Nil on a loop.
    static func resolveInRoot(_ root: String, _ rel: String, followLast: Bool) -> String? {
        var pending = rel.split(separator: "/").map(String.init)
        var done: [String] = []
        var links = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if !done.isEmpty { done.removeLast() }
                continue
            }
            let candidate = (done + [part]).joined(separator: "/")
            if !pending.isEmpty || followLast,
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + candidate)
            {
                links += 1
                if links > 40 { return nil }
                if target.hasPrefix("/") { done = [] }
                pending = target.split(separator: "/").map(String.init) + pending
                continue
            }
            done.append(part)
        }
        return done.joined(separator: "/")
    }
}
