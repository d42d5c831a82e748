"""The citizens' site in a real browser (Debian's chromium through Playwright) against `make run`'s
stack: the real API behind the site's origin and the local mailbox (SES on moto).

Every page state is checked with axe-core (no serious or critical violation) and photographed at 360
and 1280 px wide (tests/e2e/browser.py); every page must make no request to any other host, log no
console error and break no Content-Security-Policy rule.

The browser runs in Tokyo's time zone: dates on the page must be Brasília's whatever the device says.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.nup import Nup, check_digits_21, parse_nup
from tests.e2e.browser import ROOT, Guard, focus_is_visible, launch, origin, require_playwright, screenshots
from tests.e2e.test_local_stack import RunningStack, get
from tests.e2e.tracking import (
    DEMO_INTERESTED,
    call,
    demo_nup,
    parts,
    site_link,
    wait_for_mails,
    wait_for_record,
)

require_playwright()  # before importing it: fails under CI, skips elsewhere

from playwright.sync_api import Browser, BrowserContext, Page, Route, expect  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

BRASILIA = ZoneInfo("America/Sao_Paulo")
BROWSER_ZONE = "Asia/Tokyo"  # 12 hours from Brasília: a date shown in the device's zone is caught
UNKNOWN_NUP = Nup.issue("99999", 424242, 2024)  # valid check digits, never issued by the demo
API_TIMEOUT_MS = 15_000
SETTLE_TIMEOUT = 30.0
SETTLE_QUIET = 3.0  # seconds without a change to the public record


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as chromium:
        yield chromium


@pytest.fixture
def guard(stack: RunningStack) -> Guard:
    return Guard(origin(stack.site_url))


@pytest.fixture
def open_page(browser: Browser, stack: RunningStack, guard: Guard) -> Iterator[Callable[[], Page]]:
    """Opens pages, each in a fresh context (its own cache, nothing shared) in pt-BR, the guard watching
    them all; at the end the guard must have seen nothing wrong."""
    contexts: list[BrowserContext] = []

    def opener() -> Page:
        context = browser.new_context(
            locale="pt-BR",
            timezone_id=BROWSER_ZONE,
            viewport={"width": 1280, "height": 900},
            base_url=stack.site_url,
        )
        contexts.append(context)
        context.set_default_timeout(API_TIMEOUT_MS)
        opened = context.new_page()
        guard.attach(opened)
        return opened

    try:
        yield opener
        guard.assert_clean()
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(open_page: Callable[[], Page]) -> Page:
    return open_page()


@pytest.fixture(scope="module")
def settled(stack: RunningStack) -> str:
    """The demo NUP once the seed's trâmite has settled: the worker imported the MGI's process into the
    MS, and the public record has stopped changing (the MGI's last movements land a few seconds after
    the MS's receipt); before that, the page and the test's copy of the record could differ."""
    nup = demo_nup(stack)
    token = next(c["token"] for c in stack.credentials() if c["sigla"] == "MS")
    ms_open_unit(stack, digits_of(nup), token)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last, since = wait_for_record(stack, nup), time.monotonic()
    while time.monotonic() - since < SETTLE_QUIET:
        assert time.monotonic() < deadline, f"the public record never settled: {last}"
        time.sleep(0.5)
        found = wait_for_record(stack, nup)
        if found != last:
            last, since = found, time.monotonic()
    assert last["orgao"]["sigla"] == "MS", last
    return nup


@pytest.fixture
def record(stack: RunningStack, settled: str) -> dict[str, Any]:
    """The demo process as the public API answers it now (a test may have moved it since)."""
    return wait_for_record(stack, settled)


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def brasilia(iso: str) -> str:
    return instant(iso).astimezone(BRASILIA).strftime("%d/%m/%Y às %H:%M")


def digits_of(nup: str) -> str:
    return re.sub(r"\D", "", nup)


def main_state(page: Page) -> str:
    return str(page.locator("main").get_attribute("data-state"))


def search(page: Page, text: str) -> None:
    field = page.get_by_label("Número do processo (NUP)")
    field.fill("")
    field.press_sequentially(text)
    page.get_by_role("button", name="Consultar").click()


def result_heading(page: Page, nup_masked: str) -> Any:
    return page.get_by_role("heading", level=2, name=f"Processo {nup_masked}")


def expect_result(page: Page, record: dict[str, Any]) -> None:
    """The result as the API gave it: header, timeline newest first in Brasília time, documents."""
    expect(result_heading(page, record["nup"])).to_be_visible()
    expect(result_heading(page, record["nup"])).to_be_focused()
    assert main_state(page) == "result"
    details = page.locator("dl.dados")
    orgao = record["orgao"]
    expect(details).to_contain_text(f"{orgao['sigla']} — {orgao['nome']}")
    expect(details).to_contain_text(record["tipo"])
    expect(details).to_contain_text(record["especificacao"])
    expect(details).to_contain_text(DEMO_INTERESTED)
    timeline = page.get_by_role("list", name="Andamentos, do mais recente ao mais antigo")
    items = timeline.get_by_role("listitem")
    expect(items).to_have_count(len(record["andamentos"]))
    shown = [
        (
            str(items.nth(i).locator("time").get_attribute("datetime")),
            items.nth(i).locator("time").inner_text(),
            items.nth(i).inner_text(),
        )
        for i in range(len(record["andamentos"]))
    ]
    stamps = [instant(s[0]) for s in shown]
    assert stamps == sorted(stamps, reverse=True), f"the timeline is not newest first: {stamps}"
    for (stamp, when, text), movement in zip(shown, record["andamentos"], strict=True):
        assert stamp == movement["data"]
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4} às \d{2}:\d{2}", when), when
        assert when == brasilia(movement["data"]), (when, movement["data"])
        assert record["operacoes"][movement["operacao"]] in text
        assert movement["unidade"] in text
    documents = record.get("documentos") or []
    if documents:
        rows = page.get_by_role("region", name="Documentos").get_by_role("row")
        expect(rows).to_have_count(len(documents) + 1)  # the header row


# --- Search, timeline, deep links, history ---------------------------------------------------------


def test_search_by_typing_with_the_mask_reads_the_timeline(
    page: Page, guard: Guard, record: dict[str, Any]
) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1, name="Consulta processual")).to_be_visible()
    assert main_state(page) == "empty"
    screenshots(page, "consulta-vazia")

    digits = digits_of(record["nup"])
    field = page.get_by_label("Número do processo (NUP)")
    field.press_sequentially(digits)
    expect(field).to_have_value(record["nup"])  # masked as typed
    page.get_by_role("button", name="Consultar").click()
    expect_result(page, record)
    assert page.url.endswith(f"/?nup={digits}")
    assert len(guard.api_requests()) == 1, guard.api_requests()  # one API call fills the page
    screenshots(page, "consulta-resultado")

    page.reload()
    expect_result(page, record)  # the deep link survives a reload


def test_deep_link_back_button_and_unknown_nup(page: Page, guard: Guard, record: dict[str, Any]) -> None:
    guard.allow_console("status of 404")  # the browser logs the unknown NUP's 404 it was made to see
    digits = digits_of(record["nup"])
    page.goto("/")
    page.goto(f"/?nup={digits}")  # a bookmark: the lookup runs on load
    expect_result(page, record)

    search(page, UNKNOWN_NUP.masked)  # typed with its punctuation this time
    expect(page.get_by_label("Número do processo (NUP)")).to_have_value(UNKNOWN_NUP.masked)
    expect(page.get_by_role("heading", level=2, name="Processo não encontrado")).to_be_visible()
    assert main_state(page) == "not-found"
    expect(page.locator("#resultado")).to_contain_text("sigilosos")
    assert page.url.endswith(f"/?nup={UNKNOWN_NUP.digits}")
    screenshots(page, "consulta-nao-encontrado")

    page.go_back()
    expect(result_heading(page, record["nup"])).to_be_visible()
    assert page.url.endswith(f"/?nup={digits}")
    expect(page.get_by_label("Número do processo (NUP)")).to_have_value(record["nup"])

    page.go_back()
    expect(page.get_by_role("heading", level=2, name="Onde encontro o número?")).to_be_visible()
    assert main_state(page) == "empty"
    expect(page.get_by_label("Número do processo (NUP)")).to_have_value("")

    page.go_forward()
    expect(result_heading(page, record["nup"])).to_be_visible()


def test_wrong_check_digit_is_invalid_without_calling_the_api(page: Page, guard: Guard) -> None:
    page.goto("/")
    good = UNKNOWN_NUP.digits
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    search(page, wrong)
    expect(page.get_by_role("heading", level=2, name="Número de processo inválido")).to_be_visible()
    assert main_state(page) == "invalid"
    field = page.get_by_label("Número do processo (NUP)")
    expect(field).to_have_accessible_description(re.compile("os dígitos verificadores não conferem"))
    expect(field).to_have_attribute("aria-invalid", "true")
    main = page.locator("main")
    expect(main).to_contain_text(f"O NUP {UNKNOWN_NUP.masked[:-1]}")
    expect(main).not_to_contain_text("não encontrado")
    expect(field).to_be_focused()
    screenshots(page, "consulta-invalido")

    search(page, good[:12])  # wrong length says so
    expect(field).to_have_accessible_description(re.compile("tem 12 dígitos"))
    assert guard.api_requests() == [], guard.api_requests()

    page.goto(f"/?nup={wrong}")  # a deep link is validated the same way
    expect(page.get_by_role("heading", level=2, name="Número de processo inválido")).to_be_visible()
    assert guard.api_requests() == [], guard.api_requests()


def test_unavailable_then_retry(page: Page, guard: Guard, record: dict[str, Any]) -> None:
    def unavailable(route: Route) -> None:
        route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"type": "about:blank", "title": "Service Unavailable", "status": 503}',
        )

    guard.allow_console("status of 503")  # the browser logs the failed status it was made to see
    page.route("**/publico/processos/**", unavailable)
    page.goto("/")
    search(page, record["nup"])
    expect(page.get_by_role("heading", level=2, name="Serviço indisponível")).to_be_visible()
    assert main_state(page) == "unavailable"
    retry = page.get_by_role("button", name="Tentar novamente")
    expect(retry).to_be_visible()
    screenshots(page, "consulta-indisponivel")

    page.unroute("**/publico/processos/**")
    retry.click()
    expect_result(page, record)


def test_a_restricted_process_shows_only_its_movements(page: Page, record: dict[str, Any]) -> None:
    """nivelAcesso 2: the API answers only the NUP, the órgão and the movements (an agency opts in to
    publish them; the demo has none, so the answer is the demo's, cut down as the API cuts it)."""
    restricted = {
        "nup": UNKNOWN_NUP.masked,
        "orgao": record["orgao"],
        "nivelAcesso": 2,
        "andamentos": record["andamentos"][:2],
        "operacoes": record["operacoes"],
        "atualizadoEm": record["atualizadoEm"],
    }
    page.route(
        f"**/publico/processos/{UNKNOWN_NUP.digits}",
        lambda route: route.fulfill(status=200, json=restricted, headers={"Cache-Control": "no-store"}),
    )
    page.goto(f"/?nup={UNKNOWN_NUP.digits}")
    expect(result_heading(page, UNKNOWN_NUP.masked)).to_be_visible()
    expect(page.get_by_text("Processo restrito: só as movimentações são públicas")).to_be_visible()
    timeline = page.get_by_role("list", name="Andamentos, do mais recente ao mais antigo")
    expect(timeline.get_by_role("listitem")).to_have_count(2)
    details = page.locator("dl.dados")
    expect(details).to_contain_text(record["orgao"]["nome"])
    expect(details).not_to_contain_text("Interessados")
    expect(page.get_by_role("heading", name="Documentos")).to_have_count(0)
    screenshots(page, "consulta-restrito")


def test_loading_skeleton_and_the_page_is_usable_before_the_answer(
    page: Page, record: dict[str, Any]
) -> None:
    held: list[Route] = []

    def hold(route: Route) -> None:  # the request waits until the test lets it go
        held.append(route)

    page.route("**/publico/processos/**", hold)
    page.goto("/")
    search(page, record["nup"])
    skeleton = page.locator("[aria-busy=true]")
    expect(skeleton).to_be_visible()
    assert main_state(page) == "loading"
    assert len(held) == 1
    field = page.get_by_label("Número do processo (NUP)")
    expect(field).to_be_editable()
    screenshots(page, "consulta-carregando")
    field.fill("")
    field.press_sequentially("123")
    expect(field).to_have_value("123")  # typing works while the answer is on its way

    held[0].continue_()
    page.unroute("**/publico/processos/**")
    expect(result_heading(page, record["nup"])).to_be_visible()
    expect(skeleton).to_have_count(0)


def test_the_search_works_with_the_keyboard_alone(page: Page, record: dict[str, Any]) -> None:
    page.goto("/")
    page.locator("body").focus()
    seen = []
    for _ in range(25):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        seen.append(focused)
        assert focus_is_visible(page), f"no visible focus on {focused!r} (tab order so far: {seen})"
        if focused == "nup":
            break
    else:
        pytest.fail(f"Tab never reached the NUP field: {seen}")
    assert seen[0] == "Ir para o conteúdo", f"the skip link comes first: {seen}"
    page.keyboard.type(digits_of(record["nup"]))
    page.keyboard.press("Enter")
    expect_result(page, record)  # and focus moved to the result heading


# --- Follow by e-mail: confirm, notice, unsubscribe --------------------------------------------------


def ms_open_unit(stack: RunningStack, nup_digits: str, token: str) -> str:
    """Where the MS has the demo process open (it holds it once the worker imported it)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        reply = get(f"{stack.api_url}/processos/{nup_digits}", token)
        if reply.status == 200 and reply.json()["unidadesAbertas"]:
            return str(reply.json()["unidadesAbertas"][0]["unidade"])
        assert time.monotonic() < deadline, f"the MS never held the demo process: {reply.body!r}"
        time.sleep(0.5)


def ask_to_follow(page: Page, record: dict[str, Any], address: str) -> None:
    page.goto(f"/?nup={digits_of(record['nup'])}")
    expect(result_heading(page, record["nup"])).to_be_visible()
    page.get_by_label("E-mail", exact=True).fill(address)
    page.get_by_role("button", name="Acompanhar").click()
    received = page.get_by_role("heading", level=3, name="Pedido recebido")
    expect(received).to_be_visible()
    expect(received).to_be_focused()
    panel = page.locator(".acompanhar")
    expect(panel).to_contain_text(f"Enviamos um e-mail de confirmação para {address}.")
    expect(panel).to_contain_text("sem a confirmação, nenhum aviso será enviado")
    expect(panel).to_contain_text(f"Processo nº{record['nup']}")
    expect(panel).to_contain_text("Protocolo do pedido")
    screenshots(page, "acompanhar-pedido-recebido")


def confirm_by_the_link(page: Page, guard: Guard, stack: RunningStack, address: str, nup: str) -> None:
    """The confirmation e-mail's link opens the site's page; only its button confirms, once."""
    [confirmation] = wait_for_mails(stack, address, 1)
    link, _ = site_link(stack, parts(confirmation)[0], "confirmar.html")
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="Confirmar o acompanhamento")).to_be_visible()
    screenshots(page, "confirmar")
    page.get_by_role("button", name="Confirmar acompanhamento").click()
    expect(page.get_by_role("heading", level=1, name="Acompanhamento confirmado")).to_be_visible()
    expect(page.get_by_role("link", name=nup)).to_have_attribute("href", f"/?nup={digits_of(nup)}")
    screenshots(page, "confirmar-confirmado")

    guard.allow_console("status of 409")  # the API's answer to a used link, logged by the browser
    page.goto(link)  # the same link again: already used
    page.get_by_role("button", name="Confirmar acompanhamento").click()
    expect(page.get_by_role("heading", level=1, name="Este link já foi usado")).to_be_visible()
    screenshots(page, "confirmar-link-usado")


def move_as_the_ms(stack: RunningStack, digits: str) -> None:
    """The MS (which holds the demo process) sends it to another of its units: one public movement."""
    tokens = {c["sigla"]: c["token"] for c in stack.credentials()}
    unit = ms_open_unit(stack, digits, tokens["MS"])
    target = "2003" if unit != "2003" else "2004"
    moved = call("POST", f"{stack.api_url}/processos/{digits}/envios",
                 {"unidadeOrigem": unit, "unidadesDestino": [target]},
                 token=tokens["MS"], headers={"X-Usuario": "joao.protocolo"})  # fmt: skip
    assert moved.status == 200, moved.body


def test_follow_confirm_notice_and_unsubscribe(
    open_page: Callable[[], Page], guard: Guard, stack: RunningStack, record: dict[str, Any]
) -> None:
    page = open_page()
    address = f"navegador.{uuid.uuid4().hex[:10]}@example.com"
    digits = digits_of(record["nup"])
    ask_to_follow(page, record, address)
    confirm_by_the_link(page, guard, stack, address, record["nup"])

    move_as_the_ms(stack, digits)
    mails = wait_for_mails(stack, address, 2)
    assert len(mails) == 2, "the notice of the movement did not arrive"
    text = parts(mails[1])[0]
    process_page = f"{stack.site_url}/?nup={digits}"
    assert process_page in text, text
    unsubscribe, _ = site_link(stack, text, "cancelar.html")

    # The notice's link to the process, opened where the mail is read (another browser: the API's
    # answers may be cached for 60 s, so the first browser can still show the older timeline).
    newest = wait_for_record(stack, digits)
    assert len(newest["andamentos"]) > len(record["andamentos"])
    reader = open_page()
    reader.goto(process_page)
    expect_result(reader, newest)  # the movement is on top

    reader.goto(unsubscribe)
    expect(reader.get_by_role("heading", level=1, name="Cancelar o acompanhamento")).to_be_visible()
    screenshots(reader, "cancelar")
    reader.get_by_role("button", name="Cancelar acompanhamento").click()
    expect(reader.get_by_role("heading", level=1, name="Acompanhamento cancelado")).to_be_visible()
    screenshots(reader, "cancelar-cancelado")


def test_a_link_without_its_token_says_it_is_incomplete(page: Page) -> None:
    page.goto("/confirmar.html?id=abc")
    expect(page.get_by_role("heading", level=1, name="Link incompleto")).to_be_visible()
    screenshots(page, "confirmar-link-incompleto")


# --- Document authenticity ---------------------------------------------------------------------------


def signed_document(stack: RunningStack) -> tuple[str, dict[str, Any]]:
    """A public MGI process with an internal document signed by Ana Souza, made as the agency's system
    makes it (docs/API.md). Returns the NUP (masked) and the signature's `autenticacao`."""
    token = next(c["token"] for c in stack.credentials() if c["sigla"] == "MGI")
    who = {"X-Usuario": "ana.souza"}
    created = call("POST", f"{stack.api_url}/processos",
                   {"unidade": "1002", "tipo": "Licitação: Pregão Eletrônico",
                    "especificacao": "Aquisição de notebooks (teste do site)",
                    "interessados": [{"nome": "Coordenação de TI"}], "nivelAcesso": 1},
                   token=token, headers=who)  # fmt: skip
    assert created.status == 201, created.body
    nup = str(created.json()["nup"])
    document = call("POST", f"{stack.api_url}/processos/{digits_of(nup)}/documentos/internos",
                    {"unidade": "1002", "especie": 42, "nivelAcesso": 1,
                     "conteudo": "<p>Despacho de teste do site de acompanhamento.</p>"},
                    token=token, headers=who)  # fmt: skip
    assert document.status == 201, document.body
    order = document.json()["ordem"]
    signed = call("POST", f"{stack.api_url}/processos/{digits_of(nup)}/documentos/{order}/assinaturas",
                  {"unidade": "1002", "nome": "Ana Souza", "cargo": "Pregoeira"},
                  token=token, headers=who)  # fmt: skip
    assert signed.status == 201, signed.body
    return nup, dict(signed.json()["autenticacao"])


def test_document_authenticity(page: Page, guard: Guard, stack: RunningStack) -> None:
    guard.allow_console("status of 404")  # the wrong CRC's 404, logged by the browser
    nup, codes = signed_document(stack)
    code, crc = codes["codigoVerificador"], codes["crc"]
    answer = get(f"{stack.api_url}/publico/documentos/autenticidade?codigo={code}&crc={crc}")
    assert answer.status == 200, answer.body
    expected = answer.json()
    [signature] = expected["assinaturas"]

    page.goto("/autenticidade.html")
    expect(page.get_by_role("heading", level=1, name="Autenticidade de documento")).to_be_visible()
    screenshots(page, "autenticidade")
    page.get_by_label("Código verificador").fill(code)
    page.get_by_label("Código CRC").fill(crc.lower())  # shown upper-case, accepted either way
    page.get_by_role("button", name="Verificar").click()
    title = page.get_by_role("heading", level=2, name="Documento autêntico")
    expect(title).to_be_visible()
    expect(title).to_be_focused()
    result = page.locator("#resultado")
    expect(result).to_contain_text("Ana Souza")
    expect(result).to_contain_text("Pregoeira")
    assert signature["orgaoNome"] == "Ministério da Gestão e da Inovação em Serviços Públicos"  # not an id
    assert signature["unidadeNome"]
    expect(result).to_contain_text(signature["orgaoNome"])
    expect(result).to_contain_text(signature["unidadeNome"])
    expect(result).to_contain_text(brasilia(signature["assinadoEm"]))
    expect(page.locator("#sha256")).to_have_text(expected["conteudoSha256"])
    expect(page.get_by_role("heading", level=3, name="SHA-256 do conteúdo")).to_be_visible()
    expect(page.get_by_role("link", name=nup)).to_have_attribute("href", f"/?nup={digits_of(nup)}")
    expect(result).to_contain_text("Despacho")
    screenshots(page, "autenticidade-resultado")

    if expected.get("conteudo"):  # public: the content opens from the document store, as signed
        store = f"http://127.0.0.1:{stack.moto_port}"
        guard.allow_navigation(store)
        with page.expect_request(lambda r: r.url.startswith(store)) as opened:
            page.get_by_role("button", name="Abrir o conteúdo").click()
        assert opened.value.is_navigation_request()
        download = get(opened.value.url)  # short-lived presigned GET: read it again, as the browser did
        assert download.status == 200, download.body
        assert hashlib.sha256(download.body).hexdigest() == expected["conteudoSha256"]

    page.goto(f"/autenticidade.html?codigo={code}&crc={crc}")  # a bookmark of the result
    expect(page.get_by_role("heading", level=2, name="Documento autêntico")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", level=2, name="Documento autêntico")).to_be_visible()

    wrong = f"{(int(crc, 16) ^ 1):08X}"
    page.get_by_label("Código CRC").fill(wrong)
    page.get_by_role("button", name="Verificar").click()
    expect(page.get_by_role("heading", level=2, name="Documento não encontrado")).to_be_visible()
    expect(result).to_contain_text("confira os códigos")
    screenshots(page, "autenticidade-nao-encontrado")

    page.go_back()
    expect(page.get_by_role("heading", level=2, name="Documento autêntico")).to_be_visible()


# --- The browser's NUP rules are the API's -----------------------------------------------------------


def nup_samples(count: int = 400) -> list[str]:
    """Valid numbers in the three forms, masked and bare, and their mutations: one check digit off,
    two digits swapped, a digit dropped or added, letters, odd separators."""
    rng = random.Random(20_261_127)  # noqa: S311 - reproducible samples, not secrets
    samples: list[str] = []
    while len(samples) < count:
        unit = f"{rng.randrange(100_000):05d}"
        current = Nup.issue(unit, rng.randrange(1, 1_000_000), rng.randrange(1000, 10_000))
        first19 = "".join(rng.choice("0123456789") for _ in range(19))
        old21 = first19 + check_digits_21(first19)
        old13 = "".join(rng.choice("0123456789") for _ in range(13))
        for valid in (current.digits, old21, old13):
            samples.append(valid)
            position = rng.randrange(len(valid))
            changed = str((int(valid[position]) + rng.randrange(1, 10)) % 10)
            samples.append(valid[:position] + changed + valid[position + 1 :])
            samples.append(valid[:-1] + str((int(valid[-1]) + 1) % 10))
            swap = rng.randrange(len(valid) - 1)
            samples.append(valid[:swap] + valid[swap + 1] + valid[swap] + valid[swap + 2 :])
            samples.append(valid[:-1])
            samples.append(valid + "0")
        samples.append(current.masked)
        samples.append(f" {current.masked.replace('.', ' ')}\t")
        samples.append(current.digits[:15])
        samples.append(current.digits[:5] + "000000" + current.digits[11:])  # sequence 0
        samples.append(current.masked.replace("/", "x"))
    samples += [
        "",
        "   ",
        "./-",
        "1" * 64,
        "1" * 65,
        "12345.678901/2024-1a",
        "١٢٣٤٥٦٧٨٩٠١٢٣",  # Arabic-Indic digits: not ASCII digits
        "12345\u00a0678901/2024-00",  # no-break space
        "00000000000000000",
        "10001.000001/0999-" + "00",
    ]
    return samples


def python_verdict(text: str) -> dict[str, Any]:
    try:
        parsed = parse_nup(text)
    except InvalidInput as error:
        return {"ok": False, "detail": error.detail}
    return {"ok": True, "digits": parsed.digits, "masked": parsed.masked}


def test_the_demo_documents_authenticity_link_printed_by_make_run(page: Page, stack: RunningStack) -> None:
    """The console prints the demo PDF's authenticity address: a person opening it sees who signed."""
    described = json.loads((stack.local_dir / "stack.json").read_text(encoding="utf-8"))
    codes = described["demo_document"]
    assert codes["codigo"]
    assert codes["codigo"] in stack.output()  # printed, in the very address below
    page.goto(f"/autenticidade.html?codigo={codes['codigo']}&crc={codes['crc']}")
    expect(page.get_by_role("heading", level=2, name="Documento autêntico")).to_be_visible()
    result = page.locator("#resultado")
    expect(result).to_contain_text("Ana Beatriz Lima")
    expect(result).to_contain_text("Ministério da Gestão e da Inovação em Serviços Públicos")
    expect(page.get_by_role("button", name="Abrir o conteúdo")).to_be_visible()


def test_the_browser_validates_nups_exactly_as_the_api(page: Page) -> None:
    """The site's parseNup (site/js/lib/nup.js, the module the pages bundle) against Python's
    parse_nup, on a few hundred numbers: same accept/reject, same digits, same message."""
    source = (ROOT / "site" / "js" / "lib" / "nup.js").read_text(encoding="utf-8")
    # Served from the site's origin (the CSP allows only 'self'), so the page can import() it.
    page.route(
        "**/__test__/nup.js",
        lambda route: route.fulfill(status=200, content_type="text/javascript; charset=utf-8", body=source),
    )
    page.goto("/")
    samples = nup_samples()
    verdicts: list[dict[str, Any]] = page.evaluate(
        """async (samples) => {
          const { parseNup } = await import('/__test__/nup.js');
          return samples.map((text) => {
            const r = parseNup(text);
            return r.error ? { ok: false, detail: r.detail } : { ok: true, digits: r.digits, masked: r.masked };
          });
        }""",
        samples,
    )
    mismatches = []
    accepted = 0
    for text, browser_says in zip(samples, verdicts, strict=True):
        python_says = python_verdict(text)
        accepted += python_says["ok"]
        if browser_says != python_says:
            mismatches.append(f"{text!r}: browser {browser_says} != python {python_says}")
    assert not mismatches, f"{len(mismatches)} of {len(samples)} differ:\n" + "\n".join(mismatches[:20])
    assert 0.2 < accepted / len(samples) < 0.8, accepted  # the samples exercise both sides
