#!/bin/sh
echo "build.sh in $(pwd)"
