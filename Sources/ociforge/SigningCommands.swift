import ArgumentParser
import Foundation
import OCIWriter
import SupplyChain

/// `--passphrase-file` or `$OCIFORGE_KEY_PASSPHRASE` (cosign reads `$COSIGN_PASSWORD`; accepted too).
struct PassphraseFlags: ParsableArguments {
    @Option(
        name: .customLong("passphrase-file"),
        help: "File whose first line is the key passphrase (default: $OCIFORGE_KEY_PASSPHRASE, then $COSIGN_PASSWORD).")
    var passphraseFile: String?

    /// The passphrase, or nil when none was given.
    func passphrase() throws -> String? { try Self.passphrase(file: passphraseFile, flag: "--passphrase-file") }

    func required(for key: String) throws -> String {
        try Self.required(for: key, file: passphraseFile, flag: "--passphrase-file")
    }

    /// The first line of `file` (named by `flag`), else $OCIFORGE_KEY_PASSPHRASE, then $COSIGN_PASSWORD.
    static func passphrase(file: String?, flag: String) throws -> String? {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(flag) \(file): cannot read the file")
            }
            return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first
                .map(String.init) ?? ""
        }
        let env = ProcessInfo.processInfo.environment
        return env["OCIFORGE_KEY_PASSPHRASE"] ?? env["COSIGN_PASSWORD"]
    }

    static func required(for key: String, file: String?, flag: String) throws -> String {
        guard let p = try passphrase(file: file, flag: flag) else {
            throw ValidationError("\(key) is encrypted: give its passphrase with \(flag) or $OCIFORGE_KEY_PASSPHRASE")
        }
        return p
    }
}

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Manage signing keys.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate an ECDSA P-256 key pair for `image sign`.",
            discussion: """
                Writes <prefix>.key (private key, mode 0600) and <prefix>.pub (public key, PEM). With a passphrase the
                private key is encrypted in the sigstore format (scrypt + NaCl secretbox, PEM ENCRYPTED SIGSTORE PRIVATE
                KEY) that cosign, skopeo and podman read; without one it is a plain PKCS#8 PEM.
                """)

        @Option(name: .customLong("output-prefix"), help: "Path prefix of the two files.")
        var prefix: String = "ociforge"

        @OptionGroup var passphrase: PassphraseFlags

        @Flag(help: "Replace existing files.")
        var force = false

        func run() throws {
            try reportingErrors {
                let keyPath = prefix + ".key", pubPath = prefix + ".pub"
                for p in [keyPath, pubPath] where !force && FileManager.default.fileExists(atPath: p) {
                    throw ValidationError("\(p) exists: choose another --output-prefix or pass --force")
                }
                let key = try SigningKey.generate()
                try writeFileAtomically(
                    keyPath,
                    Array(try SigstoreKeyFile.privateKeyPEM(key, passphrase: try passphrase.passphrase()).utf8),
                    mode: 0o600)
                try writeFileAtomically(pubPath, Array(try SigstoreKeyFile.publicKeyPEM(key).utf8), mode: 0o644)
                print(pubPath)
            }
        }
    }
}

/// Writes `bytes` to a temporary sibling with `mode` and renames it over `path`.
func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
    let tmp = path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw SupplyChainError(.io, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
    var ok = fchmod(fd, mode) == 0
    var off = 0
    while ok && off < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
        if n <= 0 { ok = false } else { off += n }
    }
    ok = ok && fsync(fd) == 0
    close(fd)
    guard ok, rename(tmp, path) == 0 else {
        let e = errno
        unlink(tmp)
        throw SupplyChainError(.io, "cannot write \(path): \(String(cString: strerror(e)))")
    }
}

func readKeyFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("--key \(path): cannot read the file")
    }
    return String(decoding: data, as: UTF8.self)
}

/// A registry reference given with or without `docker://`.
func registryReference(_ s: String) throws -> ImageReference {
    guard case .registry(let ref) = try ReferrerEndpoint.location(s) else {
        throw ValidationError(
            "'\(s)' is not a registry reference: signatures are stored in registries ([docker://]host/repository[:tag])"
        )
    }
    return ref
}

extension ImageCommand {
    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Sign an image in a registry or an OCI layout (sigstore attachment: tag sha256-<hex>.sig), as podman, skopeo and cosign verify it.",
            discussion:
                "The signature covers the manifest digest the reference names (an index: the index and each platform manifest it lists, which is what podman checks when it pulls one platform) and the reference's host/repository:tag (for oci-layout:<path>:<tag>, the --identity the image will be pulled by once copied to a registry; `image copy --with-referrers` carries the signatures there). Existing signatures are kept (the new one is appended). Prints the signed digest."
        )

        @Argument(help: "[docker://]host[:port]/repository[:tag][@digest] or oci-layout:<path>:<tag>")
        var image: String

        @Option(help: "Private key PEM (from `ociforge key generate`, cosign or skopeo).")
        var key: String

        @Option(
            help:
                "For an oci-layout: image, the host/repository[:tag] the signature names (the registry reference it will be pulled by)."
        )
        var identity: String?

        @OptionGroup var passphrase: PassphraseFlags

        @OptionGroup var flags: RegistryFlags

        func run() throws {
            try reportingErrors {
                let location = try ReferrerEndpoint.location(image)
                if case .registry = location, identity != nil {
                    throw ValidationError("--identity is for oci-layout: images (a registry image names itself)")
                }
                let signingKey = try SigstoreKeyFile.loadPrivateKey(pem: try readKeyFile(key), source: key) {
                    try passphrase.required(for: key)
                }
                let r: SigstoreSignatures.RecursiveSignResult
                if case .ociLayout(let path, let tag) = location {
                    let (tag, identity) = try layoutSigningArguments(tag: tag, identity: identity)
                    r = try LayoutSignatures.signWithInstances(
                        try OCILayout.open(at: path), tag: tag, identity: identity, key: signingKey)
                } else {
                    let ref = try registryReference(image)
                    var stdin: String?
                    let client = try RegistryClient(
                        registry: ref.registry,
                        credential: try flags.credential(for: ref.registry, stdinPassword: &stdin),
                        options: flags.options)
                    r = try runBlocking {
                        try await SigstoreSignatures.signWithInstances(ref, client: client, key: signingKey)
                    }
                }
                let top = r.top, name = top.payload.critical.identity.dockerReference
                printError(
                    "signed \(name)@\(top.imageDigest): \(top.signatureCount) signature(s) at tag \(SigstoreSignatures.tag(for: top.imageDigest))"
                )
                for digest in r.instances { printError("signed \(name)@\(digest) (platform manifest of the index)") }
                print(top.imageDigest)
            }
        }

        func layoutSigningArguments(tag: String?, identity: String?) throws -> (String, String) {
            guard let tag else { throw ValidationError("\(image): name the tag to sign (oci-layout:<path>:<tag>)") }
            guard let identity else {
                throw ValidationError(
                    "signing \(image) needs --identity host/repository[:tag]: the registry reference the image will be pulled by"
                )
            }
            return (tag, identity)
        }
    }
}

/// `image verify`: a layout's integrity (the existing command), or with `--key` an image's signatures.
struct ImageVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an image layout's digests, or (with --key) an image's signatures.",
        discussion: """
            Without --key: re-derives every digest, diffID and size of oci-layout:<path>[:tag] (exit 1 on any problem).
            With --key <public key PEM>: checks the sigstore signatures (tag sha256-<hex>.sig) of a registry image, as
            podman's sigstoreSigned policy does; exit 0 when at least one signature by that key names the image's digest
            and repository, 1 otherwise. With --key and oci-layout:<path>:<tag>, the signatures stored in the layout
            (tag sha256-<hex>.sig in index.json) are checked; --signed-repository is then required.
            """)

    @OptionGroup var layout: ImageCommand.Verify

    @Option(help: "Public key PEM: verify the image's signatures instead of a layout.")
    var key: String?

    @Option(
        name: .customLong("signed-repository"),
        help: "host/repository the signatures must name (default: the image's own; for images copied after signing).")
    var signedRepository: String?

    @OptionGroup var flags: RegistryFlags

    func run() throws {
        guard let key else { return try layout.run() }
        try reportingErrors {
            let publicKey = try SigstoreKeyFile.loadPublicKey(pem: try readKeyFile(key), source: key)
            let r = try verify(publicKey)
            if layout.json {
                struct Row: Encodable {
                    var layer: Digest
                    var identity: String?
                    var accepted: Bool
                    var reason: String?
                }
                struct Output: Encodable {
                    var image: Digest
                    var signatures: [Row]
                }
                let rows = r.signatures.map {
                    Row(
                        layer: $0.layer, identity: $0.payload?.critical.identity.dockerReference,
                        accepted: $0.rejection == nil, reason: $0.rejection)
                }
                print(
                    String(
                        decoding: try CanonicalJSON.encode(Output(image: r.imageDigest, signatures: rows)),
                        as: UTF8.self))
                return
            }
            for s in r.signatures {
                print(
                    s.rejection == nil
                        ? "verified: \(s.payload!.critical.identity.dockerReference)@\(r.imageDigest)"
                        : "rejected: \(s.rejection!)")
            }
        }
    }

    func verify(_ publicKey: SigningKey) throws -> SigstoreSignatures.VerifyResult {
        if case .ociLayout(let path, let tag) = try ReferrerEndpoint.location(layout.image) {
            guard let tag else {
                throw ValidationError("\(layout.image): name the tag to verify (oci-layout:<path>:<tag>)")
            }
            guard let signedRepository else {
                throw ValidationError(
                    "verifying \(layout.image) needs --signed-repository host/repository (a layout has no repository)")
            }
            return try LayoutSignatures.verify(
                try OCILayout.open(at: path), tag: tag, key: publicKey, signedRepository: signedRepository)
        }
        let ref = try registryReference(layout.image)
        var stdin: String?
        let client = try RegistryClient(
            registry: ref.registry, credential: try flags.credential(for: ref.registry, stdinPassword: &stdin),
            options: flags.options)
        return try runBlocking {
            try await SigstoreSignatures.verify(ref, client: client, key: publicKey, signedRepository: signedRepository)
        }
    }
}
