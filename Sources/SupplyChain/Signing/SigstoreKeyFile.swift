import CCrypto
import CSodium
import Foundation

/// Private and public key files in the formats cosign and containers/image (skopeo, podman) read and write.
///
/// - Public key: PEM `PUBLIC KEY` (PKIX DER).
/// - Private key, encrypted: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (or cosign's older `ENCRYPTED COSIGN PRIVATE KEY`)
///   whose body is JSON `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox",
///   "nonce"},"ciphertext"}` (byte fields base64): the PKCS#8 DER sealed with NaCl secretbox (XSalsa20-Poly1305)
///   under scrypt(passphrase, salt).
/// - Private key, plain: PEM `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1).
public enum SigstoreKeyFile {
    public static let encryptedLabel = "ENCRYPTED SIGSTORE PRIVATE KEY"
    public static let cosignEncryptedLabel = "ENCRYPTED COSIGN PRIVATE KEY"

    /// scrypt cost of new keys (cosign's and containers/image's: N=2^15, r=8, p=1).
    public struct ScryptParameters: Codable, Sendable, Equatable {
        public var N: UInt64
        public var r: UInt64
        public var p: UInt64
        public static let standard = ScryptParameters(N: 32768, r: 8, p: 1)
    }

    struct Envelope: Codable {
        struct KDF: Codable {
            var name: String
            var params: ScryptParameters
            var salt: Data
        }
        struct Cipher: Codable {
            var name: String
            var nonce: Data
        }
        var kdf: KDF
        var cipher: Cipher
        var ciphertext: Data
    }

    /// The private key file; encrypted when `passphrase` is given.
    public static func privateKeyPEM(
        _ key: SigningKey, passphrase: String?,
        scrypt: ScryptParameters = .standard
    ) throws -> String {
        let der = try key.privateKeyDER()
        guard let passphrase else { return PEMBlock(label: "PRIVATE KEY", bytes: der).encoded }
        try initSodium()
        var salt = [UInt8](repeating: 0, count: 32),
            nonce = [UInt8](repeating: 0, count: Int(crypto_secretbox_NONCEBYTES))
        randombytes_buf(&salt, salt.count)
        randombytes_buf(&nonce, nonce.count)
        let secret = try deriveKey(passphrase, salt: salt, params: scrypt)
        var sealed = [UInt8](repeating: 0, count: der.count + Int(crypto_secretbox_MACBYTES))
        guard crypto_secretbox_easy(&sealed, der, UInt64(der.count), nonce, secret) == 0 else {
            throw SupplyChainError(.crypto, "crypto_secretbox_easy failed")
        }
        let env = Envelope(
            kdf: .init(name: "scrypt", params: scrypt, salt: Data(salt)),
            cipher: .init(name: "nacl/secretbox", nonce: Data(nonce)), ciphertext: Data(sealed))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return PEMBlock(label: encryptedLabel, bytes: Array(try encoder.encode(env))).encoded
    }

    public static func publicKeyPEM(_ key: SigningKey) throws -> String {
        PEMBlock(label: "PUBLIC KEY", bytes: try key.publicKeyDER()).encoded
    }

    /// Reads a private key file; `passphrase` is asked only for an encrypted key.
    public static func loadPrivateKey(
        pem text: String, source: String,
        passphrase: () throws -> String
    ) throws -> SigningKey {
        let block = try PEMBlock.first(in: text, source: source)
        switch block.label {
        case encryptedLabel, cosignEncryptedLabel:
            let der = try decrypt(block.bytes, passphrase: try passphrase(), source: source)
            return try SigningKey(privateKeyDER: der)
        case "PRIVATE KEY", "EC PRIVATE KEY":
            return try SigningKey(privateKeyDER: block.bytes)
        default:
            throw SupplyChainError(
                .invalidKey,
                "PEM block '\(block.label)' is not a private key (expected \(encryptedLabel), PRIVATE KEY or EC PRIVATE KEY)",
                location: source)
        }
    }

    /// Reads a public key file (PEM `PUBLIC KEY`).
    public static func loadPublicKey(pem text: String, source: String) throws -> SigningKey {
        let block = try PEMBlock.first(in: text, source: source)
        guard block.label == "PUBLIC KEY" else {
            throw SupplyChainError(
                .invalidKey, "PEM block '\(block.label)' is not a public key (expected PUBLIC KEY)", location: source)
        }
        return try SigningKey(publicKeyDER: block.bytes)
    }

    static func decrypt(_ json: [UInt8], passphrase: String, source: String) throws -> [UInt8] {
        let env: Envelope
        do {
            env = try JSONDecoder().decode(Envelope.self, from: Data(json))
        } catch {
            throw SupplyChainError(
                .invalidKey, "the encrypted key's JSON envelope is malformed", location: source, cause: error)
        }
        guard env.kdf.name == "scrypt", env.cipher.name == "nacl/secretbox" else {
            throw SupplyChainError(
                .invalidKey,
                "unsupported key encryption \(env.kdf.name) + \(env.cipher.name) (expected scrypt + nacl/secretbox)",
                location: source)
        }
        let p = env.kdf.params
        guard p.N > 1, p.N & (p.N - 1) == 0, p.N <= 1 << 20, (1...32).contains(p.r), (1...16).contains(p.p) else {
            throw SupplyChainError(
                .invalidKey, "scrypt parameters N=\(p.N) r=\(p.r) p=\(p.p) are out of range", location: source)
        }
        guard env.cipher.nonce.count == Int(crypto_secretbox_NONCEBYTES),
            env.ciphertext.count > Int(crypto_secretbox_MACBYTES)
        else {
            throw SupplyChainError(
                .invalidKey, "the encrypted key's nonce or ciphertext has the wrong length", location: source)
        }
        try initSodium()
        let secret = try deriveKey(passphrase, salt: Array(env.kdf.salt), params: p)
        let sealed = Array(env.ciphertext), nonce = Array(env.cipher.nonce)
        var plain = [UInt8](repeating: 0, count: sealed.count - Int(crypto_secretbox_MACBYTES))
        guard crypto_secretbox_open_easy(&plain, sealed, UInt64(sealed.count), nonce, secret) == 0 else {
            throw SupplyChainError(
                .wrongPassphrase, "cannot decrypt the private key: wrong passphrase (or a corrupted key file)",
                location: source)
        }
        return plain
    }

    static func deriveKey(_ passphrase: String, salt: [UInt8], params: ScryptParameters) throws -> [UInt8] {
        var key = [UInt8](repeating: 0, count: Int(crypto_secretbox_KEYBYTES))
        let pass = Array(passphrase.utf8CString)  // NUL-terminated; the length excludes the NUL
        let maxmem = 128 * params.r * params.N * 2 + (1 << 20)
        let ok = EVP_PBE_scrypt(
            pass, pass.count - 1, salt, salt.count, params.N, params.r, params.p, maxmem, &key, key.count)
        guard ok == 1 else { throw SigningKey.cryptoError("EVP_PBE_scrypt") }
        return key
    }

    static func initSodium() throws {
        guard sodium_init() >= 0 else {
            throw SupplyChainError(.crypto, "libsodium failed to initialise (sodium_init)")
        }
    }
}
