import Foundation
import OCIWriter
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge dockerfile build`: Dockerfiles executed on ociforge's sandbox, layer writer and cache, compared with
/// `buildah bud --isolation chroot` of the same Dockerfile on the same base (unpacked tree manifest and config
/// fields), the Node multi-stage `Dockerfile.prod` answering HTTP under podman, and cached rebuilds running no
/// command. Needs root, buildah, podman (scripts/install-deps); the Debian base comes from mmdebstrap (cached).
@Suite("Dockerfile execution", .serialized)
struct DockerfileExecTests {
    static let epoch = "1700000000"
    static let stateDir = DebianBase.cacheDir + "/dockerexec-state"

    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/buildah")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/podman")
    }

    /// A test directory the sandbox's mapped root can traverse (the layer cache lives in it).
    static func tempDir(_ prefix: String) throws -> TempDir {
        let d = try TempDir.make(prefix)
        chmod(d.path, 0o755)
        return d
    }

    static func env() -> [String: String] { ["OCIFORGE_STATE_DIR": stateDir, "SOURCE_DATE_EPOCH": epoch] }

    /// The Debian minbase rootfs as a one-layer image `oci:<layout>:base`, shared by the tests (built once).
    static func baseLayout() throws -> String {
        let layout = DebianBase.cacheDir + "/dockerexec-base"
        let rootfs = try DebianBase.minbaseRootfs()
        return try Harness.withFileLock(DebianBase.cacheDir + "/dockerexec-base.lock") {
            if FileManager.default.fileExists(atPath: layout + ".complete") { return layout }
            try? FileManager.default.removeItem(atPath: layout)
            try Harness.ok(
                [
                    Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", rootfs,
                    "--output", "oci-layout:\(layout):base"
                ], environment: env())
            FileManager.default.createFile(atPath: layout + ".complete", contents: nil)
            return layout
        }
    }

    /// The base plus `nodejs npm` from Debian, built by ociforge itself from a one-line Dockerfile
    /// (`oci:<layout>:node`), shared by the tests.
    static func nodeLayout() throws -> String {
        let base = try baseLayout()
        let layout = DebianBase.cacheDir + "/dockerexec-node"
        return try Harness.withFileLock(DebianBase.cacheDir + "/dockerexec-node.lock") {
            if FileManager.default.fileExists(atPath: layout + ".complete") { return layout }
            let dir = try Self.tempDir("df-nodebase")
            defer { dir.remove() }
            try """
            ARG BASE
            FROM ${BASE}
            RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && \\
                DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm && \\
                rm -rf /var/lib/apt/lists/* /var/log/dpkg.log /var/log/apt/* /var/cache/ldconfig/aux-cache

            """.write(toFile: dir.path + "/Dockerfile", atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: layout)
            try Harness.ok(
                [
                    Harness.ociforge, "dockerfile", "build", dir.path, "--build-arg", "BASE=oci:\(base):base",
                    "--output", "oci-layout:\(layout):node", "--cache-dir",
                    DebianBase.cacheDir + "/dockerexec-node-cache", "-q"
                ],
                environment: env())
            FileManager.default.createFile(atPath: layout + ".complete", contents: nil)
            return layout
        }
    }

    struct Built {
        var report: [String: Any]
        var executed: [String] { report["executed"] as? [String] ?? [] }
        var cached: [String] { report["cached"] as? [String] ?? [] }
        var manifest: String { report["manifestDigest"] as? String ?? "" }
    }

    @discardableResult
    static func ociforgeBuild(
        _ context: String, file: String? = nil, args: [String: String] = [:], target: String? = nil,
        output: String, tag: String, cache: String, extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Built {
        var argv =
            [
                Harness.ociforge, "dockerfile", "build", context, "--output", "oci-layout:\(output):\(tag)",
                "--cache-dir", cache,
                "--json", "-q"
            ] + extra
        if let file { argv += ["-f", file] }
        if let target { argv += ["--target", target] }
        for (k, v) in args.sorted(by: { $0.key < $1.key }) { argv += ["--build-arg", "\(k)=\(v)"] }
        let out = try Harness.ok(argv, environment: env(), sourceLocation: sourceLocation)
        guard let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else {
            throw HarnessError("dockerfile build --json printed no JSON object: \(out)")
        }
        let built = Built(report: obj)
        let fixed = extra.filter { !$0.hasPrefix("/") && !$0.contains("=file:") }
        DigestLog.record(
            "dockerfile " + (context as NSString).lastPathComponent + " " + tag + " " + (target ?? "") + " "
                + fixed.joined(separator: " "), built.manifest)
        return built
    }

    /// An image built by `buildah bud --isolation chroot`, read where buildah keeps it: the image's rootfs mounted
    /// read-only by `podman image mount` (no push, compression or unpack; unlike `buildah from`, no container is
    /// made, so the image's ONBUILD triggers do not run) and its Docker-format config. Call `remove()` when done.
    struct BuildahImage {
        var name: String
        var root: String
        var config: [String: Any]

        func remove() {
            _ = try? Harness.run(["podman", "image", "unmount", name])
            _ = try? Harness.run(["buildah", "rmi", "-f", name])
        }
    }

    /// `buildah bud --isolation chroot` of the same Dockerfile (`--format docker`: the OCI format would drop
    /// HEALTHCHECK, ONBUILD and SHELL from the config). `secrets`: id → file.
    static func buildahBuild(
        _ context: String, file: String? = nil, args: [String: String] = [:], target: String? = nil,
        secrets: [String: String] = [:], extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> BuildahImage {
        let name = "localhost/ociforge-dfexec-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var argv = [
            "buildah", "bud", "--isolation", "chroot", "--quiet", "--layers=false", "--format", "docker", "-t", name
        ]
        if let file { argv += ["-f", file] }
        if let target { argv += ["--target", target] }
        for (k, v) in args.sorted(by: { $0.key < $1.key }) { argv += ["--build-arg", "\(k)=\(v)"] }
        for (id, path) in secrets.sorted(by: { $0.key < $1.key }) { argv += ["--secret", "id=\(id),src=\(path)"] }
        try Harness.ok(argv + extra + [context], environment: env(), sourceLocation: sourceLocation)
        var image = BuildahImage(name: name, root: "", config: [:])
        do {
            image.root = try Harness.ok(["podman", "image", "mount", name], sourceLocation: sourceLocation)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let inspect = try Harness.ok(
                ["buildah", "inspect", "--type", "image", name], sourceLocation: sourceLocation)
            let obj = try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any]
            image.config = (obj?["Docker"] as? [String: Any])?["config"] as? [String: Any] ?? [:]
        } catch {
            image.remove()
            throw error
        }
        return image
    }

    /// The image's config (`config` object of the image config) from a layout.
    static func containerConfig(_ layout: String, tag: String) throws -> [String: Any] {
        func json(_ path: String) throws -> [String: Any] {
            guard let d = FileManager.default.contents(atPath: path),
                let o = try JSONSerialization.jsonObject(with: d) as? [String: Any]
            else { throw HarnessError("cannot read \(path)") }
            return o
        }
        let index = try json(layout + "/index.json")
        let manifests = index["manifests"] as? [[String: Any]] ?? []
        guard
            let m = manifests.last(where: {
                ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == tag
            }),
            let digest = (m["digest"] as? String)?.dropFirst(7)
        else { throw HarnessError("no image tagged \(tag) in \(layout)") }
        let manifest = try json(layout + "/blobs/sha256/" + digest)
        guard let cd = ((manifest["config"] as? [String: Any])?["digest"] as? String)?.dropFirst(7) else {
            throw HarnessError("no config")
        }
        return try json(layout + "/blobs/sha256/" + cd)["config"] as? [String: Any] ?? [:]
    }

    static func history(_ layout: String, tag: String) throws -> [[String: Any]] {
        let index =
            try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: layout + "/index.json")!)
            as! [String: Any]
        let m = (index["manifests"] as! [[String: Any]]).last {
            ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == tag
        }!
        let manifest =
            try JSONSerialization.jsonObject(
                with: FileManager.default.contents(
                    atPath: layout + "/blobs/sha256/" + (m["digest"] as! String).dropFirst(7))!) as! [String: Any]
        let cd = ((manifest["config"] as! [String: Any])["digest"] as! String).dropFirst(7)
        let config =
            try JSONSerialization.jsonObject(
                with: FileManager.default.contents(atPath: layout + "/blobs/sha256/" + cd)!) as! [String: Any]
        return config["history"] as? [[String: Any]] ?? []
    }

    static let comparedFields = [
        "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal",
        "Healthcheck", "OnBuild", "Shell"
    ]

    /// Config fields as comparable JSON text (absent, null and empty are the same: buildah writes empty values).
    static func field(_ c: [String: Any], _ k: String) -> String {
        var v = c[k]
        if var labels = v as? [String: Any] {
            labels["io.buildah.version"] = nil
            v = labels
        }
        if var hc = v as? [String: Any] {
            // Healthcheck: buildah writes unset durations and retries as 0 (Docker: "0 means inherit/default").
            for (hk, hv) in hc where (hv as? NSNumber)?.intValue == 0 && !(hv is String) { hc[hk] = nil }
            v = hc
        }
        if let s = v as? String, s.isEmpty { v = nil }
        if let a = v as? [Any], a.isEmpty { v = nil }
        if let d = v as? [String: Any], d.isEmpty { v = nil }
        guard let v, !(v is NSNull) else { return "-" }
        let data = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }

    /// Unpacks ociforge's image and compares its tree manifest and config fields with buildah's image. buildah
    /// leaves the mount points of its RUN containers (/etc/hosts, /etc/resolv.conf, /run/.containerenv…) as empty
    /// files in the image: they are excluded when the ociforge image does not have them. `stubs`: more paths buildah
    /// 1.28 leaves behind as RUN --mount targets (BuildKit removes the mount points it created,
    /// moby/buildkit#3307; buildah only since containers/buildah#6233), excluded under the same condition and
    /// only while buildah's entry is an empty directory or file.
    /// `differing`: paths left out of both trees (where buildah departs from Docker; the caller checks ours).
    /// Returns the unpacked ociforge image.
    @discardableResult
    static func compare(
        _ ours: String, tag: String, with theirs: BuildahImage, in dir: TempDir, stubs: [String] = [],
        differing: [String] = [], skipFields: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let a = dir.path + "/unpacked-ours-\(tag)", b = theirs.root
        try Harness.ok(
            [Harness.ociforge, "image", "unpack", "oci-layout:\(ours):\(tag)", a], sourceLocation: sourceLocation)
        func exists(_ root: String, _ p: String) -> Bool {
            var st = stat()
            return lstat(root + "/" + p, &st) == 0
        }
        func emptyStub(_ p: String) -> Bool {
            var st = stat()
            guard lstat(b + "/" + p, &st) == 0 else { return false }
            if (st.st_mode & S_IFMT) == S_IFREG { return st.st_size == 0 }
            return (st.st_mode & S_IFMT) == S_IFDIR
                && ((try? FileManager.default.contentsOfDirectory(atPath: b + "/" + p)) ?? ["?"]).isEmpty
        }
        var excluded = differing
        for p in ["etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv", "run", "proc", "sys", "dev"]
        where !exists(a, p) {
            excluded.append(p)
        }
        for s in stubs {
            let p = String(s.drop { $0 == "/" })
            if !exists(a, p) && emptyStub(p) { excluded.append(p) }
        }
        // The roots themselves are made by different tools (ociforge's unpack, buildah's overlay mount).
        let options = TreeManifest.Options(excludedPaths: excluded, includeRoot: false)
        let mine = try TreeManifest.capture(root: a, options: options)
        let other = try TreeManifest.capture(root: b, options: options)
        let diff = mine.diff(other)
        #expect(
            diff == [],
            "tree of \(tag) differs from buildah's (- ours, + buildah's):\n\(diff.prefix(60).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
        let c1 = try containerConfig(ours, tag: tag)
        for k in comparedFields where !skipFields.contains(k) {
            #expect(
                field(c1, k) == field(theirs.config, k), "config \(k) of \(tag) differs from buildah's",
                sourceLocation: sourceLocation)
        }
        return a
    }

    /// A fixture's context (`Fixtures/<fixture>/context`) in a fresh directory, with the empty directories git
    /// cannot keep: `emptyDirectories` of its options.json (or `empty/` when its expected.json lists it).
    static func fixtureContext(_ fixture: String, in dir: TempDir) throws -> String {
        let dst = dir.path + "/ctx-" + fixture.replacingOccurrences(of: "/", with: "-")
        let root = fixture.contains("/") ? Harness.fixture(fixture) : Harness.fixture("dockerfile/\(fixture)")
        try Harness.ok(["cp", "-a", root + "/context", dst])
        var empty: [String] = []
        if let d = FileManager.default.contents(atPath: root + "/options.json"),
            let o = try JSONSerialization.jsonObject(with: d) as? [String: Any]
        {
            empty = o["emptyDirectories"] as? [String] ?? []
        }
        if let expected = try? String(contentsOfFile: root + "/expected.json", encoding: .utf8),
            expected.contains("\"empty/\"")
        {
            empty.append("empty")
        }
        for e in empty {
            try FileManager.default.createDirectory(atPath: dst + "/" + e, withIntermediateDirectories: true)
        }
        return dst
    }

    // MARK: - Tests

    static let runDockerfile = """
        ARG BASE=scratch
        FROM ${BASE} AS build
        RUN echo built > /built.txt && mkdir -p /out/sub && echo out > /out/a && ln -s a /out/link
        FROM ${BASE}
        RUN useradd -u 1234 -m app && mkdir -p /srv && echo hi > /srv/hello && rm -f /etc/motd && rm -rf /usr/share/doc/bash
        COPY --chown=app:app app.txt /home/app/
        COPY --chown=1234:0 --chmod=0750 app.txt /opt/tool/run.sh
        COPY --from=build /out /copied
        ADD bundle.tar /unpacked/
        WORKDIR /work/dir
        USER app
        WORKDIR /home/app/w
        RUN --mount=type=cache,target=/home/app/.cache id -u > uid.txt && pwd > pwd.txt && echo "x$GREETING" > greeting.txt
        ENV GREETING=hello
        RUN echo "$GREETING" > /home/app/w/g2.txt
        USER root
        RUN --mount=type=bind,source=data,target=/mnt/data cp -r /mnt/data /from-bind && ls /mnt/data > /from-bind.list
        EXPOSE 8080 53/udp
        LABEL org.example.name="run fixture" tier=web
        ENTRYPOINT ["/bin/sh", "-c"]
        CMD ["cat /srv/hello"]

        """

    static func runContext(in dir: TempDir) throws -> String {
        let ctx = dir.path + "/ctx"
        try FileManager.default.createDirectory(atPath: ctx + "/data/nested", withIntermediateDirectories: true)
        try runDockerfile.write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        try "app\n".write(toFile: ctx + "/app.txt", atomically: true, encoding: .utf8)
        try "one\n".write(toFile: ctx + "/data/one", atomically: true, encoding: .utf8)
        try "two\n".write(toFile: ctx + "/data/nested/two", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.path + "/tarsrc/pkg", withIntermediateDirectories: true)
        try "in tar\n".write(toFile: dir.path + "/tarsrc/pkg/file", atomically: true, encoding: .utf8)
        try Harness.ok(["tar", "-C", dir.path + "/tarsrc", "--owner=0", "--group=0", "-cf", ctx + "/bundle.tar", "pkg"])
        return ctx
    }

    @Test(
        "RUN/COPY --chown/--chmod/--from/ADD/WORKDIR/USER/cache and bind mounts on Debian: equal to buildah; a rebuild runs no command",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func runOnDebian() throws {
        let base = try Self.baseLayout()
        let dir = try Self.tempDir("df-run")
        defer { dir.remove() }
        let ctx = try Self.runContext(in: dir)
        let args = ["BASE": "oci:\(base):base"]
        let cold = try Self.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(cold.executed.count == 5, "every RUN of the needed stages ran: \(cold.executed)")
        let theirs = try Self.buildahBuild(ctx, args: args)
        defer { theirs.remove() }
        try Self.compare(dir.path + "/ours", tag: "img", with: theirs, in: dir)

        // History: one entry per instruction after FROM (base first), empty_layer for config-only steps.
        let history = try Self.history(dir.path + "/ours", tag: "img")
        let mine = history.dropFirst()  // the base image's layer
        #expect(mine.count == 17, "history: \(mine.map { $0["created_by"] as? String ?? "" })")
        let env = mine.first { ($0["created_by"] as? String) == "ENV GREETING=hello" }
        #expect(env?["empty_layer"] as? Bool == true)
        let run = mine.first { ($0["created_by"] as? String)?.hasPrefix("RUN useradd") == true }
        #expect(run != nil && run?["empty_layer"] == nil)

        // Cached rebuild: no command runs, same manifest.
        let warm = try Self.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(warm.executed == [], "a rebuild of an unchanged Dockerfile ran \(warm.executed)")
        #expect(warm.cached.count == 5)
        #expect(warm.manifest == cold.manifest)

        // Changing a copied file re-runs only the steps after it.
        try "app changed\n".write(toFile: ctx + "/app.txt", atomically: true, encoding: .utf8)
        let changed = try Self.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(changed.executed.count == 3, "RUN steps after the changed COPY: \(changed.executed)")
        #expect(changed.manifest != cold.manifest)
    }

    @Test(
        "RUN --mount=type=secret: /run/secrets/<id> or target= (mode/uid/gid), env= for the command only, required=; never in a layer, the cache key or the config",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func secretMount() throws {
        func text(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func unpackedImage(_ dir: TempDir) throws -> String {
            let out = dir.path + "/unpacked"
            try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(dir.path)/ours:img", out])
            return out
        }
        let base = try Self.baseLayout()
        let dir = try Self.tempDir("df-secret")
        defer { dir.remove() }
        let ctx = dir.path + "/ctx"
        try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
        try """
        ARG BASE
        FROM ${BASE}
        RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /token-length
        RUN --mount=type=secret,id=token,env=TOKEN printf %s "$TOKEN" | wc -c > /env-only-length && ! test -e /run/secrets/token
        RUN useradd -u 1234 -m app && mkdir -p /root/conf && echo existing > /root/conf/token.conf
        RUN --mount=type=secret,id=token,target=/root/.config/tool/token \\
            stat -c '%a %u %g' /root/.config/tool/token > /default-stat && wc -c < /root/.config/tool/token > /custom-length && \\
            ! test -e /run/secrets/token && echo only-target > /custom-only
        RUN --mount=type=secret,id=token,target=/root/conf/token.conf,mode=0440,uid=1234,gid=100 \\
            stat -c '%a %u %g' /root/conf/token.conf > /opts-stat && wc -c < /root/conf/token.conf > /covered-length
        USER app
        RUN --mount=type=secret,id=token,uid=1234 wc -c < /run/secrets/token > /home/app/user-length
        USER root
        RUN --mount=type=secret,id=token,env=TOKEN,target=/tmp/both printf %s "$TOKEN" | wc -c > /env-length && \\
            { test "$(cat /tmp/both)" = "$TOKEN" || echo differs > /both-differs; }
        RUN test -z "${TOKEN:-}" && echo unset-later > /env-later
        RUN --mount=type=secret,id=absent echo skipped > /optional && ! test -e /run/secrets/absent
        RUN --mount=type=secret,id=absent,env=ABSENT,required=false test -z "${ABSENT:-}" && echo no-env > /optional-env

        """.write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        let secretValue = "s3cr3t-value-\(UInt32.random(in: 0...UInt32.max))"
        try secretValue.write(toFile: dir.path + "/token", atomically: true, encoding: .utf8)
        let args = ["BASE": "oci:\(base):base"]
        let extra = ["--secret", "token=file:\(dir.path)/token"]
        let cold = try Self.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache",
            extra: extra)
        #expect(cold.executed.count == 10, "\(cold.executed)")
        let out = try unpackedImage(dir)
        let n = String(secretValue.utf8.count)
        #expect(text(out + "/token-length") == n)
        #expect(text(out + "/env-only-length") == n, "env= without target=: only the variable")
        // BuildKit's defaults: 0400, owned by 0:0; target= replaces /run/secrets/<id>.
        #expect(text(out + "/default-stat") == "400 0 0")
        #expect(text(out + "/custom-length") == n)
        #expect(text(out + "/custom-only") == "only-target")
        #expect(text(out + "/opts-stat") == "440 1234 100")
        #expect(text(out + "/covered-length") == n, "the secret covers an existing file for the step")
        #expect(text(out + "/home/app/user-length") == n, "uid= makes it readable by USER app")
        #expect(text(out + "/env-length") == n)
        #expect(
            !FileManager.default.fileExists(atPath: out + "/both-differs"),
            "env= and target= together: the same value in both")
        #expect(text(out + "/env-later") == "unset-later", "env= reaches only its own RUN")
        #expect(text(out + "/optional") == "skipped")
        #expect(text(out + "/optional-env") == "no-env")
        // Mount points are not layer content; the covered file is unchanged.
        #expect(!FileManager.default.fileExists(atPath: out + "/root/.config"))
        #expect(!FileManager.default.fileExists(atPath: out + "/tmp/both"))
        #expect(!FileManager.default.fileExists(atPath: out + "/run/secrets"))
        #expect(text(out + "/root/conf/token.conf") == "existing")
        // Never in the image (layers, config, history), the layer cache, or the state dir.
        for place in [dir.path + "/ours", dir.path + "/cache", out] {
            let grep = try Harness.run(["grep", "-r", "-l", "-z", "-F", secretValue, place])
            #expect(grep.status == 1, "the secret value appears under \(place): \(grep.stdout)")
        }
        let env = try Self.containerConfig(dir.path + "/ours", tag: "img")["Env"] as? [String] ?? []
        #expect(!env.contains { $0.hasPrefix("TOKEN=") })

        // The value is not part of the cache key: another value reuses every layer; no secret at all fails a
        // required mount with a message naming it.
        try "another-value".write(toFile: dir.path + "/token", atomically: true, encoding: .utf8)
        let warm = try Self.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache",
            extra: extra)
        #expect(warm.executed == [], "\(warm.executed)")
        try
            (String(contentsOfFile: ctx + "/Dockerfile", encoding: .utf8)
            + "RUN --mount=type=secret,id=needed,required=true true\n")
            .write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        let r = try Harness.run(
            [
                Harness.ociforge, "dockerfile", "build", ctx, "--build-arg", "BASE=oci:\(base):base", "--output",
                "oci-layout:\(dir.path)/ours:req", "--cache-dir", dir.path + "/cache", "-q"
            ] + extra,
            environment: Self.env())
        #expect(r.status != 0)
        #expect(r.stderr.contains("needed") && r.stderr.contains("required"), "\(r.stderr)")
    }

    @Test(
        "Node multi-stage Dockerfile.prod: builds, answers HTTP under podman, a rebuild runs no command",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func nodeProd() throws {
        let node = try Self.nodeLayout()
        let dir = try Self.tempDir("df-node")
        defer { dir.remove() }
        let ctx = try Self.fixtureContext("node-prod", in: dir)
        let args = ["NODE_IMAGE": "oci:\(node):node", "ENVIRONMENT": "production", "BUILD_VERSION": "1.2.3"]
        let cold = try Self.ociforgeBuild(
            ctx, file: ctx + "/Dockerfile.prod", args: args, output: dir.path + "/ours", tag: "prod",
            cache: dir.path + "/cache")
        #expect(cold.executed.count == 2, "npm ci and npm run build: \(cold.executed)")
        let config = try Self.containerConfig(dir.path + "/ours", tag: "prod")
        #expect(config["Cmd"] as? [String] == ["npm", "start"])
        #expect((config["Env"] as? [String] ?? []).contains("NODE_ENV=production"))
        #expect((config["ExposedPorts"] as? [String: Any])?["3000/tcp"] != nil)

        let warm = try Self.ociforgeBuild(
            ctx, file: ctx + "/Dockerfile.prod", args: args, output: dir.path + "/ours", tag: "prod",
            cache: dir.path + "/cache")
        #expect(warm.executed == [], "a rebuild of an unchanged Dockerfile ran \(warm.executed)")
        #expect(warm.manifest == cold.manifest)

        // Through the planner and `ociforge build`: lttle's `[docker]` block (args from ociforge.toml) and
        // Compartment's `strategy = "dockerfile"` (file and args on the command line) give the same image config.
        for app in ["node-prod-lttle", "node-prod-compartment"] {
            let appDir = dir.path + "/" + app
            try Harness.ok(["cp", "-a", Harness.fixture("dockerfile/\(app)/app"), appDir])
            var argv = [
                Harness.ociforge, "build", appDir, "--output", "oci-layout:\(dir.path)/planned:\(app)", "--cache-dir",
                dir.path + "/cache", "--json", "-q", "--build-arg", "NODE_IMAGE=oci:\(node):node"
            ]
            if app == "node-prod-compartment" {
                argv += [
                    "--dockerfile", "Dockerfile.prod", "--build-arg", "ENVIRONMENT=production", "--build-arg",
                    "BUILD_VERSION=1.2.3"
                ]
            }
            try Harness.ok(argv, environment: Self.env())
            let c = try Self.containerConfig(dir.path + "/planned", tag: app)
            for k in Self.comparedFields {
                #expect(
                    Self.field(c, k) == Self.field(config, k), "\(app): config \(k) differs from the dockerfile build's"
                )
            }
        }

        // Last (podman leaves a conmon process behind, after which Foundation's Process here stopped noticing
        // its children's exits): podman and curl are spawned and reaped directly.
        let port = BuildEndToEndTests.freePort()
        let name = "ociforge-it-df-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let podman = BuildEndToEndTests.podman
        let log = dir.path + "/podman.log"
        func sh(_ argv: [String]) throws -> Int32 {
            try Self.spawnAndWait(["/bin/sh", "-c", "exec \"$@\" >>\(log) 2>&1 </dev/null", "sh"] + argv)
        }
        let started = try sh(
            podman + ["run", "-d", "--name", name, "-p", "127.0.0.1:\(port):3000", "oci:\(dir.path)/ours:prod"])
        #expect(started == 0, "podman run: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        defer { _ = try? sh(podman + ["rm", "-f", "-t", "0", name]) }
        let bodyFile = dir.path + "/body"
        var answered = false
        for _ in 0..<120 {
            if try Self.spawnAndWait(["curl", "-sS", "--max-time", "2", "-o", bodyFile, "http://127.0.0.1:\(port)/"])
                == 0
            {
                answered = true
                break
            }
            usleep(250_000)
        }
        _ = try? sh(podman + ["logs", name])
        let body = (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? ""
        #expect(
            answered && body == "{\"ok\":true,\"env\":\"production\",\"version\":\"1.2.3\"}\n",
            "HTTP answer: \(body)\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// posix_spawn + waitpid: the exit status of `argv` (output redirected by the caller).
    static func spawnAndWait(_ argv: [String]) throws -> Int32 {
        var pid: pid_t = 0
        let cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        let rc = posix_spawnp(&pid, argv[0], nil, nil, cargs, environ)
        guard rc == 0 else { throw HarnessError("cannot start \(argv[0]): errno \(rc)") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(300)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 { throw HarnessError("waitpid: errno \(errno)") }
            if Date() > deadline {
                kill(pid, SIGKILL)
                throw HarnessError("timed out: \(argv.joined(separator: " "))")
            }
            usleep(50_000)
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// A `docker-registry` serving plain HTTP on a free loopback port, its storage in `dir`.
    @Test(
        "FROM a loopback registry image: pulled through the registry transport, COPY and RUN on it",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func registryBase() throws {
        let base = try Self.baseLayout()
        let dir = try Self.tempDir("df-registry")
        defer { dir.remove() }
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let port = registry.port
        // A unique repository per run: the state dir's pulled-image layout is shared between runs.
        let image = "127.0.0.1:\(port)/base-\(getpid())-\(UInt32.random(in: 0...UInt32.max)):1"
        try Harness.ok([Harness.ociforge, "image", "push", "oci-layout:\(base):base", image], environment: Self.env())

        let ctx = dir.path + "/ctx"
        try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
        try "hello from the context\n".write(toFile: ctx + "/hello.txt", atomically: true, encoding: .utf8)
        let dockerfile =
            "FROM \(image)\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /copied.txt && test -x /bin/sh && echo ran > /ran.txt\n"
            + "COPY --from=\(image) /etc/debian_version /from-image.txt\n"
        try dockerfile.write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        let built = try Self.ociforgeBuild(ctx, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(built.executed.count == 1, "the RUN step: \(built.executed)")
        let out = dir.path + "/unpacked"
        try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(dir.path)/ours:img", out])
        #expect(try String(contentsOfFile: out + "/hello.txt", encoding: .utf8) == "hello from the context\n")
        #expect(try String(contentsOfFile: out + "/copied.txt", encoding: .utf8) == "hello from the context\n")
        #expect(try String(contentsOfFile: out + "/ran.txt", encoding: .utf8) == "ran\n")
        // The base's tree is there too (Debian minbase's dpkg status), and COPY --from the registry image copied from it.
        #expect(FileManager.default.fileExists(atPath: out + "/var/lib/dpkg/status"))
        #expect(
            try String(contentsOfFile: out + "/from-image.txt", encoding: .utf8)
                == String(contentsOfFile: out + "/etc/debian_version", encoding: .utf8))

        // A rebuild reuses the pulled base and the cached layers.
        let warm = try Self.ociforgeBuild(ctx, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(warm.executed == [], "a rebuild ran \(warm.executed)")
        #expect(warm.manifest == built.manifest)
    }

    @Test("FROM an unreachable registry image fails with a message naming the image and the layout workaround")
    func registryBaseError() throws {
        let dir = try Self.tempDir("df-registry-err")
        defer { dir.remove() }
        let port = BuildEndToEndTests.freePort()  // nothing listens there
        try "FROM 127.0.0.1:\(port)/missing/base:1\nRUN true\n".write(
            toFile: dir.path + "/Dockerfile", atomically: true, encoding: .utf8)
        let r = try Harness.run(
            [
                Harness.ociforge, "dockerfile", "build", dir.path, "--output", "oci-layout:\(dir.path)/out:x",
                "--cache-dir", dir.path + "/cache"
            ], environment: Self.env())
        #expect(r.status != 0)
        #expect(
            r.stderr.contains("FROM 127.0.0.1:\(port)/missing/base:1") && r.stderr.contains("oci-layout:"),
            "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out/index.json"))
    }
}
