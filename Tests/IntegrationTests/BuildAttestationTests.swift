import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ociforge build` / `dockerfile build` attaching their SBOM and provenance as referrers (layouts and a loopback
/// docker-registry, which has no referrers API: the tag schema), `build --sign-key`, and `verify-rebuild`.
@Suite("Build attestations", .serialized)
struct BuildAttestationTests {
    static var available: Bool { DockerfileExecTests.available }

    /// `ociforge build … --json -q` (plan builds of the shell-script fixture on the shared Debian base layout).
    static func build(_ args: [String], env: [String: String] = [:]) throws -> (
        status: Int32, report: [String: Any], stderr: String
    ) {
        let r = try Harness.run(
            [Harness.ociforge] + args + ["--json", "-q"],
            environment: DockerfileExecTests.env().merging(env) { $1 }, timeout: 1200)
        let report = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        return (r.status, report, r.stderr)
    }

    static func planArgs(_ app: String, base: String, cache: String, output: String) -> [String] {
        [
            "build", app, "--base", "oci-layout:\(base):base", "--runtime-base", "oci-layout:\(base):base",
            "--cache-dir", cache, "--output", output
        ]
    }

    /// The attestation descriptors of a build report: (artifactType, digest).
    static func attestations(_ report: [String: Any]) -> [(type: String, digest: String)] {
        (report["attestations"] as? [[String: Any]] ?? []).map {
            ($0["artifactType"] as? String ?? "", $0["digest"] as? String ?? "")
        }
    }

    /// The first layer of an artifact manifest served by the registry.
    static func registryArtifact(_ host: String, _ repo: String, _ digest: String) throws -> Data {
        let manifest = try Harness.ok([
            "curl", "-sf", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
            "http://\(host)/v2/\(repo)/manifests/\(digest)"
        ])
        let m = try #require(try JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any])
        let layer = try #require((m["layers"] as? [[String: Any]])?.first?["digest"] as? String)
        let r = try Harness.run(["curl", "-sfL", "-o", "-", "http://\(host)/v2/\(repo)/blobs/\(layer)"])
        #expect(r.status == 0)
        return Data(r.stdout.utf8)
    }

    /// The first layer of an artifact stored in an OCI layout.
    static func layoutArtifact(_ layout: String, _ digest: String) throws -> Data {
        let m = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + digest.dropFirst(7))))
                as? [String: Any])
        let layer = try #require((m["layers"] as? [[String: Any]])?.first?["digest"] as? String)
        return try Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + layer.dropFirst(7)))
    }

    static func validateSPDX(_ data: Data, in dir: String) throws {
        try data.write(to: URL(fileURLWithPath: dir + "/sbom.spdx.json"))
        let r = try Harness.run(["pyspdxtools", "-i", dir + "/sbom.spdx.json"])
        #expect(r.status == 0, "\(r)")
    }

    static func validateCycloneDX(_ data: Data, in dir: String) throws {
        try data.write(to: URL(fileURLWithPath: dir + "/sbom.cdx.json"))
        let r = try Harness.run([
            "python3", "-c",
            """
            import sys
            from cyclonedx.schema import SchemaVersion
            from cyclonedx.validation.json import JsonStrictValidator
            e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
            sys.exit(str(e) if e else 0)
            """, dir + "/sbom.cdx.json"
        ])
        #expect(r.status == 0, "\(r)")
    }

    @Test(
        "plan build pushed with --sign-key: SPDX, CycloneDX and provenance as referrers (tag schema), validated; signature verifies, fails after tampering; verify-rebuild of the registry image",
        .enabled(if: BuildAttestationTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func pushedSignedBuild() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("attest-push")
        defer { dir.remove() }
        let app = try BuildEndToEndTests.app("planner/shell-script/app", in: dir)
        let reg = try LocalRegistry(dir: dir.path + "/reg")
        defer { reg.stop() }
        try "pass phrase\n".write(toFile: dir.path + "/pass", atomically: true, encoding: .utf8)
        for (name, extra) in [("k1", ["--passphrase-file", dir.path + "/pass"]), ("k2", [])] {
            try Harness.ok([Harness.ociforge, "key", "generate", "--output-prefix", dir.path + "/" + name] + extra)
        }
        let image = "\(reg.host)/plan-app:1"
        let secretValue = "s3cr3t-value-\(UInt32.random(in: 0...UInt32.max))"

        // --sign-key on a layout output needs --sign-identity: refused before anything is built.
        let layoutSigned = try Self.build(
            Self.planArgs(app, base: base, cache: dir.path + "/cache", output: dir.path + "/never:v1")
                + ["--sign-key", dir.path + "/k2.key"])
        #expect(
            layoutSigned.status == 1 && layoutSigned.stderr.contains("needs --sign-identity host/repository[:tag]"),
            "\(layoutSigned.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/never"))

        let pushed = try Self.build(
            Self.planArgs(app, base: base, cache: dir.path + "/cache", output: "docker://" + image) + [
                "--sbom", "spdx,cyclonedx", "--sign-key", dir.path + "/k1.key", "--sign-passphrase-file",
                dir.path + "/pass", "--secret", "TOKEN=env:TOKEN"
            ], env: ["TOKEN": secretValue])
        #expect(pushed.status == 0, "\(pushed.stderr.suffix(3000))")
        let manifest = try #require(pushed.report["manifestDigest"] as? String)
        #expect(try BuildOutputTests.registryDigest(image) == manifest)
        let attached = Self.attestations(pushed.report)
        #expect(
            attached.map(\.type) == [
                "application/spdx+json", "application/vnd.cyclonedx+json", "application/vnd.in-toto+json"
            ])
        let hex = String(manifest.dropFirst(7))
        #expect(pushed.report["signatureTag"] as? String == "sha256-\(hex).sig")

        // Listed by ociforge (tag schema) and visible to skopeo as registry tags.
        let listed = try Harness.ok([Harness.ociforge, "image", "referrers", image, "--json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [String: Any])
        #expect(obj["source"] as? String == "tag-schema")
        #expect(
            Set((obj["referrers"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String })
                == Set(attached.map(\.digest)))
        let tags = try Harness.ok(["skopeo", "list-tags", "--tls-verify=false", "docker://\(reg.host)/plan-app"])
        #expect(tags.contains("\"sha256-\(hex)\"") && tags.contains("\"sha256-\(hex).sig\""), "\(tags)")
        let index = try Harness.ok([
            "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://\(reg.host)/plan-app:sha256-\(hex)"
        ])
        for a in attached { #expect(index.contains(a.digest) && index.contains(a.type)) }

        // The documents as the registry serves them: validated, and no secret value anywhere.
        let spdx = try Self.registryArtifact(reg.host, "plan-app", attached[0].digest)
        let cdx = try Self.registryArtifact(reg.host, "plan-app", attached[1].digest)
        let provenance = try Self.registryArtifact(reg.host, "plan-app", attached[2].digest)
        try Self.validateSPDX(spdx, in: dir.path)
        try Self.validateCycloneDX(cdx, in: dir.path)
        #expect(String(decoding: spdx, as: UTF8.self).contains("pkg:deb/debian/bash@"))
        for doc in [spdx, cdx, provenance] { #expect(!String(decoding: doc, as: UTF8.self).contains(secretValue)) }
        let statement = try #require(try JSONSerialization.jsonObject(with: provenance) as? [String: Any])
        #expect((statement["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String] == ["sha256": hex])
        let definition = try #require(
            (statement["predicate"] as? [String: Any])?["buildDefinition"] as? [String: Any])
        let deps = definition["resolvedDependencies"] as? [[String: Any]] ?? []
        #expect(Set(deps.compactMap { $0["name"] as? String }).isSuperset(of: ["base:build", "base:runtime", "source"]))
        let params = definition["externalParameters"] as? [String: Any] ?? [:]
        #expect((params["planDigest"] as? String)?.hasPrefix("sha256:") == true && params["plan"] != nil)
        #expect((params["options"] as? [String: Any])?["secrets"] as? [String] == ["TOKEN"])

        // Signed by k1: verified with k1, refused with k2.
        #expect(
            try Harness.ok([Harness.ociforge, "image", "verify", image, "--key", dir.path + "/k1.pub"]).contains(
                "verified: \(image)@\(manifest)"))
        let other = try Harness.run([Harness.ociforge, "image", "verify", image, "--key", dir.path + "/k2.pub"])
        #expect(other.status == 1 && other.stderr.contains("not made by this key"), "\(other)")

        // verify-rebuild of the registry image from the unchanged app: equal.
        let same = try Harness.run(
            [Harness.ociforge, "verify-rebuild", image, app, "-q", "--secret", "TOKEN=env:TOKEN"],
            environment: DockerfileExecTests.env().merging(["TOKEN": secretValue]) { $1 }, timeout: 1200)
        #expect(same.status == 0 && same.stdout.hasPrefix("equal: \(manifest)"), "\(same)")

        // Tampering: another image at the tag, with the original signature copied to its signature tag.
        try "tampered\n".write(toFile: app + "/start.sh", atomically: true, encoding: .utf8)
        let tampered = try Self.build(
            Self.planArgs(app, base: base, cache: dir.path + "/cache", output: "docker://" + image) + [
                "--sbom", "none", "--no-provenance"
            ])
        #expect(tampered.status == 0 && Self.attestations(tampered.report).isEmpty, "\(tampered.stderr.suffix(2000))")
        let newHex = try #require((tampered.report["manifestDigest"] as? String)?.dropFirst(7))
        #expect(newHex != hex)
        try Harness.ok([
            "skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "docker://\(reg.host)/plan-app:sha256-\(hex).sig", "docker://\(reg.host)/plan-app:sha256-\(newHex).sig"
        ])
        let refused = try Harness.run([Harness.ociforge, "image", "verify", image, "--key", dir.path + "/k1.pub"])
        #expect(refused.status == 1 && refused.stderr.contains("signature is for \(manifest)"), "\(refused)")
        #expect(!refused.stdout.contains("verified:"))
    }

    @Test(
        "dockerfile build: SPDX + provenance (with the COPY --from image) attached in the layout by default, none with --sbom none --no-provenance; two clean builds give identical attestation digests",
        .enabled(if: BuildAttestationTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func dockerfileAttestationsDeterministic() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("attest-df")
        defer { dir.remove() }
        let ctx = dir.path + "/ctx"
        try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
        try "hello\n".write(toFile: ctx + "/hello.txt", atomically: true, encoding: .utf8)
        try #"{"lockfileVersion":3,"packages":{"":{"name":"x"},"node_modules/express":{"version":"4.19.2"}}}"#
            .write(toFile: ctx + "/package-lock.json", atomically: true, encoding: .utf8)
        try
            "ARG BASE\nFROM ${BASE}\nWORKDIR /srv\nCOPY . .\nCOPY --from=oci:\(base):base /etc/debian_version /srv/dv\nRUN cat hello.txt > /ran.txt\n"
            .write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
        func dockerfileBuild(_ n: Int, _ extra: [String] = []) throws -> [String: Any] {
            let r = try Self.build(
                [
                    "dockerfile", "build", ctx, "--build-arg", "BASE=oci:\(base):base", "--cache-dir",
                    dir.path + "/cache\(n)", "--output", "oci-layout:\(dir.path)/b\(n)/img:v1"
                ] + extra)
            #expect(r.status == 0, "\(r.stderr.suffix(3000))")
            return r.report
        }
        let first = try dockerfileBuild(1), second = try dockerfileBuild(2)
        let a1 = Self.attestations(first), a2 = Self.attestations(second)
        #expect(a1.map(\.type) == ["application/spdx+json", "application/vnd.in-toto+json"])
        #expect(a1.map(\.digest) == a2.map(\.digest), "same inputs, same attestation bytes")
        #expect(first["manifestDigest"] as? String == second["manifestDigest"] as? String)

        let layout = dir.path + "/b1/img"
        let listed = try SupplyChainCLITests.referrers("oci-layout:\(layout):v1")
        #expect(Set(listed.compactMap { $0["digest"] as? String }) == Set(a1.map(\.digest)))
        let spdx = try Self.layoutArtifact(layout, a1[0].digest)
        try Self.validateSPDX(spdx, in: dir.path)
        #expect(String(decoding: spdx, as: UTF8.self).contains("pkg:npm/express@4.19.2"), "the lockfile at WORKDIR")
        let statement = try #require(
            try JSONSerialization.jsonObject(with: try Self.layoutArtifact(layout, a1[1].digest)) as? [String: Any])
        let definition = try #require(
            (statement["predicate"] as? [String: Any])?["buildDefinition"] as? [String: Any])
        #expect(definition["buildType"] as? String == "https://ociforge.dev/build/dockerfile/v1")
        let baseDigest = try Harness.ok([
            "skopeo", "inspect", "--format", "{{.Digest}}", "oci:\(base):base"
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let deps = definition["resolvedDependencies"] as? [[String: Any]] ?? []
        #expect(
            deps.contains {
                ($0["uri"] as? String)?.hasSuffix("\(base):base") == true
                    && $0["digest"] as? [String: String] == ["sha256": String(baseDigest.dropFirst(7))]
            }, "\(deps)")
        // The image COPY --from named (line 5), with the digest it resolved to.
        #expect(
            deps.contains {
                $0["name"] as? String == "copy-from:line 5" && $0["uri"] as? String == "oci:\(base):base"
                    && $0["digest"] as? [String: String] == ["sha256": String(baseDigest.dropFirst(7))]
            }, "\(deps)")
        let dockerfile = (definition["externalParameters"] as? [String: Any])?["dockerfile"] as? [String: Any]
        #expect((dockerfile?["buildArgs"] as? [String: String])?["BASE"] == "oci:\(base):base")

        let bare = try dockerfileBuild(3, ["--sbom", "none", "--no-provenance"])
        #expect(Self.attestations(bare).isEmpty)
        #expect(try SupplyChainCLITests.referrers("oci-layout:\(dir.path)/b3/img:v1").isEmpty)
        let badFormat = try Self.build([
            "dockerfile", "build", ctx, "--sbom", "syft", "--output", "oci-layout:\(dir.path)/b4/img:v1"
        ])
        #expect(badFormat.status != 0 && badFormat.stderr.contains("'syft' is not an SBOM format"))
    }

    @Test(
        "verify-rebuild: equal for an unchanged app (layout), exit 1 naming the changed file after a source change",
        .enabled(if: BuildAttestationTests.available, "needs root, buildah and podman (scripts/install-deps)"))
    func verifyRebuildLayout() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("attest-rebuild")
        defer { dir.remove() }
        let app = try BuildEndToEndTests.app("planner/shell-script/app", in: dir)
        let out = dir.path + "/out"
        let built = try Self.build(Self.planArgs(app, base: base, cache: dir.path + "/cache", output: out + ":v1"))
        #expect(built.status == 0, "\(built.stderr.suffix(3000))")
        let manifest = try #require(built.report["manifestDigest"] as? String)
        func verify() throws -> ProcessOutput {
            try Harness.run(
                [Harness.ociforge, "verify-rebuild", "oci-layout:\(out):v1", app, "-q"],
                environment: DockerfileExecTests.env(), timeout: 1200)
        }
        let same = try verify()
        #expect(same.status == 0 && same.stdout.hasPrefix("equal: \(manifest)"), "\(same)")

        try "#!/bin/bash\necho changed\n".write(toFile: app + "/start.sh", atomically: true, encoding: .utf8)
        let changed = try verify()
        #expect(changed.status == 1, "\(changed)")
        #expect(changed.stdout.contains("differ: \(manifest)"), "\(changed.stdout)")
        #expect(changed.stdout.contains("  app/start.sh: ") && changed.stdout.contains("content"), "\(changed.stdout)")
        #expect(changed.stdout.contains("(the provenance records sha256:"), "the source digest differs")

        // An image without provenance cannot be checked.
        let bare = try Self.build(
            Self.planArgs(app, base: base, cache: dir.path + "/cache", output: dir.path + "/bare:v1") + [
                "--no-provenance"
            ])
        #expect(bare.status == 0)
        let none = try Harness.run(
            [Harness.ociforge, "verify-rebuild", "oci-layout:\(dir.path)/bare:v1", app, "-q"],
            environment: DockerfileExecTests.env(), timeout: 600)
        #expect(none.status == 2 && none.stderr.contains("has no provenance statement attached"), "\(none)")
    }
}
