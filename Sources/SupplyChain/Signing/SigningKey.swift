import CCrypto

/// An ECDSA P-256 key (the default of cosign and containers/image), backed by OpenSSL's libcrypto.
/// Holds either a key pair (can sign and verify) or only a public key (can verify).
public final class SigningKey: @unchecked Sendable {
    // Immutable after init; OpenSSL allows concurrent read-only use of an EVP_PKEY.
    private let pkey: OpaquePointer
    public let hasPrivateKey: Bool

    private init(pkey: OpaquePointer, hasPrivateKey: Bool) throws {
        self.pkey = pkey
        self.hasPrivateKey = hasPrivateKey
        try checkP256()
    }

    deinit { EVP_PKEY_free(pkey) }

    /// A new random P-256 key pair.
    public static func generate() throws -> SigningKey {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else { throw cryptoError("EVP_PKEY_CTX_new_id(EC)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) == 1
        else {
            throw cryptoError("EC key generation set-up")
        }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen(ctx, &key) == 1, let key else { throw cryptoError("EVP_PKEY_keygen") }
        return try SigningKey(pkey: key, hasPrivateKey: true)
    }

    /// From a DER PKCS#8 `PrivateKeyInfo` (or a DER SEC1 `ECPrivateKey`).
    public convenience init(privateKeyDER der: [UInt8]) throws {
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_AutoPrivateKey(nil, &p, buf.count)
        }
        guard let key else {
            throw SupplyChainError(.invalidKey, "not a DER private key (PKCS#8 or SEC1): \(Self.lastError())")
        }
        try self.init(pkey: key, hasPrivateKey: true)
    }

    /// From a DER PKIX `SubjectPublicKeyInfo`.
    public convenience init(publicKeyDER der: [UInt8]) throws {
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_PUBKEY(nil, &p, buf.count)
        }
        guard let key else {
            throw SupplyChainError(.invalidKey, "not a DER public key (SubjectPublicKeyInfo): \(Self.lastError())")
        }
        try self.init(pkey: key, hasPrivateKey: false)
    }

    /// Only ECDSA on P-256 is accepted (what podman's sigstoreSigned and cosign default to).
    private func checkP256() throws {
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC else {
            throw SupplyChainError(.invalidKey, "the key is not an EC key: only ECDSA P-256 keys are supported")
        }
        var name = [CChar](repeating: 0, count: 64)
        var len = 0
        guard EVP_PKEY_get_group_name(pkey, &name, name.count, &len) == 1,
            String(decoding: name.prefix(len).map { UInt8(bitPattern: $0) }, as: UTF8.self) == "prime256v1"
        else {
            throw SupplyChainError(
                .invalidKey, "the EC key is not on curve P-256 (prime256v1): only ECDSA P-256 keys are supported")
        }
    }

    /// DER PKCS#8 `PrivateKeyInfo` of the private key.
    public func privateKeyDER() throws -> [UInt8] {
        guard hasPrivateKey else { throw SupplyChainError(.invalidKey, "this is a public key; it has no private part") }
        guard let p8 = EVP_PKEY2PKCS8(pkey) else { throw Self.cryptoError("EVP_PKEY2PKCS8") }
        defer { PKCS8_PRIV_KEY_INFO_free(p8) }
        return try Self.der { i2d_PKCS8_PRIV_KEY_INFO(p8, $0) }
    }

    /// DER PKIX `SubjectPublicKeyInfo` of the public key.
    public func publicKeyDER() throws -> [UInt8] {
        try Self.der { i2d_PUBKEY(pkey, $0) }
    }

    /// ECDSA-SHA256 signature of `message`, ASN.1 DER encoded (as cosign and containers/image store it).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard hasPrivateKey else {
            throw SupplyChainError(.invalidKey, "cannot sign with a public key: give the private key")
        }
        guard let ctx = EVP_MD_CTX_new() else { throw Self.cryptoError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, pkey) == 1 else {
            throw Self.cryptoError("EVP_DigestSignInit")
        }
        var len = 0
        guard EVP_DigestSign(ctx, nil, &len, message, message.count) == 1 else {
            throw Self.cryptoError("EVP_DigestSign (length)")
        }
        var sig = [UInt8](repeating: 0, count: len)
        guard EVP_DigestSign(ctx, &sig, &len, message, message.count) == 1 else {
            throw Self.cryptoError("EVP_DigestSign")
        }
        return Array(sig.prefix(len))
    }

    /// Whether `signature` (ASN.1 DER ECDSA) is a valid ECDSA-SHA256 signature of `message` by this key.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, EVP_sha256(), nil, pkey) == 1 else { return false }
        let ok = EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
        ERR_clear_error()
        return ok
    }

    private static func der(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) throws -> [UInt8]
    {
        let len = encode(nil)
        guard len > 0 else { throw cryptoError("DER encoding") }
        var out = [UInt8](repeating: 0, count: Int(len))
        let written = out.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return encode(&p)
        }
        guard written == len else { throw cryptoError("DER encoding") }
        return out
    }

    static func lastError() -> String {
        let e = ERR_get_error()
        ERR_clear_error()
        guard e != 0 else { return "no detail from OpenSSL" }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(e, &buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func cryptoError(_ what: String) -> SupplyChainError {
        SupplyChainError(.crypto, "\(what) failed: \(lastError())")
    }
}
