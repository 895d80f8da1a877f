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

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    local port tries=0
    while [ $tries -lt 200 ]; do
        port=$(( (RANDOM << 1 | RANDOM & 1) % 30000 + 20000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
        tries=$((tries + 1))
    done
    die "no free TCP port found"
}

# pg_can_use DIR: whether the PostgreSQL OS user can create and use files in DIR's parent chain.
pg_can_reach() {
    as_pg test -x "$1"
}
