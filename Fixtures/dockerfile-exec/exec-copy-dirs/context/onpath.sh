#!/bin/sh
echo on path
