#!/usr/bin/env bash
# An ssh server for the ssh:// Docker-host tests: a dedicated sshd (not the system one) on 127.0.0.1:2222 only,
# with its own configuration, host key, client key pair and known_hosts under /var/lib/affinetes-ssh/. The engine it
# leads to is this machine's own, so `ssh://root@affinetes-test-ssh` with SshConfigFile=/var/lib/affinetes-ssh/ssh_config
# is a real ssh:// Docker host whose host key is checked. Idempotent, quiet when it already answers.
set -euo pipefail

log() { printf '[setup-ssh] %s\n' "$*" >&2; }
dir=/var/lib/affinetes-ssh
port=2222
alias_name=affinetes-test-ssh
client_config=$dir/ssh_config
wait_seconds=${AFFINETES_SSH_WAIT_SECONDS:-20}

answers() {
  [ -f "$client_config" ] && timeout 10 ssh -F "$client_config" -o BatchMode=yes -o ConnectTimeout=5 "$alias_name" true \
    </dev/null >/dev/null 2>&1
}
answers && exit 0

if [ "$(id -u)" -ne 0 ]; then
  log "the test sshd needs root (it logs in as root): run this script as root"
  exit 1
fi

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian's ${missing[*]} (one time)"
  # The package would start the system sshd (port 22, every address): keep services from starting while it installs.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  status=0
  "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${missing[@]}" || status=$?
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ "$status" -eq 0 ] || exit 1
fi

# sshd refuses keys in group- or world-writable places (StrictModes).
install -d -m 700 -o root -g root "$dir"
[ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C affinetes-test-sshd -f "$dir/ssh_host_ed25519_key"
[ -f "$dir/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C affinetes-test-client -f "$dir/client_ed25519"
install -m 600 "$dir/client_ed25519.pub" "$dir/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"

cat >"$dir/sshd_config" <<EOF
# The affinetes test sshd (scripts/setup-ssh.sh): loopback only, keys only.
ListenAddress 127.0.0.1
Port $port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: its session modules (pam_loginuid) refuse logins inside containers.
UsePAM no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
EOF

cat >"$client_config" <<EOF
# Client side of the affinetes test sshd (scripts/setup-ssh.sh); use with ssh -F $client_config $alias_name
Host $alias_name
  HostName 127.0.0.1
  Port $port
  User root
  IdentityFile $dir/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
EOF
chmod 600 "$dir/sshd_config" "$client_config" "$dir/known_hosts"

# A stale instance of ours (another configuration, or not answering) is replaced; the system sshd is never touched.
if [ -f "$dir/sshd.pid" ]; then
  old=$(cat "$dir/sshd.pid")
  if [ -n "$old" ] && grep -qa "$dir/sshd_config" "/proc/$old/cmdline" 2>/dev/null; then
    kill "$old" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$dir/sshd.pid"
fi

install -d -m 755 /run/sshd # privilege separation directory
/usr/sbin/sshd -t -f "$dir/sshd_config"
log "starting the test sshd on 127.0.0.1:$port (log: $dir/sshd.log)"
/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" # daemonizes; pid in $dir/sshd.pid

for _ in $(seq 1 $((wait_seconds * 4))); do
  answers && exit 0
  sleep 0.25
done
log "the test sshd did not accept ssh -F $client_config $alias_name within ${wait_seconds}s; last lines of its log:"
tail -n 20 "$dir/sshd.log" >&2 2>/dev/null || true
exit 1
