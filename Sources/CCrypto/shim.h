#ifndef OCIFORGE_CCRYPTO_SHIM_H
#define OCIFORGE_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/sha.h>
// Signing keys (SupplyChain): EC key generation, PKCS#8 / PKIX DER, scrypt.
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#endif
