#define _GNU_SOURCE
#include "csandbox.h"
int csandbox_version(void) { return 1; }
