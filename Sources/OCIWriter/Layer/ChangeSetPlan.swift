#if canImport(Glibc)
    import Glibc
#endif

/// A validated, sorted `ChangeSet`, ready to be emitted.
///
/// Sort keys: an entry's key is its path; a whiteout's key is `parent/` + `\0\1` + name and an opaque marker's
/// `dir/` + `\0\0` (NUL never occurs in a path), so whiteouts come right after their directory's own entry and
/// before all of its other children, while everything else keeps global bytewise path order.
struct ChangeSetPlan {
    enum Item {
        case add(source: [UInt8], st: stat)
        /// A missing parent: metadata from `source` when the change's source tree mirrors the layer path,
        /// else 0755 root:root.
        case parent(source: (path: [UInt8], st: stat)?)
        case whiteout
        case opaque
    }
    struct Step {
        var key: [UInt8]
        var layerPath: [UInt8]
        var item: Item
    }

    private(set) var steps: [Step] = []

    init(_ changes: ChangeSet) throws {
        var adds: [[UInt8]: (source: [UInt8], st: stat, original: String)] = [:]
        var deletes: [[UInt8]: String] = [:]
        var opaques: [[UInt8]: String] = [:]

        for change in changes.changes {
            switch change {
            case .add(let path, let source):
                let p = try LayerPath.validate(path, "change-set entry '\(path)'")
                guard source.hasPrefix("/") else {
                    throw OCIWriterError(
                        .invalidArgument, "source '\(source)' of change-set entry must be an absolute host path",
                        path: path)
                }
                if adds[p] != nil {
                    throw OCIWriterError(.invalidArgument, "change-set entry is added twice", path: path)
                }
                let src = Array(source.utf8)
                let st: stat
                do { st = try HostFS.lstat(src) } catch var e as OCIWriterError {
                    e.message += " (source of change-set entry '\(path)')"
                    throw e
                }
                adds[p] = (src, st, path)
            case .delete(let path):
                let p = try LayerPath.validate(path, "deleted change-set entry '\(path)'")
                if deletes[p] != nil {
                    throw OCIWriterError(.invalidArgument, "change-set entry is deleted twice", path: path)
                }
                deletes[p] = path
            case .opaque(let directory):
                let p = try LayerPath.validate(directory, "opaque change-set directory '\(directory)'")
                opaques[p] = directory
            }
        }
        for (p, original) in deletes where adds[p] != nil {
            throw OCIWriterError(
                .invalidArgument, "change-set entry is both added and deleted: a replaced entry needs only the .add",
                path: original)
        }
        for (p, original) in opaques {
            if deletes[p] != nil {
                throw OCIWriterError(
                    .invalidArgument, "change-set directory is both deleted and marked opaque", path: original)
            }
            if let a = adds[p], !HostFS.isDirectory(a.st) {
                throw OCIWriterError(
                    .invalidArgument,
                    "opaque change-set entry is not a directory (its source \(HostFS.display(a.source)) is not)",
                    path: original)
            }
        }

        var steps: [Step] = []
        for (p, a) in adds {
            steps.append(Step(key: p, layerPath: p, item: .add(source: a.source, st: a.st)))
        }
        for (p, _) in deletes {
            let parent = LayerPath.parent(p)
            let name = Array(p[(parent.map { $0.count + 1 } ?? 0)...])
            let layerPath = (parent.map { $0 + [0x2F] } ?? []) + LayerPath.whiteoutPrefix + name
            let key = (parent.map { $0 + [0x2F] } ?? []) + [0, 1] + name
            steps.append(Step(key: key, layerPath: layerPath, item: .whiteout))
        }
        for (p, _) in opaques {
            steps.append(Step(key: p + [0x2F, 0, 0], layerPath: p + [0x2F] + LayerPath.opaqueName, item: .opaque))
        }
        // Parents: every ancestor of every entry, once; an added non-directory cannot be a parent.
        var missing: [[UInt8]: (path: [UInt8], st: stat)?] = [:]
        let all = (Array(adds.keys) + Array(deletes.keys) + Array(opaques.keys)).sorted {
            $0.lexicographicallyPrecedes($1)
        }
        for p in all {
            var parent = LayerPath.parent(p)
            if opaques[p] != nil && adds[p] == nil { parent = p }  // the opaque directory itself is needed too
            while let q = parent {
                if let a = adds[q] {
                    if !HostFS.isDirectory(a.st) {
                        throw OCIWriterError(
                            .invalidArgument,
                            "change-set entry '\(HostFS.display(p))' lies under '\(a.original)', which is added as a non-directory",
                            path: a.original)
                    }
                    break
                }
                if missing[q] == nil {
                    missing[q] = Self.mirroredSource(of: q, p: p, adds: adds)
                } else if case .some(.none) = missing[q], let found = Self.mirroredSource(of: q, p: p, adds: adds) {
                    missing[q] = found
                }
                parent = LayerPath.parent(q)
            }
        }
        for (q, src) in missing {
            steps.append(Step(key: q, layerPath: q, item: .parent(source: src)))
        }
        steps.sort { $0.key.lexicographicallyPrecedes($1.key) }
        self.steps = steps
    }

    /// When the add at layer path `p` has a source ending in `/<p>`, the host directory standing for ancestor
    /// `q` is that source with the trailing components removed; it is used if it is a directory.
    private static func mirroredSource(
        of q: [UInt8], p: [UInt8],
        adds: [[UInt8]: (source: [UInt8], st: stat, original: String)]
    ) -> (path: [UInt8], st: stat)? {
        guard let a = adds[p] else { return nil }
        let suffix = [0x2F] + p
        guard a.source.count > suffix.count, a.source.suffix(suffix.count).elementsEqual(suffix) else { return nil }
        let base = Array(a.source.prefix(a.source.count - suffix.count))
        let host = base + [0x2F] + q
        guard let st = try? HostFS.lstat(host), HostFS.isDirectory(st) else { return nil }
        return (host, st)
    }

    func emit(_ em: TarEmitter) throws {
        for s in steps {
            switch s.item {
            case .add(let source, let st):
                try em.emitHostObject(hostPath: source, st: st, layerPath: s.layerPath)
            case .parent(let src):
                if let src {
                    try em.emitHostObject(hostPath: src.path, st: src.st, layerPath: s.layerPath)
                } else {
                    try em.emitSyntheticDirectory(s.layerPath)
                }
            case .whiteout, .opaque:
                try em.emitWhiteout(s.layerPath)
            }
        }
    }
}
