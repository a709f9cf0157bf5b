#!/usr/bin/env bash
# run.sh runs cubby's side-by-side benchmark against OpenSSH on loopback.
#
#   bash bench/run.sh [flags of go run ./bench]
#   bash bench/run.sh -only=cmd,login
#   bash bench/run.sh -only=xfer -size=256MiB -rounds=3 -out=/tmp/bench.md
#
# It installs openssh-server and openssh-client with apt-get when they are
# missing (nothing else), builds cubbyd and cubby into a temporary directory
# and runs the Go harness, which starts a private sshd and a private cubbyd
# on free 127.0.0.1 ports and stops them at the end. The system's sshd, its
# config and its keys are never used. On a machine running systemd,
# installing openssh-server also enables the system's ssh service; the
# benchmark does not need it.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
for tool in ssh scp sftp ssh-keygen; do
	if ! command -v "$tool" >/dev/null; then
		need+=(openssh-client)
		break
	fi
done
if ((${#need[@]})); then
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	echo "run.sh: installing ${need[*]}" >&2
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

bin=$(mktemp -d "${TMPDIR:-/tmp}/cubby-bench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
echo "run.sh: building cubbyd and cubby" >&2
go build -o "$bin/" ./cmd/cubbyd ./cmd/cubby
exec_status=0
go run ./bench -bin "$bin" "$@" || exec_status=$?
exit "$exec_status"
