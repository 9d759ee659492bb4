#ifndef OCIFORGE_CARCHIVE_SHIM_H
#define OCIFORGE_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>

// AE_IF* are macros of mode_t casts that Swift imports badly; expose them as plain constants.
static inline unsigned int ociforge_ae_ifmt(void) { return AE_IFMT; }
static inline unsigned int ociforge_ae_ifreg(void) { return AE_IFREG; }
static inline unsigned int ociforge_ae_ifdir(void) { return AE_IFDIR; }
static inline unsigned int ociforge_ae_iflnk(void) { return AE_IFLNK; }
static inline unsigned int ociforge_ae_ifchr(void) { return AE_IFCHR; }
static inline unsigned int ociforge_ae_ifblk(void) { return AE_IFBLK; }
static inline unsigned int ociforge_ae_ififo(void) { return AE_IFIFO; }
static inline unsigned int ociforge_ae_ifsock(void) { return AE_IFSOCK; }
#endif
