"""Rotating the platform's signing key (docs/OPERATIONS.md, "Rotating the signing key"), on the moto
server through the real handlers: what a deploy with `AssinaturaKeyArn=<new>` and
`AssinaturaKeyRetiredArns=<old>` does to the functions (their PEN_SIGNING_KEY and
PEN_SIGNING_KEYS_RETIRED, then a cold start) is played here by changing the variables and
rebuilding the services. The old stamps must keep verifying against the published keys, through the
API's authenticity lookup and with `receipt verify --api`; the new stamps must name the new key."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.config import ENV_SIGNING_KEY, ENV_SIGNING_KEYS_RETIRED
from chalicelib.domain.signatures import PublicKey, Stamp, parse_instant, verify_stamp
from chalicelib.store.signer import KmsSigner
from infra import ops
from infra.local.resources import client
from infra.resources import STACK
from tests import servers
from tests.integration.conftest import Api, Stack
from tests.integration.test_documents import new_process
from tests.integration.test_ops_day_two import write_receipt
from tests.integration.test_signatures import MARIA, lookup, new_document, sign

[KEY] = STACK.keys


def kms(stack: Stack) -> Any:
    return client("kms", stack.endpoint, servers.REGION)


def new_key(stack: Stack) -> str:
    """Step 2 of the procedure: a key of the same spec and use, the alias moved to it."""
    created = kms(stack).create_key(KeySpec=KEY.key_spec, KeyUsage="SIGN_VERIFY", Description=KEY.description)
    arn = str(created["KeyMetadata"]["Arn"])
    kms(stack).update_alias(AliasName=STACK.key_alias(stack.settings.stage, KEY), TargetKeyId=arn)
    return arn


def deploy_with(monkeypatch: pytest.MonkeyPatch, current: str, retired: str) -> bootstrap.Services:
    """What the deploy changes for the functions: their two variables; then a cold start."""
    monkeypatch.setenv(ENV_SIGNING_KEY, current)
    monkeypatch.setenv(ENV_SIGNING_KEYS_RETIRED, retired)
    bootstrap.reset()
    return bootstrap.services()


def published(api: Api) -> list[PublicKey]:
    answer = api.call("GET", "/publico/chaves")
    assert answer.status_code == 200, answer.body
    return [PublicKey(k["id"], k["pem"]) for k in answer.json["chaves"]]


def kms_pem(stack: Stack, key_arn: str) -> str:
    """The key's public half as KMS gives it, in PEM, by the same conversion openssl does."""
    der = kms(stack).get_public_key(KeyId=key_arn)["PublicKey"]
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def signature_stamps(api: Api, code: str, crc: str) -> list[tuple[bytes, Stamp]]:
    """Each signature's record and stamp, as the public authenticity lookup answers them."""
    found = api.call("GET", f"/publico/documentos/autenticidade?codigo={code}&crc={crc}")
    assert found.status_code == 200, found.body
    stamps = []
    for signature in found.json["assinaturas"]:
        stamp = signature["carimbo"]
        stamps.append(
            (
                base64.b64decode(signature["registroBase64"]),
                Stamp(
                    stamp["algoritmo"],
                    stamp["chave"],
                    stamp["assinatura"],
                    parse_instant(stamp["carimbadoEm"]),
                ),
            )
        )
    return stamps


@pytest.fixture
def keys_server(api: Api) -> Iterator[str]:
    """An HTTP front for `receipt verify --api`: GET /publico/chaves answered by the app's own route."""

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = api.call("GET", self.path)
            self.send_response(answer.status_code)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def receipt_stamped_by(stack: Stack, key_arn: str, path: Path) -> Path:
    """A recibo de conclusão stamped by `key_arn`, as GET /barramento/tramites/{idt}/recibo answers it."""
    return write_receipt(KmsSigner(kms(stack), key_arn), "T-ROTACAO", path)


def verify_receipt(
    path: Path, base_url: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = ops.main(["--json", "receipt", "verify", str(path), "--api", base_url])
    out, _ = capsys.readouterr()
    # The keys server runs the app in this process: its metrics (one EMF line each) share stdout.
    report = "\n".join(line for line in out.splitlines() if not line.startswith('{"_aws"'))
    return code, json.loads(report)


def test_after_a_rotation_old_stamps_verify_and_new_ones_name_the_new_key(
    *,
    stack: Stack,
    api: Api,
    keys_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = stack.tokens["ms-sei"]
    old = stack.settings.signing_key
    assert old is not None
    assert old.startswith("arn:aws:kms:")
    assert stack.settings.retired_signing_keys == ()
    # Before: a signed document and a receipt, both stamped by the stack's key.
    nup = new_process(api, token)
    new_document(api, token, nup)
    signed = sign(api, token, nup, 1, MARIA)
    assert signed.status_code == 201, signed.body
    old_code, old_crc = signed.json["autenticacao"]["codigoVerificador"], signed.json["autenticacao"]["crc"]
    [(old_record, old_stamp)] = signature_stamps(api, old_code, old_crc)
    assert old_stamp.key_id == old
    assert [k.key_id for k in published(api)] == [old]
    receipt = receipt_stamped_by(stack, old, tmp_path / "recibo-antigo.json")

    # The rotation: a new key, and the functions deployed with it current and the old one retired.
    new = new_key(stack)
    services = deploy_with(monkeypatch, new, old)
    assert (services.settings.signing_key, services.settings.retired_signing_keys) == (new, (old,))

    # Both keys are published, the current one first, each with its public half as KMS has it.
    keys = published(api)
    assert [k.key_id for k in keys] == [new, old]
    assert [k.pem for k in keys] == [kms_pem(stack, new), kms_pem(stack, old)]
    # The old document's stamp still verifies, through the public lookup, with the published keys...
    assert signature_stamps(api, old_code, old_crc) == [(old_record, old_stamp)]
    assert verify_stamp(old_record, old_stamp, keys)
    assert not verify_stamp(old_record, old_stamp, [PublicKey(old, keys[0].pem)])  # not with the new key
    # ...and so does the old receipt, with `receipt verify --api` (published keys read over HTTP).
    code, report = verify_receipt(receipt, keys_server, capsys)
    assert (code, report["verificado"], report["chave"]) == (0, True, old), report

    # New stamps name the new key and verify with it.
    new_document(api, token, nup)
    again = sign(api, token, nup, 2, MARIA)
    assert again.status_code == 201, again.body
    auth = again.json["autenticacao"]
    [(new_record, new_stamp)] = signature_stamps(api, auth["codigoVerificador"], auth["crc"])
    assert new_stamp.key_id == new
    assert verify_stamp(new_record, new_stamp, keys)
    code, report = verify_receipt(
        receipt_stamped_by(stack, new, tmp_path / "recibo-novo.json"), keys_server, capsys
    )
    assert (code, report["chave"]) == (0, new), report

    # Without the retired key published (the deploy before this change), the old receipt fails.
    deploy_with(monkeypatch, new, "")
    assert [k.key_id for k in published(api)] == [new]
    code, report = verify_receipt(receipt, keys_server, capsys)
    assert code == 1
    assert report["problemas"] == [f"the stamp's key {old} is not among the published keys"]
    assert lookup(api, old_code, old_crc).status_code == 200  # the lookup itself never needed the key


def test_a_retired_key_kms_cannot_read_is_left_out_and_the_rest_still_published(
    stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Against the procedure, a retired key deleted (moto 5.2.5 answers GetPublicKey for a disabled
    key, which AWS refuses with DisabledException: the same ClientError path)."""
    old = stack.settings.signing_key
    assert old is not None
    new = new_key(stack)
    deleted = old.rsplit("/", 1)[0] + "/00000000-dead-4bad-8bad-000000000000"
    deploy_with(monkeypatch, new, f"{deleted},{old}")
    reads: list[str] = []
    signer_kms = bootstrap.services().signatures._signer._kms  # type: ignore[attr-defined]
    signer_kms.meta.events.register(
        "provide-client-params.kms.GetPublicKey", lambda params, **_: reads.append(params["KeyId"])
    )
    caplog.clear()

    # The route still answers: the current key, then the retired key KMS still has.
    assert [k.key_id for k in published(api)] == [new, old]
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "retired signing key cannot be read" in warning.getMessage()
    assert (warning.__dict__["chave"], warning.__dict__["erro"]) == (deleted, "NotFoundException")
    assert reads == [new, deleted, old]
    # The keys read are kept (a public half never changes); the one that failed is tried again.
    assert [k.key_id for k in published(api)] == [new, old]
    assert reads == [new, deleted, old, deleted]

    # The current key is another matter: without it nothing stamped now could be checked.
    deploy_with(monkeypatch, deleted, old)
    assert api.call("GET", "/publico/chaves").status_code == 500
