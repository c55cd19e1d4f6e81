#!/usr/bin/env python3
"""out_of_tree_plugin: a third party can build an earshot plugin from what `meson install`
ships, without the source tree.

  * `meson install --destdir TMP` of this build (argv[1]);
  * pkg-config, pointed at TMP's pkgconfig dir only (PKG_CONFIG_LIBDIR, with
    PKG_CONFIG_SYSROOT_DIR=TMP), finds earshot-plugin; every -I of its Cflags resolves
    inside TMP and none into the source tree, and the header is there;
  * tests/out-of-tree/Makefile builds notify-hello.so from notify-hello.c with those flags
    (-Werror); the compiler's own dependency list (-MMD) shows earshot-plugin.h was read
    from TMP; the module exports earshot_plugin_descriptor and no other symbol;
  * TMP's earshotd, with a plugin dir holding TMP's installed plugins plus notify-hello.so:
    `--describe-plugin notify-hello` lists the `greeting` option, `--check-config` passes,
    and a running daemon, fed by a loopback Mastodon mock, logs "<greeting> from out of
    tree: alert ID" for the alert it stored.
Skips (77) only when pkg-config, make or a C compiler is missing.
"""

import glob
import os
import re
import secrets
import shutil
import subprocess
import sys

import harness as H

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.realpath(os.path.join(HERE, "..", ".."))


def run(case, label, argv, env=None, cwd=None):
    r = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, timeout=H.scaled(240),
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    case.save(f"{label}.txt", f"$ {' '.join(argv)}\nexit {r.returncode}\n{out}")
    H.check(r.returncode == 0, f"{label}: exit status {r.returncode}:\n{out[-3000:]}")
    return r.stdout.decode("utf-8", "replace")


def inside(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([path, root]) == root


def one(pattern, what):
    hits = glob.glob(pattern, recursive=True)
    H.check(len(hits) == 1, f"want exactly one {what} ({pattern}), found {hits}")
    return hits[0]


def test(case, build_root):
    pkg_config = os.environ.get("PKG_CONFIG") or "pkg-config"
    cc = os.environ.get("CC") or "cc"
    for tool in (pkg_config, cc, "make"):
        if not shutil.which(tool):
            raise H.Skip(f"{tool} is not installed; cannot build a plugin out of tree")

    # 1. Install this build into an empty root.
    dest = os.path.join(case.dir, "destdir")
    run(case, "meson-install",
        ["meson", "install", "-C", build_root, "--destdir", dest, "--no-rebuild", "--quiet"])

    # 2. pkg-config sees only the installed .pc, relocated into TMP by the sysroot.
    pc = one(os.path.join(dest, "**", "pkgconfig", "earshot-plugin.pc"), "earshot-plugin.pc")
    env = dict(os.environ)
    env.pop("PKG_CONFIG_PATH", None)
    env.update(PKG_CONFIG_LIBDIR=os.path.dirname(pc), PKG_CONFIG_SYSROOT_DIR=dest)
    cflags = run(case, "pkg-config-cflags", [pkg_config, "--cflags", "earshot-plugin"], env).split()
    incs = [f[2:] for f in cflags if f.startswith("-I")]
    H.check(incs, f"pkg-config --cflags earshot-plugin has no -I: {cflags}")
    for d in incs:
        # dest is a fresh folder holding only installed files (it may itself lie below the
        # source tree, as the build folder often does); the header's home is plugins/
        H.check(inside(d, dest) and not inside(d, os.path.join(SOURCE_ROOT, "plugins")),
                f"Cflags -I{d} does not resolve inside the install root {dest}")
    H.check(any(os.path.isfile(os.path.join(d, "earshot-plugin.h")) for d in incs),
            f"no earshot-plugin.h in the Cflags' include dirs {incs}")
    abi = run(case, "pkg-config-abi", [pkg_config, "--variable=abi", "earshot-plugin"], env)
    case.expect(abi.strip() == "1", f"pkg-config --variable=abi: {abi.strip()!r}, want '1'")
    plugindir = run(case, "pkg-config-plugindir",
                    [pkg_config, "--variable=plugindir", "earshot-plugin"], env).strip()
    if not inside(plugindir, dest):          # pkgconf does not relocate plain variables
        plugindir = dest + plugindir
    H.check(os.path.isfile(os.path.join(plugindir, "notify-log.so")),
            f"the .pc's plugindir {plugindir} holds no installed plugins")

    # 3. Build the example with its Makefile, outside the source and build trees.
    out = os.path.join(case.dir, "hello-build")
    os.makedirs(out)
    run(case, "make", ["make", "-f", os.path.join(HERE, "Makefile"), "-C", out, f"CC={cc}",
                       "CFLAGS=-O2 -g -Wall -Wextra -Wno-unused-parameter -Werror -MMD"], env)
    so = os.path.join(out, "notify-hello.so")
    H.check(os.path.isfile(so), "make built no notify-hello.so")
    with open(os.path.join(out, "notify-hello.d"), encoding="utf-8") as f:
        deps = f.read().replace("\\\n", " ").split()
    hdrs = [p for p in deps if os.path.basename(p) == "earshot-plugin.h"]
    H.check(hdrs, f"the compiler read no earshot-plugin.h: {deps}")
    for h in hdrs:
        H.check(inside(h, dest), f"the compiler read {h}, not the installed header")
    if shutil.which("nm"):
        syms = run(case, "nm", ["nm", "-D", "--defined-only", so]).split("\n")
        names = {ln.split()[-1] for ln in syms if len(ln.split()) >= 3}
        case.expect(names == {"earshot_plugin_descriptor"},
                    f"notify-hello.so exports {sorted(names)}, want only the descriptor")

    # 4. The installed earshotd, with the installed plugins plus ours.
    earshotd = one(os.path.join(dest, "**", "*bin", "earshotd"), "installed earshotd")
    pdir = os.path.join(case.dir, "plugins")
    shutil.copytree(plugindir, pdir)
    shutil.copy(so, pdir)
    os.environ["EARSHOTD"] = earshotd
    os.environ["EARSHOT_PLUGIN_DIR"] = pdir

    desc = run(case, "describe-plugin", [earshotd, "--plugin-dir", pdir,
                                         "--describe-plugin", "notify-hello"])
    case.expect("greeting" in desc and "the word each alert line starts with" in desc,
                f"--describe-plugin notify-hello does not list `greeting`:\n{desc}")

    greeting = "howdy-" + secrets.token_hex(4)
    srv = case.server("mock")
    masto = H.MastodonInstance(srv)
    cfg = H.make_config(sources=[H.mastodon_source("mastodon-acme", masto.url, interval="1s")],
                        notifiers=[{"name": "hi", "type": "hello", "greeting": greeting}])
    d = case.daemon(cfg)
    rc, text = H.run_check_config(case, d.config_path)
    case.expect(rc == 0, f"--check-config with the hello notifier: exit {rc}:\n{text}")
    d.start()
    masto.add_status("<p>acme please refund my order</p>")
    line = re.compile(re.escape(greeting) + r" from out of tree: alert (\S+) \(high\)")
    ids = H.wait_until(lambda: line.findall(d.log_text()), what=f"'{greeting} from out of tree'")
    stored = [a["id"] for a in H.wait_until(d.alerts, what="the stored alert")]
    d.stop()
    case.expect(ids == stored, f"notify-hello logged alerts {ids}, the store holds {stored}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test-out-of-tree.py MESON_BUILD_ROOT")
    H.main("out_of_tree_plugin", lambda case: test(case, os.path.abspath(sys.argv[1])))
