import Foundation
import Testing

@testable import OCIWriter

/// Identity tokens (OAuth2 refresh tokens) and token lifetimes against docker-registry with the tests' token server.
@Suite("Registry OAuth2 identity tokens and token expiry against docker-registry")
struct RegistryOAuthTests {
    /// Credentials as `docker login` stores them for an OAuth2 registry: `auth` with the user and an `identitytoken`.
    static func credentialFromDockerConfig(host: String, user: String, identityToken: String, dir: TempDir) throws
        -> RegistryCredential
    {
        let cfgDir = try dir.sub("docker")
        let auth = Data("\(user):".utf8).base64EncodedString()
        try #"{"auths":{"\#(host)":{"auth":"\#(auth)","identitytoken":"\#(identityToken)"}}}"#
            .write(toFile: cfgDir + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: ["HOME": dir.path, "DOCKER_CONFIG": cfgDir])
        return try #require(try store.lookup(registry: host))
    }

    @Test func identityTokenPushPullWithOAuthPOST() async throws {
        let reg = try TestRegistry(
            auth: .token(
                users: ["alice": "alice-pw"], pushers: ["alice"],
                refreshTokens: ["rt-alice-initial": "alice"]))
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let cred = try Self.credentialFromDockerConfig(
            host: reg.host, user: "alice", identityToken: "rt-alice-initial", dir: dir)
        #expect(cred.identityToken == "rt-alice-initial" && cred.username == "alice")
        let client = try RegistryClient(registry: reg.host, credential: cred, options: RegistryRoundTripTests.options())
        _ = try await RegistryRoundTripTests.roundTrip(client, host: reg.host, repo: "oauth/app", dir: dir)

        // Every token came from the OAuth2 POST flow with our client_id; none from GET.
        let log = reg.tokenRequests
        #expect(!log.isEmpty)
        #expect(log.allSatisfy { $0 == "POST grant=refresh_token client=ociforge user=alice" }, "\(log)")

        // A refresh token the server does not know: a clear error that does not contain it.
        let bogus = RegistryCredential(username: "alice", password: "", identityToken: "rt-revoked-SECRET-42")
        let bad = try RegistryClient(registry: reg.host, credential: bogus, options: RegistryRoundTripTests.options())
        let e = try await #require(throws: OCIWriterError.self) {
            try await bad.fetchManifest(repository: "oauth/app", reference: "v1")
        }
        #expect(e.code == .authentication)
        #expect(
            e.message.contains(reg.host) && e.message.contains("identity token") && e.message.contains("invalid_grant")
                && e.message.contains("oauth/app"), "\(e.message)")
        #expect(!e.message.contains("rt-revoked-SECRET-42"))
    }

    @Test func tokenServerWithoutOAuthFallsBackToBasicGET() async throws {
        let reg = try TestRegistry(
            auth: .token(
                users: ["bob": "bob-pw"], pushers: ["bob"],
                refreshTokens: ["rt-bob": "bob"], oauth: false))
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let cred = try Self.credentialFromDockerConfig(host: reg.host, user: "bob", identityToken: "rt-bob", dir: dir)
        let client = try RegistryClient(registry: reg.host, credential: cred, options: RegistryRoundTripTests.options())
        _ = try await RegistryRoundTripTests.roundTrip(client, host: reg.host, repo: "fallback/app", dir: dir)
        let log = reg.tokenRequests
        // The first POST is refused with 405; from then on every token comes from GET with Basic bob:<identity token>.
        #expect(log.first == "POST unsupported", "\(log)")
        #expect(log.dropFirst().allSatisfy { $0 == "GET user=bob" } && log.count >= 3, "\(log)")
    }

    /// 2-second tokens: after sleeping past their lifetime the client fetches a new token before sending the
    /// request, instead of waiting for a 401. (docker-registry accepts expired tokens for a minute of leeway, so
    /// the counts below — not the registry — show that the refresh was proactive.)
    @Test(arguments: [false, true])
    func shortLivedTokensAreRefreshedBeforeUse(oauth: Bool) async throws {
        let reg = try TestRegistry(
            auth: .token(
                users: ["carol": "carol-pw"], pushers: ["carol"],
                refreshTokens: ["rt-carol": "carol"], expiresIn: 2))
        defer { reg.stop() }
        let dir = try TempDir()
        defer { dir.remove() }
        let cred =
            oauth
            ? RegistryCredential(username: "carol", password: "", identityToken: "rt-carol")
            : RegistryCredential(username: "carol", password: "carol-pw")
        let client = try RegistryClient(registry: reg.host, credential: cred, options: RegistryRoundTripTests.options())
        let src = try DirectoryImageStore(try dir.sub("src"))
        let image = try TestImages.make(in: src, tag: "v1", layerSizes: [4_000], seed: 3)
        let ref = try ImageReference(parsing: "\(reg.host)/short/app:v1")
        try await client.push(from: src, tag: "v1", to: ref)
        // A pull-scope token (tokens are cached per scope) while the push token is still fresh.
        #expect(try await client.fetchManifest(repository: "short/app", reference: "v1").digest == image.digest)
        let fetchesAfterPush = await client.auth.tokenFetches
        let challengesAfterPush = await client.auth.challenges
        #expect(fetchesAfterPush >= 2)

        try await Task.sleep(nanoseconds: 2_600_000_000)
        let m = try await client.fetchManifest(repository: "short/app", reference: "v1")
        #expect(m.digest == image.digest)
        #expect(await client.auth.tokenFetches == fetchesAfterPush + 1)
        #expect(await client.auth.challenges == challengesAfterPush, "a 401 was needed to notice the expiry")

        // And again: a pull after another expiry still works without new challenges.
        try await Task.sleep(nanoseconds: 2_600_000_000)
        let dst = try DirectoryImageStore(try dir.sub("dst"))
        #expect(try await client.pull(ref, into: dst).digest == image.digest)
        #expect(await client.auth.challenges == challengesAfterPush)
        let log = reg.tokenRequests
        #expect(log.allSatisfy { $0.hasPrefix(oauth ? "POST grant=refresh_token" : "GET user=carol") }, "\(log)")
    }
}
