import Foundation
import Testing

/// `ociforge image assemble` end to end, checked by real peers: oci-image-tool, skopeo, podman.
@Suite struct AssembleInteropTests {
    /// Assembles the README demo image into `layout` under tag `tag`; returns the manifest digest printed on stdout.
    @discardableResult
    static func assembleDemo(
        _ layout: String, tag: String = "latest", appDir: String = Harness.fixture("apps/hello-shell"),
        environment: [String: String] = ["SOURCE_DATE_EPOCH": "1700000000"],
        shellPrefix: String? = nil
    ) throws -> String {
        var args = [
            Harness.ociforge, "image", "assemble", "--base", "scratch",
            "--layer-dir", appDir + ":/app",
            "--layer-dir", Harness.fixture("apps/static-site/public") + ":/srv/www",
            "--workdir", "/app", "--env", "GREETING=demo",
            "--label", "org.opencontainers.image.title=hello-shell",
            "--cmd", #"["/app/start.sh"]"#,
            "--output", "oci-layout:\(layout):\(tag)"
        ]
        if let shellPrefix {
            args = ["/bin/sh", "-c", shellPrefix + " exec \"$@\"", "sh"] + args
        }
        let out = try Harness.ok(args, environment: environment)
        let digest = out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(
            digest.hasPrefix("sha256:") && digest.count == 71, "assemble must print the manifest digest, got: \(out)")
        return digest
    }

    @Test func demoImageValidatesWithPeers() throws {
        let tmp = try TempDir.make("demo")
        defer { tmp.remove() }
        let layout = tmp.path + "/layout"
        let digest = try Self.assembleDemo(layout)

        try Harness.ok([Harness.ociforge, "image", "verify", "oci-layout:\(layout):latest"])
        try Harness.ok(["oci-image-tool", "validate", "--type", "image", "--ref", "name=latest", layout])

        let inspect = try Harness.ok(["skopeo", "inspect", "oci:\(layout):latest"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [String: Any])
        #expect(json["Digest"] as? String == digest)
        #expect((json["Layers"] as? [String])?.count == 2)
        let raw = try Harness.ok(["skopeo", "inspect", "--config", "oci:\(layout):latest"])
        let config = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        let cc = try #require(config["config"] as? [String: Any])
        #expect(cc["Cmd"] as? [String] == ["/app/start.sh"])
        #expect(cc["WorkingDir"] as? String == "/app")
        #expect((cc["Env"] as? [String])?.contains("GREETING=demo") == true)
        #expect((cc["Labels"] as? [String: String])?["org.opencontainers.image.title"] == "hello-shell")
        #expect(config["created"] as? String == "2023-11-14T22:13:20Z")

        // skopeo copies it blob for blob: same manifest digest, and ociforge re-verifies the copy.
        let copy = tmp.path + "/copy"
        try Harness.ok(["skopeo", "copy", "oci:\(layout):latest", "oci:\(copy):copied"])
        let copied = try Harness.ok(["skopeo", "inspect", "oci:\(copy):copied"])
        let cj = try #require(try JSONSerialization.jsonObject(with: Data(copied.utf8)) as? [String: Any])
        #expect(cj["Digest"] as? String == digest)
        try Harness.ok([Harness.ociforge, "image", "verify", "oci-layout:\(copy):copied"])
    }

    /// Must-show 2 of the foundation issue at the image level: same tree from two parent directories, different
    /// umask, TZ and locale, different mtimes (all newer than SOURCE_DATE_EPOCH) → the same manifest digest.
    @Test func manifestDigestIsReproducible() throws {
        let tmp = try TempDir.make("repro")
        defer { tmp.remove() }
        var digests: [String] = []
        for (i, (umask, tz, lc)) in [("022", "UTC", "C"), ("077", "Asia/Kolkata", "C.UTF-8")].enumerated() {
            let parent = tmp.path + "/copy\(i)/some/deeper/parent"
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            try Harness.ok(["cp", "-a", Harness.fixture("apps/hello-shell"), parent + "/app"])
            // Different, newer-than-epoch mtimes on every copy.
            try Harness.ok([
                "find", parent + "/app", "-exec", "touch", "-h", "-d", "@\(1_800_000_000 + i * 12345)", "{}", "+"
            ])
            let d = try Self.assembleDemo(
                tmp.path + "/layout\(i)", appDir: parent + "/app",
                environment: ["SOURCE_DATE_EPOCH": "1700000000", "TZ": tz, "LC_ALL": lc],
                shellPrefix: "umask \(umask);")
            digests.append(d)
        }
        #expect(digests[0] == digests[1])
        // The layout's own directories are 0755 under either umask (their modes are set, not left to the umask).
        for dir in ["", "/blobs", "/blobs/sha256"] {
            let modes = (0..<2).map { LayoutModes.mode(tmp.path + "/layout\($0)" + dir) }
            #expect(modes == ["755", "755"], "layout\(dir) modes under umask 022 / 077: \(modes)")
        }
    }

    /// An image assembled on a Debian minbase rootfs runs under podman and prints what its Cmd says.
    @Test func debianImageRunsUnderPodman() throws {
        let rootfs = try DebianBase.minbaseRootfs()
        let tmp = try TempDir.make("podman")
        defer { tmp.remove() }
        let layout = tmp.path + "/layout"
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", rootfs + ":/",
            "--output", "oci-layout:\(layout):base"
        ])
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "oci-layout:\(layout):base",
            "--layer-dir", Harness.fixture("apps/hello-shell") + ":/app",
            "--env", "GREETING=from podman", "--cmd", #"["/app/start.sh"]"#,
            "--output", "oci-layout:\(layout):app"
        ])
        try Harness.ok([Harness.ociforge, "image", "verify", "oci-layout:\(layout):app"])
        let out = try Harness.ok([
            "podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm",
            "--network", "none", "oci:\(layout):app"
        ])
        #expect(out.contains("hello from ociforge (from podman)"), "podman printed: \(out)")
        // And a shell-form Cmd runs through /bin/sh -c.
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "oci-layout:\(layout):app",
            "--cmd", "echo shell-form $((6*7))", "--output", "oci-layout:\(layout):shell"
        ])
        let out2 = try Harness.ok([
            "podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm",
            "--network", "none", "oci:\(layout):shell"
        ])
        #expect(out2.contains("shell-form 42"), "podman printed: \(out2)")
    }
}
