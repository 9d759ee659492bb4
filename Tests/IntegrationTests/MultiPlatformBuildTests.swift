import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge build --platform linux/amd64,linux/arm64`: one image per platform in one OCI index, the arm64 one built
/// under qemu emulation (binfmt_misc, flag F, registered by scripts/install-deps), pushed to a loopback registry and
/// run by podman for each platform; cached and reproducible; refused before any work without a handler.
@Suite("Multi-platform build", .serialized)
struct MultiPlatformBuildTests {
    typealias E2E = BuildEndToEndTests
    static let both = ["--platform", "linux/arm64,linux/amd64"]
    /// Seconds allowed for a two-platform Python build: apt and pip under qemu on a shared 2-core machine took over
    /// 20 minutes.
    static let emulatedPython: Double = 3600

    /// The layout's index.json entry for `tag` and the image index it names.
    static func index(_ layout: String, tag: String) throws -> (digest: String, manifests: [[String: Any]]) {
        let top = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
                as? [String: Any])
        let entries = try #require(top["manifests"] as? [[String: Any]])
        let entry = try #require(
            entries.first { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == tag })
        #expect(entry["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        let digest = try #require(entry["digest"] as? String)
        let blob = layout + "/blobs/sha256/" + digest.dropFirst(7)
        let index = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: blob))) as? [String: Any])
        return (digest, try #require(index["manifests"] as? [[String: Any]]))
    }

    static func platforms(_ manifests: [[String: Any]]) -> [String] {
        manifests.map { m in
            let p = m["platform"] as? [String: Any] ?? [:]
            return "\(p["os"] as? String ?? "?")/\(p["architecture"] as? String ?? "?")"
        }
    }

    @Test("shell app for linux/amd64 + linux/arm64: one index, pushed, podman runs both, cached, reproducible")
    func shellTwoPlatforms() throws {
        let dir = try TempDir.make("build-multiarch")
        defer { dir.remove() }
        let app = try E2E.app("planner/shell-script/app", in: dir)
        let out = dir.path + "/oci"
        let first = try E2E.requireBuilt(app, cache: dir.path + "/cache1", output: out + ":v1", extra: Self.both)
        let (digest, manifests) = try Self.index(out, tag: "v1")
        #expect(digest == first.manifest, "the report's digest is the index's")
        #expect(Self.platforms(manifests) == ["linux/amd64", "linux/arm64"], "fixed order, whatever the flag's")
        let reported = first.report["platforms"] as? [[String: Any]] ?? []
        #expect(reported.map { $0["method"] as? String } == ["native", "emulated"])
        for p in reported { #expect(!(p["executed"] as? [String] ?? []).isEmpty, "\(p)") }

        // image inspect lists every platform of the index.
        let inspect = try Harness.ok([Harness.ociforge, "image", "inspect", "oci-layout:\(out):v1"])
        for m in manifests {
            let p = (m["platform"] as? [String: Any])?["architecture"] as? String ?? "?"
            #expect(inspect.contains("Platform:     linux/\(p)  \(m["digest"] as? String ?? "?")"), "\(inspect)")
        }

        // Each platform's image runs, the arm64 one through qemu: same output, and it really is aarch64.
        for (platform, machine) in [("linux/amd64", "x86_64\n"), ("linux/arm64", "aarch64\n")] {
            let run = try Harness.run(
                E2E.podman + ["run", "--rm", "--platform", platform, "oci:\(out):v1"], timeout: 300)
            #expect(run.stdout == "hello\n", "\(platform): \(run)")
            let uname = try Harness.run(
                E2E.podman + ["run", "--rm", "--platform", platform, "oci:\(out):v1", "uname", "-m"], timeout: 300)
            #expect(uname.stdout == machine, "\(platform): \(uname)")
        }

        // A second build reuses every step of both platforms.
        let again = try E2E.requireBuilt(app, cache: dir.path + "/cache1", output: out + ":v2", extra: Self.both)
        #expect(again.executed.isEmpty, "nothing ran: \(again.executed)")
        #expect(
            again.cached.contains { $0.hasPrefix("linux/amd64 ") }
                && again.cached.contains { $0.hasPrefix("linux/arm64 ") })
        #expect(again.manifest == first.manifest)

        // Two clean builds: the same index digest.
        let clean = try E2E.requireBuilt(
            app, cache: dir.path + "/cache2", output: dir.path + "/oci2:v1", extra: Self.both)
        #expect(clean.manifest == first.manifest, "reproducible index from a clean layer cache")

        // Pushed to a loopback registry as the index: skopeo sees both manifests, podman pulls and runs arm64.
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let ref = "127.0.0.1:\(registry.port)/shell:multi"
        let pushed = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output", "docker://" + ref, "--cache-dir", dir.path + "/cache1",
                "--json", "--quiet", "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"
            ]
                + Self.both,
            environment: ["OCIFORGE_STATE_DIR": E2E.stateDir, "SOURCE_DATE_EPOCH": E2E.epoch], timeout: 1200)
        #expect(pushed.status == 0, "\(pushed)")
        let pushedReport = try JSONSerialization.jsonObject(with: Data(pushed.stdout.utf8)) as? [String: Any]
        #expect(pushedReport?["executed"] as? [String] == [], "built from the cache, then pushed")
        #expect(pushedReport?["deliveredDigest"] as? String == first.manifest)
        let raw = try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + ref])
        let remote = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        let remoteManifests = remote["manifests"] as? [[String: Any]] ?? []
        #expect(Self.platforms(remoteManifests) == ["linux/amd64", "linux/arm64"], "\(raw)")
        #expect(remoteManifests.map { $0["digest"] as? String } == manifests.map { $0["digest"] as? String })
        let head = try Harness.ok([
            "curl", "-sS", "-I", "-H", "Accept: application/vnd.oci.image.index.v1+json",
            "http://127.0.0.1:\(registry.port)/v2/shell/manifests/multi"
        ])
        #expect(
            head.lowercased().contains("docker-content-digest: \(first.manifest)"),
            "the registry holds the same index: \(head)")
        for platform in ["linux/amd64", "linux/arm64"] {
            let run = try Harness.run(
                E2E.podman + ["run", "--rm", "--tls-verify=false", "--platform", platform, ref], timeout: 300)
            #expect(run.stdout == "hello\n", "\(platform) from the registry: \(run)")
        }
    }

    @Test(
        "Python app (PyPI) for linux/amd64 + linux/arm64: one index, pushed, both serve alike, cached, reproducible",
        .enabled(if: SlowTests.enabled, SlowTests.reason))
    func pythonTwoPlatforms() throws {
        let dir = try TempDir.make("build-multiarch-python")
        defer { dir.remove() }
        let app = try E2E.app("planner/python-flask/app", in: dir)
        let out = dir.path + "/oci"
        let first = try E2E.requireBuilt(
            app, cache: dir.path + "/cache1", output: out + ":v1", extra: Self.both, timeout: Self.emulatedPython)
        let (digest, manifests) = try Self.index(out, tag: "v1")
        #expect(digest == first.manifest)
        #expect(Self.platforms(manifests) == ["linux/amd64", "linux/arm64"])
        let reported = first.report["platforms"] as? [[String: Any]] ?? []
        #expect(reported.map { $0["method"] as? String } == ["native", "emulated"])
        for p in reported {
            #expect(p["executed"] as? [String] == ["build/setup", "build/install", "runtime/packages", "runtime/user"])
        }
        Self.printTimings(first.report, label: "Python two-platform, first build")

        // A second build reuses every step of both platforms.
        let again = try E2E.requireBuilt(
            app, cache: dir.path + "/cache1", output: out + ":v2", extra: Self.both, timeout: Self.emulatedPython)
        #expect(again.executed.isEmpty, "nothing ran: \(again.executed)")
        for platform in ["linux/amd64", "linux/arm64"] {
            let cached = again.cached.filter { $0.hasPrefix(platform + " ") }
            #expect(cached.count == 4, "\(platform): \(again.cached)")
        }
        #expect(again.manifest == first.manifest)

        // Two clean builds (empty layer caches; the shared bases and download caches stay): the same index digest.
        let clean = try E2E.requireBuilt(
            app, cache: dir.path + "/cache2", output: dir.path + "/oci2:v1", extra: Self.both,
            timeout: Self.emulatedPython)
        #expect(clean.executed.count == 8, "a clean layer cache: every step of both platforms ran")
        #expect(clean.manifest == first.manifest, "reproducible index from a clean layer cache")
        print("Python two-platform index: first \(first.manifest), clean \(clean.manifest)")

        // Pushed as the index; skopeo sees both manifests; each platform pulled by podman answers the same.
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let ref = "127.0.0.1:\(registry.port)/python:multi"
        let pushed = try E2E.requireBuilt(
            app, cache: dir.path + "/cache1", output: "docker://" + ref, extra: Self.both, timeout: Self.emulatedPython)
        #expect(pushed.executed.isEmpty, "built from the cache, then pushed")
        #expect(pushed.report["deliveredDigest"] as? String == first.manifest)
        let raw = try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + ref])
        let remote = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        let remoteManifests = remote["manifests"] as? [[String: Any]] ?? []
        #expect(Self.platforms(remoteManifests) == ["linux/amd64", "linux/arm64"], "\(raw)")
        #expect(remoteManifests.map { $0["digest"] as? String } == manifests.map { $0["digest"] as? String })
        var answers: [String: String] = [:]
        for platform in ["linux/amd64", "linux/arm64"] {
            answers[platform] = try E2E.httpGet(
                image: ref, podmanArgs: ["--tls-verify=false", "--platform", platform])
        }
        #expect(answers["linux/amd64"] == "hi", "\(answers)")
        #expect(answers["linux/arm64"] == answers["linux/amd64"], "the arm64 image serves what the amd64 one does")
        let machine = try Harness.run(
            E2E.podman + ["run", "--rm", "--tls-verify=false", "--platform", "linux/arm64", ref, "uname", "-m"],
            timeout: 300)
        #expect(machine.stdout == "aarch64\n", "\(machine)")
    }

    @Test(
        "deploy-build --platform amd64,arm64: one index per resource pushed and pinned; refused up front without a handler",
        .enabled(if: SlowTests.enabled, SlowTests.reason))
    func deployBuildTwoPlatforms() throws {
        let dir = try TempDir.make("deploy-multiarch")
        defer { dir.remove() }
        let app = try E2E.app("planner/shell-script/app", in: dir)
        try "machine:\n  name: hello\n  build: auto\n".write(
            toFile: app + "/lttle.yaml", atomically: true, encoding: .utf8)
        let registry = try LocalRegistry(dir: dir.path + "/registry")
        defer { registry.stop() }
        let ns = "127.0.0.1:\(registry.port)/multi"
        let deploy = { (extra: [String], env: [String: String]) in
            try Harness.run(
                [
                    Harness.ociforge, "deploy-build", "lttle.yaml", "--registry", ns, "--cache-dir",
                    dir.path + "/cache",
                    "--quiet"
                ] + extra,
                environment: ["OCIFORGE_STATE_DIR": E2E.stateDir, "SOURCE_DATE_EPOCH": E2E.epoch].merging(env) { $1 },
                cwd: app, timeout: 1800)
        }
        // No handler: refused before anything is built or pushed.
        let empty = dir.path + "/binfmt"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let refused = try deploy(Self.both, ["OCIFORGE_BINFMT_DIR": empty])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("cannot build for linux/arm64"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("[hello] ["), "no step started: \(refused.stderr)")
        #expect(
            try Harness.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(ns)/hello:latest"])
                .status != 0, "nothing pushed")

        let r = try deploy(Self.both, [:])
        #expect(r.status == 0, "\(r.stderr.suffix(3000))")
        let image = try #require(r.stdout.split(separator: "\n").first { $0.contains("image: ") }, "\(r.stdout)")
        let pinned = String(image.split(separator: " ").last ?? "")
        #expect(pinned.hasPrefix("\(ns)/hello:latest@sha256:"), "\(pinned)")
        // By digest alone (skopeo and podman take a tag or a digest, not both).
        let byDigest = "\(ns)/hello@" + (pinned.split(separator: "@").last.map(String.init) ?? "")
        let raw = try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + byDigest])
        let index = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        #expect(index["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        #expect(Self.platforms(index["manifests"] as? [[String: Any]] ?? []) == ["linux/amd64", "linux/arm64"])
        let run = try Harness.run(
            E2E.podman + ["run", "--rm", "--tls-verify=false", "--platform", "linux/arm64", byDigest, "uname", "-m"],
            timeout: 300)
        #expect(run.stdout == "aarch64\n", "\(run)")
    }

    /// The report's `toolchain-<tool>` layers of `platform` (`createdBy` names the tool).
    static func toolchainLayers(_ b: E2E.Build, _ tool: String, platform: String) -> [[String: Any]] {
        (b.report["layers"] as? [[String: Any]] ?? []).filter {
            ($0["stage"] as? String ?? "").hasPrefix(platform + " ")
                && ($0["createdBy"] as? String ?? "").hasPrefix("ociforge toolchain \(tool) ")
        }
    }

    @Test(
        "Node 24 toolchain per platform: amd64 and arm64 archives from the mirror, one layer each, arm64 runs node",
        .enabled(if: SlowTests.enabled, SlowTests.reason),
        .enabled(if: ToolchainMirrorServer.available, "PyPI is unreachable: no node wheels for the mirror"))
    func nodeToolchainPerPlatform() throws {
        let dir = try TempDir.make("build-multiarch-node")
        defer { dir.remove() }
        let server = try UpstreamToolchainTests.server(dir)
        defer { server.stop() }
        let app = try E2E.app("apps/toolchain-node24", in: dir)
        let out = dir.path + "/oci"
        let b = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":v1", extra: Self.both + server.flags)
        let tarballs = Set(server.requests().filter { $0.hasSuffix(".tar.xz") })
        // Each platform's own archive (none when an earlier run already verified it into the host cache).
        #expect(
            tarballs.isSubset(of: [
                "/node/v24.19.0/node-v24.19.0-linux-x64.tar.xz", "/node/v24.19.0/node-v24.19.0-linux-arm64.tar.xz"
            ]),
            "each platform's archive: \(tarballs)")
        let amd = Self.toolchainLayers(b, "node", platform: "linux/amd64").compactMap { $0["digest"] as? String }
        let arm = Self.toolchainLayers(b, "node", platform: "linux/arm64").compactMap { $0["digest"] as? String }
        #expect(!amd.isEmpty && !arm.isEmpty && Set(amd).isDisjoint(with: arm), "a layer per platform: \(amd) \(arm)")
        for (platform, machine) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
            let run = try Harness.run(
                E2E.podman + ["run", "--rm", "--platform", platform, "oci:\(out):v1"], timeout: 300)
            #expect(run.stdout.hasSuffix("\nhello from node v24.19.0\n"), "\(platform): \(run)")
            let arch = try Harness.run(
                E2E.podman + [
                    "run", "--rm", "--platform", platform, "oci:\(out):v1", "node", "-p",
                    "process.arch + ' ' + "
                        + "require('os').machine()"
                ], timeout: 300)
            #expect(arch.stdout == (machine == "x86_64" ? "x64" : "arm64") + " \(machine)\n", "\(platform): \(arch)")
        }
        let again = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":v2", extra: Self.both + server.flags)
        #expect(again.executed.isEmpty, "\(again.executed)")
        #expect(again.manifest == b.manifest)
    }

    @Test(
        "freeze --platform pins node for both platforms; the arm64 build of the frozen plan reads no channel and runs",
        .enabled(if: ToolchainMirrorServer.available, "PyPI is unreachable: no node wheels for the mirror"))
    func frozenForTwoPlatforms() throws {
        let dir = try TempDir.make("build-multiarch-frozen")
        defer { dir.remove() }
        let server = try UpstreamToolchainTests.server(dir)
        let app = try E2E.app("apps/toolchain-node24", in: dir)
        try Harness.ok(
            [Harness.ociforge, "freeze", app, "--platform", "linux/arm64,linux/amd64"] + server.flags,
            environment: ["OCIFORGE_STATE_DIR": E2E.stateDir])
        server.stop()
        let plan = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: app + "/ociforge.plan.json")))
                as? [String: Any])
        let node = try #require((plan["toolchains"] as? [[String: Any]])?.first { $0["name"] as? String == "node" })
        let upstream = try #require(node["upstream"] as? [String: Any])
        let pins =
            [upstream["pin"] as? [String: Any] ?? [:]]
            + (upstream["platformPins"] as? [[String: Any]] ?? []).map { $0["pin"] as? [String: Any] ?? [:] }
        #expect(pins.map { $0["platform"] as? String } == ["linux/amd64", "linux/arm64"], "\(upstream)")
        guard case .ready(let mirror) = ToolchainMirrorServer.outcome else { throw HarnessError("no mirror") }
        for (pin, arch) in zip(pins, ["x64", "arm64"]) {
            let path = "/node/v24.19.0/node-v24.19.0-linux-\(arch).tar.xz"
            #expect(pin["url"] as? String == "http://127.0.0.1:\(server.port)" + path)
            let sum = try Harness.ok(["sha256sum", mirror + path]).prefix(64)
            #expect(pin["digest"] as? String == "sha256:" + sum, "the digest of the served archive")
        }
        let table = try Harness.ok([Harness.ociforge, "plan", app, "-f", "table"])
        #expect(table.contains("(pinned, linux/amd64, linux/arm64)"), "\(table)")

        // The channel is gone: the arm64 build takes its pin and the archive verified by freeze.
        let out = dir.path + "/oci"
        let b = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":v1", extra: ["--platform", "linux/arm64"])
        #expect(!b.manifest.isEmpty)
        let run = try Harness.run(
            E2E.podman + ["run", "--rm", "--platform", "linux/arm64", "oci:\(out):v1"], timeout: 300)
        #expect(run.stdout.hasSuffix("hello from node v24.19.0\n"), "\(run)")
        let arch = try Harness.run(
            E2E.podman + ["run", "--rm", "--platform", "linux/arm64", "oci:\(out):v1", "node", "-p", "process.arch"],
            timeout: 300)
        #expect(arch.stdout == "arm64\n", "\(arch)")
    }

    @Test(
        "Zig app for linux/arm64 cross-compiled by the host's zig (-Dtarget=aarch64-linux-gnu): no emulated compiler",
        .enabled(if: ToolchainMirrorServer.available, "PyPI is unreachable: no zig wheels for the mirror"))
    func zigCrossCompiled() throws {
        let dir = try TempDir.make("build-multiarch-zig")
        defer { dir.remove() }
        let server = try UpstreamToolchainTests.server(dir)
        defer { server.stop() }
        let app = try E2E.app("apps/toolchain-zig", in: dir)
        let out = dir.path + "/oci"
        let native = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":amd64", extra: server.flags)
        let cross = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":arm64", extra: ["--platform", "linux/arm64"] + server.flags
        )
        let platforms = cross.report["platforms"] as? [[String: Any]] ?? []
        #expect(platforms.map { $0["method"] as? String } == ["cross-compiled"], "\(platforms)")
        // The compiler ran on the host's base with the host's zig: the build stage's base and toolchain are the
        // amd64 build's (no arm64 zig was fetched), and the compile step ran (another target).
        let buildBase = { (b: E2E.Build) in
            (b.report["bases"] as? [[String: Any]] ?? []).first { $0["stage"] as? String == "build" }?["digest"]
                as? String
        }
        #expect(buildBase(cross) != nil && buildBase(cross) == buildBase(native), "the host's base compiled")
        #expect(!server.requests().contains { $0.contains("aarch64") }, "no arm64 zig: \(server.requests())")
        #expect(cross.executed.contains("build/build"), "\(cross.executed)")
        let elf = try Self.elfMachine(out, tag: "arm64", path: "app/out/bin/hello")
        #expect(elf == "0xb7", "an aarch64 executable (EM_AARCH64)")
        let run = try Harness.run(
            E2E.podman + ["run", "--rm", "--platform", "linux/arm64", "oci:\(out):arm64"], timeout: 300)
        #expect(run.stdout == "hello from zig 0.14.1\n", "\(run)")
        print("Zig arm64: \(cross.report["totalSeconds"] ?? "?") s cross-compiled (executed \(cross.executed))")
    }

    @Test("Rust app for linux/arm64 cross-compiled by Debian's rustc (libstd-rust-dev:arm64, aarch64-linux-gnu-gcc)")
    func rustCrossCompiled() throws {
        let dir = try TempDir.make("build-multiarch-rust")
        defer { dir.remove() }
        let app = try E2E.app("planner/rust-cargo/app", in: dir)
        try E2EFixture.rustFromDebian(app)
        let out = dir.path + "/oci"
        let native = try E2E.requireBuilt(app, cache: dir.path + "/cache", output: out + ":amd64")
        let cross = try E2E.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":arm64", extra: ["--platform", "linux/arm64"])
        let platforms = cross.report["platforms"] as? [[String: Any]] ?? []
        #expect(platforms.map { $0["method"] as? String } == ["cross-compiled"], "\(platforms)")
        let buildBase = { (b: E2E.Build) in
            (b.report["bases"] as? [[String: Any]] ?? []).first { $0["stage"] as? String == "build" }?["digest"]
                as? String
        }
        #expect(buildBase(cross) != nil && buildBase(cross) == buildBase(native), "the host's base compiled")
        #expect(cross.executed.contains("build/setup") && cross.executed.contains("build/build"), "\(cross.executed)")
        #expect(try Self.elfMachine(out, tag: "arm64", path: "app/bin/hello-rs") == "0xb7", "EM_AARCH64")
        #expect(try Self.elfMachine(out, tag: "amd64", path: "app/bin/hello-rs") == "0x3e", "EM_X86_64")
        let run = try Harness.run(
            E2E.podman + ["run", "--rm", "--platform", "linux/arm64", "oci:\(out):arm64"], timeout: 300)
        #expect(run.stdout == "hi\n", "\(run)")
        let seconds = (cross.report["timings"] as? [[String: Any]] ?? []).filter { ($0["stage"] as? String) == "build" }
            .reduce(0.0) { $0 + (($1["seconds"] as? NSNumber)?.doubleValue ?? 0) }
        print("Rust arm64 cross-compiled: build stage \(String(format: "%.1f", seconds)) s")
    }

    /// Prints each platform's method and build seconds (the report's `platforms`), for the closing note.
    static func printTimings(_ report: [String: Any], label: String) {
        let entries = report["platforms"] as? [[String: Any]] ?? []
        for (name, p) in zip(platforms(entries), entries) {
            let seconds = (p["seconds"] as? NSNumber)?.doubleValue ?? -1
            print("\(label): \(name) \(p["method"] as? String ?? "?") \(String(format: "%.1f", seconds)) s")
        }
    }

    /// The ELF `e_machine` of `/app/out` in the image's layers (read by Python's tarfile: an independent reader).
    static func elfMachine(_ layout: String, tag: String, path: String = "app/out") throws -> String {
        let script = """
            import json, sys, tarfile
            layout, tag = sys.argv[1], sys.argv[2]
            blob = lambda d: layout + "/blobs/sha256/" + d.split(":")[1]
            top = [m for m in json.load(open(layout + "/index.json"))["manifests"]
                   if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
            for layer in json.load(open(blob(top["digest"])))["layers"]:
                with tarfile.open(blob(layer["digest"])) as t:
                    for m in t.getmembers():
                        if m.name.lstrip("./") == sys.argv[3] and m.isfile():
                            h = t.extractfile(m).read(20)
                            print(hex(h[18] | h[19] << 8))
            """
        return try Harness.ok(["python3", "-c", script, layout, tag, path]).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    @Test("Go app for linux/arm64 cross-compiled in a host build stage: no emulated program at all, runs under qemu")
    func goCrossCompiled() throws {
        let dir = try TempDir.make("build-multiarch-go")
        defer { dir.remove() }
        let app = try E2E.app("planner/go-mod/app", in: dir)
        // No binfmt handler at all: any emulated step would be refused before the build; cross-compiling needs none.
        let empty = dir.path + "/binfmt"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let out = dir.path + "/oci"
        let r = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output", "oci-layout:\(out):arm64", "--cache-dir",
                dir.path + "/cache", "--json", "--quiet", "--platform", "linux/arm64"
            ],
            environment: [
                "OCIFORGE_STATE_DIR": E2E.stateDir, "SOURCE_DATE_EPOCH": E2E.epoch, "OCIFORGE_BINFMT_DIR": empty
            ], timeout: 1200)
        #expect(r.status == 0, "\(r.stderr.suffix(3000))")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let platforms = report["platforms"] as? [[String: Any]] ?? []
        #expect(platforms.map { $0["method"] as? String } == ["cross-compiled"], "\(platforms)")
        #expect(report["executed"] as? [String] == ["build/setup", "build/install", "build/build"])
        #expect(try Self.elfMachine(out, tag: "arm64") == "0xb7", "an aarch64 executable (EM_AARCH64)")
        let config = try Harness.ok(["skopeo", "inspect", "--config", "oci:\(out):arm64"])
        #expect(config.contains("\"architecture\": \"arm64\""), "\(config)")
        // It runs under emulation (the handler scripts/install-deps registered).
        let run = try Harness.run(
            E2E.podman + ["run", "--rm", "--platform", "linux/arm64", "oci:\(out):arm64"], timeout: 300)
        #expect(run.stdout == "hello\n", "\(run)")
        let seconds = (report["timings"] as? [[String: Any]] ?? []).filter { ($0["stage"] as? String) == "build" }
            .reduce(0.0) { $0 + (($1["seconds"] as? NSNumber)?.doubleValue ?? 0) }
        print("Go arm64 cross-compiled: build stage \(String(format: "%.1f", seconds)) s")
    }

    @Test("dockerfile build --platform amd64,arm64: one index, TARGETARCH per platform, each config's architecture")
    func dockerfileTwoPlatforms() throws {
        let dir = try TempDir.make("build-multiarch-df")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        try "FROM scratch\nARG TARGETARCH\nCOPY hello.txt /hello.txt\nLABEL arch=$TARGETARCH\n".write(
            toFile: dir.path + "/Dockerfile", atomically: true, encoding: .utf8)
        try "hi\n".write(toFile: dir.path + "/hello.txt", atomically: true, encoding: .utf8)
        let out = dir.path + "/oci"
        let r = try Harness.run(
            [
                Harness.ociforge, "dockerfile", "build", dir.path, "--output", "oci-layout:\(out):v1", "--cache-dir",
                dir.path + "/cache", "--json", "--platform", "linux/arm64,linux/amd64"
            ],
            environment: ["OCIFORGE_STATE_DIR": E2E.stateDir, "SOURCE_DATE_EPOCH": E2E.epoch], timeout: 600)
        #expect(r.status == 0, "\(r.stderr.suffix(3000))")
        let (_, manifests) = try Self.index(out, tag: "v1")
        #expect(Self.platforms(manifests) == ["linux/amd64", "linux/arm64"])
        for arch in ["amd64", "arm64"] {
            let config = try Harness.ok(["skopeo", "inspect", "--override-arch", arch, "--config", "oci:\(out):v1"])
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
            #expect(obj["architecture"] as? String == arch)
            #expect(((obj["config"] as? [String: Any])?["Labels"] as? [String: String])?["arch"] == arch, "\(config)")
        }
    }

    @Test("no binfmt_misc handler for arm64: refused before any step, nothing written")
    func noHandler() throws {
        let dir = try TempDir.make("build-multiarch-nohandler")
        defer { dir.remove() }
        let app = try E2E.app("planner/shell-script/app", in: dir)
        let empty = dir.path + "/binfmt"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: empty + "/register", contents: Data())
        let out = dir.path + "/oci"
        let r = try Harness.run(
            [
                Harness.ociforge, "build", app, "--output", "oci-layout:\(out):v1", "--cache-dir", dir.path + "/cache"
            ] + Self.both,
            environment: [
                "OCIFORGE_STATE_DIR": E2E.stateDir, "SOURCE_DATE_EPOCH": E2E.epoch, "OCIFORGE_BINFMT_DIR": empty
            ], timeout: 600)
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot build for linux/arm64"), "\(r.stderr)")
        #expect(r.stderr.contains("no binfmt_misc handler for arm64"), "\(r.stderr)")
        #expect(r.stderr.contains("ociforge emulators enable arm64"), "\(r.stderr)")
        #expect(!r.stderr.contains("running"), "no step started: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "no layout written")
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/entries")) ?? []
        #expect(entries.isEmpty, "no cache entry written: \(entries)")
    }
}
