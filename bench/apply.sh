#!/usr/bin/env bash
# Speed benchmark of issue 3: `reignite apply` against Debian's Ignition 2.14
# (fetch + files stages) on the same config, the same ext4 filesystem, the same
# run; then a 1 GiB file over local HTTP with sha512 verification.
#
#   sudo bash bench/apply.sh
#
# Environment (defaults = the issue's full scale):
#   SCALE=1        multiplies the file/directory/link counts (e.g. SCALE=0.1 for a quick run)
#   N_FILES=2000 N_FILE_DIRS=350 N_DIRS=100 N_LINKS=100   (before SCALE)
#   RUNS=5         runs of each tool; the best wall time and the peak RSS of that run are reported
#   BIG_MIB=1024   size of the HTTP file (0 skips that part)
#   IGNITION=/usr/lib/dracut/modules.d/30ignition/ignition
#   REIGNITE=target/release/reignite
# Targets: reignite wall <= 0.25x Ignition's, peak RSS < 0.5x Ignition's; 1 GiB over HTTP peak RSS < 64 MiB.
# Exit status 0 when the benchmark ran (whatever the verdicts), 1 when it could not.

source "$(dirname "$0")/lib.sh"

SCALE=${SCALE:-1}
sc() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s + 0.5); print (v < 1 ? 1 : v) }'; }
N_FILES=$(sc "${N_FILES:-2000}")
N_FILE_DIRS=$(sc "${N_FILE_DIRS:-350}")
N_DIRS=$(sc "${N_DIRS:-100}")
N_LINKS=$(sc "${N_LINKS:-100}")
RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}
IGNITION=${IGNITION:-/usr/lib/dracut/modules.d/30ignition/ignition}

bench_init apply

echo "== reignite apply benchmark (issue 3) =="
machine_line
echo "reignite: $REIGNITE ($("$REIGNITE" --version 2>/dev/null || echo '?'))"

bench_ext4 fs "${IMG_SIZE:-$(( BIG_MIB > 0 ? BIG_MIB * 2 + 2048 : 2048 ))M}"
MNT=$EXT4_MNT
echo "filesystem: ext4 on a loop-mounted sparse image ($MNT)"

# --- the config --------------------------------------------------------------
W=$BENCH_TMP/work
mkdir -p "$W"
python3 - "$W/config.ign" "$N_FILES" "$N_FILE_DIRS" "$N_DIRS" "$N_LINKS" <<'EOF'
import base64, json, sys, urllib.parse
out, n_files, n_fdirs, n_dirs, n_links = sys.argv[1], *map(int, sys.argv[2:])
files = []
for i in range(n_files):
    d = i % n_fdirs
    text = f"# file {i} of the reignite apply benchmark\nkey{i} = value-{i * 7919 % 100003}\n"
    if i % 2:
        src = "data:;base64," + base64.b64encode(text.encode()).decode()
    else:
        src = "data:," + urllib.parse.quote(text)
    files.append({"path": f"/opt/bench/d{d:03d}/f{i:05d}.conf",
                  "mode": 0o644 if i % 3 else 0o600,
                  "contents": {"source": src}})
dirs = [{"path": f"/srv/bench/dir{j:03d}", "mode": 0o755 if j % 2 else 0o750}
        for j in range(n_dirs)]
links = [{"path": f"/opt/bench/links/l{j:03d}",
          "target": files[j % n_files]["path"]} for j in range(n_links)]
cfg = {"ignition": {"version": "3.3.0"},
       "storage": {"files": files, "directories": dirs, "links": links}}
with open(out, "w") as f:
    json.dump(cfg, f)
EOF
echo "config: spec 3.3.0, $N_FILES data-URL files in $N_FILE_DIRS directories, $N_DIRS directories, $N_LINKS symlinks, $(stat -c %s "$W/config.ign") bytes"
"$REIGNITE" validate "$W/config.ign" >/dev/null 2>&1 || { "$REIGNITE" validate "$W/config.ign"; die "reignite validate rejects the generated config"; }

# --- Ignition 2.14 harness (ignition-semantics.md §8.4) -----------------------
HAVE_IGN=1
if [ ! -x "$IGNITION" ]; then
	HAVE_IGN=0
	echo "Ignition: NOT MEASURED — $IGNITION missing (apt-get install ignition)"
else
	echo "Ignition: $IGNITION ($("$IGNITION" -version 2>&1 | head -n 1))"
	mkdir -p "$W/bin"
	printf '#!/bin/sh\ncat >/dev/null\nexit 0\n' >"$W/bin/setfiles"
	chmod 755 "$W/bin/setfiles"
	[ -e /proc/sys/kernel/random/boot_id ] || die "/proc/sys/kernel/random/boot_id missing (Ignition needs it)"
	# Ignition reads base configs from the host's /usr/lib/ignition: hide it in a
	# private mount namespace when it holds anything.
	IGN_WRAP=()
	if [ -d /usr/lib/ignition ] && [ -n "$(find /usr/lib/ignition -mindepth 1 -print -quit 2>/dev/null)" ]; then
		command -v unshare >/dev/null || die "/usr/lib/ignition is not empty and unshare is missing"
		IGN_WRAP=(unshare -m --propagation private sh -c 'mount -t tmpfs -o ro,mode=755 none /usr/lib/ignition && exec "$@"' sh)
		echo "  host /usr/lib/ignition is not empty: hidden by an empty tmpfs in a private mount namespace"
	else
		echo "  host /usr/lib/ignition: absent or empty (no base configs injected)"
	fi
fi

# Same skeleton for both roots: the SELinux stub Ignition needs.
make_root() {
	mkdir -p "$1/etc/selinux/targeted/contexts/files"
	echo 'SELINUXTYPE=targeted' >"$1/etc/selinux/config"
	: >"$1/etc/selinux/targeted/contexts/files/file_contexts"
}

# Checks a provisioned root: every file, directory and link of the config is there.
check_root() {
	local r=$1 who=$2 nf nd nl
	nf=$(find "$r/opt/bench" -type f -name '*.conf' | wc -l)
	nd=$(find "$r/srv/bench" -mindepth 1 -maxdepth 1 -type d | wc -l)
	nl=$(find "$r/opt/bench/links" -type l | wc -l)
	if [ "$nf" != "$N_FILES" ] || [ "$nd" != "$N_DIRS" ] || [ "$nl" != "$N_LINKS" ]; then
		die "$who produced $nf files, $nd directories, $nl links (expected $N_FILES, $N_DIRS, $N_LINKS)"
	fi
}

ign_s=() ign_kb=() ign_sync_s=() ign_fetch_s=() ign_files_s=() ign_fetch_kb=() ign_files_kb=()
rei_s=() rei_kb=()
for ((run = 1; run <= RUNS; run++)); do
	if [ "$HAVE_IGN" = 1 ]; then
		R=$MNT/ign-$run S=$W/ign-$run
		make_root "$R"; mkdir -p "$S"
		sync
		measure "$S/fetch" env PATH="$W/bin:$PATH" IGNITION_CONFIG_FILE="$W/config.ign" "${IGN_WRAP[@]}" \
			"$IGNITION" -platform file -stage fetch -root "$R" -config-cache "$S/ignition.json" \
			-state-file "$S/state" -log-to-stdout || die "Ignition fetch failed (log: $S/fetch.log)"
		f_s=$MEAS_S f_kb=$MEAS_KB f_cpu=$MEAS_CPU
		measure "$S/files" env PATH="$W/bin:$PATH" "${IGN_WRAP[@]}" \
			"$IGNITION" -platform file -stage files -root "$R" -config-cache "$S/ignition.json" \
			-state-file "$S/state" -log-to-stdout || die "Ignition files failed (log: $S/files.log)"
		g_files_s=$MEAS_S g_files_kb=$MEAS_KB g_files_cpu=$MEAS_CPU
		# Ignition leaves its writes to the kernel; reignite syncs before recording the generation.
		# The cost of flushing Ignition's writes, for information (not part of the targets):
		time_only "$S/sync" sync -f "$R"
		ign_sync_s+=("$MEAS_S")
		MEAS_S=$g_files_s MEAS_KB=$g_files_kb MEAS_CPU=$g_files_cpu
		ign_fetch_s+=("$f_s") ign_files_s+=("$MEAS_S") ign_fetch_kb+=("$f_kb") ign_files_kb+=("$MEAS_KB")
		ign_s+=("$(calc "$f_s + $MEAS_S")") ign_kb+=("$(max_of "$f_kb" "$MEAS_KB")")
		check_root "$R" Ignition
		printf '  run %d  Ignition fetch %6.3f s %6.1f MiB (%s), files %6.3f s %6.1f MiB (%s); then syncfs %.3f s\n' \
			"$run" "$f_s" "$(mib "$f_kb")" "$f_cpu" "$MEAS_S" "$(mib "$MEAS_KB")" "$MEAS_CPU" "${ign_sync_s[-1]}"
	fi
	R=$MNT/rei-$run S=$W/rei-$run
	make_root "$R"; mkdir -p "$S"
	sync
	measure "$S/apply" "$REIGNITE" apply --root "$R" "$W/config.ign" || die "reignite apply failed (log: $S/apply.log)"
	rei_s+=("$MEAS_S") rei_kb+=("$MEAS_KB")
	check_root "$R" reignite
	printf '  run %d  reignite apply %6.3f s %6.1f MiB (%s)\n' "$run" "$MEAS_S" "$(mib "$MEAS_KB")" "$MEAS_CPU"
	# Free the inodes before the next run (outside the measurements).
	rm -rf "$MNT/ign-$run" "$MNT/rei-$run"
done

best_idx() { local -n a=$1; local i b=0; for i in "${!a[@]}"; do awk -v x="${a[i]}" -v y="${a[b]}" 'BEGIN { exit !(x < y) }' && b=$i; done; echo "$b"; }

echo
echo "-- results (best of $RUNS by wall time; peak RSS = max over all runs) --"
rb=$(best_idx rei_s)
REI_S=${rei_s[rb]} REI_KB=$(max_of "${rei_kb[@]}")
printf 'reignite apply             : %7.3f s  peak RSS %6.1f MiB\n' "$REI_S" "$(mib "$REI_KB")"
if [ "$HAVE_IGN" = 1 ]; then
	ib=$(best_idx ign_s)
	IGN_S=${ign_s[ib]} IGN_KB=$(max_of "${ign_kb[@]}")
	printf 'Ignition 2.14 fetch+files  : %7.3f s  peak RSS %6.1f MiB  (best run: fetch %.3f s, files %.3f s; peak fetch %.1f MiB, files %.1f MiB)\n' \
		"$IGN_S" "$(mib "$IGN_KB")" "${ign_fetch_s[ib]}" "${ign_files_s[ib]}" \
		"$(mib "$(max_of "${ign_fetch_kb[@]}")")" "$(mib "$(max_of "${ign_files_kb[@]}")")"
	t_ratio=$(ratio "$REI_S" "$IGN_S")
	m_ratio=$(ratio "$REI_KB" "$IGN_KB")
	printf 'time ratio reignite/Ignition   = %sx  (target <= 0.25x)  %s\n' "$t_ratio" "$(verdict "$t_ratio" '<=' 0.25)"
	printf 'memory ratio reignite/Ignition = %sx  (target <  0.5x)   %s\n' "$m_ratio" "$(verdict "$m_ratio" '<' 0.5)"
	printf 'speed-up: Ignition takes %sx reignite'"'"'s time\n' "$(ratio "$IGN_S" "$REI_S")"
	isync=$(calc "${ign_s[ib]} + ${ign_sync_s[ib]}")
	printf 'information: Ignition fetch+files+syncfs (same durability as reignite, which syncs) = %.3f s; ratio reignite/that = %sx\n' \
		"$isync" "$(ratio "$REI_S" "$isync")"
else
	echo "time and memory ratios: NOT MEASURED (no Ignition 2.14 on this machine)"
fi

# --- 1 GiB over local HTTP with sha512 ---------------------------------------
echo
if [ "$BIG_MIB" = 0 ]; then
	echo "large file over HTTP: skipped (BIG_MIB=0)"
	exit 0
fi
echo "-- ${BIG_MIB} MiB file over local HTTP with sha512 verification --"
SRV=$BENCH_TMP/srv
mkdir -p "$SRV"
t0=$(now_ns)
head -c "$((BIG_MIB * 1024 * 1024))" /dev/urandom >"$SRV/big.bin"
SUM=$(sha512sum "$SRV/big.bin" | cut -d' ' -f1)
printf 'setup: random payload + sha512 in %.1f s\n' "$(calc "($(now_ns) - $t0) / 1e9")"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$SRV" "$PORT" >"$W/http.log" 2>&1 &
bench_bg_pid $!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
	sleep 0.1
done
cat >"$W/big.ign" <<EOF
{"ignition": {"version": "3.3.0"},
 "storage": {"files": [{"path": "/var/big.bin",
   "contents": {"source": "http://127.0.0.1:$PORT/big.bin", "verification": {"hash": "sha512-$SUM"}}}]}}
EOF
R=$MNT/big
mkdir -p "$R"
sync
measure "$W/big" "$REIGNITE" apply --root "$R" "$W/big.ign" || die "reignite apply of the HTTP file failed (log: $W/big.log)"
[ "$(stat -c %s "$R/var/big.bin")" = "$((BIG_MIB * 1024 * 1024))" ] || die "written file has the wrong size"
printf 'reignite apply (%d MiB, http, sha512): %.3f s (%.0f MiB/s), peak RSS %.1f MiB (target < 64 MiB)  %s  (%s)\n' \
	"$BIG_MIB" "$MEAS_S" "$(calc "$BIG_MIB / $MEAS_S")" "$(mib "$MEAS_KB")" "$(verdict "$MEAS_KB" '<' 65536)" "$MEAS_CPU"
