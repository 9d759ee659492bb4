#!/bin/sh
echo "greetings from services/greeter"
