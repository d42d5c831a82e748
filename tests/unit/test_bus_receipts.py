"""Receipts of the bus: pinned canonical bytes, round trip, refusal of anything not canonical, and a
stamp over them verified like any other platform stamp."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chalicelib.domain.bus import (
    CONCLUSION_FORMAT,
    SEND_FORMAT,
    Address,
    ReceiptRecord,
    ReceiverSignature,
    SendReceiptRecord,
    complete_upload,
    fetch_components,
    fetch_metadata,
    receiver_statement,
)
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.signatures import ALGORITHM, PublicKey, SignatureRecord, Stamp, verify_stamp
from tests.unit.test_bus_states import RECEIVER, new_tramite

AT = datetime(2026, 3, 2, 15, 0, 0, 123456, tzinfo=UTC)
H_RECIBO = "VRNfhXj/CeM/5WvqsGNl2EoZ1LmmVBu0dm1eJc4zxkE="  # sha256(b"recibo")
H_OFICIO = "DYwsE0lI6SCJK55kbEZj/ajjQSZIGcI5MRIGQ7wdDZk="  # sha256(b"oficio")
H_PARECER = "6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA="  # sha256(b"parecer")
SENDER_ADDRESS = Address("1", "101")
RECEIVER_ADDRESS = Address("1", "201")

GOLDEN = (
    b'{"data":"2026-03-02T15:00:00.123456Z","destinatario":{"estrutura":"201","repositorio":"1"},'
    b'"formato":"pen-recibo-conclusao-v1","hashesComponentes":["6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=",'
    b'"DYwsE0lI6SCJK55kbEZj/ajjQSZIGcI5MRIGQ7wdDZk=","VRNfhXj/CeM/5WvqsGNl2EoZ1LmmVBu0dm1eJc4zxkE="],'
    b'"idt":"123","nre":"NRE-7","remetente":{"estrutura":"101","repositorio":"1"}}'
)
GOLDEN_SEND = (
    b'{"data":"2026-03-02T15:00:00.123456Z","formato":"pen-recibo-envio-v1","hashesComponentes":'
    b'["6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=","DYwsE0lI6SCJK55kbEZj/ajjQSZIGcI5MRIGQ7wdDZk=",'
    b'"VRNfhXj/CeM/5WvqsGNl2EoZ1LmmVBu0dm1eJc4zxkE="],"idt":"123","nre":"NRE-7",'
    b'"remetente":{"estrutura":"101","repositorio":"1"}}'
)


def make_receipt(
    hashes: tuple[str, ...] = (H_RECIBO, H_OFICIO, H_PARECER), /, **changes: object
) -> ReceiptRecord:
    values: dict[str, object] = {"idt": "123", "nre": "NRE-7", "issued_at": AT, "sender": SENDER_ADDRESS,
                                 "receiver": RECEIVER_ADDRESS, "component_hashes": hashes, **changes}  # fmt: skip
    return ReceiptRecord(**values)  # type: ignore[arg-type]


def make_send_receipt(hashes: tuple[str, ...] = (H_PARECER, H_RECIBO, H_OFICIO)) -> SendReceiptRecord:
    return SendReceiptRecord("123", "NRE-7", AT, SENDER_ADDRESS, hashes)


def test_conclusion_receipt_bytes_are_pinned() -> None:
    """These exact bytes are what gets stamped: changing them breaks every stored receipt."""
    assert make_receipt().to_canonical() == GOLDEN
    assert CONCLUSION_FORMAT == "pen-recibo-conclusao-v1"


def test_send_receipt_bytes_are_pinned() -> None:
    assert make_send_receipt().to_canonical() == GOLDEN_SEND
    assert SEND_FORMAT == "pen-recibo-envio-v1"


def test_hashes_are_sorted_and_distinct_whatever_order_they_come_in() -> None:
    shuffled = make_receipt((H_OFICIO, H_RECIBO, H_PARECER, H_OFICIO))
    assert shuffled.component_hashes == (H_PARECER, H_OFICIO, H_RECIBO)
    assert shuffled.to_canonical() == GOLDEN


def test_hashes_sort_as_base64_text_not_as_digests() -> None:
    """Order of the base64 strings by character code ('+' < '/' < digits < upper < lower), which is
    RFC 8785's and any language's plain string order for ASCII, not the order of the raw bytes."""
    by_first = {c: base64.b64encode(bytes([b]) + bytes(31)).decode() for c, b in
                (("A", 0x00), ("a", 0x68), ("0", 0xD0), ("+", 0xF8), ("/", 0xFC))}  # fmt: skip
    record = make_receipt(tuple(by_first.values()))
    assert [h[0] for h in record.component_hashes] == ["+", "/", "0", "A", "a"]


def test_the_date_is_utc_in_the_signature_format() -> None:
    brasilia = timezone(timedelta(hours=-3))
    assert make_receipt(issued_at=AT.astimezone(brasilia)).to_canonical() == GOLDEN
    with pytest.raises(ValueError, match="time zone"):
        make_receipt(issued_at=datetime(2026, 3, 2, 15, 0))


def test_round_trip() -> None:
    assert ReceiptRecord.from_canonical(GOLDEN) == make_receipt()
    assert SendReceiptRecord.from_canonical(GOLDEN_SEND) == make_send_receipt()


@pytest.mark.parametrize(
    "data",
    [
        GOLDEN.replace(b'"idt":', b'"idt" :'),  # not canonical spacing
        GOLDEN.replace(b"pen-recibo-conclusao-v1", b"pen-recibo-envio-v1"),  # the other kind of receipt
        GOLDEN.replace(b"pen-recibo-conclusao-v1", b"pen-assinatura-v1"),
        GOLDEN.replace(b'"nre":"NRE-7"', b'"nre":"NRE-7","extra":"x"'),
        GOLDEN.replace(b'"nre":"NRE-7",', b""),
        GOLDEN.replace(b".123456Z", b".123Z"),
        GOLDEN.replace(  # unsorted
            b'"6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=","DYwsE0lI6SCJK55kbEZj/ajjQSZIGcI5MRIGQ7wdDZk="',
            b'"DYwsE0lI6SCJK55kbEZj/ajjQSZIGcI5MRIGQ7wdDZk=","6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA="',
        ),
        GOLDEN.replace(  # repeated
            b'"6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=",',
            b'"6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=","6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=",',
        ),
        GOLDEN.replace(b'{"estrutura":"201","repositorio":"1"}', b'"1/201"'),
        GOLDEN.replace(b'{"estrutura":"201","repositorio":"1"}', b'{"estrutura":201,"repositorio":"1"}'),
        GOLDEN.replace(b'"idt":"123"', b'"idt":123'),
        GOLDEN.replace(b'"hashesComponentes":[', b'"hashesComponentes":[1,'),
        b"[]",
        b"\xff",
        GOLDEN[:-1],
    ],
)
def test_anything_but_the_canonical_form_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        ReceiptRecord.from_canonical(data)


def test_a_receipt_over_fewer_components_reads_back_as_exactly_that() -> None:
    fewer = GOLDEN.replace(b'"6Jmyl+tAjg7ORgaRa7/slhMOZZPpH8nDlkr4YxDlvoA=",', b"")
    assert ReceiptRecord.from_canonical(fewer) == make_receipt((H_RECIBO, H_OFICIO))


def test_no_record_reads_as_another_kind() -> None:
    with pytest.raises(InvalidInput, match="pen-recibo-envio-v1"):
        SendReceiptRecord.from_canonical(GOLDEN)
    with pytest.raises(InvalidInput, match="pen-recibo-conclusao-v1"):
        ReceiptRecord.from_canonical(GOLDEN_SEND)
    with pytest.raises(InvalidInput):
        SignatureRecord.from_canonical(GOLDEN)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"idt": ""}, "idt"),
        ({"nre": "NRE 7"}, "nre"),
        ({"sender": Address("1", "abc")}, "remetente.estrutura"),
        ({"receiver": Address("", "201")}, "destinatario.repositorio"),
        ({"component_hashes": ()}, "hashesComponentes"),
        ({"component_hashes": (H_RECIBO, "ab" * 32)}, "hashesComponentes.1"),  # index in sorted order
    ],
)
def test_bad_values_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_receipt(**changes)
    assert [f.field for f in raised.value.fields] == [field]


def test_built_from_a_tramite() -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    ready = fetch_components(fetch_metadata(complete_upload(new_tramite(), at), RECEIVER, at), RECEIVER, at)
    receipt = ReceiptRecord.for_tramite(ready, [H_RECIBO, H_OFICIO, H_PARECER], AT)
    assert (receipt.idt, receipt.nre, receipt.sender, receipt.receiver) == (
        "123", "NRE-1", SENDER_ADDRESS, RECEIVER_ADDRESS,
    )  # fmt: skip
    assert receipt.component_hashes == (H_PARECER, H_OFICIO, H_RECIBO)
    assert SendReceiptRecord.for_tramite(ready, [H_OFICIO], AT) == SendReceiptRecord(
        "123", "NRE-1", AT, SENDER_ADDRESS, (H_OFICIO,)
    )


def test_a_stamp_over_the_receipt_verifies_and_no_other_receipt_matches_it() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    der = key.sign(GOLDEN, ec.ECDSA(hashes.SHA256()))
    stamp = Stamp(ALGORITHM, "k1", base64.b64encode(der).decode(), AT)
    keys = [PublicKey("k1", pem)]
    assert verify_stamp(ReceiptRecord.from_canonical(GOLDEN).to_canonical(), stamp, keys)
    assert not verify_stamp(make_receipt((H_RECIBO, H_OFICIO)).to_canonical(), stamp, keys)
    assert not verify_stamp(make_receipt(idt="124").to_canonical(), stamp, keys)


def test_a_receipt_with_the_receivers_signature_reads_back_and_differs_from_one_without() -> None:
    signed = make_receipt(receiver_signature=ReceiverSignature("chave-ms", "c2lnbmF0dXJh"))
    data = signed.to_canonical()
    assert b'"assinaturaDestinatario":{"chave":"chave-ms","valor":"c2lnbmF0dXJh"}' in data
    assert ReceiptRecord.from_canonical(data) == signed
    assert ReceiptRecord.from_canonical(make_receipt().to_canonical()).receiver_signature is None
    with pytest.raises(InvalidInput):
        ReceiptRecord.from_canonical(data.replace(b'"valor":"c2lnbmF0dXJh"', b'"valor":7'))


def test_the_receivers_statement_is_its_own_format_with_sorted_hashes() -> None:
    tramite = complete_upload(new_tramite(), AT)
    statement = json.loads(receiver_statement(tramite, [H_RECIBO, H_OFICIO, H_RECIBO]))
    assert statement["formato"] == "pen-recibo-conclusao-destinatario-v1"
    assert statement["hashesComponentes"] == sorted([H_RECIBO, H_OFICIO])
    assert "data" not in statement  # the bus dates the receipt when it issues it
