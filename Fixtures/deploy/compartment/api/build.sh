#!/bin/sh
# Runs in the build phase: the build env key is visible here, busybox (packages.build) is installed.
set -e
test -n "$API_TOKEN"
busybox true
echo "built with a token of ${#API_TOKEN} characters" > build-info.txt
