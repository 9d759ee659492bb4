import Foundation
import Testing

/// `ociforge login/logout` and `image push/pull/copy` end to end against Debian's docker-registry with htpasswd
/// auth, cross-checked by skopeo and `ociforge image verify`.
@Suite(.timeLimit(.minutes(10)))
struct RegistryCLITests {
    static func skopeoDigest(_ args: [String]) throws -> String {
        let out = try Harness.ok(["skopeo", "inspect"] + args)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        return try #require(obj["Digest"] as? String)
    }

    @Test func loginPushPullCopyLogout() throws {
        let tmp = try TempDir.make("registry-cli")
        defer { tmp.remove() }
        let reg = try LocalRegistry(dir: tmp.path + "/registry", user: "alice", password: "s3cret pw")
        defer { reg.stop() }
        let host = "127.0.0.1:\(reg.port)"
        let env = [
            "HOME": tmp.path, "DOCKER_CONFIG": tmp.path + "/docker", "XDG_RUNTIME_DIR": tmp.path + "/run",
            "REGISTRY_AUTH_FILE": "", "REGISTRY_USERNAME": "", "REGISTRY_PASSWORD": ""
        ]
        func ociforge(_ args: [String], stdin: String? = nil) throws -> ProcessOutput {
            try Harness.run([Harness.ociforge] + args, environment: env, stdin: stdin)
        }
        let layout = tmp.path + "/layout"
        let digest = try AssembleInteropTests.assembleDemo(layout)

        // No credentials: a clear refusal.
        let anon = try ociforge(["image", "push", "oci-layout:\(layout):latest", "\(host)/cli/app:v1"])
        #expect(anon.status == 1)
        #expect(anon.stderr.contains("requires a username and password"), "\(anon.stderr)")

        // Wrong password: refused, the password never printed, nothing stored.
        let bad = try ociforge(["login", host, "-u", "alice", "--password-stdin"], stdin: "wrong-pw-xyz\n")
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("rejected the username or password of 'alice'"), "\(bad.stderr)")
        #expect(!bad.stderr.contains("wrong-pw-xyz"))
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/docker/config.json"))

        let good = try ociforge(["login", host, "-u", "alice", "--password-stdin"], stdin: "s3cret pw\n")
        #expect(good.status == 0, "\(good.stderr)")
        let config = try String(contentsOfFile: tmp.path + "/docker/config.json", encoding: .utf8)
        #expect(config.contains(host))

        // Push with stored credentials; skopeo sees the same digest.
        let pushed = try ociforge(["image", "push", "oci-layout:\(layout):latest", "docker://\(host)/cli/app:v1"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == digest)
        #expect(
            try Self.skopeoDigest(["--tls-verify=false", "--creds", "alice:s3cret pw", "docker://\(host)/cli/app:v1"])
                == digest)

        // A later run pushing the same layout to another repository mounts every blob (remembered locations).
        let second = try ociforge(["image", "push", "oci-layout:\(layout):latest", "\(host)/cli/second:v1"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(
            second.stderr.contains("pushed: 0 blob(s) uploaded (0 bytes)") && !second.stderr.contains(" 0 mounted"),
            "\(second.stderr)")

        // skopeo pushes, ociforge pulls, `image verify` passes.
        try Harness.ok([
            "skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret pw",
            "oci:\(layout):latest", "docker://\(host)/cli/fromskopeo:v2"
        ])
        let pulled = try ociforge(["image", "pull", "\(host)/cli/fromskopeo:v2", "oci-layout:\(tmp.path)/pulled"])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == digest)
        let verify = try ociforge(["image", "verify", "oci-layout:\(tmp.path)/pulled:v2"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

        // Registry → docker-archive → OCI layout, and registry → registry (mounted within the registry).
        let archive = tmp.path + "/app.tar"
        let toArchive = try ociforge([
            "image", "copy", "docker://\(host)/cli/app:v1", "docker-archive:\(archive):cli/app:v1"
        ])
        #expect(toArchive.status == 0, "\(toArchive.stderr)")
        let fromArchive = try ociforge([
            "image", "copy", "docker-archive:\(archive)", "oci-layout:\(tmp.path)/from-archive:a"
        ])
        #expect(fromArchive.status == 0, "\(fromArchive.stderr)")
        #expect(fromArchive.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == digest)
        #expect(try ociforge(["image", "verify", "oci-layout:\(tmp.path)/from-archive:a"]).status == 0)
        let r2r = try ociforge(["image", "copy", "docker://\(host)/cli/app:v1", "docker://\(host)/cli/copy:v3"])
        #expect(r2r.status == 0, "\(r2r.stderr)")
        #expect(r2r.stderr.contains("mounted") && !r2r.stderr.contains(" 0 mounted"), "\(r2r.stderr)")

        // Logout removes the entry; pushing fails again.
        #expect(try ociforge(["logout", host]).status == 0)
        #expect(!(try String(contentsOfFile: tmp.path + "/docker/config.json", encoding: .utf8)).contains(host))
        #expect(try ociforge(["image", "push", "oci-layout:\(layout):latest", "\(host)/cli/app:v4"]).status == 1)

        // Bad references are usage errors with the reason.
        let badRef = try ociforge(["image", "push", "oci-layout:\(layout):latest", "\(host)/Cli/App:v1"])
        #expect(badRef.status != 0)
        #expect(badRef.stderr.contains("invalid image reference"), "\(badRef.stderr)")
    }
}
