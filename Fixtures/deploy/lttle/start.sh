#!/bin/sh
echo "hello from the lttle root app"
