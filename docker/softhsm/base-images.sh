#!/usr/bin/env bash
# base-images.sh: the base images of the Dockerfile next to this file
# (debian:bookworm-slim, golang:1.26-bookworm: its FROM lines say which),
# for an engine that reaches no registry. For each base image it does
# nothing when the image is there or can be pulled; else it makes it:
#
#   debian:SUITE-slim     debootstrap --variant=minbase SUITE from the Debian
#                         mirror this machine's apt uses, upgraded from
#                         SUITE-updates and SUITE-security, imported with
#                         `docker import` (CMD bash, like the official image)
#   golang:X.Y-SUITE      debian:SUITE-slim, plus gcc, libc6-dev, git,
#                         ca-certificates, plus this machine's Go toolchain
#                         (`go env GOROOT`, which must be Go X.Y) in
#                         /usr/local/go, with the official image's
#                         environment (GOPATH=/go, PATH, GOTOOLCHAIN=local)
#
# Then it finds out whether a container reaches Debian's mirror during
# `docker build` (apt-get update in a throw-away build). If none does, the
# packages of the Dockerfile's `RUN apt-install.sh ...` lines (and the Go
# image's) are installed into the base images here, where the host reaches
# the mirror, and apt-install.sh skips them in the build: one Dockerfile
# serves both.
#
# `base-images.sh --list` prints the base images and does nothing else.
# Run as root (debootstrap, chroot) when an image must be made. The images
# it makes are kept: they are the rig's cache (scripts/rig/compose.sh), and
# `docker rmi debian:bookworm-slim golang:1.26-bookworm` drops them.
#
# Environment:
#   RIG_DEBIAN_MIRROR     Debian mirror (default: the one apt uses here for
#                         SUITE, else http://deb.debian.org/debian)
#   RIG_SECURITY_MIRROR   the security mirror (same; .../debian-security)
#   RIG_BASE_BAKE         auto (default): put the packages in the base images
#                         when a build cannot reach the mirror; always; never
#   RIG_PULL_TIMEOUT      seconds a `docker pull` may take (default: 120)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dockerfile=$here/Dockerfile
say() { echo "base-images: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
bake=${RIG_BASE_BAKE:-auto}
[[ $bake =~ ^(auto|always|never)$ ]] || die "RIG_BASE_BAKE=$bake: want auto, always or never"

# The packages of the Go image, besides the toolchain: cgo (gcc, libc6-dev),
# and what `go mod download` needs (ca-certificates, git), as in the
# official image.
go_packages=(ca-certificates gcc libc6-dev git)
# The packages the Dockerfile installs in its Debian stages.
mapfile -t dockerfile_packages < <(sed -n 's/^RUN[[:space:]]\{1,\}apt-install\.sh[[:space:]]\{1,\}//p' "$dockerfile" | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u)
((${#dockerfile_packages[@]})) || die "no 'RUN apt-install.sh PACKAGE...' line in $dockerfile"

# The base images: the FROM lines' images that are not stages of the file,
# sorted: debian:* before golang:*, which is made from it.
mapfile -t bases < <(awk '
	toupper($1) == "FROM" { img[++n] = $2; if (toupper($3) == "AS") stage[$4] = 1 }
	END { for (i = 1; i <= n; i++) if (!(img[i] in stage) && !seen[img[i]]++) print img[i] }' "$dockerfile" | sort)

# --list: print them, and do nothing else.
if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${bases[@]}"
	exit 0
fi

have() { docker image inspect "$1" >/dev/null 2>&1; }

# mirror_for SUITE: the first URI this machine's apt has for SUITE (one-line
# and deb822 sources).
mirror_for() {
	{
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v s="$1" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) print $i
			}'
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$1" '
			function flush() {
				if ((" " types " ") ~ / deb / && (" " suites " ") ~ (" " s " ")) { n = split(uris, u, " "); for (k = 1; k <= n; k++) print u[k] }
				types = uris = suites = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			END { flush() }'
	} | grep -E '^(https?|file):/' | head -n 1 || true
}

work=
proc_mounted=
# Tags of this run's intermediate images.
probe_tag=wasihsm-rig/probe-base:$$
golang_base_tag=wasihsm-rig/golang-base:$$
cleanup() {
	if [[ -n $proc_mounted ]]; then umount "$proc_mounted" || true; fi
	if [[ -n $work ]]; then rm -rf "$work"; fi
	docker rmi "$probe_tag" "$golang_base_tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One maker at a time (two rigs starting at once).
exec 9>"/run/lock/wasihsm-rig-base-images.lock"
flock 9

# rootfs SUITE: $work/root, a minbase SUITE, upgraded, with the image's
# sources (made once per run of this script).
rootfs() {
	local suite=$1 mirror security
	[[ -z $work ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "making a base image needs root (debootstrap, chroot)"
	command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
	mirror=${RIG_DEBIAN_MIRROR:-$(mirror_for "$suite")}
	mirror=${mirror:-http://deb.debian.org/debian}
	security=${RIG_SECURITY_MIRROR:-$(mirror_for "$suite-security")}
	security=${security:-http://deb.debian.org/debian-security}
	work=$(mktemp -d "${TMPDIR:-/tmp}/wasihsm-base.XXXXXX")
	say "debootstrap --variant=minbase $suite from $mirror"
	debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
	rm -f "$work/root/etc/apt/sources.list"
	cat >"$work/root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	# No service starts inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
	chmod 0755 "$work/root/usr/sbin/policy-rc.d"
	mount -t proc proc "$work/root/proc"
	proc_mounted=$work/root/proc
	say "apt-get upgrade ($suite-updates, $suite-security)"
	in_root apt-get -o APT::Update::Error-Mode=any update
	in_root apt-get -y upgrade
}

# in_root CMD...: CMD in the chroot, quietly unless it fails.
in_root() {
	DEBIAN_FRONTEND=noninteractive chroot "$work/root" "$@" >"$work/chroot.log" 2>&1 ||
		{ tail -n 20 "$work/chroot.log" >&2; die "in the chroot: $*"; }
}

# import_root IMAGE: $work/root, cleaned like the official image, as IMAGE.
import_root() {
	local old
	old=$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true)
	in_root apt-get clean
	rm -rf "$work"/root/var/lib/apt/lists/* "$work"/root/var/cache/apt/*.bin "$work"/root/var/log/apt/* "$work"/root/var/log/dpkg.log
	# This machine's resolver stays out of the image (the chroot keeps it).
	mv "$work/root/etc/resolv.conf" "$work/resolv.conf"
	: >"$work/root/etc/resolv.conf"
	tar --numeric-owner --xattrs -C "$work/root" \
		--exclude=./proc/* --exclude=./sys/* --exclude=./dev/* --exclude=./usr/sbin/policy-rc.d -c . |
		docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["bash"]' --message "wasihsm base-images.sh: debootstrap minbase" - "$1" >/dev/null
	mv "$work/resolv.conf" "$work/root/etc/resolv.conf"
	if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$1")" ]]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
}

# reaches_mirror IMAGE: whether `docker build` FROM IMAGE reaches the
# mirror of its sources (answered once).
reach=
reaches_mirror() {
	if [[ -z $reach ]]; then
		case $bake in
		always) reach=no ;;
		never) reach=yes ;;
		*)
			local ctx tag=wasihsm-rig/probe:$$
			ctx=$(mktemp -d)
			printf 'FROM %s\nRUN apt-get -o Acquire::Retries=0 -o Acquire::http::Timeout=20 update && apt-get -s install ca-certificates >/dev/null\n' "$1" >"$ctx/Dockerfile"
			if DOCKER_BUILDKIT=0 docker build --no-cache --force-rm -q -t "$tag" "$ctx" >/dev/null 2>&1; then reach=yes; else reach=no; fi
			docker rmi "$tag" >/dev/null 2>&1 || true
			rm -rf "$ctx"
			say "a docker build reaches Debian's mirror: $reach"
			;;
		esac
	fi
	[[ $reach == yes ]]
}

# make_debian IMAGE SUITE: IMAGE is tagged only once it is complete.
make_debian() {
	rootfs "$2"
	import_root "$probe_tag"
	if reaches_mirror "$probe_tag"; then
		docker tag "$probe_tag" "$1"
	else
		say "putting the Dockerfile's packages in $1: ${dockerfile_packages[*]}"
		in_root apt-get -o APT::Update::Error-Mode=any update
		in_root apt-get install -y --no-install-recommends "${dockerfile_packages[@]}"
		import_root "$1"
	fi
	docker rmi "$probe_tag" >/dev/null
}

# make_golang IMAGE VERSION SUITE
make_golang() {
	local image=$1 version=$2 suite=$3 from goroot gover ctx
	from=debian:$suite-slim
	have "$from" || die "$image is made from $from, which is missing"
	goroot=$(go env GOROOT 2>/dev/null) || die "no Go toolchain on this machine to put in $image"
	gover=$(go env GOVERSION)
	[[ $gover == "go$version" || $gover == go$version.* ]] || die "$image wants Go $version; this machine's is $gover"
	if ! reaches_mirror "$from"; then
		rootfs "$suite"
		say "putting the Go image's packages in its base: ${go_packages[*]}"
		in_root apt-get -o APT::Update::Error-Mode=any update
		in_root apt-get install -y --no-install-recommends "${go_packages[@]}"
		from=$golang_base_tag
		import_root "$from"
	fi
	ctx=$(mktemp -d)
	cp "$here/apt-install.sh" "$ctx/"
	cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $from
COPY apt-install.sh /usr/local/sbin/apt-install.sh
RUN apt-install.sh ${go_packages[*]}
ENV GOLANG_VERSION=${gover#go} GOTOOLCHAIN=local GOPATH=/go
ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY go /usr/local/go
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go
WORKDIR /go
DOCKERFILE
	say "$image: $from + $gover from $goroot"
	# The context: the Dockerfile, apt-install.sh and GOROOT as go/.
	tar -c -C "$ctx" Dockerfile apt-install.sh -C "$(dirname "$goroot")" \
		--transform "s|^$(basename "$goroot")\(/\|\$\)|go\1|" "$(basename "$goroot")" |
		DOCKER_BUILDKIT=0 docker build --force-rm -t "$image" - >"$ctx/build.log" 2>&1 ||
		{ tail -n 20 "$ctx/build.log" >&2; rm -rf "$ctx"; die "docker build of $image failed"; }
	rm -rf "$ctx"
	[[ $from == debian:* ]] || docker rmi "$from" >/dev/null
}

for image in "${bases[@]}"; do
	if have "$image"; then
		say "$image: present"
		continue
	fi
	if timeout "${RIG_PULL_TIMEOUT:-120}" docker pull -q "$image" >/dev/null 2>&1; then
		say "$image: pulled"
		continue
	fi
	start=$SECONDS
	case $image in
	debian:*-slim)
		suite=${image#debian:}
		make_debian "$image" "${suite%-slim}"
		;;
	golang:*-*)
		tag=${image#golang:}
		make_golang "$image" "${tag%%-*}" "${tag#*-}"
		;;
	*) die "$image: not present, cannot be pulled, and this script does not know how to make it" ;;
	esac
	say "$image: made in $((SECONDS - start))s (no registry answered)"
done
