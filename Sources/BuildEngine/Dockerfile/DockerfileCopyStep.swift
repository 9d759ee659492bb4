import Foundation
import OCIWriter
import Planner
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// COPY, ADD and WORKDIR: the files are staged into a scratch tree with the owners (mapped to the sandbox's host
/// ids) and modes they must have in the image, written with `LayerWriter`, and the tree kept as an overlay lower
/// for the following steps.
extension DockerfileExecutor {
    /// The cache key of a COPY/ADD: the parent key, the instruction's options and the content of every source.
    func copyPlan(_ copy: DockerfileCopy, step: DockerfileStep, state: StageBuild, done: [Int: StageBuild]) throws
        -> String
    {
        var parts =
            [
                "df-copy", state.key, step.kind.rawValue, copy.destination, String(copy.destinationIsDirectory),
                copy.chown ?? "", copy.chmod ?? "", "--sources"
            ] + copy.sources + ["--exclude"] + copy.exclude
        for f in copy.inline { parts += ["--inline", f.destination, f.mode, f.content] }
        if let from = copy.from {
            if let s = from.stage {
                guard let st = done[s] else {
                    throw BuildEngineError(
                        .invalidInput, "line \(step.line): COPY --from stage \(s), which did not run")
                }
                parts += ["--from-stage", st.key]
            } else if let image = from.image {
                parts += [
                    "--from-image",
                    try imageBase(image, line: step.line, instruction: "COPY --from=", use: .copyFrom).key
                ]
            }
        } else {
            for e in copy.entries {
                let p = contextDirectory + "/" + StagingPath.clean(e.source)
                var st = stat()
                guard lstat(p, &st) == 0 else {
                    throw BuildEngineError(
                        .invalidInput,
                        "line \(step.line): \(step.kind.rawValue.uppercased()) source \(e.source) is missing from the context"
                    )
                }
                parts += [
                    "E", e.source, e.destination, e.type.rawValue, e.extract?.rawValue ?? "",
                    String(st.st_mode & 0o7777, radix: 8)
                ]
                switch st.st_mode & S_IFMT {
                case S_IFREG: parts.append(try CacheKey.fileDigest(p).hex)
                case S_IFLNK: parts.append((try? FileManager.default.destinationOfSymbolicLink(atPath: p)) ?? "")
                default: break
                }
            }
        }
        // The destination's owner lookup depends on the stage's passwd/group: covered by the parent key.
        return CacheKey.of(parts)
    }

    func copyStep(_ copy: DockerfileCopy, step: DockerfileStep, state: StageBuild, done: [Int: StageBuild]) throws
        -> StepOutput
    {
        try runner.stagedLayer("copy") { staging in
            if makeDirectory(staging, 0o755) != 0 {
                throw BuildEngineError(.staging, "cannot create \(staging): \(String(cString: strerror(errno)))")
            }
            try chownHost(staging, uid: 0, gid: 0)
            try withMergedView(state) { view in
                let owner = copy.chown.map { Self.resolveChown($0, root: view) }
                if let from = copy.from {
                    if let image = from.image {
                        let src = try imageBase(image, line: step.line, instruction: "COPY --from=", use: .copyFrom)
                        try stageFrom(
                            root: src.rootfs, copy: copy, step: step, owner: owner, staging: staging, view: view)
                    } else if let s = from.stage {
                        guard let st = done[s] else {
                            throw BuildEngineError(
                                .invalidInput, "line \(step.line): COPY --from stage \(s), which did not run")
                        }
                        try withMergedView(st) { root in
                            try stageFrom(
                                root: root, copy: copy, step: step, owner: owner, staging: staging, view: view)
                        }
                    }
                } else {
                    try stage(
                        entries: copy.entries, root: contextDirectory, fromContext: true, copy: copy, step: step,
                        owner: owner, staging: staging, view: view)
                }
                for f in copy.inline {
                    let dest = Self.resolveParents("/" + StagingPath.clean(f.destination), in: view)
                    try ensureParents(dest, staging: staging, view: view, owner: owner ?? (0, 0))
                    guard FileManager.default.createFile(atPath: staging + dest, contents: Data(f.content.utf8)) else {
                        throw BuildEngineError(.staging, "line \(step.line): cannot write \(dest)")
                    }
                    chmod(staging + dest, mode_t(UInt32(f.mode, radix: 8) ?? 0o644))
                    try chownHost(staging + dest, uid: owner?.0 ?? 0, gid: owner?.1 ?? 0)
                    if let m = copy.chmod { try applyChmod(m, staging + dest, line: step.line) }
                }
            }
        }
    }

    func stageFrom(
        root: String, copy: DockerfileCopy, step: DockerfileStep, owner: (UInt32, UInt32)?, staging: String,
        view: String
    ) throws {
        let entries: [DockerfileCopyEntry]
        do { entries = try DockerfileCopyRules.resolve(copy, root: root) } catch {
            throw BuildEngineError(.staging, "\(build.dockerfile):\(step.line): \(error.message)")
        }
        try stage(
            entries: entries, root: root, fromContext: false, copy: copy, step: step, owner: owner, staging: staging,
            view: view)
    }

    func stage(
        entries: [DockerfileCopyEntry], root: String, fromContext: Bool, copy: DockerfileCopy, step: DockerfileStep,
        owner: (UInt32, UInt32)?, staging: String, view: String
    ) throws {
        let fm = FileManager.default
        let defaultOwner = owner ?? (0, 0)
        // The directories a source names: "the directory itself isn't copied, only its contents" (Docker), so
        // BuildKit creates a missing destination 0755 owned by --chown and leaves an existing one as it is
        // (no source mode, no --chmod). Their descendants are entries whose parent is such an entry.
        let dirEntries = Set(
            entries.filter { $0.type == .directory }.map {
                [StagingPath.clean($0.source), StagingPath.clean($0.destination)]
            })
        func isCopyRoot(_ e: DockerfileCopyEntry) -> Bool {
            let s = StagingPath.clean(e.source), d = StagingPath.clean(e.destination)
            if s.isEmpty { return true }
            return !dirEntries.contains([
                (s as NSString).deletingLastPathComponent, (d as NSString).deletingLastPathComponent
            ])
        }
        for e in entries {
            let src = root + "/" + StagingPath.clean(e.source)
            // Parent directories that are symlinks in the stage are followed, as BuildKit resolves destinations
            // inside the root (`COPY tool /bin/` with /bin -> usr/bin writes /usr/bin/tool, /bin stays a link).
            let dest = Self.resolveParents("/" + StagingPath.clean(e.destination), in: view)
            var st = stat()
            guard lstat(src, &st) == 0 else {
                throw BuildEngineError(
                    .staging, "line \(step.line): cannot read \(e.source): \(String(cString: strerror(errno)))")
            }
            if dest == "/" {
                // Copying into the root: only the contents (the root directory itself is not an entry).
                continue
            }
            try ensureParents(dest, staging: staging, view: view, owner: defaultOwner)
            let target = staging + dest
            func setOwner() throws {
                if let owner {
                    try chownHost(target, uid: owner.0, gid: owner.1)
                } else if fromContext {
                    try chownHost(target, uid: 0, gid: 0)
                } else if lchown(target, st.st_uid, st.st_gid) != 0 {
                    throw BuildEngineError(.staging, "cannot chown \(target): \(String(cString: strerror(errno)))")
                }
            }
            if let archive = e.extract, step.kind == .add {
                if try extract(src, kind: archive, into: target, line: step.line) { continue }
                // Not a tar after decompression: copied as is, under the destination directory.
                var isDir: ObjCBool = false
                let into =
                    (copy.destinationIsDirectory
                        || fm.fileExists(atPath: target, isDirectory: &isDir) && isDir.boolValue)
                    ? target + "/" + (e.source as NSString).lastPathComponent : target
                if copy.destinationIsDirectory, !fm.fileExists(atPath: target) {
                    makeDirectory(target, 0o755)
                    try chownHost(target, uid: defaultOwner.0, gid: defaultOwner.1)
                }
                try copyFile(src, into, line: step.line)
                try chownHost(into, uid: defaultOwner.0, gid: defaultOwner.1)
                if let m = copy.chmod { try applyChmod(m, into, line: step.line) }
                continue
            }
            switch e.type {
            case .directory where isCopyRoot(e):
                var dst = stat()
                if lstat(target, &dst) == 0 { continue }
                if makeDirectory(target, 0o755) != 0 {
                    throw BuildEngineError(.staging, "cannot create \(dest): \(String(cString: strerror(errno)))")
                }
                var existing = stat()
                if stat(view + dest, &existing) == 0, (existing.st_mode & S_IFMT) == S_IFDIR {
                    chmod(target, existing.st_mode & 0o7777)
                    lchown(target, existing.st_uid, existing.st_gid)
                } else {
                    try chownHost(target, uid: defaultOwner.0, gid: defaultOwner.1)
                }
                continue
            case .directory:
                var dst = stat()
                if lstat(target, &dst) != 0 {
                    if makeDirectory(target, st.st_mode & 0o7777) != 0 {
                        throw BuildEngineError(.staging, "cannot create \(dest): \(String(cString: strerror(errno)))")
                    }
                }
                // Owner first: chown clears the setuid and setgid bits.
                try setOwner()
                chmod(target, st.st_mode & 0o7777)
            case .symlink:
                try? fm.removeItem(atPath: target)
                try fm.createSymbolicLink(
                    atPath: target, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: src))
                try setOwner()
                continue
            case .file:
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    try? fm.removeItem(atPath: target)
                    try fm.createSymbolicLink(
                        atPath: target, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: src))
                    try setOwner()
                    continue
                }
                try copyFile(src, target, line: step.line)
                // Owner first: chown clears the setuid and setgid bits.
                try setOwner()
                chmod(target, st.st_mode & 0o7777)
            }
            if let m = copy.chmod { try applyChmod(m, target, line: step.line) }
        }
    }

    /// `path` (absolute) with its parent directories resolved through the symlinks of the filesystem at `view`,
    /// inside it (absolute link targets start at `view`, `..` stops at its root); the last component is kept.
    static func resolveParents(_ path: String, in view: String) -> String {
        var pending = path.split(separator: "/").map(String.init)
        guard let last = pending.popLast() else { return "/" }
        var done: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let c = pending.removeFirst()
            if c == "." || c.isEmpty { continue }
            if c == ".." {
                if !done.isEmpty { done.removeLast() }
                continue
            }
            let candidate = "/" + (done + [c]).joined(separator: "/")
            if hops < 40, let t = try? FileManager.default.destinationOfSymbolicLink(atPath: view + candidate) {
                hops += 1
                if t.hasPrefix("/") { done = [] }
                pending = t.split(separator: "/").map(String.init) + pending
                continue
            }
            done.append(c)
        }
        return "/" + (done + [last]).joined(separator: "/")
    }

    /// Copies a file with its mode and times (like `cp -p`; the caller sets the owner). Regular files are copied
    /// in-process: a `cp` process per file made a COPY of a few hundred files take seconds.
    func copyFile(_ src: String, _ dst: String, line: Int) throws {
        try? FileManager.default.removeItem(atPath: dst)
        var st = stat()
        guard lstat(src, &st) == 0 else {
            throw BuildEngineError(.staging, "line \(line): cannot read \(src): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            let r = try runHost("/bin/cp", ["-p", "--no-dereference", "--no-target-directory", src, dst])
            guard r.status == 0 else {
                throw BuildEngineError(.staging, "line \(line): cannot copy \(src): \(r.output)")
            }
            return
        }
        let ifd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard ifd >= 0 else {
            throw BuildEngineError(.staging, "line \(line): cannot open \(src): \(String(cString: strerror(errno)))")
        }
        defer { close(ifd) }
        let ofd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard ofd >= 0 else {
            throw BuildEngineError(.staging, "line \(line): cannot create \(dst): \(String(cString: strerror(errno)))")
        }
        var failure: String?
        let size = 1 << 18
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buf.deallocate() }
        copying: while true {
            let n = read(ifd, buf, size)
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot read \(src): \(String(cString: strerror(errno)))"
                break
            }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = write(ofd, buf + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write \(dst): \(String(cString: strerror(errno)))"
                    break copying
                }
                done += w
            }
        }
        if failure == nil {
            var times = [st.st_atim, st.st_mtim]
            if fchmod(ofd, st.st_mode & 0o7777) != 0 || futimens(ofd, &times) != 0 {
                failure = "cannot set the mode and times of \(dst): \(String(cString: strerror(errno)))"
            }
        }
        close(ofd)
        if let failure {
            unlink(dst)
            throw BuildEngineError(.staging, "line \(line): \(failure)")
        }
    }

    /// Missing parents of `dest` in the staging tree: existing directories of the stage keep their mode and owner,
    /// new ones are 0755 owned by the copy's owner.
    func ensureParents(_ dest: String, staging: String, view: String, owner: (UInt32, UInt32)) throws {
        let comps = dest.split(separator: "/").dropLast()
        var path = ""
        for c in comps {
            path += "/" + c
            var st = stat()
            if lstat(staging + path, &st) == 0 { continue }
            if makeDirectory(staging + path, 0o755) != 0 {
                throw BuildEngineError(
                    .staging, "cannot create \(path) in the staging tree: \(String(cString: strerror(errno)))")
            }
            var existing = stat()
            if stat(view + path, &existing) == 0, (existing.st_mode & S_IFMT) == S_IFDIR {
                chmod(staging + path, existing.st_mode & 0o7777)
                lchown(staging + path, existing.st_uid, existing.st_gid)
            } else {
                try chownHost(staging + path, uid: owner.0, gid: owner.1)
            }
        }
    }

    func applyChmod(_ mode: String, _ path: String, line: Int) throws {
        if let n = UInt32(mode, radix: 8) {
            if chmod(path, mode_t(n)) != 0 {
                throw BuildEngineError(
                    .staging, "line \(line): chmod \(mode) \(path): \(String(cString: strerror(errno)))")
            }
            return
        }
        let r = try runHost("/bin/chmod", [mode, path])
        guard r.status == 0 else { throw BuildEngineError(.staging, "line \(line): --chmod=\(mode): \(r.output)") }
    }

    /// ADD of a local archive: decompressed in process within the extraction limits (`BoundedDecompressor`: a
    /// zip bomb is refused naming the limit), then extracted safely (`LayerExtractor`) into `target`. False when
    /// the decompressed bytes are not a tar (the caller copies the file as is).
    func extract(_ src: String, kind: DockerfileCopyEntry.Archive, into target: String, line: Int) throws -> Bool {
        var tarPath = src
        var temp: String?
        defer { if let temp { unlink(temp) } }
        if kind != .tar {
            let t = cache.scratchPath("add") + ".tar"
            let decompressor = BoundedDecompressor(limits: sandbox.state.extractionLimits)
            do {
                try decompressor.decompress(src, to: t, label: "the \(kind.rawValue) archive")
            } catch {
                throw BuildEngineError(.invalidInput, "line \(line): ADD cannot decompress \(src)", cause: error)
            }
            temp = t
            tarPath = t
        }
        guard let fh = FileHandle(forReadingAtPath: tarPath) else {
            throw BuildEngineError(.staging, "line \(line): cannot read \(tarPath)")
        }
        let head = fh.readData(ofLength: 512)
        try? fh.close()
        guard head.count >= 262, String(decoding: head[257..<262], as: UTF8.self) == "ustar" else { return false }
        var st = stat()
        if lstat(target, &st) != 0 {
            if makeDirectory(target, 0o755) != 0 {
                throw BuildEngineError(.staging, "cannot create \(target): \(String(cString: strerror(errno)))")
            }
            try chownHost(target, uid: 0, gid: 0)
        }
        let ownership: OwnershipPolicy = .map(sandbox.identity.idMapping)
        let extractor = LayerExtractor(
            options: LayerExtractionOptions(limits: sandbox.state.extractionLimits, ownership: ownership))
        do {
            try extractor.apply(layer: tarPath, compression: LayerCompression.none, to: target)
        } catch {
            throw BuildEngineError(.invalidInput, "line \(line): ADD \(src): cannot extract the archive", cause: error)
        }
        // Directories the extractor made for entries whose parents the archive does not list belong to the
        // extracting user: give them to the namespace's root.
        let mapping = sandbox.identity.idMapping
        var all = [target]
        if let e = FileManager.default.enumerator(atPath: target) {
            while let p = e.nextObject() as? String { all.append(target + "/" + p) }
        }
        for p in all where lstat(p, &st) == 0 {
            if mapping.containerUID(forHost: st.st_uid) == nil || mapping.containerGID(forHost: st.st_gid) == nil {
                try chownHost(p, uid: 0, gid: 0)
            }
        }
        return true
    }

    // MARK: - WORKDIR

    func workdirStep(_ dir: String, user: String?, state: StageBuild) throws -> StepOutput {
        try withMergedView(state) { view in
            var st = stat()
            if stat(view + dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return (nil, nil, nil) }
            let ids =
                user.map {
                    (try? Self.resolveUser($0, root: view, line: 0)).map { ($0.uid, $0.gid) }
                        ?? Self.resolveChown($0, root: view)
                } ?? (0, 0)
            return try runner.stagedLayer("workdir") { staging in
                if makeDirectory(staging, 0o755) != 0 {
                    throw BuildEngineError(.staging, "cannot create \(staging): \(String(cString: strerror(errno)))")
                }
                try chownHost(staging, uid: 0, gid: 0)
                let target = "/" + StagingPath.clean(dir)
                try ensureParents(target + "/x", staging: staging, view: view, owner: ids)
            }
        }
    }
}
