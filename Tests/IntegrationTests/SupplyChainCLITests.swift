import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge image referrers/attach/sign/verify/sbom`, `key generate`, `copy/pull --with-referrers` against
/// Debian's docker-registry (no referrers API), skopeo, podman and the PyPI SBOM validators.
@Suite("Supply chain CLI", .serialized)
struct SupplyChainCLITests {

    /// A one-layer image pushed to `host/repo:v1`; returns its digest.
    static func pushSmallImage(_ dir: String, host: String, repo: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/app", withIntermediateDirectories: true)
        try "hello \(repo)\n".write(toFile: dir + "/app/hello.txt", atomically: true, encoding: .utf8)
        try #"{"lockfileVersion":3,"packages":{"":{"name":"x"},"node_modules/express":{"version":"4.19.2"}}}"#
            .write(toFile: dir + "/app/package-lock.json", atomically: true, encoding: .utf8)
        try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", dir + "/app:/app", "--output",
            "oci-layout:\(dir)/lay:v1"
        ])
        return try Harness.ok([Harness.ociforge, "image", "push", "oci-layout:\(dir)/lay:v1", "\(host)/\(repo):v1"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func referrers(_ image: String) throws -> [[String: Any]] {
        let out = try Harness.ok([Harness.ociforge, "image", "referrers", image, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        return obj["referrers"] as! [[String: Any]]
    }

    @Test("attach, list, copy --with-referrers to another repository, pull --with-referrers into a layout")
    func referrersCLI() throws {
        let tmp = try TempDir.make("referrers-cli")
        defer { tmp.remove() }
        let reg = try LocalRegistry(dir: tmp.path + "/reg")
        defer { reg.stop() }
        let digest = try Self.pushSmallImage(tmp.path, host: reg.host, repo: "demo")
        try #"{"spdxVersion":"SPDX-2.3"}"#.write(toFile: tmp.path + "/sbom.json", atomically: true, encoding: .utf8)
        let art = try Harness.ok([
            Harness.ociforge, "image", "attach", "\(reg.host)/demo:v1", "--artifact-type", "application/spdx+json",
            "--file", tmp.path + "/sbom.json"
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try Self.referrers("\(reg.host)/demo:v1")
        #expect(listed.map { $0["digest"] as? String } == [art])
        #expect(listed.first?["artifactType"] as? String == "application/spdx+json")
        let json = try Harness.ok([Harness.ociforge, "image", "referrers", "\(reg.host)/demo:v1", "--json"])
        #expect(json.contains(#""source":"tag-schema""#) && json.contains(digest))
        #expect(
            try Harness.ok([Harness.ociforge, "image", "referrers", "\(reg.host)/demo:v1"]).contains(
                "application/spdx+json"))

        #expect(
            try Harness.ok([
                Harness.ociforge, "image", "copy", "--with-referrers", "docker://\(reg.host)/demo:v1",
                "docker://\(reg.host)/team/other:v1"
            ])
            .contains(digest))
        #expect(try Self.referrers("\(reg.host)/team/other:v1").map { $0["digest"] as? String } == [art])
        // Without the flag nothing but the image is copied.
        _ = try Harness.ok([
            Harness.ociforge, "image", "copy", "docker://\(reg.host)/demo:v1", "docker://\(reg.host)/bare:v1"
        ])
        #expect(try Self.referrers("\(reg.host)/bare:v1").isEmpty)

        _ = try Harness.ok([
            Harness.ociforge, "image", "pull", "--with-referrers", "\(reg.host)/team/other:v1",
            "oci-layout:\(tmp.path)/pulled"
        ])
        #expect(try Self.referrers("oci-layout:\(tmp.path)/pulled:v1").map { $0["digest"] as? String } == [art])
        // The layout stays usable: one image, verifiable, readable by skopeo.
        #expect(
            try Harness.ok([Harness.ociforge, "image", "verify", "oci-layout:\(tmp.path)/pulled"]).contains(
                "0 problem(s)"))
        _ = try Harness.ok(["skopeo", "inspect", "oci:\(tmp.path)/pulled:v1"])
        // An SBOM of a registry image with a lockfile read from its layers, attached through the tag schema.
        let sbom = try Harness.ok([
            Harness.ociforge, "image", "sbom", "\(reg.host)/demo:v1", "--lockfile", "/app/package-lock.json",
            "--format", "cyclonedx", "--attach"
        ])
        #expect(sbom.contains(#""purl":"pkg:npm/express@4.19.2""#) && sbom.contains(digest))
        #expect(
            try Self.referrers("\(reg.host)/demo:v1").map { $0["artifactType"] as? String } == [
                "application/spdx+json", "application/vnd.cyclonedx+json"
            ])
        let missing = try Harness.run([
            Harness.ociforge, "image", "sbom", "\(reg.host)/demo:v1", "--lockfile", "/app/yarn.lock"
        ])
        #expect(missing.status == 1 && missing.stderr.contains("the image has no file /app/yarn.lock"))
        // And back out of the layout to a registry.
        _ = try Harness.ok([
            Harness.ociforge, "image", "copy", "--with-referrers", "oci-layout:\(tmp.path)/pulled:v1",
            "docker://\(reg.host)/back:v1"
        ])
        #expect(try Self.referrers("\(reg.host)/back:v1").map { $0["digest"] as? String } == [art])
    }

    /// podman with its own storage, HOME (registries.d with use-sigstore-attachments) and a policy requiring
    /// sigstore signatures by `pub` for the test registry.
    static func podmanPull(_ tmp: String, host: String, image: String, pub: String) throws -> ProcessOutput {
        let home = tmp + "/podman-home"
        try FileManager.default.createDirectory(
            atPath: home + "/.config/containers/registries.d", withIntermediateDirectories: true)
        try "docker:\n  \(host):\n    use-sigstore-attachments: true\n".write(
            toFile: home + "/.config/containers/registries.d/t.yaml", atomically: true, encoding: .utf8)
        try "[[registry]]\nlocation = \"\(host)\"\ninsecure = true\n".write(
            toFile: tmp + "/registries.conf", atomically: true, encoding: .utf8)
        let policy =
            #"{"default":[{"type":"reject"}],"transports":{"docker":{"\#(host)":[{"type":"sigstoreSigned","keyPath":"\#(pub)","signedIdentity":{"type":"matchRepository"}}]}}}"#
        try policy.write(toFile: tmp + "/policy.json", atomically: true, encoding: .utf8)
        // podman limits the runroot path to 50 characters; the same one for every call of a test.
        let runroot = "/tmp/ocf-rr-" + (tmp.split(separator: "-").last.map(String.init) ?? "x")
        return try Harness.run(
            [
                "podman", "--root", tmp + "/podman-root", "--runroot", runroot, "--storage-driver", "vfs",
                "pull", "--signature-policy", tmp + "/policy.json", image
            ],
            environment: ["HOME": home, "CONTAINERS_REGISTRIES_CONF": tmp + "/registries.conf"])
    }

    @Test("key generate, sign, verify; podman under a sigstoreSigned policy; skopeo carries and writes the format")
    func signing() throws {
        let tmp = try TempDir.make("signing-cli")
        defer { tmp.remove() }
        let reg = try LocalRegistry(dir: tmp.path + "/reg")
        defer { reg.stop() }
        defer {
            try? FileManager.default.removeItem(
                atPath: "/tmp/ocf-rr-" + (tmp.path.split(separator: "-").last.map(String.init) ?? "x"))
        }
        let digest = try Self.pushSmallImage(tmp.path, host: reg.host, repo: "demo")
        let image = "\(reg.host)/demo:v1"
        try "pass phrase\n".write(toFile: tmp.path + "/pass", atomically: true, encoding: .utf8)
        _ = try Harness.ok([
            Harness.ociforge, "key", "generate", "--output-prefix", tmp.path + "/k1", "--passphrase-file",
            tmp.path + "/pass"
        ])
        _ = try Harness.ok([Harness.ociforge, "key", "generate", "--output-prefix", tmp.path + "/k2"])
        #expect(
            try String(contentsOfFile: tmp.path + "/k1.key", encoding: .utf8).hasPrefix(
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"))
        var st = stat()
        #expect(stat(tmp.path + "/k1.key", &st) == 0 && st.st_mode & 0o777 == 0o600)

        // Unsigned: refused by ociforge and by podman.
        let unsigned = try Harness.run([Harness.ociforge, "image", "verify", image, "--key", tmp.path + "/k1.pub"])
        #expect(unsigned.status == 1 && unsigned.stderr.contains("has no signatures"))
        let podmanUnsigned = try Self.podmanPull(tmp.path, host: reg.host, image: image, pub: tmp.path + "/k1.pub")
        #expect(
            podmanUnsigned.status != 0
                && podmanUnsigned.stderr.contains("A signature was required, but no signature exists"),
            "\(podmanUnsigned)")

        // Signed with k1: accepted by ociforge with k1, refused with k2.
        let signed = try Harness.ok([
            Harness.ociforge, "image", "sign", image, "--key", tmp.path + "/k1.key", "--passphrase-file",
            tmp.path + "/pass"
        ])
        #expect(signed.contains(digest))
        #expect(
            try Harness.ok([Harness.ociforge, "image", "verify", image, "--key", tmp.path + "/k1.pub"]).contains(
                "verified: \(image)@\(digest)"))
        let other = try Harness.run([Harness.ociforge, "image", "verify", image, "--key", tmp.path + "/k2.pub"])
        #expect(other.status == 1 && other.stderr.contains("not made by this key"))
        let wrongPass = try Harness.run(
            [Harness.ociforge, "image", "sign", image, "--key", tmp.path + "/k1.key"],
            environment: ["OCIFORGE_KEY_PASSPHRASE": "nope"])
        #expect(wrongPass.status == 1 && wrongPass.stderr.contains("wrong passphrase"))

        // podman finds and reads the attachment. Debian 12's containers/image is built with sigstore verification
        // disabled ("Debian-local change: sigstore disabled"), so acceptance can only be observed with an upstream
        // podman; with Debian's, the refusal must no longer be "no signature exists".
        let podmanSigned = try Self.podmanPull(tmp.path, host: reg.host, image: image, pub: tmp.path + "/k1.pub")
        if podmanSigned.status != 0 {
            #expect(podmanSigned.stderr.contains("Debian-local change: sigstore disabled"), "\(podmanSigned)")
        }

        // skopeo (containers/image) copies the signature, reading ociforge's attachment and writing its own.
        let regd = tmp.path + "/podman-home/.config/containers/registries.d"
        _ = try Harness.ok([
            "skopeo", "--registries.d", regd, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "docker://\(image)", "docker://\(reg.host)/viaskopeo:v1"
        ])
        let copied = try Harness.run([
            Harness.ociforge, "image", "verify", "\(reg.host)/viaskopeo:v1", "--key", tmp.path + "/k1.pub"
        ])
        #expect(copied.status == 1 && copied.stderr.contains("names repository \(reg.host)/demo"))
        #expect(
            try Harness.ok([
                Harness.ociforge, "image", "verify", "\(reg.host)/viaskopeo:v1", "--key", tmp.path + "/k1.pub",
                "--signed-repository", "\(reg.host)/demo"
            ]).contains("verified:"))

        // skopeo's own sigstore signing (upstream builds); Debian's refuses it (same local change).
        let skopeoSign = try Harness.run([
            "skopeo", "--registries.d", regd, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "--sign-by-sigstore-private-key", tmp.path + "/k1.key", "--sign-passphrase-file", tmp.path + "/pass",
            "docker://\(image)", "docker://\(reg.host)/skopeosigned:v1"
        ])
        if skopeoSign.status == 0 {
            #expect(
                try Harness.ok([
                    Harness.ociforge, "image", "verify", "\(reg.host)/skopeosigned:v1", "--key", tmp.path + "/k1.pub"
                ]).contains("verified:"))
        } else {
            #expect(skopeoSign.stderr.contains("Debian-local change: sigstore disabled"), "\(skopeoSign)")
        }

        // copy --with-referrers carries the signatures between registries (merged with what the target has).
        _ = try Harness.ok([
            Harness.ociforge, "image", "copy", "--with-referrers", "docker://\(image)",
            "docker://\(reg.host)/carried:v1"
        ])
        #expect(
            try Harness.ok([
                Harness.ociforge, "image", "verify", "\(reg.host)/carried:v1", "--key", tmp.path + "/k1.pub",
                "--signed-repository", "\(reg.host)/demo"
            ]).contains("verified:"))

        // A second signature is appended (read-modify-write); both keys verify.
        _ = try Harness.ok([Harness.ociforge, "image", "sign", image, "--key", tmp.path + "/k2.key"])
        let both = try Harness.ok([Harness.ociforge, "image", "verify", image, "--key", tmp.path + "/k2.pub", "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(both.utf8)) as! [String: Any]
        #expect((obj["signatures"] as! [[String: Any]]).map { $0["accepted"] as! Bool } == [false, true])
        _ = try Harness.ok([Harness.ociforge, "image", "verify", image, "--key", tmp.path + "/k1.pub"])
    }

    @Test(
        "image sbom: the dpkg part equals dpkg-query in the image under podman; validated by spdx-tools and cyclonedx")
    func sbomMatchesDpkgQuery() throws {
        let tmp = try TempDir.make("sbom-cli")
        defer { tmp.remove() }
        let rootfs = try DebianBase.minbaseRootfs()
        // A second layer rewrites the dpkg database without one package: the SBOM must follow the top layer.
        let status = try String(contentsOfFile: rootfs + "/var/lib/dpkg/status", encoding: .utf8)
        let paragraphs = status.components(separatedBy: "\n\n").filter { !$0.contains("Package: adduser\n") }
        #expect(paragraphs.count < status.components(separatedBy: "\n\n").count)
        try FileManager.default.createDirectory(
            atPath: tmp.path + "/top/var/lib/dpkg", withIntermediateDirectories: true)
        try paragraphs.joined(separator: "\n\n").write(
            toFile: tmp.path + "/top/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        let layout = tmp.path + "/img"
        _ = try Harness.ok([
            Harness.ociforge, "image", "assemble", "--base", "scratch", "--layer-dir", rootfs + ":/", "--layer-dir",
            tmp.path + "/top:/",
            "--cmd", "[\"/bin/sh\"]", "--output", "oci-layout:\(layout):v1"
        ])
        let env = ["SOURCE_DATE_EPOCH": "1700000000"]
        _ = try Harness.ok(
            [Harness.ociforge, "image", "sbom", "oci-layout:\(layout):v1", "-o", tmp.path + "/sbom.spdx.json"],
            environment: env)
        _ = try Harness.ok(
            [
                Harness.ociforge, "image", "sbom", "oci-layout:\(layout):v1", "--format", "cyclonedx", "-o",
                tmp.path + "/sbom.cdx.json"
            ], environment: env)

        let query = try Harness.ok(
            BuildEndToEndTests.podman + [
                "run", "--rm", "oci:\(layout):v1",
                "dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\n"
            ])
        let expected = Set(query.split(separator: "\n").map(String.init))
        #expect(expected.count > 50 && !expected.contains { $0.hasPrefix("adduser ") })

        let doc =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp.path + "/sbom.spdx.json")))
            as! [String: Any]
        var got = Set<String>()
        for p in doc["packages"] as! [[String: Any]] where p["SPDXID"] as? String != "SPDXRef-Image" {
            let purl = ((p["externalRefs"] as? [[String: Any]])?.first?["referenceLocator"] as? String) ?? ""
            let arch = purl.components(separatedBy: "arch=").last?.components(separatedBy: "&").first ?? "?"
            got.insert("\(p["name"] as! String) \(p["versionInfo"] as! String) \(arch)")
            #expect(purl.hasPrefix("pkg:deb/debian/") && purl.hasSuffix("&distro=debian-12"))
        }
        #expect(
            got == expected, "only in SBOM: \(got.subtracting(expected)); only in image: \(expected.subtracting(got))")
        #expect((doc["creationInfo"] as! [String: Any])["created"] as? String == "2023-11-14T22:13:20Z")

        let spdx = try Harness.run(["pyspdxtools", "-i", tmp.path + "/sbom.spdx.json"])
        #expect(spdx.status == 0, "\(spdx)")
        let cdx = try Harness.run([
            "python3", "-c",
            """
            import sys
            from cyclonedx.schema import SchemaVersion
            from cyclonedx.validation.json import JsonStrictValidator
            e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
            sys.exit(str(e) if e else 0)
            """, tmp.path + "/sbom.cdx.json"
        ])
        #expect(cdx.status == 0, "\(cdx)")
        // Deterministic: the same image gives the same bytes.
        #expect(
            try Harness.ok([Harness.ociforge, "image", "sbom", "oci-layout:\(layout):v1"], environment: env)
                == String(contentsOfFile: tmp.path + "/sbom.spdx.json", encoding: .utf8) + "\n")

        // Attached beside the image in the layout.
        _ = try Harness.ok(
            [Harness.ociforge, "image", "sbom", "oci-layout:\(layout):v1", "--attach", "-o", tmp.path + "/again.json"],
            environment: env)
        #expect(
            try Self.referrers("oci-layout:\(layout):v1").map { $0["artifactType"] as? String } == [
                "application/spdx+json"
            ])
    }
}

/// SBOMs of images built by `ociforge build`, read back with `image sbom` (the build attaches its own: BuildAttestationTests).
@Suite("SBOMs of built images", .serialized)
struct BuiltImageSBOMTests {
    @Test(
        "Python app: dpkg part equals dpkg-query in the runtime image, pinned PyPI deps from the lockfile, both formats validate"
    )
    func pythonApp() throws {
        let dir = try TempDir.make("sbom-python")
        defer { dir.remove() }
        let app = try BuildEndToEndTests.app("planner/python-flask/app", in: dir)
        let out = dir.path + "/oci"
        try BuildEndToEndTests.requireBuilt(app, cache: dir.path + "/cache", output: out + ":v1")
        let env = ["SOURCE_DATE_EPOCH": BuildEndToEndTests.epoch]
        let spdxPath = dir.path + "/sbom.spdx.json", cdxPath = dir.path + "/sbom.cdx.json"
        _ = try Harness.ok(
            [
                Harness.ociforge, "image", "sbom", "oci-layout:\(out):v1", "--lockfile", "/app/requirements.txt", "-o",
                spdxPath
            ], environment: env)
        _ = try Harness.ok(
            [
                Harness.ociforge, "image", "sbom", "oci-layout:\(out):v1", "--lockfile", "/app/requirements.txt",
                "--format", "cyclonedx", "-o", cdxPath
            ], environment: env)
        let doc =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: spdxPath))) as! [String: Any]
        var debs = Set<String>(), purls = Set<String>()
        for p in doc["packages"] as! [[String: Any]] {
            guard let purl = (p["externalRefs"] as? [[String: Any]])?.first?["referenceLocator"] as? String else {
                continue
            }
            purls.insert(purl)
            if purl.hasPrefix("pkg:deb/") {
                let arch = purl.components(separatedBy: "arch=").last?.components(separatedBy: "&").first ?? "?"
                debs.insert("\(p["name"] as! String) \(p["versionInfo"] as! String) \(arch)")
            }
        }
        #expect(purls.contains("pkg:pypi/flask@3.0.3") && purls.contains("pkg:pypi/gunicorn@22.0.0"))
        let query = try Harness.ok(
            BuildEndToEndTests.podman + [
                "run", "--rm", "--entrypoint", "", "oci:\(out):v1",
                "dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\n"
            ])
        let expected = Set(query.split(separator: "\n").map(String.init))
        #expect(
            !expected.isEmpty && debs == expected,
            "only in SBOM: \(debs.subtracting(expected)); only in image: \(expected.subtracting(debs))")
        let spdx = try Harness.run(["pyspdxtools", "-i", spdxPath])
        #expect(spdx.status == 0, "\(spdx)")
        let cdx = try Harness.run([
            "python3", "-c",
            """
            import sys
            from cyclonedx.schema import SchemaVersion
            from cyclonedx.validation.json import JsonStrictValidator
            e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
            sys.exit(str(e) if e else 0)
            """, cdxPath
        ])
        #expect(cdx.status == 0, "\(cdx)")
    }

    @Test(
        "--sbom-build-stage: a second SBOM for the build stage (pip, venv, the lockfile), annotated, validated; the runtime SBOM has neither pip nor venv"
    )
    func buildStageSBOM() throws {
        let dir = try TempDir.make("sbom-build-stage")
        defer { dir.remove() }
        let app = try BuildEndToEndTests.app("planner/python-flask/app", in: dir)
        let out = dir.path + "/oci"
        let b = try BuildEndToEndTests.requireBuilt(
            app, cache: dir.path + "/cache", output: out + ":v1", extra: ["--sbom-build-stage"])
        var documents: [String: [String: Any]] = [:]
        for a in b.report["attestations"] as? [[String: Any]] ?? [] {
            guard a["artifactType"] as? String == "application/spdx+json", let digest = a["digest"] as? String else {
                continue
            }
            let manifest = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: out + "/blobs/sha256/" + digest.dropFirst(7))))
                    as? [String: Any])
            let scope = (manifest["annotations"] as? [String: String])?["dev.ociforge.sbom.scope"] ?? "runtime"
            let bytes = try BuildAttestationTests.layoutArtifact(out, digest)
            try BuildAttestationTests.validateSPDX(bytes, in: dir.path)
            documents[scope] = try JSONSerialization.jsonObject(with: bytes) as? [String: Any]
        }
        #expect(Set(documents.keys) == ["runtime", "build"], "\(b.report["attestations"] ?? [])")
        func purls(_ scope: String) -> Set<String> {
            Set(
                (documents[scope]?["packages"] as? [[String: Any]] ?? []).compactMap {
                    ($0["externalRefs"] as? [[String: Any]])?.first?["referenceLocator"] as? String
                })
        }
        let build = purls("build"), runtime = purls("runtime")
        for name in ["python3-pip", "python3-venv"] {
            #expect(build.contains { $0.hasPrefix("pkg:deb/debian/\(name)@") }, "build stage has \(name)")
            #expect(!runtime.contains { $0.hasPrefix("pkg:deb/debian/\(name)@") }, "runtime has no \(name)")
        }
        #expect(build.contains("pkg:pypi/flask@3.0.3") && runtime.contains("pkg:pypi/flask@3.0.3"))
        #expect((documents["build"]?["name"] as? String)?.hasSuffix("(build)") == true)

        // Not for a Dockerfile build, nor without an SBOM format.
        let none = try Harness.run(
            [Harness.ociforge, "build", app, "--sbom", "none", "--sbom-build-stage", "--output", "oci-layout:\(out):x"])
        #expect(none.status != 0 && none.stderr.contains("--sbom-build-stage needs an SBOM format"), "\(none)")
        let context = dir.path + "/df"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM scratch\nCOPY a /a\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try "a\n".write(toFile: context + "/a", atomically: true, encoding: .utf8)
        let df = try Harness.run(
            [
                Harness.ociforge, "dockerfile", "build", context, "--sbom-build-stage", "--output",
                "oci-layout:\(dir.path)/df-out:x"
            ], environment: ["OCIFORGE_STATE_DIR": BuildEndToEndTests.stateDir])
        #expect(df.status != 0 && df.stderr.contains("--sbom-build-stage describes a build plan"), "\(df)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/df-out/index.json"), "nothing written")
    }
}
