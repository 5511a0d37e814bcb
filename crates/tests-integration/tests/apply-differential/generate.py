#!/usr/bin/env python3
"""Generates the apply-differential corpus: every *.json beside this script and
in privileged/. The JSON files are committed; edit this script and rerun it
(`python3 generate.py .` from this directory) rather than editing them by hand.

Each case is run by crates/tests-integration through Debian's Ignition 2.14
and `reignite apply`; the oracle is Ignition, so an `expect` that contradicts
Ignition is reported as a corpus problem. `known` lists per-case differences
with their kind (deliberate, ignition-2.14, bug) and reason.
"""
import json, base64, gzip, hashlib, urllib.parse, os, sys
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
def pct(s): return "data:," + urllib.parse.quote(s, safe="")
def b64(b): return "data:;base64," + base64.b64encode(b).decode()
def gz(s):
    b = s.encode() if isinstance(s, str) else s
    return "data:;base64," + base64.b64encode(gzip.compress(b, mtime=0)).decode()
def sha512(s): return "sha512-" + hashlib.sha512(s.encode()).hexdigest()
def sha256(s): return "sha256-" + hashlib.sha256(s.encode()).hexdigest()
def cfg(v, storage=None, systemd=None, passwd=None, ignition=None):
    c = {"ignition": {"version": v}}
    if ignition: c["ignition"].update(ignition)
    if storage is not None: c["storage"] = storage
    if systemd is not None: c["systemd"] = systemd
    if passwd is not None: c["passwd"] = passwd
    return c
cases = {}
def case(name, desc, config=None, expect="success", setup=None, raw=None, sub="", known=None):
    d = {"description": desc}
    if setup: d["setup"] = setup
    d["expect"] = expect
    if known: d["known"] = [{"matches": m, "kind": k, "reason": r} for (m, k, r) in known]
    if raw is not None: d["config_raw"] = raw
    else: d["config"] = config
    cases[(sub, name)] = d
def F(path, src=None, **kw):
    f = {"path": path}
    if src is not None: f["contents"] = {"source": src}
    f.update(kw); return f
S = lambda **kw: kw

# ---------- files
case("001-file-plain-3.0", "a file from a percent-encoded data URL (spec 3.0)",
     cfg("3.0.0", S(files=[F("/etc/motd", pct("Welcome\n"))])))
case("002-file-no-contents-3.1", "a file without contents is created empty, 0644",
     cfg("3.1.0", S(files=[F("/var/empty-file")])))
case("003-file-empty-source-3.2", "contents.source \"\" means empty contents",
     cfg("3.2.0", S(files=[F("/etc/empty", "")])))
case("004-file-mode-0600-3.3", "mode 0600 (decimal 384)",
     cfg("3.3.0", S(files=[F("/etc/secret", pct("s3cret"), mode=0o600)])))
case("005-file-mode-0755-3.0", "an executable script, mode 0755",
     cfg("3.0.0", S(files=[F("/opt/bin/hello", pct("#!/bin/sh\necho hi\n"), mode=0o755)])))
case("006-file-setuid-masked-3.3", "mode 04755 below spec 3.4: warning and the setuid bit is masked",
     cfg("3.3.0", S(files=[F("/opt/bin/suid", pct("x"), mode=0o4755)])))
case("007-file-base64-3.1", "base64 data URL with binary bytes (NUL, 0xff)",
     cfg("3.1.0", S(files=[F("/var/lib/blob.bin", b64(bytes(range(256))))])))
case("008-file-mediatype-3.2", "data URL with media type and charset",
     cfg("3.2.0", S(files=[F("/etc/issue.d/x.issue", "data:text/plain;charset=utf-8,caf%C3%A9%0A")])))
case("009-file-gzip-3.1", "gzip-compressed contents",
     cfg("3.1.0", S(files=[F("/etc/compressed.conf", gz("line one\nline two\n" * 20), contents={"source": gz("line one\nline two\n" * 20), "compression": "gzip"})])))
body = "verified\n"
case("010-file-sha512-3.0", "sha512 verification of the contents (3.0)",
     cfg("3.0.0", S(files=[F("/etc/verified", contents={"source": pct(body), "verification": {"hash": sha512(body)}})])))
case("011-file-sha256-3.1", "sha256 verification (added in 3.1)",
     cfg("3.1.0", S(files=[F("/etc/verified", contents={"source": pct(body), "verification": {"hash": sha256(body)}})])))
zb = "zipped and hashed\n"
case("012-file-gzip-hash-3.3", "the hash covers the decompressed bytes",
     cfg("3.3.0", S(files=[F("/etc/zh", contents={"source": gz(zb), "compression": "gzip", "verification": {"hash": sha512(zb)}})])))
case("013-file-bad-hash-3.3", "hash mismatch fails the files stage; an earlier file stays written",
     cfg("3.3.0", S(files=[F("/a", pct("first")), F("/b/c", contents={"source": pct(body), "verification": {"hash": sha256("other")}})])),
     expect="failure")
case("014-file-sha256-in-3.0", "sha256 is not valid in spec 3.0",
     cfg("3.0.0", S(files=[F("/etc/x", contents={"source": pct(body), "verification": {"hash": sha256(body)}})])), expect="failure")
case("015-file-append-new-3.1", "append fragments to a file that does not exist",
     cfg("3.1.0", S(files=[F("/etc/appended", append=[{"source": pct("one\n")}, {"source": pct("two\n")}])])))
case("016-file-append-after-contents-3.2", "contents then append fragments, with mode",
     cfg("3.2.0", S(files=[F("/etc/appended", pct("base\n"), append=[{"source": pct("more\n")}], mode=0o640)])))
case("017-file-append-existing-3.3", "append to an existing file without overwrite",
     cfg("3.3.0", S(files=[F("/etc/hosts", append=[{"source": pct("10.0.0.1 db\n")}])])),
     setup=[{"path": "/etc/hosts", "contents": "127.0.0.1 localhost\n", "mode": "0644"}])
case("018-file-append-gzip-3.1", "a gzip-compressed append fragment",
     cfg("3.1.0", S(files=[F("/etc/appended", pct("a\n"), append=[{"source": gz("b\n"), "compression": "gzip"}])])))
case("019-file-existing-chmod-only-3.3", "existing file, no contents: only the mode changes",
     cfg("3.3.0", S(files=[F("/etc/hostname", mode=0o600)])))
case("020-file-existing-no-overwrite-3.3", "existing file with contents and overwrite false fails",
     cfg("3.3.0", S(files=[F("/etc/hostname", pct("new\n"))])), expect="failure")
case("021-file-existing-identical-3.3", "existing file with identical contents and overwrite false (Ignition fails)",
     cfg("3.3.0", S(files=[F("/etc/hostname", pct("localhost\n"))])), expect="failure")
case("022-file-overwrite-true-3.3", "overwrite replaces an existing 0600 file; the new file is 0644",
     cfg("3.3.0", S(files=[F("/etc/conf", pct("new\n"), overwrite=True)])),
     setup=[{"path": "/etc/conf", "contents": "old\n", "mode": "0600"}])
case("023-file-overwrite-directory-3.3", "overwrite true removes an existing directory recursively",
     cfg("3.3.0", S(files=[F("/srv/thing", pct("file now\n"), overwrite=True)])),
     setup=[{"path": "/srv/thing/sub/x", "contents": "x"}])
case("024-file-over-directory-no-overwrite-3.3", "a directory where a file is declared fails",
     cfg("3.3.0", S(files=[F("/srv/thing", pct("x"))])), expect="failure",
     setup=[{"path": "/srv/thing", "directory": True}])
case("025-file-over-symlink-overwrite-3.3", "overwrite true replaces a symlink itself, not its target",
     cfg("3.3.0", S(files=[F("/etc/resolv.conf", pct("nameserver 1.1.1.1\n"), overwrite=True)])),
     setup=[{"path": "/run/resolv.conf", "contents": "stub\n"}, {"path": "/etc/resolv.conf", "symlink": "../run/resolv.conf"}])
case("026-file-through-symlinked-dir-3.3", "a parent that is a symlink is followed inside the root",
     cfg("3.3.0", S(files=[F("/opt/app/conf", pct("c\n"))])),
     setup=[{"path": "/var/opt", "directory": True}, {"path": "/opt", "symlink": "/var/opt"}])
case("027-file-deep-parents-3.0", "missing parents are created 0755",
     cfg("3.0.0", S(files=[F("/a/b/c/d/e/f/g", pct("deep"))])))
case("028-file-depth-order-3.2", "a directory declared after a deeper file still gets its mode",
     cfg("3.2.0", S(files=[F("/data/sub/f", pct("f"))], directories=[{"path": "/data", "mode": 0o700}])))
case("029-file-in-declared-dir-3.1", "file inside a declared directory with mode 0750",
     cfg("3.1.0", S(directories=[{"path": "/srv/data", "mode": 0o750}], files=[F("/srv/data/f", pct("x"), mode=0o640)])))
case("030-file-multiline-3.3", "multi-line percent-encoded contents without a final newline",
     cfg("3.3.0", S(files=[F("/etc/multi", pct("[a]\nk = v\n\n# c\nlast"))])))
child = json.dumps(cfg("3.3.0", S(files=[F("/etc/from-child", pct("merged\n"))])))
case("031-config-merge-3.3", "ignition.config.merge with a data URL",
     cfg("3.3.0", S(files=[F("/etc/from-parent", pct("parent\n"))]), ignition={"config": {"merge": [{"source": pct(child)}]}}))
child31 = json.dumps(cfg("3.1.0", S(files=[F("/etc/replaced", pct("replacement\n"))])))
case("032-config-replace-3.1", "ignition.config.replace: only the child config applies",
     cfg("3.1.0", S(files=[F("/etc/ignored", pct("no\n"))]), ignition={"config": {"replace": {"source": pct(child31)}}}))
child30 = json.dumps(cfg("3.0.0", S(files=[F("/etc/child30", pct("c\n"))])))
case("033-config-merge-3.0", "merge in spec 3.0",
     cfg("3.0.0", ignition={"config": {"merge": [{"source": pct(child30)}]}}))
childo = json.dumps(cfg("3.3.0", S(files=[F("/etc/same", pct("child\n"), mode=0o600)])))
case("034-config-merge-child-wins-3.3", "a merged child overrides the parent's file at the same path field by field",
     cfg("3.3.0", S(files=[F("/etc/same", pct("parent\n"), mode=0o644)]), ignition={"config": {"merge": [{"source": pct(childo)}]}}))
case("035-config-unknown-key-3.3", "unknown keys are warnings only",
     raw='{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/x","contents":{"source":"data:,x"},"colour":"blue"}]},"extra":1}')
case("036-config-case-insensitive-keys-3.3", "Go matches keys case-insensitively",
     raw='{"Ignition":{"VERSION":"3.3.0"},"STORAGE":{"Files":[{"PATH":"/etc/ci","Contents":{"Source":"data:,ci"},"Mode":384}]}}')
case("037-config-invalid-json", "invalid JSON fails before anything is written",
     raw='{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/x"}]}', expect="failure")
case("038-config-unknown-version", "an unknown spec version is rejected",
     cfg("3.9.0", S(files=[F("/etc/x", pct("x"))])), expect="failure")
case("039-config-relative-path-3.3", "a relative node path is invalid",
     cfg("3.3.0", S(files=[F("etc/x", pct("x"))])), expect="failure")
case("040-config-duplicate-paths-3.3", "two files with one path are invalid",
     cfg("3.3.0", S(files=[F("/etc/x", pct("1")), F("/etc/x", pct("2"))])), expect="failure")
case("041-config-file-and-dir-same-path-3.3", "files, directories and links share one key space",
     cfg("3.3.0", S(files=[F("/etc/x", pct("1"))], directories=[{"path": "/etc/x"}])), expect="failure")
case("042-config-invalid-mode-3.3", "mode outside 07777 is invalid",
     cfg("3.3.0", S(files=[F("/etc/x", pct("1"), mode=0o10644)])), expect="failure")
case("043-config-bad-data-url-3.3", "a malformed data URL fails in the files stage, after earlier nodes",
     cfg("3.3.0", S(files=[F("/first", pct("written first")), F("/deeper/bad", "data:;base64,%%%not-base64")])), expect="failure")
case("044-config-bad-compression-3.3", "unknown compression is invalid",
     cfg("3.3.0", S(files=[F("/etc/x", contents={"source": pct("x"), "compression": "xz"})])), expect="failure")
case("045-config-empty-3.2", "a config with nothing to do",
     cfg("3.2.0"))
case("046-config-later-field-in-3.0", "a field added in 3.1 (httpHeaders) is only an unknown key in 3.0: warning, success",
     cfg("3.0.0", S(files=[F("/etc/x", contents={"source": pct("x"), "httpHeaders": [{"name": "a", "value": "b"}]})])))
# ---------- directories
case("050-dir-create-3.0", "a directory with default mode 0755",
     cfg("3.0.0", S(directories=[{"path": "/var/lib/app"}])))
case("051-dir-modes-nested-3.1", "nested directories with their own modes",
     cfg("3.1.0", S(directories=[{"path": "/srv/a", "mode": 0o700}, {"path": "/srv/a/b/c", "mode": 0o750}])))
case("052-dir-existing-chmod-3.3", "an existing directory only gets its mode changed",
     cfg("3.3.0", S(directories=[{"path": "/var/cache/app", "mode": 0o750}])),
     setup=[{"path": "/var/cache/app/keep", "contents": "kept\n"}])
case("053-dir-over-file-no-overwrite-3.3", "a file where a directory is declared fails",
     cfg("3.3.0", S(directories=[{"path": "/etc/hostname"}])), expect="failure")
case("054-dir-over-file-overwrite-3.3", "overwrite true replaces a file by a directory",
     cfg("3.3.0", S(directories=[{"path": "/etc/hostname", "overwrite": True, "mode": 0o700}])))
case("055-dir-overwrite-empties-3.3", "overwrite true on an existing directory removes its contents (RemoveAll)",
     cfg("3.3.0", S(directories=[{"path": "/srv/d", "overwrite": True}])),
     setup=[{"path": "/srv/d/sub/f", "contents": "gone?"}])
case("056-dir-sticky-masked-3.3", "mode 01777 below spec 3.4: the sticky bit is masked",
     cfg("3.3.0", S(directories=[{"path": "/var/tmp2", "mode": 0o1777}])))
# ---------- symlinks
case("060-link-absolute-3.0", "an absolute symlink",
     cfg("3.0.0", S(links=[{"path": "/etc/localtime", "target": "/usr/share/zoneinfo/UTC"}])))
case("061-link-relative-3.1", "a relative symlink, target stored verbatim",
     cfg("3.1.0", S(links=[{"path": "/usr/bin/vi", "target": "../../bin/vim"}])))
case("062-link-dangling-3.2", "a dangling symlink in a new directory",
     cfg("3.2.0", S(links=[{"path": "/opt/links/none", "target": "/does/not/exist"}])))
case("063-link-existing-same-3.3", "an existing symlink with the same target is left alone",
     cfg("3.3.0", S(links=[{"path": "/etc/l", "target": "/etc/hostname"}])),
     setup=[{"path": "/etc/l", "symlink": "/etc/hostname"}])
case("064-link-existing-other-3.3", "an existing symlink to another target fails without overwrite",
     cfg("3.3.0", S(links=[{"path": "/etc/l", "target": "/etc/passwd"}])), expect="failure",
     setup=[{"path": "/etc/l", "symlink": "/etc/hostname"}])
case("065-link-existing-other-overwrite-3.3", "overwrite true retargets an existing symlink",
     cfg("3.3.0", S(links=[{"path": "/etc/l", "target": "/etc/passwd", "overwrite": True}])),
     setup=[{"path": "/etc/l", "symlink": "/etc/hostname"}])
case("066-link-over-file-3.3", "a regular file where a symlink is declared fails without overwrite",
     cfg("3.3.0", S(links=[{"path": "/etc/hostname", "target": "/run/hostname"}])), expect="failure")
case("067-link-over-file-overwrite-3.3", "overwrite true replaces a file by a symlink",
     cfg("3.3.0", S(links=[{"path": "/etc/hostname", "target": "/run/hostname", "overwrite": True}])))
case("068-link-declared-parent-3.3", "a file below a symlink declared in the same config is invalid (file path includes link in config)",
     cfg("3.3.0", S(directories=[{"path": "/srv/conf"}], links=[{"path": "/etc/conf", "target": "/srv/conf"}], files=[F("/etc/conf/x", pct("x\n"))])), expect="failure")
case("069-link-chain-escape-3.3", "a two-level symlink chain: Ignition resolves one level and escapes the root",
     cfg("3.3.0", S(files=[F("/x/f", pct("where am I\n"))])),
     setup=[{"path": "/y", "symlink": "../outside"}, {"path": "/x", "symlink": "/y"}], expect="failure",
     known=[("(exit): ignition failed", "deliberate", "Ignition resolves only one symlink level (/x -> /y), then the kernel follows /y -> ../outside out of the root; here that fails with mkdir: file exists. reignite resolves every component inside the root (ignition-semantics.md 6.3)"),
            ("/outside", "deliberate", "reignite clamps ../outside at the root and writes /outside/f inside it"),
            ("/etc/.ignition-result.json: only in reignite", "deliberate", "written because reignite succeeded")])
case("070-link-target-required-3.3", "a symlink without target is invalid",
     cfg("3.3.0", S(links=[{"path": "/etc/l"}])), expect="failure")
case("071-link-broken-overwrite-3.3", "overwrite a broken symlink with a new one",
     cfg("3.3.0", S(links=[{"path": "/etc/b", "target": "/etc/hostname", "overwrite": True}])),
     setup=[{"path": "/etc/b", "symlink": "/nowhere"}])
# ---------- hard links
case("080-hardlink-basic-3.0", "a hard link to a file from the same config",
     cfg("3.0.0", S(files=[F("/etc/a", pct("shared\n"))], links=[{"path": "/etc/b", "target": "/etc/a", "hard": True}])))
case("081-hardlink-to-deeper-file-3.3", "hard links are created last, so the target may be deeper",
     cfg("3.3.0", S(links=[{"path": "/h", "target": "/x/y/z/f", "hard": True}], files=[F("/x/y/z/f", pct("deep\n"))])))
case("082-hardlink-relative-target-3.3", "a relative hard-link target is resolved from the root, not the link's directory",
     cfg("3.3.0", S(links=[{"path": "/a/b/hl", "target": "c", "hard": True}])),
     setup=[{"path": "/c", "contents": "root c\n"}, {"path": "/a/b/c", "contents": "nested c\n"}])
case("083-hardlink-missing-target-3.3", "a hard link to a missing target fails",
     cfg("3.3.0", S(links=[{"path": "/h", "target": "/missing", "hard": True}])), expect="failure")
case("084-hardlink-existing-same-3.3", "an existing hard link to the same inode is a no-op",
     cfg("3.3.0", S(links=[{"path": "/etc/h", "target": "/etc/hostname", "hard": True}])),
     setup=[{"path": "/etc/h", "hardlink": "/etc/hostname"}])
case("085-hardlink-to-symlink-3.3", "a hard link to a symlink links the symlink itself",
     cfg("3.3.0", S(links=[{"path": "/etc/s", "target": "/etc/hostname"}, {"path": "/etc/hs", "target": "/etc/s", "hard": True}])))
case("086-hardlink-existing-other-3.3", "a different file at a hard link's path fails without overwrite",
     cfg("3.3.0", S(links=[{"path": "/etc/hostname", "target": "/etc/passwd", "hard": True}])), expect="failure")
# ---------- units
svc = "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/echo hi\n\n[Install]\nWantedBy=multi-user.target\n"
case("090-unit-contents-enable-3.0", "a unit with contents, enabled through the preset file",
     cfg("3.0.0", systemd={"units": [{"name": "hello.service", "contents": svc, "enabled": True}]}))
case("091-unit-disable-3.1", "disabling a unit that does not exist: preset line only",
     cfg("3.1.0", systemd={"units": [{"name": "sshd.socket", "enabled": False}]}))
case("092-unit-mask-3.2", "mask: a symlink to /dev/null",
     cfg("3.2.0", systemd={"units": [{"name": "update-engine.service", "mask": True}]}))
case("093-unit-mask-after-contents-3.3", "mask wins over contents",
     cfg("3.3.0", systemd={"units": [{"name": "masked.service", "contents": svc, "mask": True}]}))
case("094-unit-dropin-3.0", "a dropin for a unit without contents",
     cfg("3.0.0", systemd={"units": [{"name": "docker.service", "dropins": [{"name": "10-env.conf", "contents": "[Service]\nEnvironment=A=1\n"}]}]}))
case("095-unit-dropin-empty-3.3", "a dropin with empty contents writes an empty file; one without contents writes nothing",
     cfg("3.3.0", systemd={"units": [{"name": "x.service", "dropins": [{"name": "empty.conf", "contents": ""}, {"name": "none.conf"}]}]}))
case("096-unit-empty-contents-3.3", "a unit with empty contents writes no unit file",
     cfg("3.3.0", systemd={"units": [{"name": "empty.service", "contents": "", "enabled": True}]}))
case("097-unit-unmask-3.3", "mask false removes an existing /dev/null mask",
     cfg("3.3.0", systemd={"units": [{"name": "foo.service", "mask": False}]}),
     setup=[{"path": "/etc/systemd/system/foo.service", "symlink": "/dev/null"}])
case("098-unit-overwrites-existing-3.3", "unit files are always overwritten, whatever their mode was",
     cfg("3.3.0", systemd={"units": [{"name": "hello.service", "contents": svc}]}),
     setup=[{"path": "/etc/systemd/system/hello.service", "contents": "old\n", "mode": "0600"}])
case("099-unit-presets-many-3.3", "several enable and disable lines in one preset file",
     cfg("3.3.0", systemd={"units": [{"name": n, "enabled": e} for n, e in
         [("a.service", True), ("b.service", False), ("c.timer", True), ("d.socket", False), ("e.path", True)]]}))
case("100-unit-unmask-not-null-3.3", "mask false keeps a symlink that does not point to /dev/null",
     cfg("3.3.0", systemd={"units": [{"name": "bar.service", "mask": False}]}),
     setup=[{"path": "/etc/systemd/system/bar.service", "symlink": "/usr/lib/systemd/system/bar.service"}])
case("101-unit-invalid-extension-3.3", "a unit name without a valid extension is invalid",
     cfg("3.3.0", systemd={"units": [{"name": "hello", "contents": svc}]}), expect="failure")
case("102-unit-dropin-invalid-extension-3.3", "a dropin name must end in .conf",
     cfg("3.3.0", systemd={"units": [{"name": "a.service", "dropins": [{"name": "x.txt", "contents": "a"}]}]}), expect="failure")
case("103-unit-instantiated-enable-3.3", "enabling an instantiated unit (Ignition 2.14 asks systemd over D-Bus)",
     cfg("3.3.0", systemd={"units": [{"name": "getty@.service", "contents": svc}, {"name": "getty@tty2.service", "enabled": True}]}), expect="failure",
     known=[("(exit): ignition failed (CRITICAL : Ignition failed: failed to create units: dial unix /run/systemd/private", "deliberate",
             "Ignition asks the running systemd for its version over D-Bus before writing an instantiated preset (#586); reignite needs no D-Bus (ignition-semantics.md 9, pain point 6)"),
            ("/etc/.ignition-result.json: only in reignite", "deliberate", "written because reignite succeeded; Ignition fails after writing the unit and the preset line")])
case("104-unit-and-files-3.2", "units, dropins, files and links together",
     cfg("3.2.0", S(files=[F("/etc/app/env", pct("A=1\n"))], links=[{"path": "/etc/app/current", "target": "env"}]),
         systemd={"units": [{"name": "app.service", "contents": svc, "enabled": True, "dropins": [{"name": "a.conf", "contents": "[Unit]\n"}]}]}))


case("047-file-mode-zero-3.3", "mode 0 gives a file with no permission bits",
     cfg("3.3.0", S(files=[F("/etc/zero", pct("z"), mode=0)])))
big = "0123456789abcdef" * 65536
case("048-file-large-gzip-3.3", "1 MiB of contents from a small gzip data URL, with sha512",
     cfg("3.3.0", S(files=[F("/var/big", contents={"source": gz(big), "compression": "gzip", "verification": {"hash": sha512(big)}})])))
case("049-file-names-unicode-spaces-3.3", "paths with spaces and non-ASCII characters",
     cfg("3.3.0", S(files=[F("/srv/with space/\u00fcn\u00efc\u00f6d\u00e9.txt", pct("u\n"))], links=[{"path": "/srv/l\u00efnk", "target": "with space"}])))
case("057-dir-over-symlink-to-dir-3.3", "a directory declared where a symlink to a directory exists",
     cfg("3.3.0", S(directories=[{"path": "/srv/d", "mode": 0o700}])), expect="failure",
     setup=[{"path": "/srv/real", "directory": True}, {"path": "/srv/d", "symlink": "real"}])
case("058-dir-existing-keeps-mode-3.3", "an existing 0700 directory declared without mode keeps 0700",
     cfg("3.3.0", S(directories=[{"path": "/srv/private"}])),
     setup=[{"path": "/srv/private", "directory": True, "mode": "0700"}])
case("072-link-over-dir-overwrite-3.3", "overwrite true replaces a non-empty directory by a symlink",
     cfg("3.3.0", S(links=[{"path": "/srv/d", "target": "/srv/real", "overwrite": True}])),
     setup=[{"path": "/srv/d/sub/file", "contents": "x"}])
case("073-link-existing-uncleaned-target-3.3", "an existing symlink whose cleaned target matches is left as it is",
     cfg("3.3.0", S(links=[{"path": "/etc/l", "target": "/etc/hostname"}])),
     setup=[{"path": "/etc/l", "symlink": "/etc//hostname"}])
case("074-link-over-file-in-new-dirs-3.0", "a relative symlink in new directories (3.0)",
     cfg("3.0.0", S(links=[{"path": "/opt/a/b/c/link", "target": "../../../target"}])))
case("087-hardlink-overwrite-3.3", "overwrite true replaces a different file by a hard link",
     cfg("3.3.0", S(links=[{"path": "/etc/copy", "target": "/etc/hostname", "hard": True, "overwrite": True}])),
     setup=[{"path": "/etc/copy", "contents": "other\n"}])
case("088-hardlink-target-through-symlink-3.3", "a hard-link target below a symlinked directory",
     cfg("3.3.0", S(links=[{"path": "/h", "target": "/link/f", "hard": True}])),
     setup=[{"path": "/real/f", "contents": "f\n"}, {"path": "/link", "symlink": "/real"}])
case("105-unit-enable-and-mask-3.3", "a unit both masked and enabled",
     cfg("3.3.0", systemd={"units": [{"name": "both.service", "contents": svc, "mask": True, "enabled": True}]}))
case("106-unit-dropins-and-contents-3.1", "a unit with contents and two dropins, disabled",
     cfg("3.1.0", systemd={"units": [{"name": "multi.service", "contents": svc, "enabled": False,
         "dropins": [{"name": "10-a.conf", "contents": "[Service]\nNice=5\n"}, {"name": "20-b.conf", "contents": "[Service]\nNice=6\n"}]}]}))
case("107-unit-disable-existing-wants-3.3", "disabling a unit whose enablement symlink exists (2.14 runs systemctl --root disable)",
     cfg("3.3.0", systemd={"units": [{"name": "foo.service", "enabled": False}]}),
     setup=[{"path": "/etc/systemd/system/foo.service", "contents": svc},
            {"path": "/etc/systemd/system/multi-user.target.wants/foo.service", "symlink": "/etc/systemd/system/foo.service"}],
     known=[("/etc/systemd/system/multi-user.target.wants: only in reignite", "bug",
             "reignite removes the enablement symlink but leaves the emptied multi-user.target.wants directory; `systemctl --root disable` (run by Ignition 2.14, and by 2.18+ when is-enabled succeeds) removes it")])
case("108-unit-duplicate-names-3.3", "two units with one name are invalid",
     cfg("3.3.0", systemd={"units": [{"name": "a.service", "contents": svc}, {"name": "a.service", "enabled": True}]}), expect="failure")
childgz = json.dumps(cfg("3.1.0", S(files=[F("/etc/from-gz-child", pct("gz\n"))])))
case("110-config-merge-gzip-3.1", "a gzip-compressed merged config (compression on merge since 3.1)",
     cfg("3.1.0", ignition={"config": {"merge": [{"source": gz(childgz), "compression": "gzip"}]}}))
childh = json.dumps(cfg("3.2.0", S(files=[F("/etc/from-hashed-child", pct("h\n"))])))
case("111-config-merge-verified-3.2", "a merged config verified by sha512",
     cfg("3.2.0", ignition={"config": {"merge": [{"source": pct(childh), "verification": {"hash": "sha512-" + hashlib.sha512(childh.encode()).hexdigest()}}]}}))
case("112-config-merge-bad-hash-3.2", "a merged config with the wrong hash fails before anything is written",
     cfg("3.2.0", S(files=[F("/etc/parent", pct("p"))]), ignition={"config": {"merge": [{"source": pct(childh), "verification": {"hash": sha512("nope")}}]}}), expect="failure")
grand = json.dumps(cfg("3.3.0", S(files=[F("/etc/grandchild", pct("g\n"))])))
mid = json.dumps(cfg("3.3.0", S(files=[F("/etc/child", pct("c\n"))]), ignition={"config": {"merge": [{"source": pct(grand)}]}}))
case("113-config-merge-chain-3.3", "a merged config that merges another",
     cfg("3.3.0", ignition={"config": {"merge": [{"source": pct(mid)}]}}))
case("114-config-merge-older-child-3.3", "a 3.3 config merging a 3.0 child (translated up)",
     cfg("3.3.0", S(files=[F("/etc/p", pct("p"))]), ignition={"config": {"merge": [{"source": pct(child30)}]}}))
case("115-file-append-3.0", "append in spec 3.0",
     cfg("3.0.0", S(files=[F("/etc/app30", pct("a\n"), append=[{"source": pct("b\n")}])])))
case("116-file-over-symlink-no-overwrite-3.3", "a symlink where a file is declared fails without overwrite",
     cfg("3.3.0", S(files=[F("/etc/l", pct("x"))])), expect="failure",
     setup=[{"path": "/etc/l", "symlink": "hostname"}])
case("117-file-overwrite-no-contents-3.3", "overwrite true without contents.source is invalid",
     cfg("3.3.0", S(files=[F("/etc/hostname", overwrite=True)])), expect="failure")
case("118-file-dot-path-3.3", "a path with a `.` component is invalid (not fully simplified)",
     cfg("3.3.0", S(files=[F("/etc/./dotted", pct("d"))])), expect="failure")
case("119-file-many-3.2", "120 files in 30 directories",
     cfg("3.2.0", S(files=[F("/srv/many/d%02d/f%d" % (i % 30, i), pct("file %d\n" % i), mode=0o600 + (i % 2) * 0o40) for i in range(120)])))

case("120-file-parent-is-file-3.3", "a file below an existing regular file fails",
     cfg("3.3.0", S(files=[F("/etc/hostname/x", pct("x"))])), expect="failure")
case("121-file-no-contents-over-symlink-3.3", "a file without contents where a symlink exists fails (lstat: not regular)",
     cfg("3.3.0", S(files=[F("/etc/l", mode=0o600)])), expect="failure",
     setup=[{"path": "/etc/l", "symlink": "hostname"}])
case("122-file-append-to-symlink-3.3", "append where a symlink exists fails",
     cfg("3.3.0", S(files=[F("/etc/l", append=[{"source": pct("x")}])])), expect="failure",
     setup=[{"path": "/etc/l", "symlink": "hostname"}])
case("123-hardlink-to-directory-3.3", "a hard link to a directory fails",
     cfg("3.3.0", S(links=[{"path": "/hd", "target": "/etc", "hard": True}])), expect="failure")
case("124-dir-parent-is-file-3.3", "a directory below an existing regular file fails",
     cfg("3.3.0", S(directories=[{"path": "/etc/hostname/d"}])), expect="failure")
case("125-unit-unmask-regular-file-3.3", "mask false keeps a regular unit file",
     cfg("3.3.0", systemd={"units": [{"name": "keep.service", "mask": False}]}),
     setup=[{"path": "/etc/systemd/system/keep.service", "contents": svc}])
case("126-unit-instance-dropin-3.3", "a dropin for an instance of a template (no enablement, so no D-Bus)",
     cfg("3.3.0", systemd={"units": [{"name": "getty@tty1.service", "dropins": [{"name": "autologin.conf", "contents": "[Service]\nExecStart=\n"}]}]}))
case("127-file-setgid-masked-3.2", "mode 02664 below spec 3.4: setgid masked",
     cfg("3.2.0", S(files=[F("/srv/sgid", pct("g"), mode=0o2664)])))
ca = """-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIUHdc1pBKO79tfVhhz9W2vB1CegY4wCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjExMjUyMTU0MTFaFw0zNjExMjIyMTU0
MTFaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAQamVTKv/IxrFl0ybsqcISHcdPJyOH0ZeM2Kio8dijyzDzpcJKV/dxCs5GVjnFi
tP27wKw4PAC3FlPWYJmRZi+Ho1MwUTAdBgNVHQ4EFgQULMNCbyMoCR3itn+4yS3/
Qlrg988wHwYDVR0jBBgwFoAULMNCbyMoCR3itn+4yS3/Qlrg988wDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAv0zxBNBewg9EHJ9k8z4TxOx550L9
O+grmrUhdvA8Tv0CIQCQs4kvmL4XycWDUkPDW+RfzBsBQnOLvRrIZgPM5tCuwQ==
-----END CERTIFICATE-----
"""
case("128-config-tls-ca-3.3", "a CA bundle from a data URL (used only for https fetches)",
     cfg("3.3.0", S(files=[F("/etc/with-ca", pct("ca\n"))]), ignition={"security": {"tls": {"certificateAuthorities": [{"source": pct(ca)}]}}}))
case("129-config-tls-ca-garbage-3.3", "a CA bundle that is not PEM",
     cfg("3.3.0", S(files=[F("/etc/with-ca", pct("ca\n"))]), ignition={"security": {"tls": {"certificateAuthorities": [{"source": pct("not a certificate")}]}}}), expect="failure")
case("130-config-proxy-timeouts-3.1", "proxy and timeout settings do not affect data URLs",
     cfg("3.1.0", S(files=[F("/etc/px", pct("p\n"))]), ignition={"proxy": {"httpProxy": "http://127.0.0.1:9", "noProxy": ["example.com"]}, "timeouts": {"httpTotal": 5, "httpResponseHeaders": 2}}))
case("131-config-kargs-3.3", "kernelArguments: not part of the fetch and files stages",
     cfg("3.3.0", S(files=[F("/etc/k", pct("k\n"))]), **{}) | {"kernelArguments": {"shouldExist": ["quiet"], "shouldNotExist": ["debug"]}},
     known=[("/etc/reignite", "deliberate", "reignite records kernel arguments in /etc/reignite/kargs.json for its boot integration (docs/apply.md); Ignition's kargs stage is not part of fetch + files and edits the boot loader config instead")])
case("132-config-null-fields-3.3", "null means unset for optional fields",
     raw='{"ignition":{"version":"3.3.0","config":null},"storage":{"files":[{"path":"/etc/n","contents":{"source":"data:,n","compression":null},"mode":null,"user":null}],"links":null}}')
case("133-config-duplicate-json-keys-3.3", "a duplicated JSON key: the last one wins (Go encoding/json)",
     raw='{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/first","path":"/etc/second","contents":{"source":"data:,dup"}}]}}')

def merged(parent, child):
    parent.setdefault("ignition", {})["config"] = {"merge": [{"source": pct(json.dumps(child))}]}
    return parent
case("134-merge-link-replaces-file-3.3", "a child's symlink replaces the parent's file at the same path (one key space)",
     merged(cfg("3.3.0", S(files=[F("/etc/x", pct("parent file\n"))])), cfg("3.3.0", S(links=[{"path": "/etc/x", "target": "/etc/hostname"}]))))
case("135-merge-mode-only-3.3", "a child that sets only the mode keeps the parent's contents (field-by-field merge)",
     merged(cfg("3.3.0", S(files=[F("/etc/m", pct("from parent\n"), mode=0o644)])), cfg("3.3.0", S(files=[{"path": "/etc/m", "mode": 0o600}]))))
case("136-merge-compression-only-3.3", "a child that overrides only compression breaks the parent's gzip resource: raw gzip bytes are written",
     merged(cfg("3.3.0", S(files=[F("/etc/z", contents={"source": gz("zipped\n"), "compression": "gzip"})])), cfg("3.3.0", S(files=[{"path": "/etc/z", "contents": {"compression": ""}}]))))
case("137-merge-unit-dropins-3.3", "a child adds a dropin to the parent's unit and disables it",
     merged(cfg("3.3.0", systemd={"units": [{"name": "m.service", "contents": svc, "enabled": True, "dropins": [{"name": "a.conf", "contents": "[Unit]\n"}]}]}),
            cfg("3.3.0", systemd={"units": [{"name": "m.service", "enabled": False, "dropins": [{"name": "b.conf", "contents": "[Service]\n"}]}]})))
case("138-merge-append-lists-3.3", "append fragments of parent and child are concatenated",
     merged(cfg("3.3.0", S(files=[F("/etc/ap", append=[{"source": pct("parent\n")}])])), cfg("3.3.0", S(files=[F("/etc/ap", append=[{"source": pct("child\n")}])]))))
case("139-merge-and-replace-3.3", "replace and merge in one config",
     cfg("3.3.0", ignition={"config": {"replace": {"source": pct(child)}, "merge": [{"source": pct(childo)}]}}))
# ---------- privileged
P = "privileged"
case("200-owner-by-id-3.3", "file owned by uid 1500 and gid 1600 (ids unknown to the root)",
     cfg("3.3.0", S(files=[F("/home/x/f", pct("x"), user={"id": 1500}, group={"id": 1600})])), sub=P)
case("201-owner-user-name-only-3.3", "owner by name; the group is not taken from the user (stays 0)",
     cfg("3.3.0", S(files=[F("/etc/core-owned", pct("x"), user={"name": "core"})])), sub=P)
case("202-owner-group-name-3.1", "group by name",
     cfg("3.1.0", S(files=[F("/etc/docker-group", pct("x"), mode=0o640, group={"name": "docker"})])), sub=P)
case("203-dir-owner-by-name-3.2", "a directory owned by core:core",
     cfg("3.2.0", S(directories=[{"path": "/var/lib/core-data", "user": {"name": "core"}, "group": {"name": "core"}, "mode": 0o700}])), sub=P)
case("204-link-owner-3.3", "a symlink's own owner (lchown)",
     cfg("3.3.0", S(links=[{"path": "/home/core/link", "target": "/etc/hostname", "user": {"id": 500}, "group": {"id": 500}}])), sub=P)
case("205-owner-unknown-name-3.3", "an unknown user name fails the files stage",
     cfg("3.3.0", S(files=[F("/etc/x", pct("x"), user={"name": "nobody-here"})])), expect="failure", sub=P,
     known=[("/etc/x: only in ignition", "deliberate", "Ignition writes the file, then fails resolving the owner and leaves it behind; reignite resolves the owner before writing the node")])
case("206-existing-chown-only-3.3", "existing file, no contents: only the owner changes",
     cfg("3.3.0", S(files=[F("/etc/hostname", user={"id": 500})])), sub=P)
case("207-existing-owner-kept-3.3", "an untouched existing file keeps its owner when only the mode is set",
     cfg("3.3.0", S(files=[F("/srv/owned", mode=0o600)])),
     setup=[{"path": "/srv/owned", "contents": "o\n", "uid": 1234, "gid": 4321}], sub=P)
case("208-overwrite-resets-owner-3.3", "an overwritten file is owned by 0:0 again",
     cfg("3.3.0", S(files=[F("/srv/owned", pct("new\n"), overwrite=True)])),
     setup=[{"path": "/srv/owned", "contents": "o\n", "uid": 1234, "gid": 4321}], sub=P)
case("209-special-bits-with-owner-3.3", "setgid directory owned by a group, masked below 3.4",
     cfg("3.3.0", S(directories=[{"path": "/srv/shared", "mode": 0o2775, "group": {"name": "docker"}}])), sub=P)
case("210-user-create-defaults-3.0", "a new user with defaults (useradd decides home, group, shell)",
     cfg("3.0.0", passwd={"users": [{"name": "alice"}]}), sub=P)
case("211-user-create-full-3.3", "a new user with uid, gecos, home, shell, groups and a hash",
     cfg("3.3.0", passwd={"users": [{"name": "bob", "uid": 1234, "gecos": "Bob B", "homeDir": "/var/home/bob", "shell": "/bin/sh",
         "groups": ["wheel", "docker"], "passwordHash": "$6$salt$abcdefghijklmnopqrstuvwxyz0123456789"}]}), sub=P)
case("212-user-no-create-home-3.1", "noCreateHome, noUserGroup, noLogInit, primaryGroup",
     cfg("3.1.0", passwd={"users": [{"name": "svc", "noCreateHome": True, "noUserGroup": True, "noLogInit": True, "primaryGroup": "users"}]}), sub=P)
case("213-user-system-3.2", "a system user",
     cfg("3.2.0", passwd={"users": [{"name": "daemonx", "system": True, "noCreateHome": True}]}), sub=P)
case("214-user-existing-modify-3.3", "modifying the existing core user: hash, gecos, groups",
     cfg("3.3.0", passwd={"users": [{"name": "core", "passwordHash": "$6$x$y", "gecos": "Changed", "groups": ["docker"]}]}), sub=P)
case("215-ssh-keys-core-3.0", "SSH keys for the existing core user",
     cfg("3.0.0", passwd={"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGaaa core@a", "ssh-rsa AAAAB3NzaC1yc2E core@b"]}]}), sub=P)
case("216-ssh-keys-new-user-3.3", "a new user with SSH keys",
     cfg("3.3.0", passwd={"users": [{"name": "carol", "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbbb carol"]}]}), sub=P)
case("217-group-create-3.3", "a new group with gid and one without",
     cfg("3.3.0", passwd={"groups": [{"name": "ops", "gid": 4000}, {"name": "dev"}]}), sub=P,
     known=[("field password \"*\" (ignition) vs \"!\" (reignite)", "ignition-2.14", "Ignition 2.14 runs groupadd --password \"*\" when no hash is given; later releases pass no --password, so groupadd writes \"!\" to gshadow (ignition-semantics.md 6.9)")])
case("218-group-system-3.1", "a system group with a password hash",
     cfg("3.1.0", passwd={"groups": [{"name": "sysg", "system": True, "passwordHash": "$6$g$h"}]}), sub=P)
case("219-user-remove-3.2", "shouldExist false removes an existing user",
     cfg("3.2.0", passwd={"users": [{"name": "core", "shouldExist": False}]}), sub=P)
case("220-group-existing-3.3", "declaring an existing group (Ignition 2.14 runs groupadd and fails)",
     cfg("3.3.0", passwd={"groups": [{"name": "docker"}]}), expect="failure", sub=P,
     known=[("(exit): ignition failed (CRITICAL : files: ensureGroups", "ignition-2.14", "Ignition 2.14 runs groupadd for an existing group and fails (#1601); 2.25+ ensures the group with groupmod (#2158), as reignite does"),
            ("/etc/.ignition-result.json: only in reignite", "ignition-2.14", "written because reignite succeeded")])
case("221-user-and-owned-file-3.3", "a file owned by a user created in the same config",
     cfg("3.3.0", S(files=[F("/var/home/dave/notes", pct("n\n"), user={"name": "dave"}, group={"name": "dave"})]),
         passwd={"users": [{"name": "dave", "homeDir": "/var/home/dave", "uid": 2000}], "groups": [{"name": "dave", "gid": 2000}]}), sub=P,
     known=[("field password \"*\" (ignition) vs \"!\" (reignite)", "ignition-2.14", "Ignition 2.14 runs groupadd --password \"*\" when no hash is given; later releases pass no --password, so groupadd writes \"!\" to gshadow (ignition-semantics.md 6.9)")])
case("222-user-shell-uid-3.2", "a user with uid in the system range and nologin shell",
     cfg("3.2.0", passwd={"users": [{"name": "web", "uid": 901, "shell": "/sbin/nologin", "noCreateHome": True}]}), sub=P)

case("223-group-gid-taken-3.3", "a new group with a gid already in use fails",
     cfg("3.3.0", passwd={"groups": [{"name": "ops", "gid": 500}]}), expect="failure", sub=P)
case("224-user-unknown-group-3.3", "a new user in a group that does not exist fails",
     cfg("3.3.0", passwd={"users": [{"name": "eve", "groups": ["nosuch"]}]}), expect="failure", sub=P)
case("225-user-empty-hash-3.3", "an empty passwordHash becomes *",
     cfg("3.3.0", passwd={"users": [{"name": "frank", "passwordHash": ""}]}), sub=P)
case("226-ssh-keys-no-home-3.3", "SSH keys for a user created without a home directory (Ignition cannot create it as the user)",
     cfg("3.3.0", passwd={"users": [{"name": "gina", "noCreateHome": True, "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGccc gina"]}]}), sub=P,
     expect="failure")
case("227-owner-root-by-name-3.3", "owner and group root by name",
     cfg("3.3.0", S(files=[F("/etc/rootfile", pct("r"), user={"name": "root"}, group={"name": "root"}, mode=0o400)])), sub=P)
case("228-existing-dir-owner-kept-3.3", "an existing directory keeps its owner when only the mode is declared",
     cfg("3.3.0", S(directories=[{"path": "/srv/owned", "mode": 0o750}])),
     setup=[{"path": "/srv/owned", "directory": True, "uid": 1234, "gid": 4321}], sub=P)
case("229-hardlink-owner-ignored-3.3", "owner fields on a hard link are ignored (warning)",
     cfg("3.3.0", S(links=[{"path": "/etc/hl", "target": "/etc/hostname", "hard": True, "user": {"id": 500}}])), sub=P,
     known=[("(report): report entries differ\n    ignition: \n    reignite: warning at $.storage.links.0.user.id", "ignition-2.14",
             "Ignition 2.14 silently ignores owners on hard links; later releases warn `user/group ignored for hard link` (ignition-semantics.md 3.4), as reignite does")])
case("230-user-existing-home-3.3", "a new user whose home directory already exists",
     cfg("3.3.0", passwd={"users": [{"name": "hank", "homeDir": "/srv/hank"}]}),
     setup=[{"path": "/srv/hank/keep", "contents": "k\n"}], sub=P)
case("231-user-primary-and-groups-3.2", "primaryGroup docker and supplementary wheel",
     cfg("3.2.0", passwd={"users": [{"name": "ivy", "primaryGroup": "docker", "groups": ["wheel"]}]}), sub=P)
case("232-ssh-keys-existing-dir-3.3", "SSH keys when ~/.ssh already holds an authorized_keys file",
     cfg("3.3.0", passwd={"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGddd new"]}]}),
     setup=[{"path": "/home/core/.ssh", "directory": True, "mode": "0700", "uid": 500, "gid": 500},
            {"path": "/home/core/.ssh/authorized_keys", "contents": "ssh-rsa AAAAold old\n", "mode": "0600", "uid": 500, "gid": 500}], sub=P)
case("233-ssh-keys-root-owned-ssh-dir-3.3", "SSH keys when ~/.ssh is owned by root (the user may not write there)",
     cfg("3.3.0", passwd={"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGeee x"]}]}),
     setup=[{"path": "/home/core/.ssh", "directory": True, "mode": "0755"}], sub=P, expect="failure")

case("234-user-uid-taken-3.3", "a new user with a uid already in use fails",
     cfg("3.3.0", passwd={"users": [{"name": "jack", "uid": 500}]}), expect="failure", sub=P)
case("235-group-remove-3.2", "shouldExist false removes an existing group",
     cfg("3.2.0", passwd={"groups": [{"name": "docker", "shouldExist": False}]}), sub=P)
case("236-user-move-home-3.3", "a new homeDir for the existing core user (usermod --home --move-home)",
     cfg("3.3.0", passwd={"users": [{"name": "core", "homeDir": "/var/home/core"}]}),
     setup=[{"path": "/home/core/.profile", "contents": "p\n", "uid": 500, "gid": 500}, {"path": "/var/home", "directory": True}], sub=P)
case("241-user-move-home-missing-parent-3.3", "a new homeDir whose parent does not exist: usermod cannot rename, Ignition fails",
     cfg("3.3.0", passwd={"users": [{"name": "core", "homeDir": "/var/home/core"}]}), expect="failure",
     setup=[{"path": "/home/core/.profile", "contents": "p\n", "uid": 500, "gid": 500}], sub=P,
     known=[("(exit): ignition failed (CRITICAL : files: ensureUsers", "bug", "usermod --move-home cannot rename /home/core to /var/home/core when /var/home is missing and Ignition fails; reignite creates the parent and moves the home (not listed in docs/apply.md)"),
            ("/etc/.ignition-result.json: only in reignite", "bug", "written because reignite succeeded"),
            ("/var/home", "bug", "the moved home directory"),
            ("/home/core", "bug", "the moved home directory")])
case("237-user-existing-shell-uid-3.3", "changing the shell and uid of the existing core user",
     cfg("3.3.0", passwd={"users": [{"name": "core", "shell": "/bin/sh", "uid": 600}]}),
     setup=[{"path": "/home/core/.profile", "contents": "p\n", "uid": 500, "gid": 500}], sub=P,
     known=[("/home/core: uid 600 (ignition) vs 500 (reignite)", "bug", "usermod --uid re-owns the home directory and the files in it owned by the old uid; reignite only rewrites /etc/passwd (listed under 'Not yet' in docs/apply.md)"),
            ("/home/core/.profile: uid 600 (ignition) vs 500 (reignite)", "bug", "same: files in the home directory keep the old uid")])
case("238-user-remove-missing-3.2", "shouldExist false for a user that does not exist is a no-op",
     cfg("3.2.0", passwd={"users": [{"name": "ghost", "shouldExist": False}], "groups": [{"name": "ghosts", "shouldExist": False}]}), sub=P)
case("239-dir-owner-parents-root-3.3", "a deep owned directory: only the leaf is chowned, parents stay root",
     cfg("3.3.0", S(directories=[{"path": "/srv/a/b/c", "user": {"id": 500}, "group": {"id": 500}}])), sub=P)

case("240-link-default-owner-in-root-3.3", "a new symlink without owner, whose absolute target exists only inside the root, owned by 1234",
     cfg("3.3.0", S(links=[{"path": "/srv/l", "target": "/srv/owned"}])),
     setup=[{"path": "/srv/owned", "contents": "o\n", "uid": 1234, "gid": 4321}], sub=P,
     known=[("/srv/l: uid 0 (ignition) vs 1234 (reignite)", "deliberate", "Ignition takes a new symlink's default owner from a stat that follows it on the host (no /srv/owned there: 0:0); reignite follows it inside the root (docs/apply.md, ignition-semantics.md 6.7)"),
            ("/srv/l: gid 0 (ignition) vs 4321 (reignite)", "deliberate", "same, for the group")])
case("242-append-hardlinked-file-3.3", "append to an existing file that has a second hard link",
     cfg("3.3.0", S(files=[F("/etc/hosts", append=[{"source": pct("10.0.0.2 web\n")}])])),
     setup=[{"path": "/etc/hosts", "contents": "127.0.0.1 localhost\n", "uid": 0, "gid": 0}, {"path": "/etc/hosts.hl", "hardlink": "/etc/hosts"}], sub=P,
     known=[("/etc/hosts.hl: contents differ", "bug", "Ignition appends in place (O_APPEND), so every hard link sees the new lines; reignite appends to a copy renamed into place (docs/apply.md), which splits the hard link and leaves the other name with the old contents"),
            ("(hard links): group {/etc/hosts, /etc/hosts.hl} only in ignition", "bug", "same: the hard link is broken")])

case("243-merge-user-keys-3.3", "a child adds SSH keys and a group to the parent's user",
     merged(cfg("3.3.0", passwd={"users": [{"name": "kim", "sshAuthorizedKeys": ["ssh-ed25519 AAAAparent p"], "groups": ["wheel"]}]}),
            cfg("3.3.0", passwd={"users": [{"name": "kim", "sshAuthorizedKeys": ["ssh-ed25519 AAAAchild c"], "groups": ["docker"]}]})), sub=P)

for (sub, name), d in cases.items():
    p = os.path.join(OUT, sub, name + ".json")
    with open(p, "w") as f:
        json.dump(d, f, indent=2, ensure_ascii=False)
        f.write("\n")
print(len([k for k in cases if k[0]==""]), len([k for k in cases if k[0]]))
