import ArgumentParser
import Foundation
import OCIWriter

/// Runs async work from a synchronous command (the root command is synchronous). The calling (main) thread
/// waits; the work runs on the concurrency runtime's threads.
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
    init() {}
}

func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// Credentials and transport options shared by the registry commands.
struct RegistryFlags: ParsableArguments {
    @Option(name: [.customShort("u"), .long], help: "Registry username (default: $REGISTRY_USERNAME, then stored credentials).")
    var username: String?

    @Option(help: .hidden)
    var password: String?

    @Flag(help: "Read the password from standard input (default: $REGISTRY_PASSWORD, then stored credentials).")
    var passwordStdin = false

    @Option(name: .customLong("insecure-registry"), help: "host[:port] that may be reached over plain HTTP (repeatable; loopback hosts always may).")
    var insecureRegistries: [String] = []

    @Option(help: "Concurrent blob uploads.")
    var parallel = 4

    @Option(help: "Concurrent blob downloads (each one thread and a 512 KiB buffer; more can help with distant registries).")
    var parallelDownloads = 2

    @Option(help: "Attempts per request for 408/429/5xx and dropped connections.")
    var retries = 5

    @Option(help: "Seconds without progress before a request is abandoned.")
    var timeout: Double = 60

    @Option(help: "Blobs up to this many MiB are uploaded in one streamed PUT; larger ones in chunks.")
    var monolithicLimitMib = 128

    @Option(help: "Chunk size in MiB for chunked uploads (each chunk is held in memory while sent).")
    var chunkMib = 8

    func validate() throws {
        if password != nil && passwordStdin { throw ValidationError("use either --password or --password-stdin, not both") }
        if parallel < 1 || parallel > 32 { throw ValidationError("--parallel must be between 1 and 32") }
        if parallelDownloads < 1 || parallelDownloads > 32 { throw ValidationError("--parallel-downloads must be between 1 and 32") }
        if retries < 1 { throw ValidationError("--retries must be at least 1") }
        if chunkMib < 1 || chunkMib > 256 { throw ValidationError("--chunk-mib must be between 1 and 256") }
        if monolithicLimitMib < 0 { throw ValidationError("--monolithic-limit-mib must not be negative") }
    }

    var options: RegistryOptions {
        var o = RegistryOptions()
        o.insecureRegistries = Set(insecureRegistries.map { $0.lowercased() })
        o.parallelism = parallel
        o.downloadParallelism = parallelDownloads
        o.maxAttempts = retries
        o.timeout = timeout
        o.monolithicUploadLimit = Int64(monolithicLimitMib) << 20
        o.chunkSize = chunkMib << 20
        return o
    }

    /// Flags, then REGISTRY_USERNAME/REGISTRY_PASSWORD, then auth.json / docker config.json.
    func credential(for registry: String, stdinPassword: inout String?) throws -> RegistryCredential? {
        // Empty variables count as unset.
        let env = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        var pw = password
        if passwordStdin {
            if stdinPassword == nil {
                let data = FileHandle.standardInput.readDataToEndOfFile()
                stdinPassword = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            pw = stdinPassword
        }
        if let user = username ?? env["REGISTRY_USERNAME"] {
            guard let p = pw ?? env["REGISTRY_PASSWORD"] else {
                throw ValidationError("a username was given for \(registry) but no password: use --password-stdin or REGISTRY_PASSWORD")
            }
            return RegistryCredential(username: user, password: p)
        }
        return try CredentialStore().lookup(registry: registry)
    }
}

/// Moves images between OCI layouts, registries and docker-archive files.
enum ImageTransport {
    static func client(_ registry: String, _ flags: RegistryFlags, _ stdin: inout String?) throws -> RegistryClient {
        try seeded(RegistryClient(registry: registry, credential: try flags.credential(for: registry, stdinPassword: &stdin), options: flags.options))
    }

    /// Gives the client the blob locations remembered from earlier runs (cross-repository mount candidates).
    static func seeded(_ c: RegistryClient) throws -> RegistryClient {
        let known = BlobLocationCache().load(registry: c.registry)
        try runBlocking { await c.rememberLocations(known) }
        return c
    }

    /// Remembers where this client saw or put blobs.
    static func persist(_ c: RegistryClient) throws {
        let locations = try runBlocking { await c.knownBlobLocations() }
        BlobLocationCache().merge(registry: c.registry, locations: locations)
    }

    /// Writes every tagged image of the layout `src` into the docker-archive `dst`, or imports every image of the
    /// docker-archive `src` into the layout `dst`; returns (digest, name) pairs.
    static func copyAllTags(_ src: ImageLocation, _ dst: ImageLocation, platform: Platform?) throws -> [(Digest, String)] {
        if case .dockerArchive(let archive, let selector) = src, case .ociLayout(let path, let tag) = dst {
            guard selector == nil, tag == nil else {
                throw ValidationError("--all-tags imports every image of docker-archive:<file> (no name or @index) into oci-layout:<dir> (no tag): the archive's names become the tags")
            }
            let images = try DockerArchive.readAll(archive, into: try openOrCreate(path))
            return images.flatMap { i in i.names.isEmpty ? [(i.descriptor.digest, "(untagged)")] : i.names.map { (i.descriptor.digest, $0) } }
        }
        guard case .ociLayout(let path, nil) = src, case .dockerArchive(let out, let repository) = dst else {
            throw ValidationError("--all-tags copies every tag of oci-layout:<dir> (without a tag) into docker-archive:<file>[:<repository>], or every image of docker-archive:<file> into oci-layout:<dir>")
        }
        if let repository, repository.contains("@") || (repository.split(separator: "/").last ?? "").contains(":") {
            throw ValidationError("with --all-tags, docker-archive:<file>:<repository> names the repository only (the layout's tags become the tags): '\(repository)' has a tag or digest")
        }
        let images = try DockerArchive.writeAllTags(from: try OCILayout.open(at: path), platform: platform, to: out,
                                                    repository: repository)
        return images.map { ($0.image.manifestDescriptor.digest, DockerArchive.normalisedRepoTag($0.repoTags[0])) }
    }

    /// Copies `src` to `dst`; returns the digest of the top-level manifest or index written.
    ///
    /// `allPlatforms`: a registry index is copied whole (every child manifest and blob, the index bytes unchanged)
    /// instead of resolving it to `platform`.
    static func copy(_ src: ImageLocation, _ dst: ImageLocation, flags: RegistryFlags, platform: Platform?,
                     allPlatforms: Bool = false) throws -> Digest {
        var stdin: String?
        if allPlatforms, case .dockerArchive = dst {
            throw ValidationError("a docker-archive holds one image per name, not an index: choose one platform with --platform instead of --all-platforms")
        }
        func pull(_ c: RegistryClient, _ ref: ImageReference, into layout: OCILayout, tag: String) throws -> Descriptor {
            try runBlocking {
                allPlatforms ? try await c.pullAll(ref, into: layout, tag: tag) : try await c.pull(ref, into: layout, tag: tag, platform: platform)
            }
        }
        switch (src, dst) {
        case (.registry(let ref), .ociLayout(let path, let tag)):
            let layout = try openOrCreate(path)
            let c = try client(ref.registry, flags, &stdin)
            let d = try pull(c, ref, into: layout, tag: tag ?? ref.tag ?? "latest")
            try persist(c)
            try report(c, verb: "pulled")
            return d.digest
        case (.ociLayout(let path, let tag), .registry(let ref)):
            let layout = try OCILayout.open(at: path)
            let c = try client(ref.registry, flags, &stdin)
            // A layout's index goes whole unless one platform is asked for.
            let d = try runBlocking { try await c.push(from: layout, tag: tag, platform: allPlatforms ? nil : platform, to: ref) }
            try persist(c)
            try report(c, verb: "pushed")
            return d.digest
        case (.registry(let from), .registry(let to)):
            return try withTemporaryLayout { layout in
                let a = try client(from.registry, flags, &stdin)
                let b = from.registry == to.registry ? a : try client(to.registry, flags, &stdin)
                var opts = b.options
                if from.registry == to.registry && from.repository != to.repository { opts.mountFrom = [from.repository] }
                let pusher = from.registry == to.registry && from.repository != to.repository
                    ? try seeded(RegistryClient(registry: to.registry, credential: try flags.credential(for: to.registry, stdinPassword: &stdin), options: opts))
                    : b
                _ = try pull(a, from, into: layout, tag: "copy")
                try persist(a)
                let d = try runBlocking { try await pusher.push(from: layout, tag: "copy", to: to) }
                try persist(pusher)
                try report(pusher, verb: "pushed")
                return d.digest
            }
        case (.ociLayout(let sp, let st), .ociLayout(let dp, let dt)):
            let source = try OCILayout.open(at: sp)
            let target = try openOrCreate(dp)
            let root = try source.rootDescriptor(tag: st)
            try copyTree(root, from: source, to: target)
            guard let t = dt ?? st else {
                try target.addToIndex(root)
                return root.digest
            }
            try target.tag(root, as: t)
            return root.digest
        case (.dockerArchive(let path, let reference), _):
            return try withTemporaryLayout { layout in
                try DockerArchive.read(path, reference: reference, into: layout, tag: "archive")
                return try copy(.ociLayout(path: layout.path, tag: "archive"), dst, flags: flags, platform: platform)
            }
        case (.ociLayout(let path, let tag), .dockerArchive(let out, let reference)):
            let layout = try OCILayout.open(at: path)
            try DockerArchive.write(from: layout, tag: tag, platform: platform, to: out, repoTag: reference)
            return try layout.resolve(tag: tag, platform: platform).manifestDescriptor.digest
        case (.registry(let ref), .dockerArchive):
            return try withTemporaryLayout { layout in
                let c = try client(ref.registry, flags, &stdin)
                _ = try pull(c, ref, into: layout, tag: "copy")
                var target = dst
                if case .dockerArchive(let p, nil) = dst { target = .dockerArchive(path: p, reference: "\(ref.registry)/\(ref.repository):\(ref.tag ?? "latest")") }
                return try copy(.ociLayout(path: layout.path, tag: "copy"), target, flags: flags, platform: platform)
            }
        }
    }

    static func openOrCreate(_ path: String) throws -> OCILayout {
        OCILayout.isLayout(path) ? try OCILayout.open(at: path) : try OCILayout.create(at: path)
    }

    static func withTemporaryLayout<T>(_ body: (OCILayout) throws -> T) throws -> T {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let dir = base + "/ociforge-copy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try body(try OCILayout.create(at: dir))
    }

    static func copyTree(_ d: Descriptor, from source: OCILayout, to target: OCILayout) throws {
        if d.mediaType.isIndex {
            let index = try source.readDocument(ImageIndex.self, d).value
            for child in index.manifests where child.mediaType.isIndex || child.mediaType.isManifest {
                try copyTree(child, from: source, to: target)
            }
        } else if d.mediaType.isManifest {
            let m = try source.readDocument(Manifest.self, d).value
            for b in [m.config] + m.layers { try target.copyBlob(b, from: source) }
        }
        try target.copyBlob(d, from: source)
    }

    static func report(_ c: RegistryClient, verb: String) throws {
        let s = c.stats
        let line = try runBlocking {
            let up = await s.blobBytesUploaded, down = await s.blobBytesDownloaded
            return "\(verb): \(await s.blobsUploaded) blob(s) uploaded (\(up) bytes), \(await s.blobsDownloaded) downloaded (\(down) bytes), \(await s.blobsSkipped) already present, \(await s.blobsMounted) mounted, \(await s.retries) retries"
        }
        printError(line)
    }

    static func location(_ s: String, defaultTransport: String) throws -> ImageLocation {
        if s.hasPrefix("docker://") || s.hasPrefix("oci-layout:") || s.hasPrefix("oci:") || s.hasPrefix("docker-archive:") {
            return try ImageLocation(parsing: s)
        }
        return try ImageLocation(parsing: defaultTransport + s)
    }
}

struct ImagePull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image from a registry into an OCI layout.",
        discussion: "Every blob is verified against its digest and size while it streams to a temporary file; nothing partial is left in the layout. Prints the pulled manifest's digest.")

    @Argument(help: "[docker://]host[:port]/repository[:tag][@sha256:…] (Docker Hub when no host).")
    var reference: String

    @Argument(help: "oci-layout:<path>[:tag] (created when missing; tag defaults to the reference's).")
    var layout: String

    @OptionGroup var platforms: PlatformChoice

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let src = try ImageTransport.location(reference, defaultTransport: "docker://")
            guard case .registry = src else { throw ValidationError("the first argument of pull must be a registry reference") }
            let ref = try parseLayoutReference(layout, flag: "layout")
            let d = try ImageTransport.copy(src, .ociLayout(path: ref.path, tag: ref.tag), flags: flags,
                                            platform: try platforms.chosenPlatform(), allPlatforms: platforms.all)
            print(d)
        }
    }
}

/// `--platform os/arch[/variant]` or `--all-platforms` (also spelled `--platform all`).
struct PlatformChoice: ParsableArguments {
    @Option(help: "Platform to choose from an index, os/arch[/variant] (default: the host's); 'all' is --all-platforms.")
    var platform: String?

    @Flag(help: "Copy a whole index: every platform's manifest and blobs, the index itself unchanged (same digest).")
    var allPlatforms = false

    func validate() throws {
        if allPlatforms, let p = platform, p != "all" {
            throw ValidationError("use either --platform \(p) or --all-platforms, not both")
        }
    }

    var all: Bool { allPlatforms || platform == "all" }

    func chosenPlatform() throws -> Platform? {
        guard let p = platform, p != "all" else { return nil }
        return try Platform(parsing: p)
    }
}

struct ImagePush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push an image (a manifest, or an index with all its manifests) from an OCI layout to a registry.",
        discussion: "Blobs the registry has are skipped, blobs of other repositories are mounted, the rest stream from disk (chunked for large blobs), 4 at a time. Prints the pushed digest.")

    @Argument(help: "oci-layout:<path>[:tag]")
    var layout: String

    @Argument(help: "[docker://]host[:port]/repository[:tag]")
    var reference: String

    @Option(name: .customLong("mount-from"), help: "Repository of the same registry to mount existing blobs from (repeatable).")
    var mountFrom: [String] = []

    @Option(help: "Push only this platform's manifest (os/arch[/variant]) of an index (default: the whole index, every platform).")
    var platform: String?

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let lref = try parseLayoutReference(layout, flag: "layout")
            let dst = try ImageTransport.location(reference, defaultTransport: "docker://")
            guard case .registry(let ref) = dst else { throw ValidationError("the second argument of push must be a registry reference") }
            var stdin: String?
            var opts = flags.options
            opts.mountFrom = mountFrom
            let c = try ImageTransport.seeded(RegistryClient(registry: ref.registry, credential: try flags.credential(for: ref.registry, stdinPassword: &stdin), options: opts))
            let layoutStore = try OCILayout.open(at: lref.path)
            let only = try platform.map { try Platform(parsing: $0) }
            let d = try runBlocking { try await c.push(from: layoutStore, tag: lref.tag, platform: only, to: ref) }
            try ImageTransport.persist(c)
            try ImageTransport.report(c, verb: "pushed")
            print(d.digest)
        }
    }
}

struct ImageCopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy an image between transports: oci-layout:<dir>[:tag], docker://<reference>, docker-archive:<file>[:name].",
        discussion: "Any source to any destination. A docker-archive is what `docker load` / `podman load` read; as a source, docker-archive:<file>:<name> or :@<index> picks one image of an archive holding several. Prints the digest of what was written (with --all-tags: one '<digest> <name>' line per image).")

    @Argument(help: "Source location.")
    var source: String

    @Argument(help: "Destination location.")
    var destination: String

    @OptionGroup var platforms: PlatformChoice

    @Flag(help: "Write every tagged image of the source layout (oci-layout:<dir>) into one docker-archive:<file>[:<repository>]; each tag T becomes the name <repository>:T (without a repository the tags must be names like app:1). From docker-archive:<file> to oci-layout:<dir>: import every image, tagged with its names.")
    var allTags = false

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let src = try ImageLocation(parsing: source)
            let dst = try ImageLocation(parsing: destination)
            if allTags {
                if platforms.all { throw ValidationError("--all-tags writes a docker-archive, which cannot hold an index: use --platform") }
                for (digest, name) in try ImageTransport.copyAllTags(src, dst, platform: try platforms.chosenPlatform()) {
                    print("\(digest) \(name)")
                }
                return
            }
            let d = try ImageTransport.copy(src, dst, flags: flags, platform: try platforms.chosenPlatform(), allPlatforms: platforms.all)
            print(d)
        }
    }
}

struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check credentials against a registry and store them.",
        discussion: "Stored in $REGISTRY_AUTH_FILE when set, else in docker's config.json ($DOCKER_CONFIG or ~/.docker), mode 0600.")

    @Argument(help: "Registry host[:port] (docker.io for Docker Hub).")
    var registry: String

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let reg = try ImageReference(parsing: registry + "/x").registry
            var stdin: String?
            guard let user = flags.username ?? ProcessInfo.processInfo.environment["REGISTRY_USERNAME"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                throw ValidationError("login needs --username (or REGISTRY_USERNAME) and --password-stdin (or REGISTRY_PASSWORD)")
            }
            guard let cred = try flags.credential(for: reg, stdinPassword: &stdin), cred.username == user else {
                throw ValidationError("no password given for \(user)")
            }
            let c = try RegistryClient(registry: reg, credential: cred, options: flags.options)
            try runBlocking { try await c.ping() }
            try CredentialStore().save(cred, registry: reg)
            printError("Login succeeded for \(user) at \(reg) (stored in \(CredentialStore().writePath))")
        }
    }
}

struct LogoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Remove stored credentials for a registry.")

    @Argument(help: "Registry host[:port].")
    var registry: String

    func run() throws {
        try reportingErrors {
            let reg = try ImageReference(parsing: registry + "/x").registry
            if try CredentialStore().remove(registry: reg) {
                printError("Removed credentials for \(reg) from \(CredentialStore().writePath)")
            } else {
                printError("No stored credentials for \(reg) in \(CredentialStore().writePath)")
            }
        }
    }
}
