#!/bin/sh
# A shell app: prints a greeting and the environment it was given.
echo "hello from ociforge (${GREETING:-no greeting set})"
