"""Copy the dumps of deploy/backup.sh to S3 and expire old ones there (the Kubernetes backup CronJob's 2nd step).

    python deploy/backup_to_s3.py DIR s3://BUCKET/PREFIX [--keep-days 30]

Every DIR/*.dump is checked against its .sha256 before anything is uploaded (a damaged dump fails the run and
uploads nothing); dump and checksum go to PREFIX/<name>. Afterwards, objects under PREFIX named *.dump or
*.dump.sha256 that are older than --keep-days are deleted. S3 access: boto3's usual chain (the pod's IAM role, or
AWS_* variables; AWS_ENDPOINT_URL_S3 for an S3-compatible store). Prints one line per action; exit 1 on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from pathlib import Path
from urllib.parse import urlsplit


def verified_dumps(folder: Path) -> list[Path]:
    dumps = sorted(folder.glob("*.dump"))
    if not dumps:
        raise SystemExit(f"backup_to_s3: no *.dump in {folder}")
    for dump in dumps:
        checksum = dump.with_name(dump.name + ".sha256")
        if not checksum.exists():
            raise SystemExit(f"backup_to_s3: {dump.name} has no {checksum.name}")
        expected = checksum.read_text().split()[0]
        actual = hashlib.sha256(dump.read_bytes()).hexdigest()
        if actual != expected:
            raise SystemExit(f"backup_to_s3: checksum mismatch for {dump.name}; nothing uploaded")
    return dumps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("target", help="s3://bucket/prefix")
    parser.add_argument("--keep-days", type=int, default=30)
    args = parser.parse_args(argv)
    url = urlsplit(args.target)
    if url.scheme != "s3" or not url.netloc:
        parser.error(f"target must be s3://bucket/prefix, got {args.target!r}")
    bucket, prefix = url.netloc, url.path.strip("/")

    import boto3

    dumps = verified_dumps(args.folder)
    s3 = boto3.client("s3")
    for dump in dumps:
        for path in (dump, dump.with_name(dump.name + ".sha256")):
            key = f"{prefix}/{path.name}" if prefix else path.name
            s3.upload_file(str(path), bucket, key)
            print(f"backup_to_s3: {path.name} -> s3://{bucket}/{key}")

    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=args.keep_days)
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name.endswith((".dump", ".dump.sha256")) and item["LastModified"] < cutoff:
                s3.delete_object(Bucket=bucket, Key=item["Key"])
                print(f"backup_to_s3: expired s3://{bucket}/{item['Key']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
