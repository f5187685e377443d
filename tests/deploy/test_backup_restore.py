"""deploy/backup.sh then deploy/restore.sh, for real, on a throw-away database."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from .conftest import ADMIN_DSN, PG_ENV, REPO_ROOT, free_port, run, system_binary

BACKUP = REPO_ROOT / "deploy" / "backup.sh"
RESTORE = REPO_ROOT / "deploy" / "restore.sh"
ENV = os.environ | PG_ENV


def _dsn(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + db


def _fill(db: str) -> None:
    # Text with quotes and non-ASCII, NULLs, numerics, timestamps with time zone, a second schema.
    with psycopg.connect(_dsn(db), autocommit=True) as conn:
        conn.execute(
            """
            CREATE SCHEMA raw;
            CREATE TABLE raw.matches (
                id integer PRIMARY KEY, home_team text NOT NULL, away_team text NOT NULL,
                kickoff timestamptz, fthg smallint, ftag smallint, p_home numeric(6,4)
            );
            INSERT INTO raw.matches
            SELECT g, 'Nott''m Forest ' || g, 'M''gladbach ñ ' || g,
                   timestamptz '2023-08-11 19:00+00' + g * interval '1 day',
                   CASE WHEN g % 7 = 0 THEN NULL ELSE g % 5 END, g % 3, round((g % 97) / 97.0, 4)
            FROM generate_series(1, 1500) AS g;
            CREATE TABLE public.notes (k text PRIMARY KEY, v jsonb);
            INSERT INTO public.notes VALUES ('a', '{"x": 1}'), ('b', NULL);
            """
        )


def _fingerprint(db: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent checksum of every user table."""
    out = {}
    with psycopg.connect(_dsn(db)) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            count, digest = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                f'FROM "{schema}"."{table}" AS t'
            ).fetchone()
            out[f"{schema}.{table}"] = (count, digest)
    return out


def test_backup_then_restore_gives_identical_counts_and_checksums(tmp_path, temp_database_factory):
    system_binary("pg_dump", "postgresql-client")
    source = temp_database_factory("bk_src")
    target = temp_database_factory("bk_dst", create=False)
    _fill(source)
    before = _fingerprint(source)
    assert before["raw.matches"][0] == 1500 and before["public.notes"][0] == 2

    result = run(["bash", str(BACKUP), "--out", str(tmp_path), source], env=ENV)
    assert result.returncode == 0, result.stderr
    (dump,) = tmp_path.glob(f"{source}-*.dump")
    assert Path(f"{dump}.sha256").exists()
    assert not list(tmp_path.glob("*.partial"))

    result = run(["bash", str(RESTORE), str(dump), target, "--create"], env=ENV)
    assert result.returncode == 0, result.stderr
    assert _fingerprint(target) == before

    # A second restore into the now non-empty database is refused without --force ...
    result = run(["bash", str(RESTORE), str(dump), target], env=ENV)
    assert result.returncode != 0 and "--force" in result.stderr
    # ... and with --force it replaces the objects and still matches the source.
    with psycopg.connect(_dsn(target), autocommit=True) as conn:
        conn.execute("DELETE FROM raw.matches WHERE id > 10")
    result = run(["bash", str(RESTORE), str(dump), target, "--force"], env=ENV)
    assert result.returncode == 0, result.stderr
    assert _fingerprint(target) == before


def test_restore_refuses_a_damaged_dump(tmp_path, temp_database_factory):
    source = temp_database_factory("bk_src")
    target = temp_database_factory("bk_dst", create=False)
    _fill(source)
    assert run(["bash", str(BACKUP), "--out", str(tmp_path), source], env=ENV).returncode == 0
    (dump,) = tmp_path.glob("*.dump")
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    result = run(["bash", str(RESTORE), str(dump), target, "--create"], env=ENV)
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    with psycopg.connect(ADMIN_DSN) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone()
    assert exists is None, "a refused restore must not create the target database"


def test_backup_fails_loudly_for_a_missing_database(tmp_path):
    result = run(["bash", str(BACKUP), "--out", str(tmp_path), "no_such_database_xyz"], env=ENV)
    assert result.returncode != 0
    assert "no_such_database_xyz" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_backup_expires_only_old_dumps(tmp_path, temp_database_factory):
    source = temp_database_factory("bk_src")
    old = tmp_path / "warehouse-20000101T000000Z.dump"
    old.write_bytes(b"old")
    os.utime(old, (946684800, 946684800))
    result = run(["bash", str(BACKUP), "--out", str(tmp_path), "--keep-days", "14", source], env=ENV)
    assert result.returncode == 0, result.stderr
    assert not old.exists()
    assert len(list(tmp_path.glob(f"{source}-*.dump"))) == 1


def test_backup_defaults_to_the_guides_30_days_of_retention(tmp_path, temp_database_factory):
    source = temp_database_factory("bk_keep")
    day = 86400
    now = __import__("time").time()
    kept, expired = tmp_path / "warehouse-kept.dump", tmp_path / "warehouse-expired.dump"
    for path, age_days in ((kept, 29), (expired, 32)):
        path.write_bytes(b"x")
        os.utime(path, (now - age_days * day, now - age_days * day))
    result = run(["bash", str(BACKUP), "--out", str(tmp_path), source], env=ENV)
    assert result.returncode == 0, result.stderr
    assert kept.exists() and not expired.exists()


def test_backup_to_s3_uploads_verified_dumps_and_expires_old_ones(tmp_path, temp_database_factory):
    import boto3
    from moto.server import ThreadedMotoServer

    source = temp_database_factory("bk_s3")
    assert run(["bash", str(BACKUP), "--out", str(tmp_path), source], env=ENV).returncode == 0
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3_env = {"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
                  "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        s3 = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="backups")
        script = [str(REPO_ROOT / ".venv" / "bin" / "python"), str(REPO_ROOT / "deploy" / "backup_to_s3.py"),
                  str(tmp_path), "s3://backups/pg", "--keep-days", "30"]
        result = run(script, env=os.environ | s3_env)
        assert result.returncode == 0, result.stderr
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="backups")["Contents"]}
        (dump,) = tmp_path.glob("*.dump")
        assert keys == {f"pg/{dump.name}", f"pg/{dump.name}.sha256"}
        assert s3.get_object(Bucket="backups", Key=f"pg/{dump.name}")["Body"].read() == dump.read_bytes()
        # Nothing to expire yet; with --keep-days 0 every object is older than the cutoff and goes.
        result = run([*script[:-1], "0"], env=os.environ | s3_env)
        assert result.returncode == 0 and "expired" in result.stdout, result.stdout + result.stderr
        # A damaged dump uploads nothing.
        dump.write_bytes(dump.read_bytes() + b"x")
        s3.delete_object(Bucket="backups", Key=f"pg/{dump.name}")
        result = run(script, env=os.environ | s3_env)
        assert result.returncode != 0 and "checksum mismatch" in result.stderr
        assert "Contents" not in s3.list_objects_v2(Bucket="backups", Prefix=f"pg/{dump.name}")
    finally:
        server.stop()
