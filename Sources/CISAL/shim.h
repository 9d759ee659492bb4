#ifndef OCIFORGE_CISAL_SHIM_H
#define OCIFORGE_CISAL_SHIM_H
#include <isa-l/igzip_lib.h>
#include <isa-l/crc.h>
#include <isa-l.h>
#endif
