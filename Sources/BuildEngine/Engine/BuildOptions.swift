import Foundation
import OCIWriter
import Sandbox
import SupplyChain

/// How the engine builds and where the image goes.
public struct BuildOptions: Sendable {
    /// Where the image goes: an OCI layout (created when missing), a registry (`docker://`) or a docker-archive file.
    /// nil: `<app>/.ociforge/oci`. The tag defaults to the plan's (plan builds) or `latest` (Dockerfile builds).
    public var output: ImageLocation?
    /// The image reference reported (`name:tag`); nil: the plan's image reference, or `<layout>:<tag>`.
    public var reference: String?
    /// Secrets offered to every step as /run/secrets/<id> (and exported as `$ID` when a valid variable name);
    /// their ids, never their values, are part of the cache key.
    public var secrets: [Secret] = []
    public var network: NetworkMode = .host
    /// A PEM bundle of extra trusted CAs (e.g. a TLS-intercepting egress proxy's) for build phases and RUN steps:
    /// mounted like a secret (tmpfs, never in a layer) and named by PIP_CERT, REQUESTS_CA_BUNDLE, SSL_CERT_FILE,
    /// CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS, GIT_SSL_CAINFO, CARGO_HTTP_CAINFO.
    public var caBundle: String?
    /// Run every step even when a cached layer exists (the results still refresh the cache).
    public var noCache = false
    /// Plan builds: build the runtime stage's base, apt packages and account on a second thread while the build
    /// stage runs (they need nothing from it); false: one after the other. The image is the same either way.
    public var parallelStages = true
    /// Default: `<state>/build-cache`.
    public var cacheDirectory: String?
    /// Registry repositories the layer cache is shared through (`--cache-from` / `--cache-to`, docs/cache.md).
    public var registryCache = RegistryCacheOptions()
    /// Overrides the plan's build image (`debian:<suite>`, a rootfs directory or tarball). Plan builds only: a
    /// Dockerfile names its bases in FROM (refused there).
    public var base: String?
    /// Overrides the plan's runtime base. Plan builds only (refused for a Dockerfile).
    public var runtimeBase: String?
    /// Clamp file times and set `created` (from `SOURCE_DATE_EPOCH`).
    public var sourceDateEpoch: Int64?
    /// The platform of the image (nil: the host's). Another one runs its steps through the host's binfmt_misc
    /// handler (qemu user emulation); refused before any work when none is usable.
    public var platform: Platform?
    /// Two or more: one image per platform, written (and delivered) as one OCI index, platforms in a fixed order
    /// (`MultiPlatformBuild.order`); `platform` is ignored.
    public var platforms: [Platform] = []
    /// Cross-compile a foreign platform's build stage natively where the toolchain can (`CrossCompilation`: Go with
    /// CGO_ENABLED=0); false: emulate every step.
    public var crossCompile = true
    /// The one progress channel: steps started, cached, finished, layer bytes, phase output, messages.
    public var events: @Sendable (BuildEvent) -> Void = { _ in }
    /// How registry images are reached: bases (`FROM host/repo:tag`) and a `docker://` output.
    public var registryOptions = RegistryOptions()
    /// Upstream toolchain channels: mirrors (`--toolchain-mirror`), the `OCIFORGE_TOOLCHAINS_<KEY>_URL`
    /// environment and the host archive cache (plan builds only).
    public var toolchains = ToolchainOptions()
    /// Credentials for registry bases and the output (default: stored logins).
    public var credentials: CredentialLookup = ImageTransport.storedCredentials
    /// SBOMs and provenance attached to the image as referrers, and the key that signs a pushed image.
    public var attestations = AttestationOptions()

    public init(output: ImageLocation? = nil) {
        self.output = output
    }

    /// The registry cache of this build (set by `BuildEngine.image` when `registryCache` names a repository).
    var registryCacheSession: RegistryCache?
    /// Keys-only run (`BuildEngine.cacheKeys`): steps are recorded, nothing is produced.
    var keyPreview: CacheKeyPreview?

    /// Sends `event` to `events`.
    func emit(_ event: BuildEvent) { events(event) }
}
