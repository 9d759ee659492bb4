import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Verifies a detached OpenPGP signature with GnuPG's `gpgv` against one keyring file (binary OpenPGP keys, e.g.
/// `gpg --dearmor < all-keys.asc`, or a keybox): exit 0 means a good signature by a key in that keyring. gpgv runs
/// with an empty home directory of its own, so the user's `~/.gnupg` and trust settings play no part. Blocking.
struct OpenPGPVerifier {
    static let gpgv = "/usr/bin/gpgv"
    /// Where swift.org publishes the keys that sign its toolchains.
    static let swiftKeysURL = "https://www.swift.org/keys/all-keys.asc"

    let keyring: String

    /// Checks that the keyring is a readable regular file (before anything is downloaded).
    func requireKeyring(setting: String) throws(ToolchainError) {
        var st = stat()
        let found = stat(keyring, &st) == 0
        let regular = found && (st.st_mode & S_IFMT) == S_IFREG
        guard regular, access(keyring, R_OK) == 0 else {
            // errno says why stat or access failed; a directory or device has no errno to report.
            let cause = !found || regular ? Errno(errno) : nil
            throw ToolchainError(
                .keyringMissing, "the OpenPGP keyring set by \(setting) is not a readable file", path: keyring,
                cause: cause)
        }
    }

    /// Throws `.signatureInvalid` unless `signature` (the `.sig` bytes) is a good signature of `file`.
    func verify(file: String, signature: [UInt8], url: String, endpoint: ChannelEndpoint) throws(ToolchainError) {
        let work = file + ".gpgv"
        guard mkdir(work, 0o700) == 0 else {
            throw ToolchainError(.io, "cannot create gpgv's home directory", path: work, cause: Errno(errno))
        }
        defer { try? FileManager.default.removeItem(atPath: work) }
        let sig = work + "/archive.sig"
        guard FileManager.default.createFile(atPath: sig, contents: Data(signature)) else {
            throw ToolchainError(.io, "cannot write the signature", path: sig)
        }
        let (status, output) = try Self.run(["--homedir", work, "--keyring", keyring, sig, file])
        guard status == 0 else {
            let last = output.split(separator: "\n").suffix(3).joined(separator: " / ")
            throw ToolchainError(
                .signatureInvalid,
                "gpgv did not accept \(url).sig as a signature of the download by a key in \(keyring) (exit \(status): \(last)); refused and not cached",
                url: url, endpoint: endpoint)
        }
    }

    /// Runs gpgv; its status and combined output.
    private static func run(_ args: [String]) throws(ToolchainError) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gpgv)
        p.arguments = args
        p.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw ToolchainError(.io, "cannot run \(gpgv) (apt-get install gpgv)", path: gpgv, cause: error)
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
