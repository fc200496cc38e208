#!/bin/sh
# apt-install.sh PACKAGE...: the install step of the Dockerfile next to this
# file, and of the Go image base-images.sh makes. It installs, with apt, the
# PACKAGEs that are not installed yet, and does nothing when all are: the
# same Dockerfile then builds both on an official base image (the packages
# come from Debian's mirror) and on a base image that base-images.sh made
# with the packages in it, for builders whose containers cannot reach a
# mirror. base-images.sh reads the Dockerfile's package lists from the
# `RUN apt-install.sh ...` lines.
set -eu

missing=
for pkg in "$@"; do
	if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
		missing="$missing $pkg"
	fi
done
if [ -z "$missing" ]; then
	echo "apt-install: already installed: $*"
	exit 0
fi
echo "apt-install: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $missing
rm -rf /var/lib/apt/lists/*
