#ifndef OCIFORGE_CCRYPTO_SHIM_H
#define OCIFORGE_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/sha.h>
#endif
