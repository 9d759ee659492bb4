import Foundation
import OCIWriter
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Where a phase's base filesystem comes from.
public enum BaseSource: Sendable, Hashable, CustomStringConvertible {
    /// An unpacked rootfs directory, used as the bottom overlay lower as is (read-only). Its owners must be
    /// ids of the sandbox's namespace as seen on the host (e.g. a tree unpacked by `BaseStore`).
    case directory(String)
    /// A rootfs tarball (plain, gzip, xz or zstd), unpacked once per (content digest, id mapping).
    case tarball(String)
    /// `oci-layout:<path>[:tag]`: an image in an OCI image layout (host platform picked from an index),
    /// unpacked once per manifest digest.
    case ociLayout(path: String, tag: String?)
    /// `registry:<reference>` (e.g. `registry:127.0.0.1:5000/team/base:1`): pulled with ociforge's registry
    /// transport (stored logins from `ociforge login`) into a layout under the state directory, then unpacked
    /// once per manifest digest.
    case registry(String)
    /// `debian:<suite>`: assembled with `mmdebstrap --variant=minbase`, cached by suite/variant/packages/mirror.
    case debian(suite: String, variant: String, packages: [String], mirror: String?)

    /// Parses `debian:SUITE`, a directory or a tarball path.
    public static func parse(_ s: String) throws -> BaseSource {
        if s.hasPrefix("debian:") {
            let suite = String(s.dropFirst(7))
            guard !suite.isEmpty, suite.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw BuildEngineError(
                    .invalidInput, "invalid Debian suite in '\(s)': expected debian:<suite>, e.g. debian:trixie")
            }
            return .debian(suite: suite, variant: "minbase", packages: [], mirror: nil)
        }
        if s.hasPrefix("registry:") {
            let ref = String(s.dropFirst(9))
            do { _ = try ImageReference(parsing: ref) } catch {
                throw BuildEngineError(
                    .invalidInput, "base '\(s)' is not a registry reference (registry:<host>/<repository>[:tag])",
                    cause: error)
            }
            return .registry(ref)
        }
        if s.hasPrefix("oci-layout:") {
            var rest = String(s.dropFirst(11))
            var tag: String?
            if let i = rest.lastIndex(of: ":"), !rest[rest.index(after: i)...].contains("/") {
                tag = String(rest[rest.index(after: i)...])
                rest = String(rest[..<i])
            }
            guard !rest.isEmpty, OCILayout.isLayout(rest) else {
                throw BuildEngineError(
                    .invalidInput, "base '\(s)': '\(rest)' is not an OCI image layout (no oci-layout file)")
            }
            return .ociLayout(
                path: URL(fileURLWithPath: rest).standardizedFileURL.path, tag: tag?.isEmpty == true ? nil : tag)
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: s, isDirectory: &isDir) else {
            throw BuildEngineError(
                .invalidInput, "base '\(s)' is neither debian:<suite> nor an existing directory or tarball")
        }
        let abs = URL(fileURLWithPath: s).standardizedFileURL.path
        return isDir.boolValue ? .directory(abs) : .tarball(abs)
    }

    public var description: String {
        switch self {
        case .directory(let p): return p
        case .tarball(let p): return p
        case .registry(let r): return "registry:\(r)"
        case .ociLayout(let p, let t): return "oci-layout:\(p)\(t.map { ":" + $0 } ?? "")"
        case .debian(let s, let v, let p, let m):
            return "debian:\(s) (\(v)\(p.isEmpty ? "" : ", +" + p.joined(separator: ","))\(m.map { ", " + $0 } ?? ""))"
        }
    }
}

/// Unpacks and caches base root filesystems under the state directory, for one platform.
public struct BaseStore: Sendable {
    public let state: StateDirectory
    public let identity: SandboxIdentity
    /// The platform of the bases (nil: the host's): `mmdebstrap --arch`, the manifest chosen from an index.
    public let platform: Platform?
    /// Free bytes `bases/` must have before mmdebstrap assembles a Debian base (`debianTarballBytes`).
    public var debianSpaceNeeded = BaseStore.debianTarballBytes
    /// `--ca-bundle`: PEM file trusted (with the system store) for an https mirror, by apt inside mmdebstrap
    /// and by the InRelease probe.
    public var caBundle: String?

    public init(state: StateDirectory, identity: SandboxIdentity, platform: Platform? = nil) {
        self.state = state
        self.identity = identity
        self.platform = platform.flatMap { ELFMachine.sameExecutables($0, Platform.host) ? nil : $0 }
    }

    /// Debian's name of the bases' architecture, nil for the host's; refused for a platform Debian does not build.
    func debianArchitecture() throws(BuildEngineError) -> String? {
        guard let platform else { return nil }
        guard let arch = ELFMachine.debianArchitecture(platform) else {
            throw BuildEngineError(
                .unsupported,
                "no Debian architecture for \(platform): debian:<suite> bases exist for \(ELFMachine.known.joined(separator: ", "))"
            )
        }
        return arch
    }

    /// A read-only rootfs directory for `source`, owned by the namespace's ids.
    public func rootfs(for source: BaseSource, log: @Sendable (String) -> Void = { _ in }) throws -> String {
        try state.prepare()
        switch source {
        case .directory(let p):
            return p
        case .tarball(let p):
            let digest = try fileDigest(p)
            return try unpacked(tarball: p, key: "rootfs-\(digest.hex.prefix(24))", log: log)
        case .ociLayout(let path, let tag):
            let layout = try OCILayout.open(at: path)
            let resolved = try layout.resolve(tag: tag, platform: platform)
            let sources = try resolved.layerBlobs(verify: false).map {
                LayerSource(
                    path: $0.path, compression: $0.compression, digest: $0.descriptor.digest,
                    size: $0.descriptor.size, diffID: $0.diffID)
            }
            return try unpacked(
                layers: sources, label: source.description,
                key: "image-\(resolved.manifestDescriptor.digest.hex.prefix(24))", log: log)
        case .registry(let r):
            let pulled = try pull(r, transport: ImageTransport(), log: log)
            return try rootfs(for: .ociLayout(path: pulled.layout, tag: pulled.tag), log: log)
        case .debian(let suite, let variant, let packages, let mirror):
            let tar = try debianTarball(suite: suite, variant: variant, packages: packages, mirror: mirror, log: log)
            let digest = try fileDigest(tar)
            return try unpacked(tarball: tar, key: "rootfs-\(digest.hex.prefix(24))", log: log)
        }
    }

    /// Pulls the registry image `reference` through `transport` (its credentials; plain HTTP for loopback hosts and
    /// its insecure registries) into the state dir's `bases/registry-images` layout; returns that layout and the tag
    /// it was stored under (one tag per reference). Blocking: call it on a thread of its own.
    public func pull(_ reference: String, transport: ImageTransport, log: @Sendable (String) -> Void) throws -> (
        layout: String, tag: String
    ) {
        try state.prepare()
        let ref = try ImageReference(parsing: reference)
        let layoutPath = state.bases + "/registry-images"
        let name = ref.description + (platform.map { " " + $0.description } ?? "")
        let tag = "pulled-" + String(Digest.of(Array(name.utf8)).hex.prefix(16))
        log("pulling \(ref)\(platform.map { " for " + $0.description } ?? "")")
        _ = try transport.copyBlocking(.registry(ref), .ociLayout(path: layoutPath, tag: tag), platform: platform)
        return (layoutPath, tag)
    }

    /// The cache key of a Debian base: suite, variant, packages, mirror and SOURCE_DATE_EPOCH.
    /// `mirrorState` is the `Date:` of the suite's InRelease file: a new mirror publication makes a new base.
    public static func debianKey(
        suite: String, variant: String, packages: [String], mirror: String?, sourceDateEpoch: String?,
        mirrorState: String? = nil, architecture: String? = nil
    ) -> String {
        var parts = [
            "suite=\(suite)", "variant=\(variant)", "packages=\(packages.sorted().joined(separator: ","))",
            "mirror=\(mirror ?? "default")", "epoch=\(sourceDateEpoch ?? "")", "state=\(mirrorState ?? "")"
        ]
        if let architecture { parts.append("arch=\(architecture)") }  // the host's keys stay as they were
        let s = parts.joined(separator: "\n")
        return String(Digest.of(Array(s.utf8)).hex.prefix(24))
    }

    /// Builds (once) `bases/debian-<key>.tar` with mmdebstrap.
    public func debianTarball(
        suite: String, variant: String, packages: [String], mirror: String?,
        log: @Sendable (String) -> Void
    ) throws -> String {
        try state.prepare()
        let mirrorURL = mirror ?? "http://deb.debian.org/debian"
        let arch = try debianArchitecture()
        let (key, published) = Self.debianRecipe(
            suite: suite, variant: variant, packages: packages, mirror: mirror, architecture: arch,
            caBundle: caBundle)
        let prefix = Self.debianTarballPrefix(suite: suite, architecture: arch)
        let out = debianTarballPath(suite: suite, key: key, architecture: arch)
        if FileManager.default.fileExists(atPath: out) { return out }
        if published == nil {
            // Mirror unreachable: the newest base already assembled for this suite and architecture, if any.
            let cached = ((try? FileManager.default.contentsOfDirectory(atPath: state.bases)) ?? [])
                .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".tar") && $0.count == prefix.count + 24 + 4 }
                .compactMap { n -> (String, Int)? in
                    var st = stat()
                    return lstat(state.bases + "/" + n, &st) == 0 ? (n, st.st_mtim.tv_sec) : nil
                }
                .max { $0.1 < $1.1 }
            if let cached {
                log("warning: cannot read \(mirrorURL)/dists/\(suite)/InRelease; using the cached base \(cached.0)")
                return state.bases + "/" + cached.0
            }
        }
        try requireSpaceForDebianBase(suite: suite, needed: debianSpaceNeeded)
        let tmp = state.bases + "/.tmp-\(getpid())-\(prefix.dropLast()).tar"
        let trusted = try caBundle.map { b throws(BuildEngineError) in try Self.namespaceReadableCopy(of: b) }
        defer { if let trusted { unlink(trusted) } }
        let args = Self.mmdebstrapArguments(
            suite: suite, variant: variant, packages: packages, architecture: arch, output: tmp, mirror: mirror,
            caBundle: trusted)
        log("assembling debian:\(suite) with mmdebstrap \(args.joined(separator: " "))")
        let r: (status: Int32, output: String)
        do { r = try runHost("/usr/bin/mmdebstrap", args) } catch {
            throw BuildEngineError(.base, "cannot run /usr/bin/mmdebstrap (apt-get install mmdebstrap)", cause: error)
        }
        guard r.status == 0 else {
            let full = diskFullError(suite: suite, tmp: tmp, needed: debianSpaceNeeded)
            unlink(tmp)
            if let full { throw full }
            throw BuildEngineError(
                .base,
                "mmdebstrap failed for debian:\(suite)\(arch.map { " (" + $0 + ")" } ?? "") (exit \(r.status)); is a Debian mirror reachable?",
                lastOutput: r.output.split(separator: "\n").suffix(15).joined(separator: "\n"))
        }
        if rename(tmp, out) != 0 {
            throw BuildEngineError(
                .base, "cannot move the Debian base into place at \(out): \(String(cString: strerror(errno)))")
        }
        return out
    }

    /// mmdebstrap's command line. unshare mode: Debian's maintainer scripts run as root of a user namespace, never
    /// as host root (as root mmdebstrap maps a subordinate range itself; unprivileged it uses the user's
    /// /etc/subuid). A foreign architecture's maintainer scripts run through the host's binfmt_misc handler
    /// (arch-test checks it). `caBundle` becomes apt's `Acquire::https::CAInfo` (as in phases: BuildCacheTests).
    static func mmdebstrapArguments(
        suite: String, variant: String, packages: [String], architecture: String?, output: String, mirror: String?,
        caBundle: String?
    ) -> [String] {
        var args = ["--mode=unshare", "--variant=\(variant)", "--quiet"]
        if let architecture { args.append("--arch=\(architecture)") }
        if !packages.isEmpty { args.append("--include=" + packages.joined(separator: ",")) }
        if let caBundle { args.append("--aptopt=Acquire::https::CAInfo \"\(caBundle)\"") }
        args += [suite, output]
        if let mirror { args.append(mirror) }
        return args
    }

    /// A world-readable copy of the CA bundle in the temporary directory: apt runs in mmdebstrap's user namespace,
    /// where host root's 0400 file is unreadable. The caller removes it. (Certificates are public.)
    static func namespaceReadableCopy(of bundle: String) throws(BuildEngineError) -> String {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = dir + "/ociforge-ca-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pem"
        guard let data = FileManager.default.contents(atPath: bundle) else {
            throw BuildEngineError(.invalidInput, "cannot read the CA bundle \(bundle) (--ca-bundle)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BuildEngineError(.cache, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fchmod(fd, 0o644) == 0 else {
            unlink(path)
            throw BuildEngineError(.cache, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    /// A Debian base's key (`debianKey` with SOURCE_DATE_EPOCH and the mirror's publication date) and that date (nil:
    /// the mirror did not answer). The same on every machine building at the same mirror state.
    static func debianRecipe(
        suite: String, variant: String, packages: [String], mirror: String?, architecture: String?,
        caBundle: String? = nil
    ) -> (key: String, published: String?) {
        let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"]
        let published = inReleaseDate(
            mirror: mirror ?? "http://deb.debian.org/debian", suite: suite, caBundle: caBundle)
        let key = debianKey(
            suite: suite, variant: variant, packages: packages, mirror: mirror, sourceDateEpoch: epoch,
            mirrorState: published, architecture: architecture)
        return (key, published)
    }

    /// The host's bases keep their names; a foreign architecture's carry it: debian-<suite>-<arch>-<key>.tar.
    static func debianTarballPrefix(suite: String, architecture: String?) -> String {
        "debian-\(suite)-" + (architecture.map { $0 + "-" } ?? "")
    }

    /// Where the tarball of the Debian base `key` is kept.
    func debianTarballPath(suite: String, key: String, architecture: String?) -> String {
        state.bases + "/" + Self.debianTarballPrefix(suite: suite, architecture: architecture) + key + ".tar"
    }

    /// The `Date:` field of `<mirror>/dists/<suite>/InRelease` (nil when unreachable within a few seconds).
    static func inReleaseDate(mirror: String, suite: String, caBundle: String? = nil) -> String? {
        guard let url = URL(string: "\(mirror)/dists/\(suite)/InRelease") else { return nil }
        let request = HTTPRequest(method: "GET", url: url, headers: ["Range": "bytes=0-4095"])
        guard
            let r = try? CurlTransport(timeout: 10, maxIdleHandles: 0, totalTimeout: 12, caFile: caBundle).sendBlocking(
                request, maxBodyBytes: 4 << 20),
            r.status == 200 || r.status == 206
        else { return nil }
        for line in String(decoding: r.body, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Date: ") {
            return String(line.dropFirst(6)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Unpacks a rootfs tarball with the OCIWriter extractor (every path resolved in-root, limits, no device
    /// nodes: the sandbox bind-mounts its own /dev), owners mapped into the namespace's id range so uid 0 of
    /// the tarball is the sandbox's root. Runs in this process: never a binary from the rootfs.
    func unpacked(tarball: String, key: String, log: @Sendable (String) -> Void) throws -> String {
        try unpacked(layers: [LayerSource(path: tarball)], label: tarball, key: key, log: log)
    }

    /// Layers (bottom first; digests, sizes and diff_ids verified while streaming when given) unpacked as above.
    func unpacked(layers: [LayerSource], label: String, key: String, log: @Sendable (String) -> Void) throws -> String {
        let rootfs = unpackedPath(key: key)
        let dir = (rootfs as NSString).deletingLastPathComponent
        if FileManager.default.fileExists(atPath: dir + "/complete") { return rootfs }
        let tmp = dir + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.removeItem(atPath: tmp)
        if makeDirectory(tmp, 0o755) != 0 {
            throw BuildEngineError(.cache, "cannot create \(tmp): \(String(cString: strerror(errno)))")
        }
        log("unpacking \(label)")
        let ownership = Self.ownership(for: identity)
        do {
            let reports = try LayerExtractor.unpack(
                layers: layers, to: tmp + "/rootfs",
                options: LayerExtractionOptions(limits: state.extractionLimits, ownership: ownership, devices: .skip))
            let devices = reports.flatMap(\.warnings).filter { $0.kind == .deviceSkipped }.count
            if devices > 0 { log("skipped \(devices) device nodes of the base (the sandbox provides /dev)") }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw BuildEngineError(.base, "cannot unpack the base \(label)", cause: error)
        }
        try identity.giveToNamespaceRoot([tmp])
        _ = FileManager.default.createFile(atPath: tmp + "/complete", contents: Data())
        if rename(tmp, dir) != 0 {
            try? FileManager.default.removeItem(atPath: tmp)
            if FileManager.default.fileExists(atPath: dir + "/complete") { return rootfs }  // a concurrent unpack won
            throw BuildEngineError(
                .base, "cannot move the unpacked base into place at \(dir): \(String(cString: strerror(errno)))")
        }
        return rootfs
    }

    /// Where `unpacked(…, key:)` puts its rootfs.
    func unpackedPath(key: String) -> String { state.bases + "/\(key)-\(identity.cacheKey)/rootfs" }

    /// How unpacked files get their owners for `identity`'s sandbox (bases and trees of pulled cache layers).
    static func ownership(for identity: SandboxIdentity) -> OwnershipPolicy {
        let mappedIDs = identity.uidMap.reduce(UInt64(0)) { $0 + UInt64($1.count) }
        switch identity.kind {
        case .rootRange: return .map(identity.idMapping)
        case .nested: return mappedIDs > 1 ? .preserve : .ignore  // degraded: everything belongs to root
        case .subordinateRange, .singleID: return .ignore
        }
    }

    /// The tarball's sha256, remembered per (device, inode, size, mtime) so a cached base costs no re-hash.
    func fileDigest(_ path: String) throws -> Digest {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw BuildEngineError(.base, "cannot stat the base tarball \(path): \(String(cString: strerror(errno)))")
        }
        let memo =
            state.bases + "/.digest-\(st.st_dev)-\(st.st_ino)-\(st.st_size)-\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        if let d = FileManager.default.contents(atPath: memo),
            let digest = try? Digest(String(decoding: d, as: UTF8.self))
        {
            return digest
        }
        let digest = try CacheKey.fileDigest(path)
        let tmp = memo + ".tmp-\(getpid())"
        if FileManager.default.createFile(atPath: tmp, contents: Data(digest.description.utf8)) { rename(tmp, memo) }
        return digest
    }
}

extension BaseStore {
    /// `rootfs(for:)` on a dedicated thread (mmdebstrap, hashing and unpacking block).
    public func rootfsDetached(for source: BaseSource, log: @escaping @Sendable (String) -> Void = { _ in })
        async throws -> String
    {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, Error>) in
            Thread {
                do { c.resume(returning: try self.rootfs(for: source, log: log)) } catch { c.resume(throwing: error) }
            }.start()
        }
    }
}
