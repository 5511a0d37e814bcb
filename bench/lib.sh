# Shared helpers for the benchmarks in bench/*.sh (sourced, not executed).
#
# Everything a benchmark creates (temp dir, loop devices, mounts, background
# processes) is registered here and torn down by one EXIT trap.

set -euo pipefail

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REIGNITE=${REIGNITE:-$BENCH_REPO/target/release/reignite}
TIME_BIN=${TIME_BIN:-/usr/bin/time}

_BENCH_MOUNTS=()
_BENCH_LOOPS=()
_BENCH_PIDS=()
BENCH_TMP=

log() { printf '%s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

bench_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#_BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		kill "${_BENCH_PIDS[i]}" 2>/dev/null
		wait "${_BENCH_PIDS[i]}" 2>/dev/null
	done
	for ((i = ${#_BENCH_MOUNTS[@]} - 1; i >= 0; i--)); do
		mountpoint -q "${_BENCH_MOUNTS[i]}" && umount "${_BENCH_MOUNTS[i]}"
	done
	for ((i = ${#_BENCH_LOOPS[@]} - 1; i >= 0; i--)); do
		losetup -d "${_BENCH_LOOPS[i]}" 2>/dev/null
	done
	[ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ] && rm -rf --one-file-system "$BENCH_TMP"
	exit "$rc"
}

# bench_init NAME: checks root and tools, creates $BENCH_TMP, installs the trap.
bench_init() {
	[ "$(id -u)" = 0 ] || die "run as root (loop devices, mounts, chown)"
	local t
	for t in python3 losetup mkfs.ext4 mount umount; do
		command -v "$t" >/dev/null || die "missing tool: $t"
	done
	if [ ! -x "$TIME_BIN" ]; then
		log "installing package 'time' for $TIME_BIN -v"
		apt-get install -y -qq time >/dev/null 2>&1 || die "$TIME_BIN missing and 'apt-get install time' failed"
	fi
	[ -x "$REIGNITE" ] || die "$REIGNITE not built: cargo build --release -p reignite"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	BENCH_TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/reignite-bench-$1.XXXXXX")
}

# bench_ext4 NAME SIZE [mkfs.ext4 options...]: sparse image, loop device, ext4,
# mounted at $BENCH_TMP/NAME, which is stored in EXT4_MNT (not printed: the
# cleanup lists must be filled in the calling shell, not in a subshell).
bench_ext4() {
	local name=$1 size=$2; shift 2
	local img=$BENCH_TMP/$name.img mnt=$BENCH_TMP/$name dev
	truncate -s "$size" "$img"
	dev=$(losetup --find --show "$img")
	_BENCH_LOOPS+=("$dev")
	# Inode tables written now, so no ext4lazyinit thread writes during the measurements.
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$@" "$dev" >/dev/null
	mkdir -p "$mnt"
	mount "$dev" "$mnt"
	_BENCH_MOUNTS+=("$mnt")
	EXT4_MNT=$mnt
}

# bench_umount MNT: unmounts an image made by bench_ext4 early (frees its loop device).
bench_umount() {
	local mnt=$1 i
	umount "$mnt"
	for i in "${!_BENCH_MOUNTS[@]}"; do
		[ "${_BENCH_MOUNTS[i]}" = "$mnt" ] && unset '_BENCH_MOUNTS[i]'
	done
	_BENCH_MOUNTS=("${_BENCH_MOUNTS[@]}")
	for i in "${!_BENCH_LOOPS[@]}"; do
		if [ "$(losetup -n -O BACK-FILE "${_BENCH_LOOPS[i]}" 2>/dev/null)" = "$mnt.img" ]; then
			losetup -d "${_BENCH_LOOPS[i]}"
			unset '_BENCH_LOOPS[i]'
		fi
	done
	_BENCH_LOOPS=("${_BENCH_LOOPS[@]}")
	rm -f "$mnt.img"
}

bench_bg_pid() { _BENCH_PIDS+=("$1"); }

now_ns() { date +%s%N; }

# measure OUT CMD...: runs CMD under $TIME_BIN -v; sets MEAS_S (wall seconds,
# nanosecond clock) and MEAS_KB (peak RSS in KiB). CMD's stdout/stderr go to OUT.log.
# Fails (returns CMD's status) if CMD fails.
MEAS_S=0
MEAS_KB=0
MEAS_CPU=
measure() {
	local out=$1; shift
	local t0 t1 rc=0
	t0=$(now_ns)
	"$TIME_BIN" -v -o "$out.time" "$@" >"$out.log" 2>&1 || rc=$?
	t1=$(now_ns)
	MEAS_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	MEAS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out.time")
	MEAS_CPU=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "user %.2f s, sys %.2f s", u, s }' "$out.time")
	if [ "$rc" != 0 ]; then
		log "command failed ($rc): $*"
		tail -n 20 "$out.log" >&2
		return "$rc"
	fi
}

# time_only OUT CMD...: wall time only (no /usr/bin/time wrapper); sets MEAS_S.
time_only() {
	local out=$1; shift
	local t0 t1 rc=0
	t0=$(now_ns)
	"$@" >"$out.log" 2>&1 || rc=$?
	t1=$(now_ns)
	MEAS_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	if [ "$rc" != 0 ]; then
		log "command failed ($rc): $*"
		tail -n 20 "$out.log" >&2
		return "$rc"
	fi
}

# Arithmetic on decimal strings.
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "inf"; else printf "%.3f", a / b }'; }
min_of() { printf '%s\n' "$@" | sort -g | head -n 1; }
max_of() { printf '%s\n' "$@" | sort -g | tail -n 1; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# verdict VALUE OP LIMIT: prints PASS or FAIL (OP is one of <= < >=).
verdict() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "inf") ok = (op == ">=");
		else if (op == "<=") ok = (v <= l);
		else if (op == "<") ok = (v < l);
		else ok = (v >= l);
		print ok ? "PASS" : "FAIL" }'
}

machine_line() {
	printf 'machine: %s, %s cores (%s), %s MiB RAM, kernel %s; %s\n' \
		"$(hostname)" "$(nproc)" \
		"$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
		"$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" \
		"$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}
