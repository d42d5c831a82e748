"""Property test: random sequences of bus operations, made by random parties through the real API
(handlers, stores and moto), never take a trâmite outside the national state machine.

tests/unit/test_bus_states.py drives the domain functions with random moves; this drives the routes a
client system calls — read, download each component, receipt, fetch the receipt, refuse, ciência,
cancel, confirm — as the sender, the receiver or an agency outside the trâmite, and after every call
reads the trâmite's state history back. The table of legal moves is written out here (the national
bus's), not read from chalicelib, so a change to the machine fails this test.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from chalicelib.domain.nup import Nup
from tests.integration.conftest import Api
from tests.integration.test_bus import ANNEX, PDF, confirm, manifest, send, tokens, upload_all
from tests.integration.test_bus_lifecycle import download

__all__ = ["tokens"]  # the fixture, shared with test_bus

# (from, to) of the national bus: 1 iniciado, 2 componentes enviados, 3 metadados recebidos,
# 4 componentes recebidos, 5 recibo enviado, 6 recibo recebido, 7 cancelado, 8 recusado,
# 9 ciência da recusa, 10 cancelado automaticamente.
NATIONAL_MOVES = frozenset(
    {(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (8, 9)}
    | {(s, 7) for s in (1, 2, 3, 4)}
    | {(s, 8) for s in (2, 3, 4)}
    | {(s, 10) for s in (1, 2, 3, 4)}
)
FINAL = frozenset({6, 7, 9, 10})
PARTIES = ("inss", "ms", "rfb")  # sender, receiver, an agency outside the trâmite
ACTIONS = ("read", "download-pdf", "download-annex", "receipt", "fetch-receipt", "refuse", "ack", "cancel")
REFUSAL = {"motivo": "03", "justificativa": "Falta o anexo II citado no ofício."}
EXAMPLES = int(os.environ.get("PEN_PROPERTY_EXAMPLES", "12"))  # `make fuzz` runs more

HAPPY_PATH = [
    ("read", "ms"),
    ("download-pdf", "ms"),
    ("download-annex", "ms"),
    ("receipt", "ms"),
    ("fetch-receipt", "inss"),
]
# Who makes each move in the national protocol; a random step is made by them two times in three.
NATURAL = {"cancel": "inss", "ack": "inss", "fetch-receipt": "inss"}  # the rest: the receiver (ms)
random_steps = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(["natural", "natural", *PARTIES])).map(
    lambda step: (step[0], NATURAL.get(step[0], "ms") if step[1] == "natural" else step[1])
)
# Some of the happy path first (so sequences get past state 2), then any moves by anyone.
steps = st.builds(
    lambda k, rest: HAPPY_PATH[:k] + rest,
    st.integers(0, len(HAPPY_PATH)),
    st.lists(random_steps, max_size=5),
)


def act(api: Api, token: str, idt: str, action: str) -> Any:
    base = f"/barramento/tramites/{idt}"
    if action == "read":
        return api.call("GET", base, token)
    if action == "download-pdf":
        return download(api, token, idt, PDF)
    if action == "download-annex":
        return download(api, token, idt, ANNEX)
    if action == "receipt":
        return api.call("POST", f"{base}/recibo", token)
    if action == "fetch-receipt":
        return api.call("GET", f"{base}/recibo", token)
    if action == "refuse":
        return api.call("POST", f"{base}/recusa", token, REFUSAL)
    if action == "ack":
        return api.call("POST", f"{base}/ciencia", token)
    assert action == "cancel"
    return api.call("DELETE", base, token)


def history(api: Api, token: str, idt: str) -> list[int]:
    answer = api.call("GET", f"/barramento/tramites?idt={idt}", token)
    assert answer.status_code == 200, answer.body
    [tramite] = answer.json["itens"]
    states = [change["estado"] for change in tramite["historico"]]
    assert states[-1] == tramite["estado"]
    return states


def test_random_api_sequences_stay_inside_the_national_state_machine(
    api: Api, tokens: dict[str, str]
) -> None:
    numbers = itertools.count(1)
    reached: set[int] = set()

    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(uploaded=st.booleans(), sequence=steps)
    @example(uploaded=True, sequence=HAPPY_PATH)
    @example(uploaded=True, sequence=[*HAPPY_PATH[:4], ("cancel", "inss"), ("refuse", "ms")])
    @example(uploaded=True, sequence=[("read", "ms"), ("refuse", "ms"), ("ack", "inss"), ("cancel", "inss")])
    @example(uploaded=False, sequence=[("read", "ms"), ("cancel", "inss"), ("refuse", "ms")])
    def run(uploaded: bool, sequence: list[tuple[str, str]]) -> None:
        nup = Nup.issue("23037", next(numbers), 2026).digits  # a new process each time: no NRE rules
        sent = send(api, tokens["inss"], manifest(PDF, ANNEX, nup=nup))
        assert sent.status_code == 201, sent.body
        idt = sent.json["tramites"][0]["idt"]
        if uploaded:
            upload_all(sent.json, PDF, ANNEX)
            assert confirm(api, tokens["inss"], idt).status_code == 200
        before = history(api, tokens["inss"], idt)
        for action, party in sequence:
            answer = act(api, tokens[party], idt, action)
            assert answer.status_code < 500, (action, party, answer.body)
            after = history(api, tokens["inss"], idt)
            assert after[: len(before)] == before, "the history was rewritten"
            assert after[0] == 1
            assert all(pair in NATIONAL_MOVES for pair in itertools.pairwise(after)), (action, party, after)
            if answer.status_code >= 400 or before[-1] in FINAL:
                assert after == before, (action, party, answer.status_code, after)
            if party == "rfb":
                assert answer.status_code in (403, 404), (action, answer.status_code)
            before = after
        reached.update(before)

    run()
    # Guards the property against sequences that never get anywhere.
    assert reached >= set(range(1, 10)), reached  # 10 needs the clock: tests/unit/test_bus_states.py
