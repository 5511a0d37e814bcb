#!/usr/bin/env bash
# Builds reignite and runs the main job on the shipped examples: validate the
# configs, translate the Butane example, provision a scratch root, then
# reconfigure it to the second generation. Safe: everything happens under a
# temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p reignite
bin=$PWD/target/release/reignite
scratch=$(mktemp -d /tmp/reignite-demo.XXXXXX)
echo "== reignite $("$bin" --version | cut -d' ' -f2); scratch directory $scratch"

step() { echo; echo "== $*"; }

step "validate the shipped examples"
"$bin" validate examples/webserver-v1.ign examples/webserver-v2.ign

step "translate the Butane example to Ignition JSON"
"$bin" translate --pretty examples/webserver-v1.bu -o "$scratch/webserver-v1.from-butane.ign"
head -c 400 "$scratch/webserver-v1.from-butane.ign"; echo " ..."

root=$scratch/root
mkdir -p "$root/etc" "$root/usr/share/zoneinfo"
step "provision a scratch root with generation 1"
"$bin" apply --root "$root" examples/webserver-v1.ign
find "$root" -path "$root/var/lib/reignite" -prune -o -print | sed "s|^$root||" | sort | head -40

step "apply the same config again: a no-op"
"$bin" apply --root "$root" examples/webserver-v1.ign

mkdir -p "$root/var/lib/www" && echo "<h1>data</h1>" > "$root/var/lib/www/index.html"
step "plan the live move to generation 2 (what switch will do, with reasons)"
"$bin" plan --switch --root "$root" examples/webserver-v2.ign

step "switch to generation 2 live"
"$bin" switch --root "$root" examples/webserver-v2.ign
"$bin" status --root "$root"

step "edit a managed file by hand, then look for drift"
echo "web-drifted" > "$root/etc/hostname"
"$bin" drift --root "$root" || true

step "roll back to generation 1"
"$bin" rollback --root "$root"
"$bin" status --root "$root"
test -f "$root/etc/nginx/site.conf" && echo "generation 1's /etc/nginx/site.conf is back"
test -f "$root/var/lib/www/index.html" && echo "kept data /var/lib/www/index.html survived every step"
echo
echo "== demo finished; the scratch root is at $root"
