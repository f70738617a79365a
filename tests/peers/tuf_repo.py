#!/usr/bin/env python3
"""A real TUF repository for tests/tuf.rs, written with python-tuf's Metadata API (tuf==7.0.1,
an implementation independent of gitsign-rs's client).

Layout of WORK:
  keys/<name>.pem     private keys (root-a, root-b: ECDSA P-256; targets: ECDSA P-256;
                      snapshot, timestamp: Ed25519)
  current/<role>.json the latest signed metadata of each role
  history/            every timestamp ever published (timestamp.<version>.json)
  root.json           the first root (what `gitsign initialize --root` is given)
  repo/               what the mirror serves, Sigstore's consistent-snapshot layout:
                      N.root.json, timestamp.json, N.snapshot.json, N.targets.json,
                      targets/<sha256>.<name>

Commands (all print nothing on success):
  init WORK --target FILE [--expires SECS]
  publish WORK --target FILE [--expires SECS]        new targets, snapshot and timestamp
  rotate-root WORK [--signers a,b,...] [--rotate-timestamp] [--expires SECS]
      next root version with fresh root keys (root-c, root-d, threshold 2); signed by the
      named keys (default: both old and both new root keys)
  timestamp WORK [--version V] [--expires SECS]      re-sign the timestamp (SECS may be < 0)
  serve-timestamp WORK --version V                   serve an old timestamp again (rollback)
  tamper WORK [--grow]                               change (or append) a byte of the served target
"""
import argparse
import hashlib
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

TARGET = "trusted_root.json"
KEY_TYPES = {
    "root-a": "ecdsa",
    "root-b": "ecdsa",
    "root-c": "ecdsa",
    "root-d": "ecdsa",
    "targets": "ecdsa",
    "snapshot": "ed25519",
    "timestamp": "ed25519",
    "timestamp-2": "ed25519",
}


def expiry(seconds):
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=seconds)


def signer(work, name):
    path = work / "keys" / f"{name}.pem"
    if not path.exists():
        s = CryptoSigner.generate_ecdsa() if KEY_TYPES[name] == "ecdsa" else CryptoSigner.generate_ed25519()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s.private_bytes)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return CryptoSigner(key)


def save(work, md, served_name):
    data = md.to_bytes(JSONSerializer(compact=False))
    (work / "current").mkdir(parents=True, exist_ok=True)
    (work / "current" / f"{md.signed.type}.json").write_bytes(data)
    (work / "repo").mkdir(parents=True, exist_ok=True)
    (work / "repo" / served_name).write_bytes(data)
    if md.signed.type == "timestamp":
        (work / "history").mkdir(parents=True, exist_ok=True)
        (work / "history" / f"timestamp.{md.signed.version}.json").write_bytes(data)
    return data


def current(work, role):
    return Metadata.from_file(str(work / "current" / f"{role}.json"))


def sign_and_save_timestamp(work, version, snapshot_bytes, snapshot_version, expires, key="timestamp"):
    ts = Metadata(
        Timestamp(
            version=version,
            expires=expiry(expires),
            snapshot_meta=MetaFile(
                version=snapshot_version,
                length=len(snapshot_bytes),
                hashes={"sha256": hashlib.sha256(snapshot_bytes).hexdigest()},
            ),
        )
    )
    ts.sign(signer(work, key))
    save(work, ts, "timestamp.json")


def timestamp_key_name(work):
    root = current(work, "root").signed
    ts_ids = root.roles["timestamp"].keyids
    return "timestamp-2" if signer(work, "timestamp-2").public_key.keyid in ts_ids else "timestamp"


def publish_targets(work, target_bytes, version, expires):
    tf = TargetFile.from_data(TARGET, target_bytes, ["sha256"])
    digest = tf.hashes["sha256"]
    (work / "repo" / "targets").mkdir(parents=True, exist_ok=True)
    (work / "repo" / "targets" / f"{digest}.{TARGET}").write_bytes(target_bytes)
    targets = Metadata(Targets(version=version, expires=expiry(7 * 86400), targets={TARGET: tf}))
    targets.sign(signer(work, "targets"))
    save(work, targets, f"{version}.targets.json")
    # Like Sigstore's snapshot: targets described by version only.
    snap = Metadata(Snapshot(version=version, expires=expiry(7 * 86400), meta={"targets.json": MetaFile(version=version)}))
    snap.sign(signer(work, "snapshot"))
    snap_bytes = save(work, snap, f"{version}.snapshot.json")
    sign_and_save_timestamp(work, version, snap_bytes, version, expires, timestamp_key_name(work))


def cmd_init(a):
    work = Path(a.work)
    root = Root(version=1, expires=expiry(30 * 86400), consistent_snapshot=True)
    for name in ["root-a", "root-b"]:
        root.add_key(signer(work, name).public_key, "root")
    root.roles["root"].threshold = 2
    for role in ["targets", "snapshot", "timestamp"]:
        root.add_key(signer(work, role).public_key, role)
    md = Metadata(root)
    md.sign(signer(work, "root-a"), append=True)
    md.sign(signer(work, "root-b"), append=True)
    data = save(work, md, "1.root.json")
    (work / "root.json").write_bytes(data)
    publish_targets(work, Path(a.target).read_bytes(), 1, a.expires)


def cmd_publish(a):
    work = Path(a.work)
    version = current(work, "targets").signed.version + 1
    publish_targets(work, Path(a.target).read_bytes(), version, a.expires)


def cmd_rotate_root(a):
    work = Path(a.work)
    old = current(work, "root").signed
    ts_key = "timestamp-2" if a.rotate_timestamp else timestamp_key_name(work)
    new = Root(
        version=old.version + 1,
        expires=expiry(a.expires),
        consistent_snapshot=True,
    )
    for name in ["root-c", "root-d"]:
        new.add_key(signer(work, name).public_key, "root")
    new.roles["root"].threshold = 2
    new.add_key(signer(work, "targets").public_key, "targets")
    new.add_key(signer(work, "snapshot").public_key, "snapshot")
    new.add_key(signer(work, ts_key).public_key, "timestamp")
    md = Metadata(new)
    for name in a.signers.split(","):
        md.sign(signer(work, name), append=True)
    save(work, md, f"{new.version}.root.json")
    if a.rotate_timestamp:
        ts = current(work, "timestamp").signed
        snap_bytes = (work / "current" / "snapshot.json").read_bytes()
        sign_and_save_timestamp(work, ts.version + 1, snap_bytes, ts.snapshot_meta.version, 86400, "timestamp-2")


def cmd_timestamp(a):
    work = Path(a.work)
    ts = current(work, "timestamp").signed
    snap_bytes = (work / "current" / "snapshot.json").read_bytes()
    version = a.version if a.version is not None else ts.version + 1
    sign_and_save_timestamp(work, version, snap_bytes, ts.snapshot_meta.version, a.expires, timestamp_key_name(work))


def cmd_serve_timestamp(a):
    work = Path(a.work)
    shutil.copyfile(work / "history" / f"timestamp.{a.version}.json", work / "repo" / "timestamp.json")


def cmd_tamper(a):
    work = Path(a.work)
    for p in (work / "repo" / "targets").glob(f"*.{TARGET}"):
        data = p.read_bytes()
        p.write_bytes(data + b" " if a.grow else data.replace(b"a", b"b", 1))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("init")
    s.add_argument("work")
    s.add_argument("--target", required=True)
    s.add_argument("--expires", type=int, default=86400)
    s.set_defaults(func=cmd_init)
    s = sub.add_parser("publish")
    s.add_argument("work")
    s.add_argument("--target", required=True)
    s.add_argument("--expires", type=int, default=86400)
    s.set_defaults(func=cmd_publish)
    s = sub.add_parser("rotate-root")
    s.add_argument("work")
    s.add_argument("--signers", default="root-a,root-b,root-c,root-d")
    s.add_argument("--rotate-timestamp", action="store_true")
    s.add_argument("--expires", type=int, default=30 * 86400)
    s.set_defaults(func=cmd_rotate_root)
    s = sub.add_parser("timestamp")
    s.add_argument("work")
    s.add_argument("--version", type=int)
    s.add_argument("--expires", type=int, default=86400)
    s.set_defaults(func=cmd_timestamp)
    s = sub.add_parser("serve-timestamp")
    s.add_argument("work")
    s.add_argument("--version", type=int, required=True)
    s.set_defaults(func=cmd_serve_timestamp)
    s = sub.add_parser("tamper")
    s.add_argument("work")
    s.add_argument("--grow", action="store_true", help="append a byte instead of changing one")
    s.set_defaults(func=cmd_tamper)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    sys.exit(main())
