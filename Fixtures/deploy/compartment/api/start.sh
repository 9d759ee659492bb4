#!/bin/sh
cat build-info.txt
test -f /etc/mime.types && echo "media-types installed"
echo "API_TOKEN at runtime: ${API_TOKEN:-unset}"
