#!/usr/bin/env python3
"""Benchmark harness: gitsign-rs side by side with SSH and OpenPGP signing, in one run.

Builds release binaries, starts the local Sigstore stack, and measures (median, min, max of
repeated runs):
  1. signing N commits with `git commit -S` (gitsign with the credential cache when available,
     ssh-keygen, gpg with an unprotected key) against an unsigned baseline: per-commit overhead;
  2. `git log --show-signature` over those N commits, per commit;
  3. `gitsign verify A..B` over M commits in one process, commits/s, against the crypto bound
     from `openssl speed` (one P-384 and four P-256 verifications per commit);
  4. start-up (`gitsign --version`) and peak RSS of signing and verifying.
The setups run in interleaved rounds (unsigned, ssh, gpg, gitsign, unsigned, ...); each round
gives each signer's overhead over that round's unsigned baseline, and gitsign's overhead is
reported as a ratio to SSH's and to GPG's of the same round: median, min and max over the
rounds (at least 5 by default), so one run shows whether gitsign is ahead in every round.
Prints a table and writes bench/results.json (or --out FILE).

Usage: python3 bench/run.py [--commits N] [--range M] [--repeat R] [--no-build] [--bin-dir DIR]
                            [--out FILE]
`--smoke` is a quick run that only checks that the harness works (tiny counts, no `openssl
speed`, results to a temporary file); ./test.sh runs it on the debug build.
"""
import argparse, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")  # --bin-dir replaces it


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def stats(xs):
    if not xs:  # e.g. no round where the reference had a positive overhead (noise in --smoke)
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "runs": 0}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


class Stack:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "stack")
        self.proc = subprocess.Popen([os.path.join(REL, "gitsign-sandbox"), "serve", "--dir", self.dir,
                                      "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            if line.strip() == "ready":
                break
        env = sh([os.path.join(REL, "gitsign-sandbox"), "env", "--dir", self.dir]).stdout
        self.env = dict(re.findall(r"^export (\w+)='([^']*)'", env, re.M))

    def token(self, email):
        return sh([os.path.join(REL, "gitsign-sandbox"), "token", "--dir", self.dir, "--email", email]).stdout.strip()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def new_repo(tmp, name, env, config):
    path = os.path.join(tmp, name)
    os.makedirs(path)
    sh(["git", "init", "-q", "-b", "main", path], env=env)
    for k, v in [("user.name", "Bench"), ("user.email", "bench@example.test")] + config:
        sh(["git", "-C", path, "config", k, v], env=env)
    return path


def commit_loop(path, n, env, sign):
    args = ["git", "-C", path, "commit", "-q", "--allow-empty", "-m"]
    if sign:
        args.insert(4, "-S")
    t0 = time.perf_counter()
    for i in range(n):
        subprocess.run(args + [f"commit {i}"], check=True, env=env, capture_output=True)
    return (time.perf_counter() - t0) / n


def log_verify(path, n, env):
    t0 = time.perf_counter()
    out = subprocess.run(["git", "-C", path, "log", "--show-signature", f"-{n}", "--format=%G?"],
                         check=True, env=env, capture_output=True, text=True).stdout
    dt = (time.perf_counter() - t0) / n
    good = sum(1 for l in out.splitlines() if l.strip() == "G")
    return dt, good


def peak_rss_kb(cmd, env, stdin=None, cwd=None):
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, input=stdin, capture_output=True, cwd=cwd)
    return int(r.stderr.decode().strip().splitlines()[-1])


def crypto_bound():
    out = sh(["openssl", "speed", "-seconds", "1", "ecdsap256", "ecdsap384"]).stdout
    v = {}
    for line in out.splitlines():
        m = re.search(r"(256|384) bits ecdsa \(nistp\d+\)\s+\S+s\s+\S+s\s+(\S+)\s+(\S+)", line)
        if m:
            v[m.group(1)] = float(m.group(3))
    per_commit = 1 / v["384"] + 4 / v["256"]
    cores = os.cpu_count() or 1
    return {"p256_verify_per_s": v["256"], "p384_verify_per_s": v["384"], "cores": cores,
            "commits_per_s_one_core": 1 / per_commit, "commits_per_s_all_cores": cores / per_commit}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=100)
    ap.add_argument("--range", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--bin-dir", help="take the binaries from here (implies --no-build)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.json"))
    ap.add_argument("--smoke", action="store_true", help="tiny counts: check that the harness runs, measure nothing")
    a = ap.parse_args()
    global REL
    if a.bin_dir:
        REL = os.path.abspath(a.bin_dir)
        a.no_build = True
    if a.smoke:
        a.commits, a.range, a.repeat = 2, 3, 2
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--workspace", "--bins"], check=True, cwd=ROOT)
    tmp = tempfile.mkdtemp(prefix="gitsign-bench-")
    base_env = dict(os.environ, HOME=tmp, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.path.join(tmp, "gitconfig"))
    stack = Stack(tmp)
    res = {"commits": a.commits, "range_commits": a.range}
    try:
        gs_env = dict(base_env, **stack.env, SIGSTORE_ID_TOKEN=stack.token("bench@example.test"))
        cache_sock = os.path.join(tmp, "cache", "cache.sock")
        cache = None
        cache_bin = os.path.join(REL, "gitsign-credential-cache")
        try:
            cache = subprocess.Popen([cache_bin, "--socket", cache_sock], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
            if cache.poll() is None:
                gs_env["GITSIGN_CREDENTIAL_CACHE"] = cache_sock
            else:
                cache = None
        except OSError:
            cache = None
        res["credential_cache"] = cache is not None

        # SSH key and GPG key (unprotected)
        ssh_key = os.path.join(tmp, "id_ed25519")
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ssh_key])
        gnupg = os.path.join(tmp, "gnupg")
        os.makedirs(gnupg, mode=0o700)
        gpg_env = dict(base_env, GNUPGHOME=gnupg)
        sh(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "bench@example.test", "ed25519", "sign", "never"], env=gpg_env)
        allowed = os.path.join(tmp, "allowed_signers")
        with open(allowed, "w") as f:
            f.write("bench@example.test " + open(ssh_key + ".pub").read())

        setups = {
            "unsigned": (base_env, [], False),
            "ssh": (base_env, [("gpg.format", "ssh"), ("user.signingkey", ssh_key), ("gpg.ssh.allowedSignersFile", allowed)], True),
            "gpg": (gpg_env, [("gpg.format", "openpgp"), ("user.signingkey", "bench@example.test")], True),
            "gitsign": (gs_env, [("gpg.format", "x509"), ("gpg.x509.program", os.path.join(REL, "gitsign"))], True),
        }
        # Rounds interleave the setups (unsigned, ssh, gpg, gitsign, unsigned, ...), so a change
        # in the machine's load during the run falls on all of them alike.
        st = {name: [] for name in setups}
        vt = {name: [] for name, (_, _, signed) in setups.items() if signed}
        for r in range(a.repeat):
            for name, (env, cfg, signed) in setups.items():
                path = new_repo(tmp, f"{name}-{r}", env, cfg)
                st[name].append(commit_loop(path, a.commits, env, signed))
                if signed:
                    dt, good = log_verify(path, a.commits, env)
                    if good != a.commits:
                        raise SystemExit(f"{name}: only {good} of {a.commits} commits show G")
                    vt[name].append(dt)
        # Per round: each signer's overhead over the same round's unsigned baseline, and
        # gitsign's overhead as a ratio to SSH's and GPG's.
        over = {name: [x - u for x, u in zip(xs, st["unsigned"])] for name, xs in st.items() if name != "unsigned"}
        res["sign_overhead_per_round_s"] = over
        # A round whose unsigned baseline ran slower than a signed setup (the machine was busy
        # just then) has no meaningful ratio: it is counted as dropped, not hidden.
        res["gitsign_overhead_ratio"] = {}
        for ref in ("ssh", "gpg"):
            pairs = list(zip(over["gitsign"], over[ref]))
            r = stats([g / o for g, o in pairs if g > 0 and o > 0])
            r["dropped_rounds"] = sum(1 for g, o in pairs if not (g > 0 and o > 0))
            res["gitsign_overhead_ratio"][ref] = r
        sign_t = {name: stats(xs) for name, xs in st.items()}
        verify_t = {name: stats(xs) for name, xs in vt.items()}
        base = sign_t["unsigned"]["median"]
        res["sign_per_commit_s"] = sign_t
        res["sign_overhead_per_commit_s"] = {k: v["median"] - base for k, v in sign_t.items() if k != "unsigned"}
        res["verify_via_git_per_commit_s"] = verify_t

        # range verification in one process over M commits
        rpath = new_repo(tmp, "range", gs_env, setups["gitsign"][1])
        commit_loop(rpath, a.range, gs_env, True)
        first = sh(["git", "-C", rpath, "rev-list", "--max-parents=0", "HEAD"], env=gs_env).stdout.strip()
        vcmd = [os.path.join(REL, "gitsign"), "verify", f"{first}..HEAD", "--offline",
                "--certificate-identity", "bench@example.test", "--certificate-oidc-issuer", stack.env["GITSIGN_OIDC_ISSUER"]]
        rt = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            subprocess.run(vcmd, check=True, env=gs_env, cwd=rpath, capture_output=True)
            rt.append((a.range - 1) / (time.perf_counter() - t0))
        res["range_verify_commits_per_s"] = stats(rt)
        res["crypto_bound"] = None if a.smoke else crypto_bound()

        # start-up and RSS
        su = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(2 if a.smoke else 50):
                subprocess.run([os.path.join(REL, "gitsign"), "--version"], check=True, capture_output=True)
            su.append((time.perf_counter() - t0) / (2 if a.smoke else 50))
        res["startup_s"] = stats(su)
        payload = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor B <b@x> 1 +0000\ncommitter B <b@x> 1 +0000\n\nm\n"
        res["peak_rss_kb"] = {
            "sign": peak_rss_kb([os.path.join(REL, "gitsign"), "--status-fd=2", "-bsau", "x"], gs_env, payload),
            "verify_range": peak_rss_kb(vcmd, gs_env, cwd=rpath),
        }
        if cache:
            cache.terminate()
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda s: f"{s * 1000:8.2f} ms"
    print(f"\n{'signing, per commit':32} {'median':>11} {'min':>11} {'max':>11}  overhead vs unsigned")
    for k, v in res["sign_per_commit_s"].items():
        ov = res["sign_overhead_per_commit_s"].get(k)
        print(f"  {k:30} {ms(v['median'])} {ms(v['min'])} {ms(v['max'])}  {'' if ov is None else ms(ov)}")
    print(f"{'git log --show-signature, per commit':32}")
    for k, v in res["verify_via_git_per_commit_s"].items():
        print(f"  {k:30} {ms(v['median'])} {ms(v['min'])} {ms(v['max'])}")
    for ref, r in res["gitsign_overhead_ratio"].items():
        print(f"  gitsign overhead / {ref} overhead, per round: median {r['median']:.2f}, min {r['min']:.2f}, "
              f"max {r['max']:.2f} ({r['runs']} rounds"
              + (f"; {r['dropped_rounds']} dropped: baseline slower than a signed setup" if r["dropped_rounds"] else "")
              + ")")
    rv, cb = res["range_verify_commits_per_s"], res["crypto_bound"]
    bound = "" if cb is None else (f"; crypto bound {cb['commits_per_s_all_cores']:.0f}/s on {cb['cores']} cores "
                                   f"({100 * rv['median'] / cb['commits_per_s_all_cores']:.0f} %)")
    print(f"gitsign verify A..B ({a.range} commits): {rv['median']:.0f} commits/s (min {rv['min']:.0f}, max {rv['max']:.0f})"
          + bound)
    print(f"start-up (gitsign --version): {ms(res['startup_s']['median'])}; peak RSS sign {res['peak_rss_kb']['sign'] / 1024:.1f} MB, "
          f"verify range {res['peak_rss_kb']['verify_range'] / 1024:.1f} MB; credential cache: {res['credential_cache']}")
    res["machine"] = machine()
    print(f"machine: {res['machine']}")
    out = a.out
    if a.smoke:
        out = os.path.join(tempfile.gettempdir(), f"gitsign-bench-smoke-{os.getpid()}.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print(f"wrote {out}")
    if a.smoke:
        os.remove(out)


def machine():
    """CPU model, cores and load: the figures mean little without them."""
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load average {load:.1f} at the end"


if __name__ == "__main__":
    main()
