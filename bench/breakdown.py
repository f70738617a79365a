#!/usr/bin/env python3
"""Where one cached signature's time goes: measured with strace -c, perf stat and callgrind.

Starts the local Sigstore stack and the credential cache daemon, logs in once (the entry is
cached), then signs one commit payload as git would (`gitsign --status-fd=2 -bsau KEY`), from
the cache, under each tool:
  - `perf stat -r N`: wall and CPU time of the whole process (task-clock, context switches);
  - `strace -f -c`: its system calls (count, time), and `strace -f -tt -T` on the sandbox while
    it serves the Rekor request (its fsync included);
  - `valgrind --tool=callgrind`: instructions, inclusive, of the parts of a signature (process
    start and dynamic loading, config, trusted root, cache round trips, signing, HTTP client
    set-up, the Rekor request, checking the answer, armor).
Prints what it measured; writes the raw outputs to --keep DIR if given.

Usage: python3 bench/breakdown.py [--bin-dir DIR] [--repeat N] [--keep DIR]
"""
import argparse, os, re, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as harness  # noqa: E402

PAYLOAD = (b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor B <bench@example.test> 1 +0000\n"
           b"committer B <bench@example.test> 1 +0000\n\nm\n")

# Functions whose inclusive instruction counts make the table (substring of the symbol).
PARTS = [
    ("whole process (callgrind total)", None),
    ("before main: dynamic loading, relocations (ld.so)", "rtld.c:_dl_start "),
    ("main", "gitsign::main "),
    ("  config (git config + environment)", "gitsign::app::config::Config::load "),
    ("  trusted root", "gitsign::app::setup::trusted_root_for "),
    ("  HTTP clients built (second thread)", "gitsign::pipelines::sign::Services::from_config "),
    ("  cache look-up: connect + Describe round trip", "gitsign::credentials::cache::socket_lookup "),
    ("  sign the payload (CMS, Rekor, checks, armor)", "gitsign::pipelines::sign::sign_payload "),
    ("    CMS, incl. the daemon's Sign round trip", "gitsign::crypto::cms::sign::sign_detached "),
    ("      the Sign round trip (client side)", "gitsign::credentials::client::Client::sign "),
    ("    Rekor request (client side; I/O on the runtime thread)", "RekorClient::create_entry "),
    ("    checking Rekor's answer (SET, inclusion proof, checkpoint)", "gitsign::services::rekor::verify::verify_entry "),
    ("    armor", "gitsign::encoding::armor::encode "),
    ("threads (HTTP runtime, connect helper, client builder)", "pthread_create.c:start_thread "),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=os.path.join(harness.ROOT, "target", "release"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--keep")
    a = ap.parse_args()
    harness.REL = os.path.abspath(a.bin_dir)
    tmp = tempfile.mkdtemp(prefix="gitsign-breakdown-")
    keep = a.keep or tmp
    os.makedirs(keep, exist_ok=True)
    env = dict(os.environ, HOME=tmp, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.path.join(tmp, "gitconfig"))
    stack = harness.Stack(tmp)
    sock = os.path.join(tmp, "cache", "cache.sock")
    cache = subprocess.Popen([os.path.join(harness.REL, "gitsign-credential-cache"), "--socket", sock],
                             stdout=subprocess.PIPE, text=True)
    cache.stdout.readline()
    try:
        env.update(stack.env)
        env["GITSIGN_CREDENTIAL_CACHE"] = sock
        repo = harness.new_repo(tmp, "repo", env, [])
        gitsign = [os.path.join(harness.REL, "gitsign"), "--status-fd=2", "-bsau", "bench@example.test"]
        # Log in once: the entry is cached, every run below signs from it.
        login = dict(env, SIGSTORE_ID_TOKEN=stack.token("bench@example.test"))
        subprocess.run(gitsign, input=PAYLOAD, env=login, cwd=repo, check=True, capture_output=True)
        env["GITSIGN_TOKEN_PROVIDER"] = "envvar"

        def run(prefix, out_name):
            r = subprocess.run(prefix + gitsign, input=PAYLOAD, env=env, cwd=repo, capture_output=True)
            if r.returncode != 0 or b"SIG_CREATED" not in r.stderr:
                raise SystemExit(f"{out_name}: the signature failed: {r.stderr.decode(errors='replace')}")
            return r

        for _ in range(3):
            run([], "warm-up")
        perf = os.path.join(keep, "perf-stat.txt")
        run(["perf", "stat", "-r", str(a.repeat), "-o", perf, "-e", "task-clock,context-switches,cpu-migrations,page-faults"], "perf")
        print(open(perf).read())

        st = os.path.join(keep, "strace-c.txt")
        run(["strace", "-f", "-c", "-o", st], "strace")
        print("system calls of one cached signature (strace -f -c):")
        print("".join(open(st).readlines()[:40]))

        # The sandbox while it serves one signature's Rekor request.
        sb_trace = os.path.join(keep, "strace-sandbox.txt")
        tracer = subprocess.Popen(["strace", "-f", "-tt", "-T", "-o", sb_trace, "-p", str(stack.proc.pid)],
                                  stderr=subprocess.PIPE, text=True)
        tracer.stderr.readline()  # "Process N attached with M threads"
        time.sleep(0.3)
        t0 = time.perf_counter()
        run([], "sandbox trace")
        wall = time.perf_counter() - t0
        time.sleep(0.2)
        tracer.send_signal(signal.SIGINT)
        tracer.wait()
        trace = open(sb_trace).read()
        syncs = [float(m.group(1)) for m in re.finditer(r"f(?:data)?sync\(.*<([\d.]+)>", trace)]
        writes = len(re.findall(r" (?:p?write64|write|pwritev?)\(", trace))
        print(f"sandbox during one signature (traced, {wall * 1000:.1f} ms wall): {len(trace.splitlines())} system calls, "
              f"{writes} writes, {len(syncs)} fsync/fdatasync ({sum(syncs) * 1000:.2f} ms in them)")

        cg = os.path.join(keep, "callgrind.out")
        run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", "--trace-children=no"], "callgrind")
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", cg],
                             capture_output=True, text=True).stdout
        with open(os.path.join(keep, "callgrind-inclusive.txt"), "w") as f:
            f.write(ann)
        total = None
        m = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", ann)
        if m:
            total = int(m.group(1).replace(",", ""))
        print(f"\ninstructions (callgrind, inclusive; {'?' if total is None else f'{total:,}'} in all):")
        for label, sym in PARTS:
            if sym is None:
                print(f"  {label:52} {total:>14,}" if total else f"  {label:52} ?")
                continue
            best = 0
            for line in ann.splitlines():
                mm = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\*?\s*(\S.*)$", line)
                if mm and sym in mm.group(2) + " ":
                    best = max(best, int(mm.group(1).replace(",", "")))
            share = f"{100 * best / total:5.1f} %" if total and best else "     -"
            print(f"  {label:52} {best:>14,}  {share}")
    finally:
        cache.terminate()
        stack.stop()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
