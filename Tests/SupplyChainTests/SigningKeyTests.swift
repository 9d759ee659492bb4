import Foundation
import Testing

@testable import SupplyChain

/// Keys and the sigstore encrypted-key format, cross-checked with an independent implementation (Python:
/// hashlib.scrypt, PyNaCl's SecretBox, pyca/cryptography ECDSA; installed by scripts/install-deps).
@Suite("Signing keys")
struct SigningKeyTests {
    @Test("sign/verify, PEM round trip, wrong passphrase, other key")
    func roundTrip() throws {
        let key = try SigningKey.generate()
        let message = Array("payload".utf8)
        let sig = try key.sign(message)
        let pem = try SigstoreKeyFile.privateKeyPEM(key, passphrase: "pw")
        #expect(pem.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
        let loaded = try SigstoreKeyFile.loadPrivateKey(pem: pem, source: "k") { "pw" }
        #expect(try loaded.publicKeyDER() == key.publicKeyDER())
        let pub = try SigstoreKeyFile.loadPublicKey(pem: try SigstoreKeyFile.publicKeyPEM(key), source: "p")
        #expect(pub.verify(signature: sig, message: message))
        #expect(!pub.verify(signature: sig, message: Array("other".utf8)))
        #expect(!(try SigningKey.generate()).verify(signature: sig, message: message))
        #expect(throws: SupplyChainError.self) { try pub.sign(message) }
        do {
            _ = try SigstoreKeyFile.loadPrivateKey(pem: pem, source: "k") { "wrong" }
            Issue.record("a wrong passphrase was accepted")
        } catch let e as SupplyChainError {
            #expect(e.code == .wrongPassphrase)
        }
        let plain = try SigstoreKeyFile.privateKeyPEM(key, passphrase: nil)
        #expect(plain.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try SigstoreKeyFile.loadPrivateKey(pem: plain, source: "k") { "" }.publicKeyDER() == key.publicKeyDER())
    }

    @Test("non-P-256 keys are refused")
    func refusesOtherCurves() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let (st, out) = try run([
            "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out",
            dir.path + "/p384.pem"
        ])
        #expect(st == 0, "\(out)")
        let pem = try String(contentsOfFile: dir.path + "/p384.pem", encoding: .utf8)
        #expect(throws: SupplyChainError.self) { try SigstoreKeyFile.loadPrivateKey(pem: pem, source: "p384") { "" } }
    }

    static let python = #"""
        import base64, hashlib, json, os, sys
        import nacl.secret
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        def pem_body(path):
            lines = open(path).read().strip().splitlines()
            return lines[0], base64.b64decode("".join(lines[1:-1]))

        mode, d = sys.argv[1], sys.argv[2]
        if mode == "check-ociforge":
            label, body = pem_body(d + "/key.pem")
            assert label == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----", label
            env = json.loads(body)
            p = env["kdf"]["params"]
            assert env["kdf"]["name"] == "scrypt" and env["cipher"]["name"] == "nacl/secretbox"
            k = hashlib.scrypt(b"pass phrase", salt=base64.b64decode(env["kdf"]["salt"]), n=p["N"], r=p["r"], p=p["p"], maxmem=1 << 27, dklen=32)
            der = nacl.secret.SecretBox(k).decrypt(base64.b64decode(env["ciphertext"]), base64.b64decode(env["cipher"]["nonce"]))
            priv = serialization.load_der_private_key(der, None)
            pub = serialization.load_pem_public_key(open(d + "/key.pub", "rb").read())
            assert priv.public_key().public_numbers() == pub.public_numbers()
            pub.verify(open(d + "/sig", "rb").read(), open(d + "/msg", "rb").read(), ec.ECDSA(hashes.SHA256()))
            print("python verified")
        else:
            priv = ec.generate_private_key(ec.SECP256R1())
            der = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            salt, nonce = os.urandom(32), os.urandom(24)
            k = hashlib.scrypt(b"pass phrase", salt=salt, n=32768, r=8, p=1, maxmem=1 << 27, dklen=32)
            ct = nacl.secret.SecretBox(k).encrypt(der, nonce).ciphertext
            env = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
                   "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
                   "ciphertext": base64.b64encode(ct).decode()}
            b = base64.b64encode(json.dumps(env).encode()).decode()
            open(d + "/py.key", "w").write("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + "\n".join(b[i:i+64] for i in range(0, len(b), 64)) + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
            open(d + "/py.pub", "wb").write(priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            open(d + "/py.sig", "wb").write(priv.sign(b"from python", ec.ECDSA(hashes.SHA256())))
        """#

    @Test("encrypted keys and signatures interoperate with an independent implementation (Python)")
    func pythonCrossCheck() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let script = try dir.write("x.py", Self.python)
        // ociforge → Python
        let key = try SigningKey.generate()
        _ = try dir.write("key.pem", try SigstoreKeyFile.privateKeyPEM(key, passphrase: "pass phrase"))
        _ = try dir.write("key.pub", try SigstoreKeyFile.publicKeyPEM(key))
        try Data(try key.sign(Array("hello".utf8))).write(to: URL(fileURLWithPath: dir.path + "/sig"))
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir.path + "/msg"))
        let (st, out) = try run(["python3", script, "check-ociforge", dir.path])
        #expect(st == 0 && out.contains("python verified"), "\(out)")
        // Python → ociforge
        let (st2, out2) = try run(["python3", script, "make", dir.path])
        #expect(st2 == 0, "\(out2)")
        let pyKey = try SigstoreKeyFile.loadPrivateKey(
            pem: try String(contentsOfFile: dir.path + "/py.key", encoding: .utf8), source: "py.key"
        ) { "pass phrase" }
        let pyPub = try SigstoreKeyFile.loadPublicKey(
            pem: try String(contentsOfFile: dir.path + "/py.pub", encoding: .utf8), source: "py.pub")
        #expect(try pyKey.publicKeyDER() == pyPub.publicKeyDER())
        let pySig = Array(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/py.sig")))
        #expect(pyPub.verify(signature: pySig, message: Array("from python".utf8)))
        #expect(!key.verify(signature: pySig, message: Array("from python".utf8)))
    }
}
