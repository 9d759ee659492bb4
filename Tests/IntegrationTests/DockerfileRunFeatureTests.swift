import Foundation
import OCIWriter
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// RUN features of `ociforge dockerfile build` checked by what the commands observe and what the image holds:
/// tmpfs mounts, heredoc scripts (`#!` run from /dev/pipes, stdin heredocs, several heredocs, COPY heredocs),
/// secret mounts at custom targets with mode/uid/gid and as environment variables, and registry bases reached over
/// plain HTTP through `--insecure-registry`. Uses `DockerfileExecTests`' shared base images and state directory.
@Suite("Dockerfile RUN mounts, heredocs and registry flags", .serialized)
struct DockerfileRunFeatureTests {
    static func text(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func unpack(_ layout: String, tag: String, into dir: TempDir) throws -> String {
        let out = dir.path + "/unpacked-\(tag)"
        try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(layout):\(tag)", out])
        return out
    }

    static func write(_ dockerfile: String, in dir: TempDir) throws -> String {
        let ctx = dir.path + "/ctx"
        try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
        try dockerfile.write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        return ctx
    }

    @Test(
        "RUN --mount=type=tmpfs: a fresh tmpfs (size limit, mode 1777) during the step, nothing of it in the image",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func tmpfsMount() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("df-tmpfs")
        defer { dir.remove() }
        let ctx = try Self.write(
            """
            ARG BASE
            FROM ${BASE}
            RUN mkdir -p /scratch && echo kept > /scratch/existing
            RUN --mount=type=tmpfs,target=/scratch,size=1m \\
                test ! -e /scratch/existing && echo temp > /scratch/t && cat /scratch/t > /tmpfs-seen && \\
                stat -c %a /scratch > /tmpfs-mode && \\
                { dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null; echo "dd=$?" > /tmpfs-limit; } && \\
                grep " /scratch tmpfs " /proc/mounts > /tmpfs-mounts
            RUN --mount=type=tmpfs,target=/made/for/mount touch /made/for/mount/x && ls /made/for/mount > /new-seen
            RUN test ! -e /scratch/t && echo after > /after
            RUN --mount=type=tmpfs,target=/var/run/scratch test -L /var/run && grep " /run/scratch tmpfs " /proc/mounts > /dev/null && \
                echo followed > /symlink-target

            """, in: dir)
        let args = ["BASE": "oci:\(base):base"]
        let cold = try DockerfileExecTests.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(cold.executed.count == 5, "\(cold.executed)")
        let out = try Self.unpack(dir.path + "/ours", tag: "img", into: dir)
        #expect(Self.text(out + "/tmpfs-seen") == "temp", "the command wrote to and read from the tmpfs")
        #expect(Self.text(out + "/tmpfs-mode") == "1777")
        #expect(
            Self.text(out + "/tmpfs-limit") != "dd=0",
            "size=1m: 2 MiB did not fit (\(Self.text(out + "/tmpfs-limit") ?? "-"))")
        #expect(
            Self.text(out + "/tmpfs-mounts")?.contains("size=1024k") == true,
            "\(Self.text(out + "/tmpfs-mounts") ?? "-")")
        // The directory under the tmpfs is untouched; nothing written to the tmpfs is in any layer.
        #expect(Self.text(out + "/scratch/existing") == "kept")
        #expect(!FileManager.default.fileExists(atPath: out + "/scratch/t"))
        #expect(!FileManager.default.fileExists(atPath: out + "/scratch/big"))
        #expect(Self.text(out + "/new-seen") == "x")
        #expect(
            !FileManager.default.fileExists(atPath: out + "/made"),
            "a missing tmpfs target is a mount point only, not a layer entry")
        #expect(Self.text(out + "/after") == "after")
        // A target through a symlink of the image (/var/run → /run) is mounted where the link leads; the link stays.
        #expect(Self.text(out + "/symlink-target") == "followed")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: out + "/var/run")) != nil)
        #expect(!FileManager.default.fileExists(atPath: out + "/run/scratch"))

        let warm = try DockerfileExecTests.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(warm.executed == [], "a rebuild ran \(warm.executed)")
        #expect(warm.manifest == cold.manifest)

        // The size is part of the step: another size runs it again.
        try String(contentsOfFile: ctx + "/Dockerfile", encoding: .utf8).replacingOccurrences(
            of: "size=1m", with: "size=4m"
        )
        .write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        let resized = try DockerfileExecTests.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img2", cache: dir.path + "/cache")
        #expect(resized.executed.count == 4, "\(resized.executed)")
        let out2 = try Self.unpack(dir.path + "/ours", tag: "img2", into: dir)
        #expect(Self.text(out2 + "/tmpfs-limit") == "dd=0", "size=4m holds 2 MiB")
    }

    @Test(
        "RUN --mount=type=bind,from=<image>: the image's files at the target for the step, not in the layer",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func bindFromImage() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("df-bind-image")
        defer { dir.remove() }
        let ctx = try Self.write(
            """
            FROM scratch AS tools
            COPY marker.txt /marker.txt
            FROM oci-layout:\(base):base
            RUN --mount=type=bind,from=oci-layout:\(base):base,source=/etc,target=/mnt/image-etc \\
                cp /mnt/image-etc/debian_version /from-image.txt && ls /mnt/image-etc > /dev/null
            RUN --mount=type=bind,from=tools,target=/mnt/tools cp /mnt/tools/marker.txt /from-stage.txt

            """, in: dir)
        try "marker\n".write(toFile: ctx + "/marker.txt", atomically: true, encoding: .utf8)
        let cold = try DockerfileExecTests.ociforgeBuild(
            ctx, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(cold.executed.count == 2, "\(cold.executed)")
        let out = try Self.unpack(dir.path + "/ours", tag: "img", into: dir)
        #expect(Self.text(out + "/from-image.txt") == Self.text(out + "/etc/debian_version"))
        #expect(Self.text(out + "/from-stage.txt") == "marker")
        #expect(!FileManager.default.fileExists(atPath: out + "/mnt/image-etc"))
        let warm = try DockerfileExecTests.ociforgeBuild(
            ctx, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(warm.executed == [], "\(warm.executed)")
    }

    @Test(
        "RUN --mount=type=bind of the context: .dockerignore'd files are neither visible nor part of the cache key",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func contextBindHonoursDockerignore() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("df-bind-ignore")
        defer { dir.remove() }
        let ctx = try Self.write(
            """
            FROM oci-layout:\(base):base
            RUN --mount=type=bind,target=/src ls -A /src > /listing.txt && cat /src/data/kept.txt > /kept.txt

            """, in: dir)
        try FileManager.default.createDirectory(atPath: ctx + "/data", withIntermediateDirectories: true)
        try "kept\n".write(toFile: ctx + "/data/kept.txt", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: ctx + "/data/ignored.log", atomically: true, encoding: .utf8)
        try "TOKEN=1\n".write(toFile: ctx + "/.env", atomically: true, encoding: .utf8)
        try ".env\n**/*.log\n".write(toFile: ctx + "/.dockerignore", atomically: true, encoding: .utf8)
        let cache = dir.path + "/cache"
        let cold = try DockerfileExecTests.ociforgeBuild(ctx, output: dir.path + "/ours", tag: "img", cache: cache)
        #expect(cold.executed.count == 1, "\(cold.executed)")
        let out = try Self.unpack(dir.path + "/ours", tag: "img", into: dir)
        let listing = Self.text(out + "/listing.txt") ?? ""
        #expect(!listing.contains(".env"), "ignored .env visible through the bind mount: \(listing)")
        #expect(listing.contains("data") && listing.contains("Dockerfile"), "\(listing)")
        #expect(Self.text(out + "/kept.txt") == "kept")
        // Editing only ignored files keeps the step cached; editing a visible one re-runs it.
        try "changed\n".write(toFile: ctx + "/data/ignored.log", atomically: true, encoding: .utf8)
        try "TOKEN=2\n".write(toFile: ctx + "/.env", atomically: true, encoding: .utf8)
        let ignoredEdit = try DockerfileExecTests.ociforgeBuild(
            ctx, output: dir.path + "/ours", tag: "img", cache: cache)
        #expect(ignoredEdit.executed == [], "an edit of ignored files re-ran: \(ignoredEdit.executed)")
        try "kept 2\n".write(toFile: ctx + "/data/kept.txt", atomically: true, encoding: .utf8)
        let visibleEdit = try DockerfileExecTests.ociforgeBuild(
            ctx, output: dir.path + "/ours", tag: "img", cache: cache)
        #expect(visibleEdit.executed.count == 1, "\(visibleEdit.executed)")
    }

    @Test(
        "Heredocs: `#!` scripts run by their interpreter from /dev/pipes, stdin heredocs, several heredocs, COPY heredocs",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func heredocs() throws {
        let node = try DockerfileExecTests.nodeLayout()  // Debian + nodejs npm: python3 and perl are there
        let dir = try DockerfileExecTests.tempDir("df-heredoc")
        defer { dir.remove() }
        let ctx = try Self.write(
            """
            ARG BASE
            FROM ${BASE}
            ARG GREETING=hello
            RUN <<EOF
            #!/usr/bin/env python3
            import os, sys
            with open("/py.txt", "w") as f:
                f.write(sys.argv[0] + "\\n" + os.path.basename(os.path.realpath(sys.executable)).split(".")[0] + "\\n")
                f.write(oct(os.stat(sys.argv[0]).st_mode & 0o777) + "\\n")
                f.write(os.environ.get("GREETING", "-") + "\\n")
            EOF
            RUN <<'SCRIPT'
            #!/usr/bin/perl
            open(my $f, '>', '/perl.txt'); print $f "$0 $ENV{GREETING}\\n"; close($f);
            SCRIPT
            RUN python3 <<EOF > /stdin.txt
            import sys
            print("stdin", sys.argv[0] if sys.argv[0] else "-", "${GREETING}")
            EOF
            RUN <<FILE1 cat > /file1 && <<FILE2 cat > /file2
            first
            FILE1
            second
            FILE2
            RUN <<EOF
            echo "plain shell $0" > /plain.txt
            test ! -e /dev/pipes/EOF && echo no-pipe >> /plain.txt
            EOF
            RUN <<-EOF
            \techo tabs stripped > /tabs.txt
            \tEOF
            RUN useradd -m -u 1500 runner
            USER runner
            RUN <<EOF
            #!/bin/sh
            id -u > /home/runner/who.txt
            EOF
            USER root
            COPY <<EOF /etc/greeting.conf
            greeting=${GREETING}
            EOF
            COPY --chmod=0755 <<'EOF' /usr/local/bin/hello
            #!/bin/sh
            echo "hello $1 ${GREETING}"
            EOF
            COPY <<A <<B /multi/
            a
            A
            b
            B

            """, in: dir)
        let args = ["BASE": "oci:\(node):node"]
        let cold = try DockerfileExecTests.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(cold.executed.count == 8, "\(cold.executed)")
        let out = try Self.unpack(dir.path + "/ours", tag: "img", into: dir)
        // The `#!` script ran as the file /dev/pipes/EOF (mode 0755) under python3, with the build args in its environment.
        #expect(
            Self.text(out + "/py.txt")?.split(separator: "\n").map(String.init) == [
                "/dev/pipes/EOF", "python3", "0o755", "hello"
            ],
            "\(Self.text(out + "/py.txt") ?? "-")")
        #expect(Self.text(out + "/perl.txt") == "/dev/pipes/SCRIPT hello")
        // A heredoc after a command is that command's stdin (and expands like the shell does).
        #expect(Self.text(out + "/stdin.txt") == "stdin - hello")
        #expect(Self.text(out + "/file1") == "first")
        #expect(Self.text(out + "/file2") == "second")
        // Without `#!`, the body runs in the shell, and no /dev/pipes file exists.
        #expect(Self.text(out + "/plain.txt") == "plain shell /bin/sh\nno-pipe")
        #expect(Self.text(out + "/tabs.txt") == "tabs stripped")
        #expect(Self.text(out + "/home/runner/who.txt") == "1500", "the script is executable by the USER")
        #expect(!FileManager.default.fileExists(atPath: out + "/dev/pipes"), "the script is not in the image")
        #expect(Self.text(out + "/etc/greeting.conf") == "greeting=hello")
        var st = stat()
        #expect(lstat(out + "/usr/local/bin/hello", &st) == 0 && st.st_mode & 0o7777 == 0o755)
        #expect(
            Self.text(out + "/usr/local/bin/hello") == "#!/bin/sh\necho \"hello $1 ${GREETING}\"",
            "a quoted delimiter disables expansion")
        #expect(Self.text(out + "/multi/A") == "a" && Self.text(out + "/multi/B") == "b")

        let warm = try DockerfileExecTests.ociforgeBuild(
            ctx, args: args, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache")
        #expect(warm.executed == [], "a rebuild ran \(warm.executed)")
        #expect(warm.manifest == cold.manifest)
    }

    // MARK: - Registry flags

    /// This machine's host name when it resolves to a loopback IPv4 address (Debian's /etc/hosts maps it to 127.0.1.1):
    /// a registry there is on loopback, but ociforge cannot tell from the name, so like a LAN registry host it needs
    /// `--insecure-registry` for plain HTTP.
    static let loopbackHostName: (name: String, address: String)? = {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, 255) == 0 else { return nil }
        let name = String(cString: buf).lowercased()
        guard !name.isEmpty, !RegistryClient.isLoopback(name), (try? ImageReference(parsing: "\(name):5000/x:1")) != nil
        else { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &res) == 0, let r = res, let sa = r.pointee.ai_addr else { return nil }
        defer { freeaddrinfo(res) }
        var addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        var out = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET, &addr, &out, 64) != nil else { return nil }
        let ip = String(cString: out)
        return ip.hasPrefix("127.") ? (name, ip) : nil
    }()

    /// A docker-registry on `address` with the base image pushed; returns the port, the repository:tag and a stop function.
    static func startRegistry(on address: String, in dir: TempDir) throws -> (
        port: Int, image: String, stop: () -> Void
    ) {
        let base = try DockerfileExecTests.baseLayout()
        let registry = try LocalRegistry(dir: dir.path + "/registry", address: address)
        let port = registry.port
        let repo = "base-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try Harness.ok(
                [Harness.ociforge, "image", "push", "oci-layout:\(base):base", "\(address):\(port)/\(repo):1"],
                environment: DockerfileExecTests.env())
        } catch {
            registry.stop()
            throw error
        }
        return (port, repo + ":1", registry.stop)
    }

    @Test(
        "--insecure-registry: a plain-HTTP registry under a non-loopback name is refused without it and used with it (dockerfile build and build)",
        .enabled(if: DockerfileExecTests.available, "needs root, buildah and podman (scripts/install-deps)"),
        .enabled(
            if: DockerfileRunFeatureTests.loopbackHostName != nil,
            "the host name does not resolve to a loopback address"))
    func insecureRegistryBase() throws {
        let dir = try DockerfileExecTests.tempDir("df-insecure")
        defer { dir.remove() }
        let (name, address) = try #require(Self.loopbackHostName)
        let reg = try Self.startRegistry(on: address, in: dir)
        defer { reg.stop() }
        let host = "\(name):\(reg.port)"
        #expect(!RegistryClient.isLoopback(host))
        let ctx = try Self.write("FROM \(host)/\(reg.image)\nRUN echo ran > /ran.txt\n", in: dir)

        let refused = try Harness.run(
            [
                Harness.ociforge, "dockerfile", "build", ctx, "--output", "oci-layout:\(dir.path)/ours:x",
                "--cache-dir", dir.path + "/cache", "-q"
            ], environment: DockerfileExecTests.env())
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("FROM \(host)/\(reg.image)"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/ours/index.json"))

        let built = try DockerfileExecTests.ociforgeBuild(
            ctx, output: dir.path + "/ours", tag: "img", cache: dir.path + "/cache",
            extra: ["--insecure-registry", host])
        #expect(built.executed.count == 1, "\(built.executed)")
        let out = try Self.unpack(dir.path + "/ours", tag: "img", into: dir)
        #expect(Self.text(out + "/ran.txt") == "ran")
        #expect(FileManager.default.fileExists(atPath: out + "/var/lib/dpkg/status"), "the registry image is the base")

        // `ociforge build` with the Dockerfile strategy takes the same flag (a fresh state dir: nothing pulled yet).
        let app = dir.path + "/app"
        try Harness.ok(["cp", "-a", ctx, app])
        var env = DockerfileExecTests.env()
        env["OCIFORGE_STATE_DIR"] = dir.path + "/state"
        let argv = [
            Harness.ociforge, "build", app, "--strategy", "dockerfile", "--output",
            "oci-layout:\(dir.path)/planned:app",
            "--cache-dir", dir.path + "/cache2", "--json", "-q"
        ]
        let refusedBuild = try Harness.run(argv, environment: env)
        #expect(refusedBuild.status != 0, "a non-loopback host over plain HTTP without --insecure-registry")
        try Harness.ok(argv + ["--insecure-registry", host], environment: env)
        let planned = try Self.unpack(dir.path + "/planned", tag: "app", into: dir)
        #expect(Self.text(planned + "/ran.txt") == "ran")
    }
}
