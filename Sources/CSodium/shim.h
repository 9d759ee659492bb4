#ifndef OCIFORGE_CSODIUM_SHIM_H
#define OCIFORGE_CSODIUM_SHIM_H
#include <sodium.h>
#endif
