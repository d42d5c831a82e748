"""Deploys a stage to AWS: `make deploy STAGE=dev PARAMETERS=deploy-dev.json` (docs/DEPLOY.md).

1. builds the stack (`chalice package` + infra/template.py) into build/<stage>/ and the site into
   build/site/<stage>/ — offline, no credentials;
2. checks the parameters file against the template's parameters (unknown names, a missing required
   one, a value its AllowedPattern refuses) before anything reaches AWS;
3. with credentials and an artifacts bucket: uploads the code (`aws cloudformation package`),
   deploys the stack `pen-<stage>` (`aws cloudformation deploy`), reads its outputs and publishes
   the site to the stack's bucket.

Without credentials (or with --dry-run) it stops after step 2, printing the commands step 3 would
run: everything up to the upload is checked on any machine. Exit status: 0 done (or dry run), 1 a
step failed, 2 the operator's input is wrong or missing (printed without a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import site
from infra.template import ROOT, TemplateError, package

LOCAL_STAGE = "local"  # make run's, never deployed
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
SITE_BUCKET_OUTPUT = "SiteBucketName"
AWS = "aws"  # replaced by the CLI's path when step 3 runs


class DeployError(RuntimeError):
    """The operator's input is wrong or missing: said plainly, exit 2."""


def deployable_stages(project_dir: Path = ROOT) -> list[str]:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return sorted(stage for stage in config["stages"] if stage != LOCAL_STAGE)


def stack_name(stage: str) -> str:
    return f"pen-{stage}"


def read_parameters(path: Path | None) -> dict[str, str]:
    """The parameters file: a JSON object of parameter name -> value (strings)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"{path} does not exist") from None
    except json.JSONDecodeError as error:
        raise DeployError(f"{path} is not JSON: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DeployError(f'{path} must be one JSON object of strings, e.g. {{"MailSender": "..."}}')
    return data


def check_parameters(template: dict[str, Any], given: dict[str, str]) -> None:
    """What CloudFormation would refuse after the upload, refused before it."""
    declared: dict[str, Any] = template.get("Parameters", {})
    problems = [f"unknown parameter {name}" for name in sorted(set(given) - set(declared))]
    for name, spec in sorted(declared.items()):
        value = given.get(name, spec.get("Default"))
        if value is None:
            problems.append(f"{name} is required: {spec.get('Description', '')}".rstrip(": "))
            continue
        pattern = spec.get("AllowedPattern")
        if pattern and name in given and not re.fullmatch(pattern, value):
            problems.append(f"{name}={value!r} does not match {pattern}")
        allowed = spec.get("AllowedValues")
        if allowed and value not in allowed:
            problems.append(f"{name}={value!r} is not one of {', '.join(allowed)}")
    if problems:
        raise DeployError("the parameters would be refused:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Plan:
    stage: str
    template: Path
    packaged: Path
    site: Path
    parameters: dict[str, str]
    bucket: str

    def upload(self) -> list[str]:
        return [AWS, "cloudformation", "package", "--template-file", str(self.template), "--s3-bucket",
                self.bucket, "--s3-prefix", stack_name(self.stage), "--output-template-file",
                str(self.packaged), "--use-json"]  # fmt: skip

    def deploy(self) -> list[str]:
        command = [AWS, "cloudformation", "deploy", "--template-file", str(self.packaged),
                   "--stack-name", stack_name(self.stage), "--capabilities", *CAPABILITIES,
                   "--no-fail-on-empty-changeset"]  # fmt: skip
        if self.parameters:
            command += ["--parameter-overrides", *(f"{k}={v}" for k, v in sorted(self.parameters.items()))]
        return command

    def outputs(self) -> list[str]:
        return [AWS, "cloudformation", "describe-stacks", "--stack-name", stack_name(self.stage),
                "--query", "Stacks[0].Outputs", "--output", "json"]  # fmt: skip

    def publish_site(self) -> list[str]:
        return [sys.executable, "-m", "infra.site", "--stage", self.stage, "--out", str(self.site),
                "--publish-bucket", f"<{SITE_BUCKET_OUTPUT} output>"]  # fmt: skip


def aws_cli() -> str | None:
    """The AWS CLI of the virtualenv this runs in (requirements-dev.txt), else the one on PATH."""
    beside = Path(sys.executable).parent / "aws"
    return str(beside) if beside.exists() else shutil.which("aws")


def has_credentials() -> bool:
    """Whether boto3 finds credentials (environment, profile, SSO...), without calling AWS."""
    import boto3

    return boto3.session.Session().get_credentials() is not None


def build(stage: str, parameters_file: Path | None, bucket: str, out: Path) -> Plan:
    stages = deployable_stages()
    if stage not in stages:
        known = ", ".join(stages)
        raise DeployError(f"stage {stage!r}: the deployable stages are {known} (.chalice/config.json)")
    parameters = read_parameters(parameters_file)
    print(f"1/3 building the stack of stage {stage} into {out}/ ...", flush=True)
    template_file = package(stage, out)
    site_dir = site.build(stage, out.parent / "site" / stage)
    print(f"    {template_file}, {template_file.parent / 'deployment.zip'}, the site in {site_dir}")
    print("2/3 checking the parameters against the template ...")
    check_parameters(json.loads(template_file.read_text(encoding="utf-8")), parameters)
    print(f"    {len(parameters)} given, every required one present")
    return Plan(stage, template_file, out / "packaged.json", site_dir, parameters, bucket)


def run(command: list[str]) -> str:
    print("    $ " + shlex.join(command), flush=True)
    cli = aws_cli()
    if command[0] == AWS and cli is not None:
        command = [cli, *command[1:]]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def deploy(plan: Plan) -> None:
    """Step 3, on AWS."""
    import boto3

    print(f"3/3 uploading and deploying {stack_name(plan.stage)} ...")
    run(plan.upload())
    run(plan.deploy())
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads(run(plan.outputs()) or "[]")}
    bucket = outputs.get(SITE_BUCKET_OUTPUT)
    if bucket is None:
        raise DeployError(f"the stack has no {SITE_BUCKET_OUTPUT} output: the site was not published")
    keys = site.publish(plan.site, bucket, boto3.client("s3"))
    print(f"    published {len(keys)} site files to s3://{bucket}/")
    for key in ("EndpointURL", "SiteDistributionUrl"):
        if key in outputs:
            print(f"    {key}: {outputs[key]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--parameters", type=Path, help="JSON file of the stack's parameters (DEPLOY.md)")
    parser.add_argument(
        "--artifacts-bucket",
        default=os.environ.get("PEN_ARTIFACTS_BUCKET", ""),
        help="private bucket for the code (default: PEN_ARTIFACTS_BUCKET)",
    )
    parser.add_argument("--out", type=Path, help="build folder (default build/<stage>)")
    parser.add_argument("--dry-run", action="store_true", help="build and check; print step 3's commands")
    args = parser.parse_args(argv)
    out = (args.out or ROOT / "build" / args.stage).resolve()
    try:
        plan = build(args.stage, args.parameters, args.artifacts_bucket or "<artifacts-bucket>", out)
        missing = []
        if not args.artifacts_bucket:
            missing.append("an artifacts bucket (--artifacts-bucket or PEN_ARTIFACTS_BUCKET)")
        if not has_credentials():
            missing.append("AWS credentials (AWS_PROFILE, or the AWS_ACCESS_KEY_ID/SECRET pair)")
        if aws_cli() is None:
            missing.append("the AWS CLI (`make setup` puts it in .venv/bin)")
        if args.dry_run or missing:
            why = "dry run" if args.dry_run else "missing " + "; ".join(missing)
            print(f"3/3 not run ({why}). It would run:")
            for command in (plan.upload(), plan.deploy(), plan.outputs(), plan.publish_site()):
                print("    $ " + shlex.join(command))
            return 0 if args.dry_run else 2
        deploy(plan)
    except (DeployError, TemplateError) as error:
        print(f"infra.deploy: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"infra.deploy: {shlex.join(error.cmd)} failed:\n{error.stderr}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
