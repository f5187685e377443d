"""MLflow with an S3 artifact store, for real: the compose file's `mlflow server` command against a
temporary PostgreSQL database and an S3-compatible server (moto in server mode) started here; a
CatBoost model is logged through the server, registered with alias `production` and loaded back."""

from __future__ import annotations

import os

import numpy as np

from . import local_stack as ls
from .conftest import ADMIN_DSN, free_port

BUCKET = "mlflow"


def compose_mlflow_command(backend_uri: str, port: int) -> list[str]:
    """The `mlflow` service's command from docker-compose.yml, pointed at this machine."""
    command = ls.service_command(ls.resolved_compose(ls.dotenv()), "mlflow")
    assert command[command.index("--default-artifact-root") + 1] == f"s3://{BUCKET}/"
    return ls.compose_mlflow_command(command, backend_uri, port)


def compose_mlflow_env() -> dict[str, str]:
    """The `mlflow` service's environment (its S3 endpoint and keys are replaced by the test's)."""
    return ls.service_env(ls.resolved_compose(ls.dotenv()), "mlflow")


def test_catboost_model_round_trip_through_the_s3_artifact_store(tmp_path, temp_database_factory, monkeypatch):
    import boto3  # pinned in requirements.lock: MLflow's S3 client; moto[server] is the S3 server below

    s3_port, mlflow_port = free_port(), free_port()
    s3_env = {
        "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "AWS_ACCESS_KEY_ID": "test-access-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    # The MLflow server is the slow part (migrations, then its app import): start it first and
    # prepare everything else while it boots.
    db = temp_database_factory("mlflow_s3")
    backend = ADMIN_DSN.rsplit("/", 1)[0] + "/" + db
    log = tmp_path / "mlflow.log"
    server = ls.start(compose_mlflow_command(backend, mlflow_port), os.environ | compose_mlflow_env() | s3_env, log)
    s3_server = None
    try:
        from moto.server import ThreadedMotoServer

        # moto's S3 API served over real HTTP on a loopback port, in a thread of this process.
        s3_server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        s3_server.start()
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_env["MLFLOW_S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="test-access-key",
            aws_secret_access_key="test-secret-key",
        )
        s3.create_bucket(Bucket=BUCKET)

        import mlflow
        import mlflow.catboost
        from catboost import CatBoostClassifier
        from mlflow import MlflowClient

        rng = np.random.default_rng(7)
        features = rng.normal(size=(120, 4))
        labels = np.digitize(features[:, 0] + 0.3 * features[:, 1], [-0.4, 0.4])  # 0=H, 1=D, 2=A
        model = CatBoostClassifier(
            iterations=30,
            depth=3,
            thread_count=1,
            random_seed=7,
            verbose=False,
            train_dir=str(tmp_path / "catboost_info"),
        )
        model.fit(features, labels)
        expected = model.predict_proba(features[:5])

        tracking = f"http://127.0.0.1:{mlflow_port}"
        ls.wait_http(f"{tracking}/health", server, 300, log)
        for key, value in s3_env.items():
            monkeypatch.setenv(key, value)
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(tracking)
        mlflow.set_experiment("deploy-s3-roundtrip")
        with mlflow.start_run() as run:
            # Explicit requirements: inferring them re-imports the model in a subprocess (slow).
            info = mlflow.catboost.log_model(
                model, name="model", registered_model_name="deploy_s3_test", pip_requirements=["catboost"]
            )
        client = MlflowClient()
        client.set_registered_model_alias("deploy_s3_test", "production", info.registered_model_version)

        # The artifact location is on S3 (not proxied through the server's disk) ...
        artifact_uri = client.get_run(run.info.run_id).info.artifact_uri
        assert artifact_uri.startswith(f"s3://{BUCKET}/")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert any(k.endswith("model.cb") for k in keys), keys
        # ... and the native flavour loads back from it with identical probabilities.
        loaded = mlflow.catboost.load_model("models:/deploy_s3_test@production")
        np.testing.assert_allclose(loaded.predict_proba(features[:5]), expected, rtol=0, atol=1e-12)
    finally:
        ls.stop(server)
        if s3_server is not None:
            s3_server.stop()
