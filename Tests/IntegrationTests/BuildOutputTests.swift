import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge build --output docker://…` for both strategies: the image is pushed to a loopback docker-registry (the
/// registry's digest, read back with skopeo, is the built manifest's), and build flags that do not apply to a
/// strategy are refused with a message naming the flag.
@Suite(.serialized) struct BuildOutputTests {
    static var available: Bool { DockerfileExecTests.available }

    /// `ociforge build … --json -q` with the shared state directory; the report, or the failed run.
    static func build(_ app: String, _ extra: [String]) throws -> (status: Int32, report: [String: Any], stderr: String)
    {
        let r = try Harness.run(
            [Harness.ociforge, "build", app, "--json", "-q"] + extra, environment: DockerfileExecTests.env(),
            timeout: 1200)
        let report = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        return (r.status, report, r.stderr)
    }

    static func registryDigest(_ image: String) throws -> String? {
        let inspect = try Harness.ok(["skopeo", "inspect", "--tls-verify=false", "docker://" + image])
        return (try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])?["Digest"] as? String
    }

    @Test(
        "Dockerfile strategy: --output docker:// pushes the built image; --base, --runtime-base and a foreign --platform are refused",
        .enabled(if: BuildOutputTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func dockerfileAppPushes() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("build-output-df")
        defer { dir.remove() }
        let app = dir.path + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        try "hello from the app\n".write(toFile: app + "/hello.txt", atomically: true, encoding: .utf8)
        try
            "ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /ran.txt\nCMD [\"cat\", \"/ran.txt\"]\n"
            .write(toFile: app + "/Dockerfile", atomically: true, encoding: .utf8)
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let image = "\(registry.host)/df-app:1"
        let args = ["--build-arg", "BASE=oci:\(base):base", "--cache-dir", dir.path + "/cache"]

        let pushed = try Self.build(app, args + ["--output", "docker://" + image])
        #expect(pushed.status == 0, "\(pushed.stderr.suffix(3000))")
        let manifest = try #require(pushed.report["manifestDigest"] as? String)
        #expect(pushed.report["deliveredDigest"] as? String == manifest)
        #expect(pushed.report["output"] as? String == "docker://" + image)
        #expect(try Self.registryDigest(image) == manifest, "the registry holds the built manifest")
        // What the registry serves unpacks to the Dockerfile's result.
        try Harness.ok(["skopeo", "copy", "--src-tls-verify=false", "docker://" + image, "oci:\(dir.path)/pulled:x"])
        let out = dir.path + "/unpacked"
        try Harness.ok([Harness.ociforge, "image", "unpack", "oci-layout:\(dir.path)/pulled:x", out])
        #expect(try String(contentsOfFile: out + "/ran.txt", encoding: .utf8) == "hello from the app\n")

        for (flag, value) in [("--base", "debian:bookworm"), ("--runtime-base", "debian:bookworm-slim")] {
            let refused = try Self.build(
                app, args + [flag, value, "--output", "docker://\(registry.host)/df-app:refused"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(flag) && refused.stderr.contains("FROM"), "\(refused.stderr)")
        }
        // A platform whose programs cannot run here (no executable format known for it, so no emulator either): refused
        // before any work. (linux/arm64 builds under emulation where a binfmt_misc handler is registered.)
        let foreign = "linux/mips64le"
        let platform = try Self.build(
            app, args + ["--platform", foreign, "--output", "docker://\(registry.host)/df-app:refused"])
        #expect(platform.status == 1)
        #expect(platform.stderr.contains("cannot build for"), "\(platform.stderr)")
        let tags = try Harness.run(["skopeo", "list-tags", "--tls-verify=false", "docker://\(registry.host)/df-app"])
        #expect(!tags.stdout.contains("refused"), "a refused build sends nothing: \(tags.stdout)")
    }

    @Test(
        "plan strategy: --output docker:// with --base/--runtime-base pushes the built image",
        .enabled(if: BuildOutputTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func planAppPushes() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("build-output-plan")
        defer { dir.remove() }
        let app = try BuildEndToEndTests.app("planner/shell-script/app", in: dir)
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let image = "\(registry.host)/plan-app:1"
        let pushed = try Self.build(
            app,
            [
                "--base", "oci-layout:\(base):base", "--runtime-base", "oci-layout:\(base):base",
                "--cache-dir", dir.path + "/cache", "--output", "docker://" + image
            ])
        #expect(pushed.status == 0, "\(pushed.stderr.suffix(3000))")
        let manifest = try #require(pushed.report["manifestDigest"] as? String)
        #expect(pushed.report["deliveredDigest"] as? String == manifest)
        #expect(try Self.registryDigest(image) == manifest)
    }

    @Test(
        "umask independence: a plan build and a Dockerfile build under umask 077 with a fresh state dir and a new --cache-dir, then under 022 with the same ones: same digests",
        .enabled(if: BuildOutputTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func umaskIndependent() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("build-umask")
        defer { dir.remove() }
        let dfApp = dir.path + "/df"
        try FileManager.default.createDirectory(atPath: dfApp + "/sub", withIntermediateDirectories: true)
        try "hello\n".write(toFile: dfApp + "/sub/hello.txt", atomically: true, encoding: .utf8)
        try
            "ARG BASE\nFROM ${BASE}\nCOPY sub /opt/sub\nWORKDIR /srv/app\nRUN mkdir -p /var/made && cat /opt/sub/hello.txt > /var/made/x\n"
            .write(toFile: dfApp + "/Dockerfile", atomically: true, encoding: .utf8)
        let planApp = try BuildEndToEndTests.app("planner/shell-script/app", in: dir, name: "plan")
        let state = dir.path + "/state/nested"
        let cache = dir.path + "/new/caches/layers"
        func build(_ umask: String, _ app: String, _ extra: [String]) throws -> String {
            let argv =
                [
                    "/bin/sh", "-c", "umask \(umask) && exec \"$0\" \"$@\"", Harness.ociforge, "build", app, "--json",
                    "-q",
                    "--cache-dir", cache
                ] + extra
            let r = try Harness.run(
                argv, environment: ["OCIFORGE_STATE_DIR": state, "SOURCE_DATE_EPOCH": DockerfileExecTests.epoch],
                timeout: 1200)
            #expect(r.status == 0, "umask \(umask), \(app): \(r.stderr.suffix(3000))")
            let report = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
            return report["manifestDigest"] as? String ?? ""
        }
        let planArgs = ["--base", "oci-layout:\(base):base", "--runtime-base", "oci-layout:\(base):base"]
        let dfArgs = ["--build-arg", "BASE=oci:\(base):base"]
        // The output layout's own directories: one new layout per umask, the same modes.
        let plan077 = try build("077", planApp, planArgs + ["--output", dir.path + "/out077:plan"])
        let df077 = try build("077", dfApp, dfArgs + ["--output", dir.path + "/out077:df"])
        _ = try build("022", dfApp, dfArgs + ["--output", dir.path + "/out022:df"])
        for sub in ["", "/blobs", "/blobs/sha256"] {
            let modes = ["077", "022"].map { LayoutModes.mode(dir.path + "/out" + $0 + sub) }
            #expect(modes == ["755", "755"], "out\(sub) modes under umask 077 / 022: \(modes)")
        }
        for d in [state, state + "/runs", state + "/bases", state + "/caches", cache] {
            var st = stat()
            #expect(
                stat(d, &st) == 0 && st.st_mode & 0o711 == 0o711, "\(d) is \(String(st.st_mode & 0o7777, radix: 8))")
        }
        // The same state dir and cache under 022, from the cache and from scratch (--no-cache): the same images.
        // (Same tags as above: a Dockerfile build's manifest carries its tag as org.opencontainers.image.ref.name.)
        let planOut = ["--output", dir.path + "/out:plan"], dfOut = ["--output", dir.path + "/out:df"]
        #expect(try build("022", planApp, planArgs + planOut) == plan077)
        #expect(try build("022", dfApp, dfArgs + dfOut) == df077)
        #expect(
            try build("022", planApp, planArgs + planOut + ["--no-cache"]) == plan077,
            "the 077 layers are the 022 layers")
        #expect(try build("022", dfApp, dfArgs + dfOut + ["--no-cache"]) == df077, "the 077 layers are the 022 layers")
        #expect(!plan077.isEmpty && !df077.isEmpty)
    }
}

/// Permission bits of a path as octal text ("" when it cannot be read), for mode comparisons in messages.
enum LayoutModes {
    static func mode(_ path: String) -> String {
        var st = stat()
        return stat(path, &st) == 0 ? String(st.st_mode & 0o7777, radix: 8) : ""
    }
}

/// The host's architecture as OCI names it.
enum HostArch {
    static var name: String {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return machine == "aarch64" ? "arm64" : "amd64"
    }
}
