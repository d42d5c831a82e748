"""Verify a bus receipt offline: the platform's stamp over `registro`, with its published key.

The file is a receipt as the API gives it: the answer of GET /barramento/tramites/{idt}/recibo
(`{"tramite": ..., "recibo": {...}}`), the `recibo` object alone, or an answer carrying
`reciboEnvio`. The key is a PEM file (--key, e.g. saved from /publico/chaves) or the API's
/publico/chaves itself (--api URL). The checks are the domain's own (chalicelib.domain): the ECDSA
P-256/SHA-256 signature over the exact bytes of `registro` (what `openssl dgst -sha256 -verify`
checks), the record's format and canonical form (RFC 8785), and that `conteudo`, when present,
says what `registro` says. Exit status 0 verified, 1 not verified.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.domain.bus import CONCLUSION_FORMAT, SEND_FORMAT, ReceiptRecord, SendReceiptRecord
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.signatures import PublicKey, Stamp, verify_stamp
from infra.ops.console import CheckFailed, OpsError, json_flag, print_json

FORMATS: dict[str, Any] = {CONCLUSION_FORMAT: ReceiptRecord, SEND_FORMAT: SendReceiptRecord}
LABELS = {CONCLUSION_FORMAT: "recibo de conclusão", SEND_FORMAT: "recibo de envio"}


def _receipt(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        if "registro" in data and "carimbo" in data:
            return data
        for key in ("recibo", "reciboEnvio"):
            if isinstance(data.get(key), dict):
                return _receipt(data[key])
    raise OpsError("the file holds no receipt: expected `registro` and `carimbo` (or a `recibo` with them)")


def _stamp(carimbo: Any) -> Stamp:
    try:
        return Stamp(carimbo["algoritmo"], carimbo["chave"], carimbo["assinatura"],
                     datetime.fromisoformat(str(carimbo["data"]).replace("Z", "+00:00")))  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise CheckFailed(f"the carimbo is malformed: {error}") from None


def keys_from_pem(path: str, key_id: str) -> list[PublicKey]:
    try:
        pem = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise OpsError(f"cannot read the key {path}: {error}") from None
    return [PublicKey(key_id, pem)]  # the operator vouches for this file being the stamp's key


def keys_from_api(base_url: str) -> list[PublicKey]:
    url = base_url.rstrip("/") + "/publico/chaves"
    if not url.startswith(("https://", "http://")):
        raise OpsError(f"--api takes the API's base URL (https://...), not {base_url!r}")
    try:
        with urllib.request.urlopen(url, timeout=15) as answer:
            data = json.loads(answer.read())
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise OpsError(f"cannot read the published keys at {url}: {error}") from None
    return [PublicKey(str(k["id"]), str(k["pem"])) for k in data.get("chaves", [])]


def verify_file(path: str, key: str | None, api: str | None, as_json: bool) -> None:
    if bool(key) == bool(api):
        raise OpsError("give the public key: --key PEM_FILE or --api BASE_URL (one of them)")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise OpsError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise OpsError(f"{path} is not JSON: {error}") from None
    receipt = _receipt(data)
    problems: list[str] = []
    report: dict[str, Any] = {"arquivo": path, "chave": None, "verificado": False}
    try:
        try:
            registro = base64.b64decode(str(receipt["registro"]), validate=True)
        except (binascii.Error, ValueError):
            raise CheckFailed("`registro` is not base64") from None
        stamp = _stamp(receipt["carimbo"])
        report["chave"] = stamp.key_id
        keys = keys_from_pem(key, stamp.key_id) if key else keys_from_api(str(api))
        if not any(k.key_id == stamp.key_id for k in keys):
            raise CheckFailed(f"the stamp's key {stamp.key_id} is not among the published keys")
        if not verify_stamp(registro, stamp, keys):
            raise CheckFailed("the signature does not verify over `registro`: the receipt was altered, "
                              "or this is not the key that stamped it")  # fmt: skip
        try:
            signed = json.loads(registro)
            kind = FORMATS[signed["formato"]]
            kind.from_canonical(registro)
        except (ValueError, KeyError, TypeError) as error:
            raise CheckFailed(f"`registro` is not a receipt of a known format: {error}") from None
        except InvalidInput as error:
            raise CheckFailed(error.detail) from None
        report["registro"] = signed
        if "conteudo" in receipt and receipt["conteudo"] != signed:
            problems.append("`conteudo` does not say what the signed `registro` says: read `registro` only")
    except CheckFailed as failed:
        problems.insert(0, str(failed))
    report["verificado"] = not problems
    report["problemas"] = problems
    if as_json:
        print_json(report)
    else:
        _print(report)
    if problems:
        raise CheckFailed


def _print(report: dict[str, Any]) -> None:
    signed = report.get("registro")
    if signed:
        print(f"{LABELS.get(signed.get('formato'), signed.get('formato'))} ({signed.get('formato')})")
        for name in ("idt", "nre", "data", "remetente", "destinatario"):
            if name in signed:
                value = signed[name]
                if isinstance(value, dict):
                    value = f"repositório {value.get('repositorio')}, estrutura {value.get('estrutura')}"
                print(f"  {name:<13} {value}")
        hashes = signed.get("hashesComponentes") or []
        print(f"  componentes   {len(hashes)} SHA-256")
        if "assinaturaDestinatario" in signed:
            print(f"  assinatura do destinatário: chave {signed['assinaturaDestinatario'].get('chave')}")
    print(f"  chave         {report.get('chave')}")
    if report["verificado"]:
        print("VERIFIED: the platform's stamp is valid over `registro`")
        return
    for problem in report["problemas"]:
        print(f"NOT VERIFIED: {problem}")


def add_parsers(groups: Any) -> None:
    receipt = groups.add_parser("receipt", help="verify a bus receipt (recibo) offline")
    actions = receipt.add_subparsers(dest="action", required=True)
    verifying = actions.add_parser(
        "verify", help="check the stamp with the published key", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    verifying.add_argument("file")
    verifying.add_argument("--key", help="the public key's PEM file (as /publico/chaves publishes it)")
    verifying.add_argument("--api", help="the API's base URL: the keys are read from its /publico/chaves")
    json_flag(verifying)


def run(args: argparse.Namespace) -> None:
    verify_file(args.file, args.key, args.api, args.json)
