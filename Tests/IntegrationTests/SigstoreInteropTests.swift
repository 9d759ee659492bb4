import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// ociforge's sigstore signatures against sigstore-enabled containers/image and cosign (Debian trixie's podman 5,
/// skopeo 1.18 and cosign 2, chrooted: `TrixieTools`), on the loopback docker-registry, in both directions.
@Suite("Sigstore interop (trixie podman/skopeo/cosign)", .serialized)
struct SigstoreInteropTests {
    static var available: Bool { getuid() == 0 && TrixieTools.preparable }

    /// Keys k1 (passphrase-encrypted) and k2 in `dir`; the passphrase in `dir/pass`.
    static func keys(_ dir: String) throws {
        try "pass phrase\n".write(toFile: dir + "/pass", atomically: true, encoding: .utf8)
        try Harness.ok([
            Harness.ociforge, "key", "generate", "--output-prefix", dir + "/k1", "--passphrase-file", dir + "/pass"
        ])
        try Harness.ok([Harness.ociforge, "key", "generate", "--output-prefix", dir + "/k2"])
    }

    /// registries.d (sigstore attachments on), registries.conf (plain HTTP) and a policy accepting only sigstore
    /// signatures by `pub` for `host` (matchRepository: ociforge signs the repository, like cosign).
    static func containersConfig(_ dir: String, host: String, pub: String) throws {
        try FileManager.default.createDirectory(atPath: registriesD(dir), withIntermediateDirectories: true)
        try "docker:\n  \(host):\n    use-sigstore-attachments: true\n".write(
            toFile: registriesD(dir) + "/t.yaml", atomically: true, encoding: .utf8)
        try "[[registry]]\nlocation = \"\(host)\"\ninsecure = true\n".write(
            toFile: dir + "/registries.conf", atomically: true, encoding: .utf8)
        let policy =
            #"{"default":[{"type":"reject"}],"transports":{"docker":{"\#(host)":[{"type":"sigstoreSigned","keyPath":"\#(pub)","signedIdentity":{"type":"matchRepository"}}]}}}"#
        try policy.write(toFile: dir + "/policy.json", atomically: true, encoding: .utf8)
    }

    /// `image referrers --json` of an index: per platform manifest (architecture, digest, artifact types, the SBOM's
    /// and the provenance's digests).
    static func platformReferrers(_ image: String) throws -> [(
        platform: String, digest: String, types: [String], sbom: String, provenance: String
    )] {
        let out = try Harness.ok([Harness.ociforge, "image", "referrers", image, "--json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        return (obj["platforms"] as? [[String: Any]] ?? []).map { p in
            let m = p["manifest"] as? [String: Any] ?? [:]
            let refs = p["referrers"] as? [[String: Any]] ?? []
            let types = refs.compactMap { $0["artifactType"] as? String }.sorted()
            func digest(_ type: String) -> String {
                refs.first { $0["artifactType"] as? String == type }?["digest"] as? String ?? ""
            }
            return (
                (m["platform"] as? [String: Any])?["architecture"] as? String ?? "?", m["digest"] as? String ?? "",
                types, digest("application/spdx+json"), digest("application/vnd.in-toto+json")
            )
        }
    }

    /// The user registries.d of HOME=`dir`/home (podman has no flag for it).
    static func registriesD(_ dir: String) -> String { dir + "/home/.config/containers/registries.d" }

    /// trixie `podman pull` under `dir/policy.json`, with its own storage.
    static func podmanPull(_ dir: String, _ image: String, platform: [String] = []) throws -> ProcessOutput {
        try TrixieTools.run(
            [
                "podman", "--root", dir + "/podman-root", "--runroot", "/run/ocf-rr", "--storage-driver", "vfs",
                "pull", "--signature-policy", dir + "/policy.json"
            ] + platform + [image], binds: [dir],
            environment: ["CONTAINERS_REGISTRIES_CONF": dir + "/registries.conf", "HOME": dir + "/home"])
    }

    @Test(
        "podman 5 (trixie) pulls an ociforge-signed image under a sigstoreSigned policy; refuses unsigned and other-key images",
        .enabled(
            if: SigstoreInteropTests.available,
            "needs root and a Debian trixie rootfs (mmdebstrap from deb.debian.org, unreachable here): bookworm's skopeo/podman have sigstore disabled"
        ))
    func podmanAcceptsOciforgeSignatures() throws {
        let dir = try TempDir.make("sigstore-podman")
        defer { dir.remove() }
        let reg = try LocalRegistry(dir: dir.path + "/reg")
        defer { reg.stop() }
        try Self.keys(dir.path)
        try Self.containersConfig(dir.path, host: reg.host, pub: dir.path + "/k1.pub")
        let version = try TrixieTools.run(["podman", "--version"], binds: [])
        #expect(version.status == 0 && version.stdout.hasPrefix("podman version 5."), "\(version)")

        for repo in ["signed", "unsigned", "otherkey"] {
            _ = try SupplyChainCLITests.pushSmallImage(dir.path + "/" + repo, host: reg.host, repo: repo)
        }
        try Harness.ok([
            Harness.ociforge, "image", "sign", "\(reg.host)/signed:v1", "--key", dir.path + "/k1.key",
            "--passphrase-file", dir.path + "/pass"
        ])
        try Harness.ok([Harness.ociforge, "image", "sign", "\(reg.host)/otherkey:v1", "--key", dir.path + "/k2.key"])

        let signed = try Self.podmanPull(dir.path, "\(reg.host)/signed:v1")
        #expect(signed.status == 0, "\(signed)")
        let unsigned = try Self.podmanPull(dir.path, "\(reg.host)/unsigned:v1")
        #expect(
            unsigned.status != 0 && unsigned.stderr.contains("A signature was required, but no signature exists"),
            "\(unsigned)")
        let other = try Self.podmanPull(dir.path, "\(reg.host)/otherkey:v1")
        #expect(other.status != 0, "\(other)")
        #expect(
            other.stderr.contains("cryptographic signature verification failed")
                && !other.stderr.contains("no signature exists"), "\(other)")
        let images = try TrixieTools.run(
            [
                "podman", "--root", dir.path + "/podman-root", "--runroot", "/run/ocf-rr", "--storage-driver", "vfs",
                "images", "--format", "{{.Repository}}"
            ], binds: [dir.path])
        #expect(images.stdout.split(separator: "\n").map(String.init) == ["\(reg.host)/signed"], "\(images)")
    }

    @Test(
        "skopeo 1.18 (trixie) --sign-by-sigstore-private-key is verified by ociforge image verify --key, and refused with another key; cosign verifies ociforge's signature",
        .enabled(
            if: SigstoreInteropTests.available,
            "needs root and a Debian trixie rootfs (mmdebstrap from deb.debian.org, unreachable here): bookworm's skopeo/podman have sigstore disabled"
        ))
    func ociforgeVerifiesSkopeoSignatures() throws {
        let dir = try TempDir.make("sigstore-skopeo")
        defer { dir.remove() }
        let reg = try LocalRegistry(dir: dir.path + "/reg")
        defer { reg.stop() }
        try Self.keys(dir.path)
        try Self.containersConfig(dir.path, host: reg.host, pub: dir.path + "/k1.pub")
        let digest = try SupplyChainCLITests.pushSmallImage(dir.path + "/src", host: reg.host, repo: "src")

        let signing = try TrixieTools.run(
            [
                "skopeo", "--registries.d", Self.registriesD(dir.path), "copy", "--src-tls-verify=false",
                "--dest-tls-verify=false", "--sign-by-sigstore-private-key", dir.path + "/k1.key",
                "--sign-passphrase-file", dir.path + "/pass", "docker://\(reg.host)/src:v1",
                "docker://\(reg.host)/byskopeo:v1"
            ], binds: [dir.path])
        #expect(signing.status == 0, "\(signing)")
        let image = "\(reg.host)/byskopeo:v1"
        let verified = try Harness.run([Harness.ociforge, "image", "verify", image, "--key", dir.path + "/k1.pub"])
        #expect(verified.status == 0 && verified.stdout.contains("verified: \(image)@\(digest)"), "\(verified)")
        let other = try Harness.run([Harness.ociforge, "image", "verify", image, "--key", dir.path + "/k2.pub"])
        #expect(other.status == 1 && other.stderr.contains("not made by this key"), "\(other)")
        let sig = try Harness.ok([
            "skopeo", "inspect", "--raw", "--tls-verify=false",
            "docker://\(reg.host)/byskopeo:sha256-\(digest.dropFirst(7)).sig"
        ])
        #expect(sig.contains("application/vnd.dev.cosign.simplesigning.v1+json"), "skopeo wrote the attachment")

        // cosign 2 verifies ociforge's signature with the public key (no transparency log entry: key-based).
        try Harness.ok([
            Harness.ociforge, "image", "sign", "\(reg.host)/src:v1", "--key", dir.path + "/k2.key"
        ])
        let cosign = try TrixieTools.run(
            [
                "cosign", "verify", "--key", dir.path + "/k2.pub", "--insecure-ignore-tlog=true",
                "--allow-http-registry", "\(reg.host)/src@\(digest)"
            ], binds: [dir.path])
        #expect(cosign.status == 0 && cosign.stdout.contains(String(digest.dropFirst(7))), "\(cosign)")
        let cosignOther = try TrixieTools.run(
            [
                "cosign", "verify", "--key", dir.path + "/k1.pub", "--insecure-ignore-tlog=true",
                "--allow-http-registry", "\(reg.host)/src@\(digest)"
            ], binds: [dir.path])
        #expect(cosignOther.status != 0, "\(cosignOther)")
    }

    @Test(
        "build --sign-key into an OCI layout: image verify on the layout; copy --with-referrers to the registry is accepted by podman 5 under sigstoreSigned, a copy without them refused",
        .enabled(
            if: SigstoreInteropTests.available && BuildAttestationTests.available,
            "needs root, buildah, podman and a Debian trixie rootfs (mmdebstrap from deb.debian.org)"))
    func layoutSignaturesReachPodman() throws {
        let base = try DockerfileExecTests.baseLayout()
        let dir = try DockerfileExecTests.tempDir("sigstore-layout")
        defer { dir.remove() }
        let reg = try LocalRegistry(dir: dir.path + "/reg")
        defer { reg.stop() }
        try Self.keys(dir.path)
        try Self.containersConfig(dir.path, host: reg.host, pub: dir.path + "/k1.pub")
        let app = try BuildEndToEndTests.app("planner/shell-script/app", in: dir)
        let out = dir.path + "/out"
        let built = try BuildAttestationTests.build(
            BuildAttestationTests.planArgs(app, base: base, cache: dir.path + "/cache", output: "oci-layout:\(out):v1")
                + [
                    "--sign-key", dir.path + "/k1.key", "--sign-passphrase-file", dir.path + "/pass",
                    "--sign-identity", "\(reg.host)/fromlayout:v1"
                ])
        #expect(built.status == 0, "\(built.stderr.suffix(3000))")
        let manifest = try #require(built.report["manifestDigest"] as? String)
        let sigTag = "sha256-\(manifest.dropFirst(7)).sig"
        #expect(built.report["signatureTag"] as? String == sigTag)
        let index = try String(contentsOfFile: out + "/index.json", encoding: .utf8)
        #expect(index.contains(#""org.opencontainers.image.ref.name":"\#(sigTag)""#), "\(index)")

        // Verified in the layout by the key that signed it; refused by another key and for another repository.
        func verify(_ key: String, _ repo: String) throws -> ProcessOutput {
            try Harness.run([
                Harness.ociforge, "image", "verify", "oci-layout:\(out):v1", "--key", dir.path + "/\(key).pub",
                "--signed-repository", "\(reg.host)/\(repo)"
            ])
        }
        let ok = try verify("k1", "fromlayout")
        #expect(ok.status == 0 && ok.stdout.contains("verified: \(reg.host)/fromlayout:v1@\(manifest)"), "\(ok)")
        let otherKey = try verify("k2", "fromlayout")
        #expect(otherKey.status == 1 && otherKey.stderr.contains("not made by this key"), "\(otherKey)")
        let otherRepo = try verify("k1", "elsewhere")
        #expect(otherRepo.status == 1 && otherRepo.stderr.contains("not \(reg.host)/elsewhere"), "\(otherRepo)")

        // `image sign` appends a second signature (k2) in the layout; both travel with the copy.
        try Harness.ok([
            Harness.ociforge, "image", "sign", "oci-layout:\(out):v1", "--key", dir.path + "/k2.key", "--identity",
            "\(reg.host)/fromlayout:v1"
        ])
        #expect(try verify("k2", "fromlayout").status == 0)
        try Harness.ok([
            Harness.ociforge, "image", "copy", "--with-referrers", "oci-layout:\(out):v1",
            "docker://\(reg.host)/fromlayout:v1"
        ])
        try Harness.ok([
            Harness.ociforge, "image", "copy", "oci-layout:\(out):v1", "docker://\(reg.host)/nosig:v1"
        ])
        let registryVerify = try Harness.run([
            Harness.ociforge, "image", "verify", "\(reg.host)/fromlayout:v1", "--key", dir.path + "/k2.pub", "--json"
        ])
        #expect(registryVerify.status == 0 && registryVerify.stdout.contains(#""accepted":true"#), "\(registryVerify)")

        // And back: pull --with-referrers stores both signatures in a fresh layout, where they verify.
        try Harness.ok([
            Harness.ociforge, "image", "pull", "--with-referrers", "\(reg.host)/fromlayout:v1",
            "oci-layout:\(dir.path)/pulled:v1"
        ])
        for key in ["k1", "k2"] {
            let pulled = try Harness.run([
                Harness.ociforge, "image", "verify", "oci-layout:\(dir.path)/pulled:v1", "--key",
                dir.path + "/\(key).pub", "--signed-repository", "\(reg.host)/fromlayout"
            ])
            #expect(pulled.status == 0, "\(key): \(pulled)")
        }

        let signed = try Self.podmanPull(dir.path, "\(reg.host)/fromlayout:v1")
        #expect(signed.status == 0, "\(signed)")
        let unsigned = try Self.podmanPull(dir.path, "\(reg.host)/nosig:v1")
        #expect(
            unsigned.status != 0 && unsigned.stderr.contains("A signature was required, but no signature exists"),
            "\(unsigned)")
    }

    @Test(
        "two-platform build pushed with --sign-key: the index and each platform manifest are signed; podman 5 pulls --platform linux/arm64 under sigstoreSigned; the signatures travel registry -> layout -> registry",
        .enabled(
            if: SigstoreInteropTests.available && BuildAttestationTests.available,
            "needs root, buildah, podman, qemu-user-static and a Debian trixie rootfs"))
    func multiPlatformSignatures() throws {
        let dir = try TempDir.make("sigstore-multi")
        defer { dir.remove() }
        let reg = try LocalRegistry(dir: dir.path + "/reg")
        defer { reg.stop() }
        try Self.keys(dir.path)
        try Self.containersConfig(dir.path, host: reg.host, pub: dir.path + "/k1.pub")
        let app = try BuildEndToEndTests.app("planner/shell-script/app", in: dir)
        let ref = "\(reg.host)/multi:v1"
        let built = try BuildEndToEndTests.requireBuilt(
            app, cache: dir.path + "/cache", output: "docker://" + ref,
            extra: MultiPlatformBuildTests.both + [
                "--sign-key", dir.path + "/k1.key", "--sign-passphrase-file", dir.path + "/pass"
            ])
        let raw = try Harness.ok(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + ref])
        let index = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        let instances = (index["manifests"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
        #expect(instances.count == 2 && built.manifest.hasPrefix("sha256:"))
        func verify(_ image: String, repo: String? = nil) throws -> ProcessOutput {
            try Harness.run(
                [Harness.ociforge, "image", "verify", image, "--key", dir.path + "/k1.pub"]
                    + (repo.map { ["--signed-repository", $0] } ?? []))
        }
        for d in [built.manifest] + instances {
            let v = try verify("\(reg.host)/multi@\(d)")
            #expect(v.status == 0 && v.stdout.contains("verified: \(ref)@\(d)"), "\(d): \(v)")
        }
        // Each platform manifest has its own SPDX SBOM (its own dpkg status: that architecture's packages) and
        // provenance as referrers; `image referrers` on the index lists them per platform.
        let attached = BuildAttestationTests.attestations(built.report)
        #expect(attached.count == 4, "\(attached)")
        let listed = try Self.platformReferrers(ref)
        #expect(listed.map(\.platform) == ["amd64", "arm64"] && listed.map(\.digest) == instances, "\(listed)")
        for p in listed {
            #expect(p.types == ["application/spdx+json", "application/vnd.in-toto+json"], "\(p)")
            let sbom = String(
                decoding: try BuildAttestationTests.registryArtifact(reg.host, "multi", p.sbom), as: UTF8.self)
            #expect(sbom.contains("arch=\(p.platform)") && sbom.contains("\"name\":\"bash\""), "\(p.platform)")
            try BuildAttestationTests.validateSPDX(Data(sbom.utf8), in: dir.path)
            let other = p.platform == "amd64" ? "arm64" : "amd64"
            #expect(!sbom.contains("arch=\(other)"), "\(p.platform) SBOM lists no \(other) package")
        }
        #expect(Set(listed.map(\.sbom) + listed.map(\.provenance)) == Set(attached.map(\.digest)))

        // Deterministic: two more builds into layouts (fresh layer caches) give the same attestation digests.
        let again = try (1...2).map { n in
            BuildAttestationTests.attestations(
                try BuildEndToEndTests.requireBuilt(
                    app, cache: dir.path + "/cache\(n)", output: dir.path + "/det\(n):v1",
                    extra: MultiPlatformBuildTests.both
                ).report
            ).map(\.digest)
        }
        #expect(again[0].count == 4 && again[0] == again[1], "\(again)")

        let arm = try Self.podmanPull(dir.path, ref, platform: ["--platform", "linux/arm64"])
        #expect(arm.status == 0, "\(arm)")

        // What podman 5.4 checks when it pulls one platform from an index: the instance's signatures (an index
        // signed alone was refused when measured: "A signature was required, but no signature exists"). So
        // `image sign` of an index signs each platform manifest too, and podman accepts what it signed.
        try Harness.ok([
            Harness.ociforge, "image", "copy", "--all-platforms", "docker://" + ref, "docker://\(reg.host)/indexonly:v1"
        ])
        let unsigned = try Self.podmanPull(
            dir.path, "\(reg.host)/indexonly:v1", platform: ["--platform", "linux/arm64"])
        #expect(
            unsigned.status != 0 && unsigned.stderr.contains("A signature was required, but no signature exists"),
            "\(unsigned)")
        let signIndex = try Harness.run([
            Harness.ociforge, "image", "sign", "\(reg.host)/indexonly:v1", "--key", dir.path + "/k1.key",
            "--passphrase-file", dir.path + "/pass"
        ])
        #expect(signIndex.status == 0 && signIndex.stdout == built.manifest + "\n", "\(signIndex)")
        for d in instances {
            #expect(signIndex.stderr.contains("indexonly:v1@\(d) (platform manifest of the index)"), "\(signIndex)")
        }
        let indexOnly = try Self.podmanPull(
            dir.path, "\(reg.host)/indexonly:v1", platform: ["--platform", "linux/arm64"])
        #expect(indexOnly.status == 0, "image sign of an index: podman accepts the arm64 pull: \(indexOnly)")
        // And the instance signed alone (index unsigned).
        let armDigest = try #require(
            (index["manifests"] as? [[String: Any]] ?? []).first {
                ($0["platform"] as? [String: Any])?["architecture"] as? String == "arm64"
            }?["digest"] as? String)
        try Harness.ok([
            Harness.ociforge, "image", "copy", "--all-platforms", "docker://" + ref, "docker://\(reg.host)/armonly:v1"
        ])
        try Harness.ok([
            Harness.ociforge, "image", "sign", "\(reg.host)/armonly@\(armDigest)", "--key", dir.path + "/k1.key",
            "--passphrase-file", dir.path + "/pass"
        ])
        let armOnly = try Self.podmanPull(dir.path, "\(reg.host)/armonly:v1", platform: ["--platform", "linux/arm64"])
        #expect(armOnly.status == 0, "podman 5.4 checks only the instance it pulls: \(armOnly)")

        // registry -> layout -> registry with --with-referrers keeps every signature.
        let lay = "oci-layout:\(dir.path)/lay:v1"
        try Harness.ok([Harness.ociforge, "image", "pull", "--with-referrers", "--all-platforms", ref, lay])
        for d in instances {
            #expect(FileManager.default.fileExists(atPath: dir.path + "/lay/blobs/sha256/" + d.dropFirst(7)))
        }
        let layIndex = try String(contentsOfFile: dir.path + "/lay/index.json", encoding: .utf8)
        for d in [built.manifest] + instances {
            #expect(layIndex.contains("sha256-\(d.dropFirst(7)).sig"), "\(d)")
        }
        #expect(try Self.platformReferrers(lay).map(\.types) == listed.map(\.types), "pulled with the referrers")
        try Harness.ok([
            Harness.ociforge, "image", "copy", "--all-platforms", "--with-referrers", lay,
            "docker://\(reg.host)/again:v1"
        ])
        #expect(
            try Self.platformReferrers("\(reg.host)/again:v1").map(\.sbom) == listed.map(\.sbom),
            "copied back with the referrers")
        // The signatures name the repository signed (multi); podman's matchRepository policy then needs that name:
        // checked by ociforge with --signed-repository for every manifest.
        for d in [built.manifest] + instances {
            #expect(try verify("\(reg.host)/again@\(d)", repo: "\(reg.host)/multi").status == 0, "\(d)")
        }
    }
}
