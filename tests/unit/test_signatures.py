"""Signature building blocks: canonical JSON (RFC 8785), the signed record, the stamp, SEI's
verification code and CRC, and stamp verification (against signatures made here with a throwaway
key; the KMS adapter is tested against moto in tests/integration/test_kms_signer.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import unicodedata
import zlib
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.signatures import (
    ALGORITHM,
    JsonValue,
    PublicKey,
    SignatureRecord,
    Stamp,
    canonical_json,
    crc_code,
    verification_code,
    verify_stamp,
)

SHA = hashlib.sha256(b"conteudo").hexdigest()
SIGNED_AT = datetime(2026, 3, 1, 13, 45, 0, 123456, tzinfo=UTC)


def make_record(**changes: object) -> SignatureRecord:
    base = SignatureRecord(document_id="D0000123", content_sha256=SHA, signer_name="João da Conceição",
                           signer_role="Analista Técnico-Administrativo", signed_at=SIGNED_AT,
                           agency_id="100", unit_id="101")  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def make_stamp(signature: bytes = b"0E\x02 sig", key_id: str = "arn:aws:kms:sa-east-1:1:key/k") -> Stamp:
    return Stamp(algorithm=ALGORITHM, key_id=key_id, signature=base64.b64encode(signature).decode(),
                 stamped_at=SIGNED_AT)  # fmt: skip


# --- canonical JSON -------------------------------------------------------------------------------


def test_rfc8785_sample_from_the_rfc() -> None:
    """RFC 8785 section 3.2.2's example: literals, numbers, escapes, key order."""
    value: JsonValue = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (100.0, "100"),
        (-1.5, "-1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123456789012345680000.0, "123456789012345680000"),
        (9007199254740991, "9007199254740991"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_numbers_are_formatted_like_ecmascript(number: float, text: str) -> None:
    """RFC 8785 section 3.2.2.3 (ECMAScript Number.prototype.toString), incl. its appendix B cases."""
    assert canonical_json([number]) == f"[{text}]".encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**53, {1: "x"}])
def test_values_json_cannot_carry_exactly_are_refused(bad: object) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json(bad)  # type: ignore[arg-type]


def test_keys_are_sorted_by_utf16_code_units_not_code_points() -> None:
    """RFC 8785 section 3.2.3's example: the emoji (UTF-16 D83D DE00) sorts before U+FB33."""
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_pt_br_text_is_raw_utf8_without_escapes() -> None:
    value = {"signatário": "João Ação Ñandú — Coordenação-Geral", "órgão": "Ministério da Saúde"}
    assert (
        canonical_json(value)
        == ('{"signatário":"João Ação Ñandú — Coordenação-Geral","órgão":"Ministério da Saúde"}').encode()
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(st.dictionaries(st.text(), json_values, max_size=8), st.randoms(use_true_random=False))
def test_key_insertion_order_does_not_change_the_bytes(value: dict[str, object], rnd: random.Random) -> None:
    items = list(value.items())
    rnd.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(value)  # type: ignore[arg-type]


@given(json_values)
def test_canonical_bytes_parse_back_and_are_a_fixed_point(value: object) -> None:
    data = canonical_json(value)  # type: ignore[arg-type]
    # Parse numbers as ECMAScript does: an integer beyond 2**53 - 1 came from a float.
    reparsed = json.loads(data, parse_int=lambda s: int(s) if abs(int(s)) < 2**53 else float(s))
    assert canonical_json(reparsed) == data


# --- the signed record ----------------------------------------------------------------------------

GOLDEN = (
    '{"assinadoEm":"2026-03-01T13:45:00.123456Z","cargo":"Analista Técnico-Administrativo",'
    f'"conteudoSha256":"{SHA}","documento":"D0000123","formato":"pen-assinatura-v1",'
    '"orgao":"100","signatario":"João da Conceição","unidade":"101"}'
).encode()


def test_record_serialisation_is_pinned() -> None:
    """These exact bytes are what gets signed: changing them breaks every stored stamp."""
    assert make_record().to_canonical() == GOLDEN


def test_signed_at_is_converted_to_utc_with_z() -> None:
    brasilia = timezone(timedelta(hours=-3))
    record = make_record(signed_at=datetime(2026, 3, 1, 10, 45, 0, 123456, tzinfo=brasilia))
    assert record.signed_at == SIGNED_AT
    assert record.signed_at.utcoffset() == timedelta(0)
    assert record.to_canonical() == GOLDEN
    assert make_record(signed_at=datetime(2026, 1, 2, tzinfo=UTC)).to_dict()["assinadoEm"] == (
        "2026-01-02T00:00:00.000000Z"
    )


def test_a_naive_signing_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        make_record(signed_at=datetime(2026, 3, 1, 13, 45))


def test_decomposed_accents_give_the_same_bytes() -> None:
    nfd = unicodedata.normalize("NFD", "João da Conceição")
    assert nfd != "João da Conceição"
    assert make_record(signer_name=nfd).to_canonical() == GOLDEN


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signer_name": ""}, "signatario"),
        ({"signer_role": " Analista"}, "cargo"),
        ({"document_id": ""}, "documento"),
        ({"agency_id": "100 "}, "orgao"),
        ({"unit_id": ""}, "unidade"),
        ({"content_sha256": SHA.upper()}, "conteudoSha256"),
        ({"content_sha256": SHA[:-1]}, "conteudoSha256"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_record(**changes)
    assert [f.field for f in raised.value.fields] == [field]


def test_canonical_bytes_read_back_to_the_same_record() -> None:
    assert SignatureRecord.from_canonical(GOLDEN) == make_record()


@pytest.mark.parametrize(
    "data",
    [
        GOLDEN.replace(b'"orgao"', b'"orgao" '),  # not canonical spacing
        GOLDEN.replace(b'"pen-assinatura-v1"', b'"pen-recibo-v1"'),  # another kind of payload
        GOLDEN.replace(b'"unidade":"101"', b'"unidade":"101","extra":"x"'),
        GOLDEN.replace(b".123456Z", b".123Z"),
        GOLDEN.replace(b'"100"', b"100"),
        b"[]",
        b"\xff",
    ],
)
def test_reading_back_refuses_anything_but_the_canonical_form(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        SignatureRecord.from_canonical(data)


ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Z", "Cc")), min_size=1, max_size=30)
records = st.builds(
    SignatureRecord,
    document_id=ids,
    content_sha256=st.binary(min_size=1).map(lambda b: hashlib.sha256(b).hexdigest()),
    signer_name=ids,
    signer_role=ids,
    signed_at=st.datetimes(timezones=st.just(UTC)),
    agency_id=ids,
    unit_id=ids,
)
RECORD_FIELDS = [f.name for f in fields(SignatureRecord)]


@given(records)
def test_any_record_round_trips_through_its_canonical_bytes(record: SignatureRecord) -> None:
    assert SignatureRecord.from_canonical(record.to_canonical()) == record


@given(records, st.sampled_from(RECORD_FIELDS), records)
def test_any_change_to_the_record_changes_its_bytes_and_crc(
    record: SignatureRecord, name: str, other: SignatureRecord
) -> None:
    changed = replace(record, **{name: getattr(other, name)})
    if getattr(changed, name) == getattr(record, name):
        return  # the drawn value was the same one
    assert changed.to_canonical() != record.to_canonical()
    assert crc_code(changed) != crc_code(record)


@given(records)
def test_crc_is_crc32_of_the_canonical_bytes_in_upper_hex(record: SignatureRecord) -> None:
    code = crc_code(record)
    assert code == crc_code(replace(record))
    assert len(code) == 8
    assert code == code.upper()
    assert int(code, 16) == zlib.crc32(record.to_canonical())


def test_crc_of_the_pinned_record() -> None:
    assert crc_code(make_record()) == f"{zlib.crc32(GOLDEN):08X}"


# --- stamps and codes -----------------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=80), st.binary(min_size=1, max_size=80))
def test_verification_code_is_ten_digits_fixed_per_signature(first: bytes, second: bytes) -> None:
    code = verification_code(make_stamp(first))
    assert len(code) == 10
    assert code.isdigit()
    assert verification_code(make_stamp(first, key_id="other")) == code  # from the signature alone
    if first != second:
        assert verification_code(make_stamp(second)) != code


def test_verification_code_is_a_hash_of_the_der_signature() -> None:
    der = b"0E\x02 example"
    digest = hashlib.sha256(b"pen/codigo-verificador/v1\x00" + der).digest()
    assert verification_code(make_stamp(der)) == f"{int.from_bytes(digest, 'big') % 10**10:010d}"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"algorithm": "RSASSA_PSS_SHA_256"}, "algorithm"),
        ({"key_id": ""}, "id of its key"),
        ({"signature": "not base64!"}, "base64"),
        ({"signature": ""}, "empty"),
        ({"stamped_at": datetime(2026, 1, 1)}, "time zone"),
    ],
)
def test_malformed_stamps_are_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        replace(make_stamp(), **changes)  # type: ignore[arg-type]


def _key_pair(key_id: str) -> tuple[ec.EllipticCurvePrivateKey, PublicKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return private, PublicKey(key_id=key_id, pem=pem)


def _stamp_with(private: ec.EllipticCurvePrivateKey, key_id: str, message: bytes) -> Stamp:
    return make_stamp(private.sign(message, ec.ECDSA(hashes.SHA256())), key_id=key_id)


def test_verify_stamp_accepts_the_signed_bytes_only() -> None:
    private, public = _key_pair("k1")
    message = make_record().to_canonical()
    stamp = _stamp_with(private, "k1", message)
    assert verify_stamp(message, stamp, [public])
    assert not verify_stamp(make_record(signer_role="Diretor").to_canonical(), stamp, [public])
    assert not verify_stamp(message + b" ", stamp, [public])


def test_verify_stamp_picks_the_key_by_id() -> None:
    private, public = _key_pair("k1")
    _, other = _key_pair("k2")
    message = b"recibo"
    stamp = _stamp_with(private, "k1", message)
    assert verify_stamp(message, stamp, [other, public])
    assert not verify_stamp(message, stamp, [other])  # unknown key id
    assert not verify_stamp(message, stamp, [PublicKey("k1", other.pem)])  # same id, wrong key
    assert not verify_stamp(message, replace(stamp, key_id="k2"), [other, public])


def test_verify_stamp_refuses_another_curve() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    stamp = make_stamp(private.sign(b"m", ec.ECDSA(hashes.SHA256())), key_id="k")
    assert not verify_stamp(b"m", stamp, [PublicKey("k", pem)])
