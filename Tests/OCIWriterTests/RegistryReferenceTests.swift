import Foundation
import Testing

@testable import OCIWriter

@Suite("Registry references and protocol details")
struct RegistryReferenceTests {
    @Test func dockerHubNormalisation() throws {
        let a = try ImageReference(parsing: "alpine")
        #expect(a.registry == "docker.io")
        #expect(a.repository == "library/alpine")
        #expect(a.tag == "latest")
        #expect(a.apiHost == "registry-1.docker.io")
        let b = try ImageReference(parsing: "docker.io/user/app:1.2")
        #expect(b.repository == "user/app")
        #expect(b.tag == "1.2")
        let c = try ImageReference(parsing: "index.docker.io/nginx")
        #expect(c.registry == "docker.io" && c.repository == "library/nginx")
    }

    @Test func hostsPortsTagsDigests() throws {
        let hex = String(repeating: "ab", count: 32)
        let r = try ImageReference(parsing: "127.0.0.1:5000/team/app:v1@sha256:\(hex)")
        #expect(r.registry == "127.0.0.1:5000")
        #expect(r.repository == "team/app")
        #expect(r.tag == "v1")
        #expect(r.digest?.hex == hex)
        #expect(r.reference == "sha256:\(hex)")
        let l = try ImageReference(parsing: "localhost/app")
        #expect(l.registry == "localhost" && l.repository == "app" && l.tag == "latest")
        let d = try ImageReference(parsing: "ghcr.io/o/r@sha256:\(hex)")
        #expect(d.tag == nil && d.digest != nil)
        #expect(d.description == "ghcr.io/o/r@sha256:\(hex)")
        let p = try ImageReference(parsing: "registry.example.com:443/a/b/c:x_y.z-1")
        #expect(p.repository == "a/b/c" && p.tag == "x_y.z-1")
    }

    @Test(arguments: [
        ("", "empty"),
        ("Upper/Case", "lowercase"),
        ("app/Name", "lowercase"),
        ("app/na$me", "contains '$'"),
        ("host:99999/app", "port"),
        ("app:-bad", "tag"),
        ("a//b", "must start and end"),
        ("app@sha256:123", "digest"),
        ("https://host/app", "scheme"),
        ("app:" + String(repeating: "t", count: 129), "tag"),
        ("a__-b", "separator")
    ])
    func invalidReferences(input: String, fragment: String) throws {
        let e = try #require(throws: OCIWriterError.self) { try ImageReference(parsing: input) }
        #expect(e.code == .invalidReference)
        #expect(e.message.contains(fragment), "\(e.message)")
    }

    @Test func transports() throws {
        #expect(try ImageLocation(parsing: "oci-layout:/tmp/x:v1") == .ociLayout(path: "/tmp/x", tag: "v1"))
        #expect(try ImageLocation(parsing: "oci-layout:./dir") == .ociLayout(path: "./dir", tag: nil))
        #expect(try ImageLocation(parsing: "oci:out") == .ociLayout(path: "out", tag: nil))
        #expect(
            try ImageLocation(parsing: "docker://127.0.0.1:5000/a:b")
                == .registry(try ImageReference(parsing: "127.0.0.1:5000/a:b")))
        #expect(
            try ImageLocation(parsing: "docker-archive:/tmp/a.tar")
                == .dockerArchive(path: "/tmp/a.tar", reference: nil))
        #expect(
            try ImageLocation(parsing: "docker-archive:/tmp/a.tar:app:1")
                == .dockerArchive(path: "/tmp/a.tar", reference: "app:1"))
        let e = try #require(throws: OCIWriterError.self) { try ImageLocation(parsing: "ftp://x") }
        #expect(e.message.contains("oci-layout:"))
    }

    @Test func challengeParsing() throws {
        let c = try #require(
            AuthChallenge(
                header:
                    #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push",error="insufficient_scope""#
            ))
        #expect(c.scheme == "bearer")
        #expect(c.params["realm"] == "https://auth.example.com/token")
        #expect(c.params["scope"] == "repository:a/b:pull,push")
        #expect(c.params["error"] == "insufficient_scope")
        let b = try #require(AuthChallenge(header: "Basic realm=\"x\""))
        #expect(b.scheme == "basic" && b.params["realm"] == "x")
    }

    @Test func locationResolution() throws {
        let req = URL(string: "http://127.0.0.1:5000/v2/a/blobs/uploads/")!
        let rel = try #require(RegistryClient.resolveLocation("/v2/a/blobs/uploads/u1?_state=abc", against: req))
        #expect(rel.absoluteString == "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=abc")
        let abs = try #require(RegistryClient.resolveLocation("https://other.example/up/1?sig=x%2By", against: req))
        #expect(abs.absoluteString == "https://other.example/up/1?sig=x%2By")
        let d = try Digest("sha256:" + String(repeating: "0", count: 64))
        let withDigest = RegistryClient.adding("digest", d.string, to: rel)
        #expect(withDigest.query?.contains("_state=abc") == true)
        #expect(withDigest.query?.contains("digest=sha256:") == true)
        #expect(RegistryClient.rangeEnd("0-1023") == 1023)
        #expect(RegistryClient.rangeEnd("bytes=0-9") == 9)
        #expect(RegistryClient.rangeEnd("junk") == nil)
    }

    @Test func loopbackAndInsecure() throws {
        #expect(RegistryClient.isLoopback("127.0.0.1:5000"))
        #expect(RegistryClient.isLoopback("localhost"))
        #expect(RegistryClient.isLoopback("[::1]:5000"))
        #expect(!RegistryClient.isLoopback("registry.example.com:5000"))
        #expect(try RegistryClient(registry: "127.0.0.1:5000", credential: nil).baseURL.scheme == "http")
        #expect(try RegistryClient(registry: "example.com", credential: nil).baseURL.scheme == "https")
        var o = RegistryOptions()
        o.insecureRegistries = ["example.com:5000"]
        #expect(try RegistryClient(registry: "example.com:5000", credential: nil, options: o).baseURL.scheme == "http")
        #expect(
            try RegistryClient(registry: "docker.io", credential: nil).baseURL.absoluteString
                == "https://registry-1.docker.io")
    }

    @Test func redirectOriginPolicy() {
        let a = URL(string: "http://127.0.0.1:5000/v2/x")!
        #expect(RedirectPolicy.sameOrigin(a, URL(string: "http://127.0.0.1:5000/other")!))
        #expect(!RedirectPolicy.sameOrigin(a, URL(string: "http://127.0.0.1:5001/other")!))
        #expect(!RedirectPolicy.sameOrigin(a, URL(string: "http://localhost:5000/other")!))
        #expect(!RedirectPolicy.sameOrigin(a, URL(string: "https://127.0.0.1:5000/other")!))
    }

    @Test func debugTraceRedactsQueries() {
        let u = URL(string: "https://user:pw@bucket.example/blob?X-Amz-Signature=secret&x=1")!
        let r = CurlTransport.redacted(u)
        #expect(!r.contains("secret") && !r.contains("pw"))
        #expect(r.hasPrefix("https://bucket.example/blob?"))
    }

    @Test func credentialNeverPrinted() {
        let c = RegistryCredential(username: "u", password: "s3cret-value")
        #expect(!"\(c)".contains("s3cret"))
        #expect(!String(reflecting: c).contains("s3cret"))
    }
}

@Suite("Registry credentials")
struct RegistryCredentialTests {
    @Test func dockerConfigAuthsAndPriority() throws {
        let dir = try TempDir("ociforge-cred")
        defer { dir.remove() }
        let docker = try dir.sub("docker")
        let auth = Data("alice:pw1".utf8).base64EncodedString()
        try
            #"{"auths":{"https://index.docker.io/v1/":{"auth":"\#(auth)"},"127.0.0.1:5000":{"auth":"\#(Data("bob:pw2".utf8).base64EncodedString())"}}}"#
            .write(toFile: docker + "/config.json", atomically: true, encoding: .utf8)
        let env = ["HOME": dir.path, "DOCKER_CONFIG": docker, "PATH": "/usr/bin:/bin"]
        let store = CredentialStore(environment: env)
        #expect(try store.lookup(registry: "docker.io") == RegistryCredential(username: "alice", password: "pw1"))
        #expect(try store.lookup(registry: "127.0.0.1:5000") == RegistryCredential(username: "bob", password: "pw2"))
        #expect(try store.lookup(registry: "other:1") == nil)

        // REGISTRY_AUTH_FILE wins over docker's config.
        let authFile = dir.path + "/auth.json"
        try #"{"auths":{"127.0.0.1:5000":{"auth":"\#(Data("carol:pw3".utf8).base64EncodedString())"}}}"#
            .write(toFile: authFile, atomically: true, encoding: .utf8)
        var env2 = env
        env2["REGISTRY_AUTH_FILE"] = authFile
        #expect(try CredentialStore(environment: env2).lookup(registry: "127.0.0.1:5000")?.username == "carol")
    }

    @Test func credentialHelpers() throws {
        let dir = try TempDir("ociforge-cred")
        defer { dir.remove() }
        let bin = try dir.sub("bin")
        let helper = bin + "/docker-credential-testhelper"
        try """
        #!/bin/sh
        read server
        if [ "$server" = "reg.example.com" ]; then
          printf '{"ServerURL":"%s","Username":"helperuser","Secret":"helpersecret"}' "$server"
        else
          echo "credentials not found in native keychain"; exit 1
        fi
        """.write(toFile: helper, atomically: true, encoding: .utf8)
        chmod(helper, 0o755)
        let docker = try dir.sub("docker")
        try #"{"credHelpers":{"reg.example.com":"testhelper"}}"#.write(
            toFile: docker + "/config.json", atomically: true, encoding: .utf8)
        let env = ["HOME": dir.path, "DOCKER_CONFIG": docker, "PATH": bin + ":/usr/bin:/bin"]
        #expect(
            try CredentialStore(environment: env).lookup(registry: "reg.example.com")
                == RegistryCredential(username: "helperuser", password: "helpersecret"))
        #expect(try CredentialStore(environment: env).lookup(registry: "other.example.com") == nil)

        try #"{"credsStore":"testhelper"}"#.write(toFile: docker + "/config.json", atomically: true, encoding: .utf8)
        #expect(try CredentialStore(environment: env).lookup(registry: "reg.example.com")?.username == "helperuser")
        #expect(try CredentialStore(environment: env).lookup(registry: "none.example.com") == nil)

        try #"{"credsStore":"missinghelper"}"#.write(toFile: docker + "/config.json", atomically: true, encoding: .utf8)
        let e = try #require(throws: OCIWriterError.self) {
            try CredentialStore(environment: env).lookup(registry: "x.example.com")
        }
        #expect(e.message.contains("docker-credential-missinghelper"))
    }

    @Test func blobLocationCacheMergesAndBounds() throws {
        let dir = try TempDir("ociforge-cache")
        defer { dir.remove() }
        let cache = BlobLocationCache(environment: ["XDG_CACHE_HOME": dir.path])
        #expect(cache.path == dir.path + "/ociforge/blob-locations.json")
        #expect(cache.load(registry: "r:1").isEmpty)
        let d1 = Digest.of([1]), d2 = Digest.of([2])
        cache.merge(registry: "r:1", locations: [d1: ["a/x"], d2: ["a/y"]])
        cache.merge(registry: "r:1", locations: [d1: ["b/x", "a/x"]])
        cache.merge(registry: "other:2", locations: [d1: ["z"]])
        let got = cache.load(registry: "r:1")
        #expect(got[d1] == ["a/x", "b/x"])
        #expect(got[d2] == ["a/y"])
        #expect(cache.load(registry: "other:2")[d1] == ["z"])
        try "garbage".write(toFile: cache.path, atomically: true, encoding: .utf8)
        #expect(cache.load(registry: "r:1").isEmpty)
    }

    @Test func saveAndRemoveKeepOtherEntries() throws {
        let dir = try TempDir("ociforge-cred")
        defer { dir.remove() }
        let docker = try dir.sub("docker")
        try #"{"auths":{"keep.example.com":{"auth":"\#(Data("k:v".utf8).base64EncodedString())"}},"psFormat":"x"}"#
            .write(toFile: docker + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: ["HOME": dir.path, "DOCKER_CONFIG": docker])
        try store.save(RegistryCredential(username: "me", password: "pw"), registry: "127.0.0.1:5000")
        #expect(try store.lookup(registry: "127.0.0.1:5000") == RegistryCredential(username: "me", password: "pw"))
        #expect(try store.lookup(registry: "keep.example.com")?.username == "k")
        let attrs = try FileManager.default.attributesOfItem(atPath: docker + "/config.json")
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect(try store.remove(registry: "127.0.0.1:5000"))
        #expect(try store.lookup(registry: "127.0.0.1:5000") == nil)
        #expect(try !store.remove(registry: "127.0.0.1:5000"))
        let text = try String(contentsOfFile: docker + "/config.json", encoding: .utf8)
        #expect(text.contains("psFormat"))
    }
}
