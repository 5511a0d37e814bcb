#!/usr/bin/env bash
# Speed benchmark of issue 4: a reset of a root with a huge kept tree and many
# undeclared files, three ways, on ext4 (one fresh loop-mounted image per method,
# the same root built identically in each):
#   A. `rm -rf` of the undeclared files alone (the baseline);
#   B. reignite: `plan`, `reset` (staging), `boot --root` (until the new
#      generation is provisioned), `confirm` (purges the trash);
#   C. flatcar-reset's method: `find -xdev -depth -regextype egrep -not -regex RE`
#      and one `rm`/`rmdir` process per entry, as initrd-setup-root does.
#
#   sudo bash bench/reset.sh
#
# Environment (defaults = the issue's full scale):
#   SCALE=1              multiplies every count below (e.g. SCALE=0.01 for a quick run)
#   N_KEEP=1000000       files under the kept /var/lib/docker (1,000 per directory)
#   N_UNDECLARED=100000  undeclared files in N_UNDECL_DIRS directories under /opt, /srv, /home, /var/lib
#   N_UNDECL_DIRS=1000
#   N_ETC=1000           undeclared files directly in /etc, beside the kept SSH host keys
#   METHODS="rm reignite flatcar"   which methods to run
#   FRESH_ROOTS=1        1: a fresh image and root per method (built identically); 0: build the root
#                        once and, between methods, only write the undeclared files again (the kept
#                        tree, which no method may touch, is reused: saves two builds of N_KEEP files)
#   DROP_CACHES=0        1: drop the page cache before each measurement (cold cache; affects the whole machine)
#   ROUNDS=1             run A and B alternately this many times (each on a freshly written set of undeclared
#                        files) and judge the best time of each; every round is printed. On a shared, loaded
#                        machine single runs vary by 2x; ROUNDS=3 with FRESH_ROOTS=0 costs ~1 min per round.
# Targets: boot <= 0.1x rm -rf; boot + confirm <= 1.2x rm -rf; flatcar method / (boot + confirm) >= 20;
# plan < 1 s.

source "$(dirname "$0")/lib.sh"

SCALE=${SCALE:-1}
sc() { awk -v n="$1" -v s="$SCALE" -v m="${2:-1}" 'BEGIN { v = int(n * s + 0.5); print (v < m ? m : v) }'; }
N_KEEP=$(sc "${N_KEEP:-1000000}")
N_UNDECLARED=$(sc "${N_UNDECLARED:-100000}" 4)
N_UNDECL_DIRS=$(sc "${N_UNDECL_DIRS:-1000}" 4)
N_ETC=$(sc "${N_ETC:-1000}")
METHODS=${METHODS:-rm reignite flatcar}
DROP_CACHES=${DROP_CACHES:-0}
FRESH_ROOTS=${FRESH_ROOTS:-1}
ROUNDS=${ROUNDS:-1}
KEEP_PER_DIR=1000

bench_init reset

echo "== reignite reset benchmark (issue 4) =="
machine_line
echo "reignite: $REIGNITE ($("$REIGNITE" --version 2>/dev/null || echo '?'))"
echo "scale: $N_KEEP kept files under /var/lib/docker ($KEEP_PER_DIR per directory), $N_UNDECLARED undeclared files in $N_UNDECL_DIRS directories under /opt /srv /home /var/lib, $N_ETC undeclared files in /etc beside kept SSH host keys"
if [ "$FRESH_ROOTS" = 1 ]; then
	echo "filesystem: ext4 on a fresh loop-mounted sparse image per method, root built identically each time; /usr is a separate (tmpfs) mount as on Flatcar"
else
	echo "filesystem: ext4 on one loop-mounted sparse image; root built once, undeclared files rewritten before each method (FRESH_ROOTS=0); /usr is a separate (tmpfs) mount as on Flatcar"
fi

W=$BENCH_TMP/work
mkdir -p "$W"

# --- configs -------------------------------------------------------------------
# Generation 1 (provisioned before the data appears) and generation 2 (the reset target).
python3 - "$W" <<'EOF'
import json, sys, urllib.parse
w = sys.argv[1]
def data(s): return "data:," + urllib.parse.quote(s)
def cfg(gen):
    files = [
        {"path": "/etc/reignite/keep.d/10-bench", "mode": 0o644,
         "contents": {"source": data("/var/lib/docker\n/etc/ssh/ssh_host_*\n")}},
        {"path": "/etc/hostname", "mode": 0o644, "overwrite": True, "contents": {"source": data(f"bench-gen{gen}\n")}},
    ]
    files += [{"path": f"/etc/app/conf{i:02d}.conf", "mode": 0o640,
               "contents": {"source": data(f"setting{i} = {gen}\n")}} for i in range(20)]
    units = [{"name": "bench-app.service", "enabled": True,
              "contents": f"[Unit]\nDescription=bench generation {gen}\n[Service]\nExecStart=/usr/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]
    return {"ignition": {"version": "3.3.0"}, "storage": {"files": files}, "systemd": {"units": units}}
for g in (1, 2):
    with open(f"{w}/gen{g}.ign", "w") as f:
        json.dump(cfg(g), f)
EOF

# --- root generator --------------------------------------------------------------
cat >"$W/gen.py" <<'EOF'
import os, sys
root, n_keep, per_dir, n_und, n_udirs, n_etc = sys.argv[1], *map(int, sys.argv[2:7])
O = os.O_CREAT | os.O_WRONLY | os.O_EXCL
def mk(path, data=b"", skip_existing=False):
    if skip_existing and os.path.lexists(path):
        return
    fd = os.open(path, O, 0o644)
    if data:
        os.write(fd, data)
    os.close(fd)
def md(path, mode=0o755):
    os.makedirs(path, mode, exist_ok=True)
what = sys.argv[7] if len(sys.argv) > 7 else "all"
if what in ("all", "base"):
    for d in ("etc/ssh", "var/lib", "var/log", "opt", "srv", "home", "boot", "oem", "root", "tmp"):
        md(f"{root}/{d}")
    for f, c in (("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
                 ("etc/group", b"root:x:0:\n"),
                 ("etc/shadow", b"root:*:19000:0:99999:7:::\n"),
                 ("etc/gshadow", b"root:*::\n"),
                 ("etc/machine-id", b"0123456789abcdef0123456789abcdef\n"),
                 ("etc/hostname", b"localhost\n"),
                 ("var/log/messages", b"boot\n")):
        mk(f"{root}/{f}", c, True)
    for k in ("rsa", "ecdsa", "ed25519"):
        mk(f"{root}/etc/ssh/ssh_host_{k}_key", b"PRIVATE KEY " + k.encode() + b"\n", True)
        mk(f"{root}/etc/ssh/ssh_host_{k}_key.pub", b"PUBLIC KEY " + k.encode() + b"\n", True)
    mk(f"{root}/etc/ssh/sshd_config", b"# undeclared sshd config\n", True)
if what in ("all", "data", "kept"):
    # the kept tree: docker layers, empty files (never touched by any method)
    left, d = n_keep, 0
    while left > 0:
        p = f"{root}/var/lib/docker/overlay2/layer{d:05d}/diff"
        md(p)
        for i in range(min(per_dir, left)):
            mk(f"{p}/f{i:04d}")
        left -= per_dir
        d += 1
if what in ("all", "data", "undeclared"):
    # undeclared: n_udirs directories spread over /opt, /srv, /home, /var/lib, 64 bytes per file
    body = b"x" * 63 + b"\n"
    tops = ("opt", "srv", "home", "var/lib")
    for j in range(n_udirs):
        p = f"{root}/{tops[j % 4]}/undeclared{j:04d}"
        md(p)
        for i in range(n_und * (j + 1) // n_udirs - n_und * j // n_udirs):
            mk(f"{p}/f{i:05d}", body)
    for i in range(n_etc):
        mk(f"{root}/etc/undeclared{i:04d}.conf", body)
EOF

# build_root MNT: the image's /usr (tmpfs, with the factory tree), generation 1, the data.
# Sets R. Prints the setup time.
build_root() {
	local mnt=$1 t0
	t0=$(now_ns)
	R=$mnt/root
	mkdir -p "$R/usr"
	mount -t tmpfs -o size=16m,mode=755 bench-usr "$R/usr"
	_BENCH_MOUNTS+=("$R/usr")
	mkdir -p "$R/usr/bin" "$R/usr/lib" "$R/usr/share/factory/etc"
	printf 'ID=flatcar\nNAME="bench image"\n' >"$R/usr/lib/os-release"
	printf 'root:x:0:0:root:/root:/bin/bash\n' >"$R/usr/share/factory/etc/passwd"
	printf 'root:x:0:\n' >"$R/usr/share/factory/etc/group"
	printf 'Welcome to the bench image\n' >"$R/usr/share/factory/etc/issue"
	python3 "$W/gen.py" "$R" "$N_KEEP" "$KEEP_PER_DIR" "$N_UNDECLARED" "$N_UNDECL_DIRS" "$N_ETC" base
	"$REIGNITE" apply --root "$R" "$W/gen1.ign" >"$W/apply-gen1.log" 2>&1 || { cat "$W/apply-gen1.log" >&2; die "reignite apply of generation 1 failed"; }
	python3 "$W/gen.py" "$R" "$N_KEEP" "$KEEP_PER_DIR" "$N_UNDECLARED" "$N_UNDECL_DIRS" "$N_ETC" data
	sync
	printf '  setup: root built in %.1f s (generation 1 applied by reignite, then %d kept + %d undeclared files written, synced)\n' \
		"$(calc "($(now_ns) - $t0) / 1e9")" "$N_KEEP" "$((N_UNDECLARED + N_ETC))"
}

# refill_root: for FRESH_ROOTS=0, puts back what the previous method removed (the
# undeclared files, and the image's base files a reset removed) on the same root; the
# kept tree, built once, is identical for every method since none may touch it.
refill_root() {
	local t0
	t0=$(now_ns)
	python3 "$W/gen.py" "$R" "$N_KEEP" "$KEEP_PER_DIR" "$N_UNDECLARED" "$N_UNDECL_DIRS" "$N_ETC" base
	python3 "$W/gen.py" "$R" "$N_KEEP" "$KEEP_PER_DIR" "$N_UNDECLARED" "$N_UNDECL_DIRS" "$N_ETC" undeclared
	sync
	printf '  setup: same root, %d undeclared files written again in %.1f s, synced (kept tree reused)\n' \
		"$((N_UNDECLARED + N_ETC))" "$(calc "($(now_ns) - $t0) / 1e9")"
}

# root_for METHOD: a fresh image and root (FRESH_ROOTS=1), or the shared one.
MNT=
root_for() {
	if [ "$FRESH_ROOTS" = 1 ] || [ -z "$MNT" ]; then
		new_image "$1"; MNT=$EXT4_MNT
		build_root "$MNT"
	else
		refill_root
	fi
}
root_done() {
	if [ "$FRESH_ROOTS" = 1 ]; then
		umount "$R/usr"; bench_umount "$MNT"; MNT=
	fi
}

# The undeclared files this benchmark created (what `rm -rf` removes in method A).
undeclared_paths() {
	local r=$1
	printf '%s\n' "$r"/opt/undeclared* "$r"/srv/undeclared* "$r"/home/undeclared* "$r"/var/lib/undeclared* "$r"/etc/undeclared*
}

settle() {
	sync
	if [ "$DROP_CACHES" = 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}

new_image() {
	# inodes: kept + undeclared + directories + slack; size: one 4 KiB data block per
	# undeclared file, room for the inode tables (256 B per inode) and plenty of slack (sparse).
	local inodes=$(( N_KEEP + N_UNDECLARED + N_ETC + N_KEEP / KEEP_PER_DIR + N_UNDECL_DIRS + 100000 ))
	bench_ext4 "$1" "${IMG_SIZE:-$(( (N_UNDECLARED + N_ETC) * 4 / 1024 + inodes * 4 / 1024 + 2048 ))M}" -N "$inodes"
}

check_kept() {
	local r=$1 who=$2 n k
	n=$(find "$r/var/lib/docker" -type f | wc -l)
	[ "$n" = "$N_KEEP" ] || die "$who: $n kept files left under /var/lib/docker, expected $N_KEEP"
	for k in rsa ecdsa ed25519; do
		[ -f "$r/etc/ssh/ssh_host_${k}_key" ] && [ -f "$r/etc/ssh/ssh_host_${k}_key.pub" ] || die "$who: SSH host key $k lost"
	done
	n=$(undeclared_paths "$r" | while IFS= read -r p; do if [ -e "$p" ]; then echo "$p"; fi; done | wc -l)
	[ "$n" = 0 ] || die "$who: $n undeclared top-level paths survived"
}

RM_S= RMSYNC_S= BOOT_S= STAGE_S= CONFIRM_S= PLAN_S= FLATCAR_S= PLAN2_S= BC_S= SB_S=

# --- A: rm -rf of the undeclared files alone ---------------------------------------
RM_ALL=() BOOT_ALL=() CONFIRM_ALL=() BC_ALL=() SB_ALL=()
run_a() {
	echo
	echo "-- A: rm -rf of the undeclared files alone (round $1 of $ROUNDS) --"
	root_for a
	mapfile -t U < <(undeclared_paths "$R")
	settle
	time_only "$W/rm" rm -rf -- "${U[@]}" || die "rm -rf failed"
	RM_ALL+=("$MEAS_S")
	local rm_s=$MEAS_S
	time_only "$W/rm-sync" sync
	RMSYNC_S=$MEAS_S
	printf '  rm -rf %d paths (%d files): %.3f s (+ sync afterwards %.3f s)\n' "${#U[@]}" "$((N_UNDECLARED + N_ETC))" "$rm_s" "$RMSYNC_S"
	root_done
}

# --- B: reignite -------------------------------------------------------------------
run_b() {
	echo
	echo "-- B: reignite plan / reset / boot / confirm (round $1 of $ROUNDS) --"
	root_for b
	if [ "$1" = 1 ]; then
		settle
		time_only "$W/plan" "$REIGNITE" plan --root "$R" --format json -o "$W/plan.json" "$W/gen2.ign" || die "reignite plan failed"
		PLAN_S=$MEAS_S
		time_only "$W/plan2" "$REIGNITE" plan --root "$R" --format json "$W/gen2.ign" || die "reignite plan failed"
		PLAN2_S=$MEAS_S
		python3 - "$W/plan.json" <<-'EOF' || true
	import json, sys
	p = json.load(open(sys.argv[1]))
	s = p.get("summary", {})
	print(f"  plan: {s.get('remove', '?')} removals ({s.get('remove-entries', '?')} entries, {s.get('remove-bytes', '?')} bytes), "
	      f"{s.get('create', '?')} creations, {s.get('keep', '?')} kept paths")
	EOF
		printf '  reignite plan: %.3f s (second run, warm: %.3f s)\n' "$PLAN_S" "$PLAN2_S"
		# Does the scan descend into the kept subtree? Count directory reads under it (plan runs
		# the same scan as reset/boot; traced separately so the timings above carry no tracing cost).
		DESCEND="not checked (strace missing)"
		if command -v strace >/dev/null; then
			strace -f -y -qq -e trace=getdents64,openat -o "$W/plan.strace" \
				"$REIGNITE" plan --root "$R" --format json "$W/gen2.ign" >/dev/null 2>&1 || true
			nd=$(grep -c "^[0-9]* *getdents64([0-9]*<$R/var/lib/docker/" "$W/plan.strace" || true)
			na=$(grep -c "^[0-9]* *getdents64(" "$W/plan.strace" || true)
			DESCEND="$nd of the $na directory reads (getdents64) of plan's scan are below /var/lib/docker (strace)"
		fi
		echo "  descends into the kept tree: $DESCEND"
	fi
	settle
	time_only "$W/reset" "$REIGNITE" reset --root "$R" "$W/gen2.ign" || die "reignite reset failed (log above)"
	STAGE_S=$MEAS_S
	settle
	time_only "$W/boot" "$REIGNITE" boot --root "$R" || die "reignite boot failed"
	BOOT_S=$MEAS_S
	BOOT_ALL+=("$MEAS_S")
	SB_ALL+=("$(calc "$STAGE_S + $BOOT_S")")
	grep -q 'bench-gen2' "$R/etc/hostname" || die "boot did not provision generation 2 (/etc/hostname)"
	[ -f "$R/etc/app/conf19.conf" ] || die "boot did not provision generation 2 (/etc/app)"
	check_kept "$R" "reignite boot"
	printf '  reignite reset (staging): %.3f s\n' "$STAGE_S"
	printf '  reignite boot --root    : %.3f s (until generation 2 is provisioned)\n' "$BOOT_S"
	settle
	time_only "$W/confirm" "$REIGNITE" confirm --root "$R" || die "reignite confirm failed"
	CONFIRM_S=$MEAS_S
	CONFIRM_ALL+=("$MEAS_S")
	BC_ALL+=("$(calc "$BOOT_S + $CONFIRM_S")")
	left=$(find "$R/.reignite-trash" -mindepth 1 2>/dev/null | wc -l)
	printf '  reignite confirm (purges the trash): %.3f s; %d entries left in the trash\n' "$CONFIRM_S" "$left"
	"$REIGNITE" status --root "$R" >"$W/status.log" 2>&1 && sed 's/^/  status: /' "$W/status.log" | head -n 6
	root_done
}

for ((round = 1; round <= ROUNDS; round++)); do
	if [[ " $METHODS " == *" rm "* ]]; then run_a "$round"; fi
	if [[ " $METHODS " == *" reignite "* ]]; then run_b "$round"; fi
done
# Best of the rounds (each round's figures are printed above).
best() { printf '%s\n' "$@" | sort -g | head -n 1; }
if [ ${#RM_ALL[@]} -gt 0 ]; then RM_S=$(best "${RM_ALL[@]}"); fi
if [ ${#BOOT_ALL[@]} -gt 0 ]; then
	BOOT_S=$(best "${BOOT_ALL[@]}"); CONFIRM_S=$(best "${CONFIRM_ALL[@]}"); BC_S=$(best "${BC_ALL[@]}")
	SB_S=$(best "${SB_ALL[@]}")
fi
if [ "$ROUNDS" -gt 1 ]; then
	echo
	echo "-- rounds (seconds): rm -rf ${RM_ALL[*]:-}; boot ${BOOT_ALL[*]:-}; confirm ${CONFIRM_ALL[*]:-}; boot + confirm ${BC_ALL[*]:-} (best of each is judged) --"
fi

# --- C: flatcar-reset's method -------------------------------------------------------
if [[ " $METHODS " == *" flatcar "* ]]; then
	echo
	echo "-- C: flatcar-reset's method (find -xdev -depth -not -regex, one rm/rmdir per entry) --"
	root_for c
	# flatcar-reset --keep-paths /var/lib/docker '/etc/ssh/ssh_host_.*' writes this ERE; the
	# initramfs runs find inside the chroot, here the paths carry the root's prefix instead.
	KEEP_RE='(/var/lib/docker/.*|/var/lib/docker|/etc/ssh/ssh_host_.*|/flatcar-backup|/flatcar-backup/.*|/selective-os-reset)'
	PREFIX=$(printf '%s' "$R" | sed 's/[][\.*^$(){}?+|]/\\&/g')
	cat >"$W/flatcar-wipe.sh" <<'EOF'
#!/bin/bash
# initrd-setup-root's selective OS reset, with the root as $1 instead of a chroot.
R=$1 RE=$2
find "$R" -xdev -depth -regextype egrep -not -regex "$RE" -print0 | while IFS= read -r -d '' p; do
	if [ "$p" = "$R" ] || [ "$p" = "$R/usr" ]; then continue; fi
	if [ -d "$p" ]; then
		rmdir "$p" 2>/dev/null || true
	else
		rm "$p" 2>/dev/null || true
	fi
done
rm -f "$R/selective-os-reset" "$R/etc/machine-id"
EOF
	settle
	time_only "$W/flatcar" bash "$W/flatcar-wipe.sh" "$R" "$PREFIX$KEEP_RE" || die "flatcar-reset method failed"
	FLATCAR_S=$MEAS_S
	check_kept "$R" "flatcar-reset method"
	printf '  find + rm/rmdir per entry: %.3f s\n' "$FLATCAR_S"
	root_done
fi

# --- summary -------------------------------------------------------------------------
echo
echo "-- summary --"
[ -n "$PLAN_S" ] && printf 'reignite plan                      %8.3f s   target < 1 s        %s\n' "$PLAN_S" "$(verdict "$PLAN_S" '<' 1)"
if [ -n "$RM_S" ] && [ -n "$BOOT_S" ]; then
	r=$(ratio "$BOOT_S" "$RM_S")
	printf 'boot / rm -rf                      %8s x   target <= 0.1x      %s   (boot %.3f s, rm -rf %.3f s)\n' "$r" "$(verdict "$r" '<=' 0.1)" "$BOOT_S" "$RM_S"
	sb=$SB_S
	r=$(ratio "$sb" "$RM_S")
	printf '(reset staging + boot) / rm -rf    %8s x   target <= 0.1x      %s   (staging + boot %.3f s)\n' "$r" "$(verdict "$r" '<=' 0.1)" "$sb"
	tot=$BC_S
	r=$(ratio "$tot" "$RM_S")
	printf '(boot + confirm) / rm -rf          %8s x   target <= 1.2x      %s   (boot + confirm %.3f s)\n' "$r" "$(verdict "$r" '<=' 1.2)" "$tot"
	r=$(ratio "$tot" "$(calc "$RM_S + $RMSYNC_S")")
	printf '(boot + confirm) / (rm -rf + sync) %8s x   (information: rm -rf leaves its metadata unsynced)\n' "$r"
fi
if [ -n "$FLATCAR_S" ] && [ -n "$BOOT_S" ]; then
	tot=$BC_S
	r=$(ratio "$FLATCAR_S" "$tot")
	printf 'flatcar method / (boot + confirm)  %8s x   target >= 20x       %s   (flatcar %.3f s)\n' "$r" "$(verdict "$r" '>=' 20)" "$FLATCAR_S"
fi
if [ -n "$FLATCAR_S" ] && [ -n "$RM_S" ]; then
	printf 'flatcar method / rm -rf            %8s x   (information)\n' "$(ratio "$FLATCAR_S" "$RM_S")"
fi
