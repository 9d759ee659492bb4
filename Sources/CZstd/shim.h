#ifndef OCIFORGE_CZSTD_SHIM_H
#define OCIFORGE_CZSTD_SHIM_H
#include <zstd.h>
#endif
