import CSandbox
import Foundation
import OCIWriter

#if canImport(Glibc)
    import Glibc
#endif

/// The Sandbox module: runs build phases in namespaces and captures their filesystem diffs.
public enum SandboxInfo {
    public static var launcherVersion: Int { Int(csandbox_version()) }
}

/// A persistent cache directory mounted read-write into phases (never part of a layer).
public struct CacheMount: Sendable, Hashable {
    public var name: String
    /// Absolute path inside the root, e.g. /var/cache/apt/archives.
    public var target: String
    /// Owner (namespace ids) and mode of the cache directory while it is mounted (Dockerfile
    /// `RUN --mount=type=cache,uid=,gid=,mode=`); nil: the namespace's root, the directory's mode.
    public var uid: UInt32?
    public var gid: UInt32?
    public var mode: UInt32?
    public init(name: String, target: String, uid: UInt32? = nil, gid: UInt32? = nil, mode: UInt32? = nil) {
        self.name = name
        self.target = target
        self.uid = uid
        self.gid = gid
        self.mode = mode
    }

    /// Parses `NAME:/path`.
    public static func parse(_ s: String) throws -> CacheMount {
        guard let i = s.firstIndex(of: ":") else {
            throw SandboxError(.invalidArgument, "cache '\(s)': expected NAME:/absolute/path")
        }
        let name = String(s[..<i]), target = String(s[s.index(after: i)...])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), name.first != "."
        else {
            throw SandboxError(.invalidArgument, "cache '\(s)': the name may contain letters, digits, '-', '_', '.'")
        }
        guard target.hasPrefix("/"), !target.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }),
            target != "/"
        else {
            throw SandboxError(
                .invalidArgument, "cache '\(s)': the target must be an absolute path without '.' or '..'")
        }
        return CacheMount(name: name, target: target)
    }
}

/// A secret made available to a phase as the file /run/secrets/<id> on a tmpfs (never written to disk,
/// never part of a layer, the config or the history).
public struct Secret: Sendable, Hashable {
    public var id: String
    public var value: String
    public init(id: String, value: String) {
        self.id = id
        self.value = value
    }

    /// Parses `ID=env:VAR` or `ID=file:PATH`, or Docker's `--secret` forms (`id=ID,src=PATH`, `id=ID,env=VAR`,
    /// `type=env|file`, `source=`, `env=VAR` alone: the id is VAR; `id=ID` alone: the variable ID if set, else the
    /// file ID), and reads the value.
    public static func parse(_ s: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> Secret
    {
        guard let eq = s.firstIndex(of: "=") else {
            throw SandboxError(.invalidArgument, "secret '\(s.prefix(40))': expected ID=env:VAR or ID=file:PATH")
        }
        let after = s[s.index(after: eq)...]
        if !after.hasPrefix("env:") && !after.hasPrefix("file:"), let docker = dockerForm(s, environment: environment) {
            return try parse(docker, environment: environment)
        }
        let id = String(s[..<eq]), src = String(s[s.index(after: eq)...])
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), id.first != "." else {
            throw SandboxError(.invalidArgument, "secret id '\(id)': letters, digits, '-', '_', '.' only")
        }
        if src.hasPrefix("env:") {
            let v = String(src.dropFirst(4))
            guard let value = environment[v] else {
                throw SandboxError(.invalidArgument, "secret '\(id)': environment variable \(v) is not set")
            }
            return Secret(id: id, value: value)
        }
        if src.hasPrefix("file:") {
            let p = String(src.dropFirst(5))
            guard let d = FileManager.default.contents(atPath: p) else {
                throw SandboxError(.invalidArgument, "secret '\(id)': cannot read \(p)")
            }
            return Secret(id: id, value: String(decoding: d, as: UTF8.self))
        }
        throw SandboxError(.invalidArgument, "secret '\(id)': the source must be env:VAR or file:PATH")
    }

    /// Docker's `key=value,…` secret syntax rewritten as `ID=env:VAR` / `ID=file:PATH`; nil when `s` is not in it.
    static func dockerForm(_ s: String, environment: [String: String]) -> String? {
        var type: String?, id: String?, src: String?, env: String?
        for field in s.split(separator: ",", omittingEmptySubsequences: false) {
            guard let eq = field.firstIndex(of: "=") else { return nil }
            let v = String(field[field.index(after: eq)...])
            switch field[..<eq].lowercased() {
            case "type": type = v
            case "id": id = v
            case "src", "source": src = v
            case "env": env = v
            default: return nil
            }
        }
        guard type == nil || type == "env" || type == "file" else { return nil }
        if type == "env" && env == nil {
            env = src
            src = nil
        }
        if type == "file" && src == nil && env == nil { src = id }
        guard let name = id ?? env ?? src.map({ ($0 as NSString).lastPathComponent }), !name.isEmpty else { return nil }
        if let env { return "\(name)=env:\(env)" }
        if let src { return "\(name)=file:\(src)" }
        return environment[name] != nil ? "\(name)=env:\(name)" : "\(name)=file:\(name)"
    }
}

/// A tmpfs mounted into a phase (Dockerfile `RUN --mount=type=tmpfs`): what is written there is gone with the
/// phase, never part of a layer.
public struct TmpfsMount: Sendable, Hashable {
    /// Absolute path inside the root (created when missing).
    public var target: String
    /// Size limit in bytes; nil = the kernel's default (half of RAM).
    public var sizeBytes: Int64?
    public init(target: String, sizeBytes: Int64? = nil) {
        self.target = target
        self.sizeBytes = sizeBytes
    }
}

/// A read-only file given to a phase from memory at any path (a secret at a custom target, a heredoc script):
/// its content lives on a private tmpfs bound onto the target, never on disk, in a layer or the history.
public struct PhaseFile: Sendable, Hashable {
    /// Absolute path inside the root; missing parents and the file itself are created as mount points.
    public var target: String
    public var content: String
    /// Permission bits (e.g. 0o400); owner ids as seen inside the namespace.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public init(target: String, content: String, mode: UInt32 = 0o400, uid: UInt32 = 0, gid: UInt32 = 0) {
        self.target = target
        self.content = content
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }
}

/// One build phase: a command run in the sandbox on top of the base and earlier phases.
public struct PhaseSpec: Sendable {
    public var name: String
    public var command: [String]
    public var environment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"
    ]
    public var workingDirectory = "/"
    public var network: NetworkMode = .host
    /// 0 = no timeout.
    public var timeoutSeconds: UInt64 = 0
    public var caches: [CacheMount] = []
    public var secrets: [Secret] = []
    /// tmpfs mounts, set up after the caches (a tmpfs may sit inside a cache).
    public var tmpfs: [TmpfsMount] = []
    /// Read-only in-memory files, bound after the tmpfs mounts.
    public var files: [PhaseFile] = []
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var maxProcesses: UInt64 = 4096
    public var maxOpenFiles: UInt64 = 4096
    /// `.auto`: overlayfs, falling back to a copied tree with before/after manifests when overlay cannot be
    /// mounted; `.never`: always the fallback.
    public var overlay: OverlayMode = .auto

    public enum OverlayMode: String, Sendable { case auto, never }

    public init(name: String, command: [String]) {
        self.name = name
        self.command = command
    }
}

/// A finished phase: its upper directory (kept until `discard()`), the change set, the id mapping.
public struct PhaseOutcome: Sendable {
    public var name: String
    /// The overlay upper directory: use as a lower of later phases; `changes` sources point into it.
    /// With the no-overlay fallback (`fullTree`), the whole tree after the phase: pass it as the next
    /// phase's `base` instead.
    public var upper: String
    public var fullTree = false
    public var changes: ChangeSet
    /// Namespace ids → host ids of the files under `upper` (for the layer writer).
    public var idMapping: IDMapping
    public var warnings: [String]
    public var run: RunDirectory
    /// Wall seconds: launcher start to command exit (namespace + mount setup included), and the diff.
    public var runSeconds: Double = 0
    public var diffSeconds: Double = 0

    public init(
        name: String, upper: String, fullTree: Bool = false, changes: ChangeSet, idMapping: IDMapping,
        warnings: [String] = [], run: RunDirectory, runSeconds: Double = 0, diffSeconds: Double = 0
    ) {
        self.name = name
        self.upper = upper
        self.fullTree = fullTree
        self.changes = changes
        self.idMapping = idMapping
        self.warnings = warnings
        self.run = run
        self.runSeconds = runSeconds
        self.diffSeconds = diffSeconds
    }

    public func discard() { run.remove() }

    /// Writes `changes` as a layer blob with owners as seen inside the namespace (`idMapping`).
    /// `options.idMapping` is replaced by this phase's mapping. Blocking.
    public func writeLayer(to path: String, options: LayerWriteOptions = LayerWriteOptions()) throws -> LayerWriteResult
    {
        var o = options
        o.idMapping = idMapping
        return try LayerWriter.write(changes: changes, to: path, options: o)
    }
}

/// Runs phases in namespaces (see Sources/CSandbox/csandbox.c) on an overlay of the base and earlier phases.
public struct Sandbox: Sendable {
    public let state: StateDirectory
    public let identity: SandboxIdentity

    public init(state: StateDirectory = .default(), identity: SandboxIdentity) {
        self.state = state
        self.identity = identity
    }

    public static func detect(state: StateDirectory = .default()) throws -> Sandbox {
        Sandbox(state: state, identity: try SandboxIdentity.detect())
    }

    /// Probes what phases need before any work (`SandboxPreflight`): throws one `.preflight` error naming every
    /// missing piece and its container setting; returns warnings for degraded ones.
    public func preflight() throws -> [String] {
        try SandboxPreflight.require(identity: identity, state: state)
    }

    /// Runs `phase` on `base` (an unpacked rootfs from `BaseStore`) plus `layers` (upper directories of
    /// earlier phases, bottom first). Blocking. Throws `.commandFailed`, `.timedOut` or `.interrupted`
    /// (after removing the phase's directories) when the command does not succeed.
    public func run(_ phase: PhaseSpec, base: String, layers: [String] = [], output: OutputSink? = nil) throws
        -> PhaseOutcome
    {
        let run = try state.newRun()
        do {
            let upper = run.path + "/upper", work = run.path + "/work", merged = run.path + "/merged",
                files = run.path + "/files"
            for d in [upper, work, merged, files] {
                if makeDirectory(d, 0o755) != 0 { throw SandboxError(.state, "cannot create", errno: errno, detail: d) }
            }
            try giveToNamespaceRoot([run.path, upper, work, merged])
            let hostsText = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tociforge\n"
            var resolv = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
            if phase.network == .none { resolv = "" }
            for (name, text) in [("resolv.conf", resolv), ("hosts", hostsText), ("hostname", "ociforge\n")] {
                guard
                    FileManager.default.createFile(
                        atPath: files + "/" + name, contents: Data(text.utf8),
                        attributes: [.posixPermissions: 0o644])
                else {
                    throw SandboxError(.state, "cannot write", detail: files + "/" + name)
                }
                try giveToNamespaceRoot([files + "/" + name])
            }
            let lowers = Array(layers.reversed()) + [base]
            var spec = LaunchSpec(
                mapMode: identity.mapMode, uidMap: identity.uidMap, gidMap: identity.gidMap, arguments: phase.command)
            spec.network = phase.network
            spec.root = merged
            spec.lowers = lowers
            spec.upper = upper
            spec.work = work
            spec.overlayOptions = "userxattr"
            spec.readOnlyFiles = [
                (files + "/resolv.conf", "/etc/resolv.conf"), (files + "/hosts", "/etc/hosts"),
                (files + "/hostname", "/etc/hostname")
            ]
            var cacheBinds: [(String, String)] = []
            for c in phase.caches {
                let dir = state.caches + "/" + c.name
                if makeDirectory(dir, 0o755) != 0 && errno != EEXIST {
                    throw SandboxError(.state, "cannot create the cache", errno: errno, detail: dir)
                }
                try giveToNamespaceRoot([dir])
                try applyCacheOwnership(c, dir)
                cacheBinds.append((dir, c.target))
            }
            spec.caches = cacheBinds
            spec.secrets = phase.secrets.map { ($0.id, $0.value) }
            for t in phase.tmpfs {
                guard t.target.hasPrefix("/"), t.target != "/", !t.target.contains("\n") else {
                    throw SandboxError(
                        .invalidArgument, "tmpfs target '\(t.target)': expected an absolute path other than /")
                }
                spec.tmpfs.append((t.target, max(0, t.sizeBytes ?? 0)))
            }
            for f in phase.files {
                guard f.target.hasPrefix("/"), f.target != "/", !f.target.contains("\n") else {
                    throw SandboxError(
                        .invalidArgument, "file target '\(f.target)': expected an absolute path other than /")
                }
                guard !f.content.utf8.contains(0) else {
                    throw SandboxError(
                        .invalidArgument,
                        "file \(f.target): the content contains a NUL byte, which the sandbox cannot pass")
                }
                spec.files.append((f.target, f.mode & 0o7777, f.uid, f.gid, f.content))
            }
            spec.environment = phase.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            spec.workingDirectory = phase.workingDirectory
            spec.uid = phase.uid
            spec.gid = phase.gid
            spec.timeoutSeconds = phase.timeoutSeconds
            spec.maxProcesses = phase.maxProcesses
            spec.maxOpenFiles = phase.maxOpenFiles

            var mountPoints: Set<String> = ["proc", "dev", "sys", "etc/resolv.conf", "etc/hosts", "etc/hostname"]
            for c in phase.caches { mountPoints.insert(String(c.target.dropFirst())) }
            if !phase.secrets.isEmpty { mountPoints.formUnion(["run", "run/secrets"]) }
            for t in phase.tmpfs.map(\.target) + phase.files.map(\.target) {
                mountPoints.insert(t.split(separator: "/").joined(separator: "/"))
            }

            var fallbackTree: String?
            var before: TreeSnapshot?
            if phase.overlay == .never {
                (fallbackTree, before) = try prepareFallback(run: run, base: base, layers: layers, spec: &spec)
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            var result: LaunchResult
            do {
                result = try Launcher.run(spec, output: output ?? .prefixed(phase.name))
            } catch let e as SandboxError where e.code == .overlayUnavailable && fallbackTree == nil {
                // overlayfs unavailable (old kernel, unsupported file system under the state dir, nested overlay).
                (fallbackTree, before) = try prepareFallback(run: run, base: base, layers: layers, spec: &spec)
                result = try Launcher.run(spec, output: output ?? .prefixed(phase.name))
                result.warnings.append(
                    "overlayfs could not be mounted (\(e.description.split(separator: "\n")[0])): ran on a copied tree with a before/after manifest diff"
                )
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            let cmdline = phase.command.joined(separator: " ")
            switch result.termination {
            case .exited(0): break
            case .exited(let code):
                throw SandboxError(
                    .commandFailed, "phase '\(phase.name)' failed: `\(cmdline)` exited with status \(code)",
                    detail: lastLinesReport(result), exitStatus: code)
            case .signaled(let sig):
                throw SandboxError(
                    .commandFailed, "phase '\(phase.name)' failed: `\(cmdline)` was killed by signal \(sig)",
                    detail: lastLinesReport(result), exitStatus: 128 + sig)
            case .timedOut(let s):
                throw SandboxError(
                    .timedOut,
                    "phase '\(phase.name)' timed out after \(s) s: `\(cmdline)` and all its processes were killed",
                    detail: lastLinesReport(result))
            case .interrupted:
                throw SandboxError(
                    .interrupted, "phase '\(phase.name)' interrupted: `\(cmdline)` and all its processes were killed")
            }
            if let tree = fallbackTree, let before {
                let after = try TreeSnapshot(root: tree)
                let t2 = DispatchTime.now().uptimeNanoseconds
                return PhaseOutcome(
                    name: phase.name, upper: tree, fullTree: true,
                    changes: after.changes(since: before, ignoring: mountPoints),
                    idMapping: identity.idMapping, warnings: result.warnings, run: run,
                    runSeconds: Double(t1 - t0) / 1e9, diffSeconds: Double(t2 - t1) / 1e9)
            }
            let diff = try UpperDiff(upper: upper, lowers: lowers, createdMountPoints: mountPoints).compute()
            let t2 = DispatchTime.now().uptimeNanoseconds
            return PhaseOutcome(
                name: phase.name, upper: upper, changes: diff.changes, idMapping: identity.idMapping,
                warnings: result.warnings + diff.warnings, run: run,
                runSeconds: Double(t1 - t0) / 1e9, diffSeconds: Double(t2 - t1) / 1e9)
        } catch {
            run.remove()
            throw error
        }
    }

    /// Materializes base + layers into `run/tree` (a private copy), pre-creates the mount points and takes
    /// the "before" manifest; points the launch spec at the tree instead of an overlay.
    private func prepareFallback(run: RunDirectory, base: String, layers: [String], spec: inout LaunchSpec) throws -> (
        String, TreeSnapshot
    ) {
        let tree = run.path + "/tree"
        try? FileManager.default.removeItem(atPath: tree)
        let cp = try runHost("/bin/cp", ["-a", "--no-target-directory", base, tree])
        guard cp.status == 0 else {
            throw SandboxError(.state, "cannot copy the base for the no-overlay fallback", detail: cp.output)
        }
        for (i, layer) in layers.enumerated() {
            let below = Array(layers[..<i].reversed()) + [base]
            let cs = try UpperDiff(upper: layer, lowers: below).compute().changes
            try ChangeSetApplier.apply(cs, to: tree)
        }
        for f in ["etc/resolv.conf", "etc/hosts", "etc/hostname"] {
            let p = tree + "/" + f
            var st = stat()
            if lstat(p, &st) != 0, FileManager.default.fileExists(atPath: tree + "/etc") {
                _ = FileManager.default.createFile(atPath: p, contents: Data(), attributes: [.posixPermissions: 0o644])
                try giveToNamespaceRoot([p])
            }
        }
        for d in ["proc", "dev", "sys"] where !FileManager.default.fileExists(atPath: tree + "/" + d) {
            makeDirectory(tree + "/" + d, 0o755)
            try giveToNamespaceRoot([tree + "/" + d])
        }
        let before = try TreeSnapshot(root: tree)
        spec.lowers = []
        spec.upper = nil
        spec.work = nil
        spec.bindRoot = tree
        return (tree, before)
    }

    private func lastLinesReport(_ r: LaunchResult) -> String {
        r.lastLines.isEmpty
            ? "(no output)"
            : "last output lines:\n" + r.lastLines.suffix(15).map { "    " + $0 }.joined(separator: "\n")
    }

    /// A cache mount's `uid`/`gid` (namespace ids, mapped by the identity's one policy) and `mode`. Ownership can
    /// be given only where the sandbox's ids are a host range this process may chown to (`rootRange`); elsewhere
    /// the directory stays the namespace root's.
    func applyCacheOwnership(_ c: CacheMount, _ dir: String) throws {
        if c.uid != nil || c.gid != nil, identity.kind == .rootRange {
            try identity.give(dir, uid: c.uid ?? 0, gid: c.gid ?? 0)
        }
        if let m = c.mode, chmod(dir, mode_t(m & 0o7777)) != 0 {
            throw SandboxError(.state, "cannot chmod the cache", errno: errno, detail: dir)
        }
    }

    func giveToNamespaceRoot(_ paths: [String]) throws {
        try identity.giveToNamespaceRoot(paths)
    }
}

extension Sandbox {
    /// `run` on a dedicated thread (it blocks on the launcher, pipes and the diff walk), for async callers.
    public func runDetached(_ phase: PhaseSpec, base: String, layers: [String] = [], output: OutputSink? = nil)
        async throws -> PhaseOutcome
    {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<PhaseOutcome, Error>) in
            Thread {
                do { c.resume(returning: try self.run(phase, base: base, layers: layers, output: output)) } catch {
                    c.resume(throwing: error)
                }
            }.start()
        }
    }
}
