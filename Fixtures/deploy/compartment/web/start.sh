#!/bin/sh
echo "web service up"
