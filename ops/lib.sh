# Shared by ops/run.sh and ops/test.sh: installing packages and running PostgreSQL's tools,
# as root or not. initdb and pg_ctl refuse to run as root, so as root they run as `postgres`.

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# ensure_packages PKG…: installs with apt whatever is not installed yet.
ensure_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The packages every build of Pairgate needs.
BASE_PACKAGES=(libpq-dev pkgconf postgresql zlib1g-dev libssl-dev)

require_swift() {
    command -v swift >/dev/null 2>&1 || die "swift is not on PATH (Swift 6.2 or newer: https://www.swift.org/install/linux/)"
}

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
    echo "$dir"
}

# The OS user PostgreSQL's tools run as: postgres when we are root, else ourselves.
pg_os_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# free_port [PORT...]: a TCP port on 127.0.0.1 that no socket uses right now, and none of PORT.
# It is taken below the kernel's ephemeral range: an outgoing connection can hold an ephemeral
# port without listening on it, and a server binding that port later fails with EADDRINUSE (a CI
# run lost the simulator that way after the test suite had made thousands of connections).
free_port() {
    local low=32768 high=60999 port hex tries=0
    read -r low high < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    while [ $tries -lt 500 ]; do
        tries=$((tries + 1))
        if [ "$low" -gt 12000 ]; then
            port=$(( (RANDOM << 1 | RANDOM & 1) % (low - 11000) + 10000 ))
        else
            port=$(( (RANDOM << 1 | RANDOM & 1) % (65535 - high) + high + 1 ))
        fi
        case " $* " in *" $port "*) continue ;; esac
        hex=$(printf '%04X' "$port")
        # Local or remote address column: a match either way means the port is in use or near it.
        if ! grep -qi ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then echo "$port"; return 0; fi
    done
    die "no free TCP port found"
}

# pg_can_use DIR: whether the PostgreSQL OS user can create and use files in DIR's parent chain.
pg_can_reach() {
    as_pg test -x "$1"
}
