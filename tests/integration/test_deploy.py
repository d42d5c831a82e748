"""`make deploy STAGE=...` (infra/deploy.py) runs everything up to the upload on any machine: the stack
and the site are built, the parameters are checked against the template, and without credentials it
stops and says what it would run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import deploy

pytestmark = pytest.mark.xdist_group("template")  # `chalice package` shares .chalice/deployments/
ROOT = Path(__file__).resolve().parents[2]
SENDER = "nao-responda@pen.example.gov.br"


def run_deploy(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PEN_ARTIFACTS_BUCKET"}
    # No credentials anywhere boto3 looks (the machine's own files included).
    clean |= {"AWS_CONFIG_FILE": str(tmp / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none")}
    return subprocess.run(
        [sys.executable, "-m", "infra.deploy", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("deploy")
    parameters = tmp / "dev.json"
    parameters.write_text(json.dumps({"MailSender": SENDER, "AlarmEmail": "ops@pen.example.gov.br"}))
    out = tmp / "build" / "dev"
    result = run_deploy(tmp, "--stage", "dev", "--parameters", str(parameters), "--out", str(out),
                        PEN_ARTIFACTS_BUCKET="pen-artefatos")  # fmt: skip
    return out, result


def test_without_credentials_it_builds_checks_and_stops_before_the_upload(
    dry_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, result = dry_run
    assert result.returncode == 2, result.stdout + result.stderr
    template = json.loads((out / "sam.json").read_text(encoding="utf-8"))
    assert (out / "deployment.zip").stat().st_size > 0
    assert (out.parent / "site" / "dev" / "index.html").exists()
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert {f["Properties"]["FunctionName"] for f in functions} >= {
        "pen-dev-api_handler",
        "pen-dev-send_mail",
    }
    assert "missing AWS credentials" in result.stdout
    assert "--s3-bucket pen-artefatos" in result.stdout
    assert "--stack-name pen-dev" in result.stdout
    assert f"MailSender={SENDER}" in result.stdout
    assert not (out / "packaged.json").exists()  # nothing was uploaded


def template_of(dry_run: tuple[Path, subprocess.CompletedProcess[str]]) -> dict[str, Any]:
    out, _ = dry_run
    return dict(json.loads((out / "sam.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({}, "MailSender is required"),
        ({"MailSender": "sem-arroba"}, "MailSender='sem-arroba' does not match"),
        ({"MailSender": SENDER, "MailSendr": SENDER}, "unknown parameter MailSendr"),
    ],
)
def test_parameters_the_stack_would_refuse_are_refused_before_the_upload(
    dry_run: tuple[Path, subprocess.CompletedProcess[str]], given: dict[str, str], problem: str
) -> None:
    with pytest.raises(deploy.DeployError, match=problem):
        deploy.check_parameters(template_of(dry_run), given)
    deploy.check_parameters(template_of(dry_run), {"MailSender": SENDER})  # and a good set passes


def test_the_local_stage_and_unknown_stages_are_not_deployable(tmp_path: Path) -> None:
    for stage in ("local", "hml"):
        result = run_deploy(tmp_path, "--stage", stage, "--dry-run")
        assert result.returncode == 2
        assert "the deployable stages are dev, prod" in result.stderr


def test_a_dry_run_exits_0_and_says_so(tmp_path: Path) -> None:
    parameters = tmp_path / "prod.json"
    parameters.write_text(json.dumps({"MailSender": SENDER}))
    result = run_deploy(tmp_path, "--stage", "prod", "--parameters", str(parameters), "--out",
                        str(tmp_path / "build" / "prod"), "--dry-run")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3 not run (dry run)" in result.stdout
    assert "--stack-name pen-prod" in result.stdout
