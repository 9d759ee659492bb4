#ifndef OCIFORGE_CSANDBOX_H
#define OCIFORGE_CSANDBOX_H
// Namespace launcher: filled in by the sandbox work (issue 4).
int csandbox_version(void);
#endif
