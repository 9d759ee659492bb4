import ArgumentParser
import Foundation
import OCIWriter
import Synchronization

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
    @Option(
        name: [.customShort("u"), .long],
        help: "Registry username (default: $REGISTRY_USERNAME, then stored credentials).")
    var username: String?

    @Option(help: .hidden)
    var password: String?

    @Flag(help: "Read the password from standard input (default: $REGISTRY_PASSWORD, then stored credentials).")
    var passwordStdin = false

    @Option(
        name: .customLong("insecure-registry"),
        help: "host[:port] that may be reached over plain HTTP (repeatable; loopback hosts always may).")
    var insecureRegistries: [String] = []

    @Option(help: "Concurrent blob uploads.")
    var parallel = 4

    @Option(
        help: "Concurrent blob downloads (each one thread and a 512 KiB buffer; more can help with distant registries)."
    )
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
        if password != nil && passwordStdin {
            throw ValidationError("use either --password or --password-stdin, not both")
        }
        if parallel < 1 || parallel > 32 { throw ValidationError("--parallel must be between 1 and 32") }
        if parallelDownloads < 1 || parallelDownloads > 32 {
            throw ValidationError("--parallel-downloads must be between 1 and 32")
        }
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
                throw ValidationError(
                    "a username was given for \(registry) but no password: use --password-stdin or REGISTRY_PASSWORD")
            }
            return RegistryCredential(username: user, password: p)
        }
        return try CredentialStore().lookup(registry: registry)
    }
}

extension RegistryFlags {
    /// The library's transport with these flags' options and credentials; transfers are reported on stderr.
    var transport: ImageTransport {
        let flags = self
        let stdin = Mutex<String?>(nil)
        return ImageTransport(
            options: options,
            credentials: { registry in
                try stdin.withLock { memo in try flags.credential(for: registry, stdinPassword: &memo) }
            }, report: { printError($0) })
    }
}

/// `s` as a location; without a transport prefix, `defaultTransport` is assumed.
func imageLocation(_ s: String, defaultTransport: String) throws -> ImageLocation {
    if s.hasPrefix("docker://") || s.hasPrefix("oci-layout:") || s.hasPrefix("oci:") || s.hasPrefix("docker-archive:") {
        return try ImageLocation(parsing: s)
    }
    return try ImageLocation(parsing: defaultTransport + s)
}

struct ImagePull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image from a registry into an OCI layout.",
        discussion:
            "Every blob is verified against its digest and size while it streams to a temporary file; nothing partial is left in the layout. Prints the pulled manifest's digest."
    )

    @Argument(help: "[docker://]host[:port]/repository[:tag][@sha256:…] (Docker Hub when no host).")
    var reference: String

    @Argument(help: "oci-layout:<path>[:tag] (created when missing; tag defaults to the reference's).")
    var layout: String

    @OptionGroup var platforms: PlatformChoice

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let src = try imageLocation(reference, defaultTransport: "docker://")
            guard case .registry = src else {
                throw ValidationError("the first argument of pull must be a registry reference")
            }
            let ref = try parseLayoutReference(layout, flag: "layout")
            let transport = flags.transport, platform = try platforms.chosenPlatform(), all = platforms.all
            let d = try runBlocking {
                try await transport.copy(
                    src, .ociLayout(path: ref.path, tag: ref.tag), platform: platform, allPlatforms: all)
            }
            print(d)
        }
    }
}

/// `--platform os/arch[/variant]` or `--all-platforms` (also spelled `--platform all`).
struct PlatformChoice: ParsableArguments {
    @Option(
        help: "Platform to choose from an index, os/arch[/variant] (default: the host's); 'all' is --all-platforms.")
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
        discussion:
            "Blobs the registry has are skipped, blobs of other repositories are mounted, the rest stream from disk (chunked for large blobs), 4 at a time. Prints the pushed digest."
    )

    @Argument(help: "oci-layout:<path>[:tag]")
    var layout: String

    @Argument(help: "[docker://]host[:port]/repository[:tag]")
    var reference: String

    @Option(
        name: .customLong("mount-from"),
        help: "Repository of the same registry to mount existing blobs from (repeatable).")
    var mountFrom: [String] = []

    @Option(
        help:
            "Push only this platform's manifest (os/arch[/variant]) of an index (default: the whole index, every platform)."
    )
    var platform: String?

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let lref = try parseLayoutReference(layout, flag: "layout")
            let dst = try imageLocation(reference, defaultTransport: "docker://")
            guard case .registry(let ref) = dst else {
                throw ValidationError("the second argument of push must be a registry reference")
            }
            let layoutStore = try OCILayout.open(at: lref.path)
            let only = try platform.map { try Platform(parsing: $0) }
            let transport = flags.transport, mountFrom = mountFrom
            let d = try runBlocking {
                try await transport.push(
                    from: layoutStore, tag: lref.tag, platform: only, to: ref, mountFrom: mountFrom)
            }
            print(d)
        }
    }
}

struct ImageCopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract:
            "Copy an image between transports: oci-layout:<dir>[:tag], docker://<reference>, docker-archive:<file>[:name].",
        discussion:
            "Any source to any destination. A docker-archive is what `docker load` / `podman load` read; as a source, docker-archive:<file>:<name> or :@<index> picks one image of an archive holding several. Prints the digest of what was written (with --all-tags: one '<digest> <name>' line per image)."
    )

    @Argument(help: "Source location.")
    var source: String

    @Argument(help: "Destination location.")
    var destination: String

    @OptionGroup var platforms: PlatformChoice

    @Flag(
        help:
            "Write every tagged image of the source layout (oci-layout:<dir>) into one docker-archive:<file>[:<repository>]; each tag T becomes the name <repository>:T (without a repository the tags must be names like app:1). From docker-archive:<file> to oci-layout:<dir>: import every image, tagged with its names."
    )
    var allTags = false

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let src = try ImageLocation(parsing: source)
            let dst = try ImageLocation(parsing: destination)
            if allTags {
                if platforms.all {
                    throw ValidationError(
                        "--all-tags writes a docker-archive, which cannot hold an index: use --platform")
                }
                for (digest, name) in try ImageTransport.copyAllTags(src, dst, platform: try platforms.chosenPlatform())
                {
                    print("\(digest) \(name)")
                }
                return
            }
            let transport = flags.transport, platform = try platforms.chosenPlatform(), all = platforms.all
            let d = try runBlocking { try await transport.copy(src, dst, platform: platform, allPlatforms: all) }
            print(d)
        }
    }
}

struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check credentials against a registry and store them.",
        discussion:
            "Stored in $REGISTRY_AUTH_FILE when set, else in docker's config.json ($DOCKER_CONFIG or ~/.docker), mode 0600."
    )

    @Argument(help: "Registry host[:port] (docker.io for Docker Hub).")
    var registry: String

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        try reportingErrors {
            let reg = try ImageReference(parsing: registry + "/x").registry
            var stdin: String?
            guard
                let user = flags.username
                    ?? ProcessInfo.processInfo.environment["REGISTRY_USERNAME"].flatMap({ $0.isEmpty ? nil : $0 })
            else {
                throw ValidationError(
                    "login needs --username (or REGISTRY_USERNAME) and --password-stdin (or REGISTRY_PASSWORD)")
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
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "Remove stored credentials for a registry.")

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
