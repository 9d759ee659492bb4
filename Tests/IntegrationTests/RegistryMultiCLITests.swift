import Foundation
import Testing

/// `image pull/copy --all-platforms` with two-platform indexes and `image copy --all-tags` into docker-archives,
/// end to end against docker-registry, checked by skopeo and by podman loading and running the archives in an
/// isolated store.
@Suite(.timeLimit(.minutes(10)))
struct RegistryMultiCLITests {
    static func sha256(_ path: String) throws -> String {
        "sha256:" + (try Harness.ok(["sha256sum", path]).split(separator: " ").first.map(String.init) ?? "")
    }

    static func readJSON(_ path: String) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func line(_ out: ProcessOutput) -> String { out.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// A layout tagged `amd` and `arm` (two scratch images assembled for linux/amd64 and linux/arm64) and `multi`,
    /// an OCI index of both written here. Returns the index digest and the two manifest digests.
    static func twoPlatformLayout(_ layout: String) throws -> (index: String, amd: String, arm: String) {
        var digests: [String] = []
        for (tag, platform) in [("amd", "linux/amd64"), ("arm", "linux/arm64")] {
            let out = try Harness.ok(
                [
                    Harness.ociforge, "image", "assemble", "--base", "scratch", "--platform", platform,
                    "--layer-dir", Harness.fixture("apps/hello-shell") + ":/app",
                    "--env", "ARCH_TAG=\(tag)", "--cmd", #"["/app/start.sh"]"#,
                    "--output", "oci-layout:\(layout):\(tag)"
                ],
                environment: ["SOURCE_DATE_EPOCH": "1700000000"])
            digests.append(String(out.split(separator: "\n").last ?? ""))
        }
        let index = try readJSON(layout + "/index.json")
        let entries = try #require(index["manifests"] as? [[String: Any]])
        func entry(_ digest: String, _ arch: String) throws -> [String: Any] {
            let e = try #require(entries.first { $0["digest"] as? String == digest })
            return [
                "mediaType": e["mediaType"]!, "digest": digest, "size": e["size"]!,
                "platform": ["architecture": arch, "os": "linux"]
            ]
        }
        let doc: [String: Any] = [
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [try entry(digests[0], "amd64"), try entry(digests[1], "arm64")]
        ]
        let bytes = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
        let tmp = layout + "/new-index.json"
        try bytes.write(to: URL(fileURLWithPath: tmp))
        let digest = try sha256(tmp)
        try FileManager.default.moveItem(atPath: tmp, toPath: layout + "/blobs/sha256/" + digest.dropFirst(7))
        var top = index
        top["manifests"] =
            entries + [
                [
                    "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": bytes.count,
                    "annotations": ["org.opencontainers.image.ref.name": "multi"]
                ]
            ]
        try JSONSerialization.data(withJSONObject: top, options: [.sortedKeys]).write(
            to: URL(fileURLWithPath: layout + "/index.json"))
        return (digest, digests[0], digests[1])
    }

    @Test func allPlatformsPullCopyPushRoundTrip() throws {
        let tmp = try TempDir.make("registry-multi")
        defer { tmp.remove() }
        let reg = try LocalRegistry(dir: tmp.path + "/registry")
        defer { reg.stop() }
        let host = "127.0.0.1:\(reg.port)"
        let layout = tmp.path + "/layout"
        let (indexDigest, amd, arm) = try Self.twoPlatformLayout(layout)

        // Push of an index layout pushes both manifests and the index, bytes unchanged.
        let pushed = try Harness.run([
            Harness.ociforge, "image", "push", "oci-layout:\(layout):multi", "\(host)/multi/app:v1"
        ])
        #expect(pushed.status == 0, "\(pushed)")
        #expect(Self.line(pushed) == indexDigest)
        let raw = try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(host)/multi/app:v1"])
        #expect(
            raw
                == String(
                    decoding: try #require(
                        FileManager.default.contents(atPath: layout + "/blobs/sha256/" + indexDigest.dropFirst(7))),
                    as: UTF8.self))
        // skopeo copies the whole index with the same digest.
        try Harness.ok([
            "skopeo", "copy", "--all", "--src-tls-verify=false", "docker://\(host)/multi/app:v1",
            "oci:\(tmp.path)/skopeo-all:x"
        ])
        let skopeoIndex = try #require(
            try Self.readJSON(tmp.path + "/skopeo-all/index.json")["manifests"] as? [[String: Any]])
        #expect(skopeoIndex.first?["digest"] as? String == indexDigest)

        // Pull every platform: the index digest, both manifests and all their blobs; `image verify` checks it all.
        let pulled = try Harness.run([
            Harness.ociforge, "image", "pull", "--all-platforms", "\(host)/multi/app:v1", "oci-layout:\(tmp.path)/all"
        ])
        #expect(pulled.status == 0, "\(pulled)")
        #expect(Self.line(pulled) == indexDigest)
        for d in [indexDigest, amd, arm] {
            #expect(
                FileManager.default.fileExists(atPath: tmp.path + "/all/blobs/sha256/" + d.dropFirst(7)), "\(d) missing"
            )
        }
        let verify = try Harness.run([Harness.ociforge, "image", "verify", "oci-layout:\(tmp.path)/all"])
        #expect(verify.status == 0, "\(verify)")
        let armOnly = try Harness.run([
            Harness.ociforge, "image", "inspect", "--platform", "linux/arm64", "--json", "oci-layout:\(tmp.path)/all:v1"
        ])
        #expect(armOnly.status == 0 && armOnly.stdout.contains(arm), "\(armOnly)")
        // Without the flag: only the requested platform's manifest.
        let one = try Harness.run([
            Harness.ociforge, "image", "pull", "--platform", "linux/arm64", "\(host)/multi/app:v1",
            "oci-layout:\(tmp.path)/one"
        ])
        #expect(Self.line(one) == arm, "\(one)")
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/one/blobs/sha256/" + amd.dropFirst(7)))

        // Registry to registry with --platform all keeps the index digest.
        let copied = try Harness.run([
            Harness.ociforge, "image", "copy", "--platform", "all", "docker://\(host)/multi/app:v1",
            "docker://\(host)/multi/copy:v2"
        ])
        #expect(copied.status == 0, "\(copied)")
        #expect(Self.line(copied) == indexDigest)
        #expect(
            try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(host)/multi/copy:v2"])
                == raw)

        // An index pushed by skopeo --all is pulled whole by ociforge with the same digest.
        try Harness.ok([
            "skopeo", "copy", "--all", "--dest-tls-verify=false", "oci:\(layout):multi",
            "docker://\(host)/multi/fromskopeo:v3"
        ])
        let fromSkopeo = try Harness.run([
            Harness.ociforge, "image", "copy", "--all-platforms", "docker://\(host)/multi/fromskopeo:v3",
            "oci-layout:\(tmp.path)/fromskopeo:v3"
        ])
        #expect(fromSkopeo.status == 0, "\(fromSkopeo)")
        let skopeoRaw = tmp.path + "/skopeo-raw.json"
        try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(host)/multi/fromskopeo:v3"])
            .write(toFile: skopeoRaw, atomically: true, encoding: .utf8)
        #expect(Self.line(fromSkopeo) == (try Self.sha256(skopeoRaw)))
        #expect(try Harness.run([Harness.ociforge, "image", "verify", "oci-layout:\(tmp.path)/fromskopeo"]).status == 0)

        // Push and copy with one --platform send only that platform's manifest; an absent one names those there are.
        let armPush = try Harness.run([
            Harness.ociforge, "image", "push", "--platform", "linux/arm64", "oci-layout:\(layout):multi",
            "\(host)/multi/armonly:v1"
        ])
        #expect(armPush.status == 0 && Self.line(armPush) == arm, "\(armPush)")
        let armCopy = try Harness.run([
            Harness.ociforge, "image", "copy", "--platform", "linux/arm64", "oci-layout:\(layout):multi",
            "docker://\(host)/multi/armcopy:v1"
        ])
        #expect(armCopy.status == 0 && Self.line(armCopy) == arm, "\(armCopy)")
        let armRaw = tmp.path + "/arm-raw.json"
        try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(host)/multi/armonly:v1"]).write(
            toFile: armRaw, atomically: true, encoding: .utf8)
        #expect(try Self.sha256(armRaw) == arm)
        let s390 = try Harness.run([
            Harness.ociforge, "image", "push", "--platform", "linux/s390x", "oci-layout:\(layout):multi",
            "\(host)/multi/none:v1"
        ])
        #expect(s390.status != 0 && s390.stderr.contains("linux/amd64, linux/arm64"), "\(s390)")

        // Usage errors: an index cannot go into a docker-archive; conflicting flags.
        let toArchive = try Harness.run([
            Harness.ociforge, "image", "copy", "--all-platforms", "docker://\(host)/multi/app:v1",
            "docker-archive:\(tmp.path)/x.tar"
        ])
        #expect(toArchive.status != 0 && toArchive.stderr.contains("--platform"), "\(toArchive)")
        let both = try Harness.run([
            Harness.ociforge, "image", "pull", "--all-platforms", "--platform", "linux/amd64", "\(host)/multi/app:v1",
            "oci-layout:\(tmp.path)/y"
        ])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both)")
    }

    /// A root filesystem with just the host's dash as /bin/sh and the libraries it loads.
    static func tinyShellRootfs(_ dir: String) throws {
        let dash = try FileManager.default.destinationOfSymbolicLink(atPath: "/bin/sh")
        let shell = dash.hasPrefix("/") ? dash : "/bin/" + dash
        var files = [shell]
        for line in try Harness.ok(["ldd", shell]).split(separator: "\n") {
            if let path = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first(where: { $0.hasPrefix("/") }) {
                files.append(String(path))
            }
        }
        for f in files {
            let target = f == shell ? dir + "/bin/sh" : dir + f
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Harness.ok(["cp", "-L", f, target])
        }
    }

    @Test func dockerArchivesLoadAndRunUnderPodman() throws {
        let tmp = try TempDir.make("archive-podman")
        defer { tmp.remove() }
        let rootfs = tmp.path + "/rootfs"
        try Self.tinyShellRootfs(rootfs)
        let base = tmp.path + "/base"
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", rootfs + ":/",
            "--output", "oci-layout:\(base):base"
        ])
        let layout = tmp.path + "/layout"
        var digests: [String: String] = [:]
        for (tag, word) in [("one", "first"), ("two", "second")] {
            let out = try Harness.ok([
                Harness.ociforge, "image", "assemble", "--base", "oci-layout:\(base):base",
                "--env", "WORD=\(word)", "--cmd", #"["/bin/sh","-c","echo image-$WORD"]"#,
                "--output", "oci-layout:\(layout):\(tag)"
            ])
            digests[tag] = String(out.split(separator: "\n").last ?? "")
        }
        // Single image, named by the destination.
        let single = tmp.path + "/single.tar"
        let s = try Harness.run([
            Harness.ociforge, "image", "copy", "oci-layout:\(layout):one",
            "docker-archive:\(single):ociforge-test/single:v1"
        ])
        #expect(s.status == 0, "\(s)")
        // Every tag of the layout in one archive, named <repository>:<tag>.
        let multi = tmp.path + "/multi.tar"
        let m = try Harness.run([
            Harness.ociforge, "image", "copy", "--all-tags", "oci-layout:\(layout)",
            "docker-archive:\(multi):ociforge-test/app"
        ])
        #expect(m.status == 0, "\(m)")
        #expect(
            m.stdout
                == "\(digests["one"]!) docker.io/ociforge-test/app:one\n\(digests["two"]!) docker.io/ociforge-test/app:two\n",
            "\(m)")

        // podman, in a store of its own, loads both archives and runs every image (podman wants a short runroot).
        let pm = try TempDir.make("p")
        defer { pm.remove() }
        let store = [
            "--root", pm.path + "/root", "--runroot", pm.path + "/run", "--tmpdir", pm.path + "/tmp",
            "--storage-driver", "vfs", "--events-backend", "file"
        ]
        let podman = ["podman"] + store + ["--runtime", "runc", "--cgroup-manager=cgroupfs"]
        let loadSingle = try Harness.run(podman + ["load", "-i", single], timeout: 300)
        #expect(loadSingle.status == 0, "\(loadSingle)")
        #expect(loadSingle.stdout.contains("docker.io/ociforge-test/single:v1"), "\(loadSingle)")
        let loadMulti = try Harness.run(podman + ["load", "-i", multi], timeout: 300)
        #expect(loadMulti.status == 0, "\(loadMulti)")
        for (name, want) in [
            ("docker.io/ociforge-test/single:v1", "image-first"), ("docker.io/ociforge-test/app:one", "image-first"),
            ("docker.io/ociforge-test/app:two", "image-second")
        ] {
            let r = try Harness.run(podman + ["run", "--rm", "--network", "none", name], timeout: 300)
            #expect(r.status == 0 && r.stdout == want + "\n", "\(name): \(r)")
        }

        // skopeo, the second reader, picks images by name and by index.
        for (sel, tag) in [("@0", "one"), ("@1", "two"), ("docker.io/ociforge-test/app:two", "two")] {
            let cfg = try Harness.ok(["skopeo", "inspect", "--config", "docker-archive:\(multi):\(sel)"])
            #expect(cfg.contains("WORD=\(tag == "one" ? "first" : "second")"), "\(sel): \(cfg)")
        }
        // ociforge reads them back the same ways, with the original manifest digests.
        for (sel, tag) in [("@1", "two"), ("ociforge-test/app:one", "one"), ("@0", "one")] {
            let r = try Harness.run([
                Harness.ociforge, "image", "copy", "docker-archive:\(multi):\(sel)",
                "oci-layout:\(tmp.path)/back:\(tag)"
            ])
            #expect(r.status == 0 && Self.line(r) == digests[tag], "\(sel): \(r)")
        }
        // Every image of the archive into a layout, tagged with the archive's names; and back out, byte for byte.
        let all = try Harness.run([
            Harness.ociforge, "image", "copy", "--all-tags", "docker-archive:\(multi)", "oci-layout:\(tmp.path)/all"
        ])
        #expect(all.stdout == m.stdout, "\(all)")
        let again = try Harness.run([
            Harness.ociforge, "image", "copy", "--all-tags", "oci-layout:\(tmp.path)/all",
            "docker-archive:\(tmp.path)/again.tar"
        ])
        #expect(again.status == 0, "\(again)")
        #expect(
            FileManager.default.contents(atPath: tmp.path + "/again.tar") == FileManager.default.contents(atPath: multi)
        )
        let ambiguous = try Harness.run([
            Harness.ociforge, "image", "copy", "docker-archive:\(multi)", "oci-layout:\(tmp.path)/back:x"
        ])
        #expect(
            ambiguous.status != 0 && ambiguous.stderr.contains("holds 2 images")
                && ambiguous.stderr.contains("@1 docker.io/ociforge-test/app:two"), "\(ambiguous)")
        let bad = try Harness.run([
            Harness.ociforge, "image", "copy", "--all-tags", "oci-layout:\(layout)",
            "docker-archive:\(tmp.path)/bad.tar:repo:tag"
        ])
        #expect(bad.status != 0 && bad.stderr.contains("repository only"), "\(bad)")
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/bad.tar"))
    }
}
