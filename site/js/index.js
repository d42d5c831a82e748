// Consulta processual: search by NUP, result in place, follow by e-mail.
import { request, unavailable } from "./lib/api.js";
import { announce, fill, focus, h, message, query, setState } from "./lib/dom.js";
import { setFieldError } from "./lib/field.js";
import { date, dateTime } from "./lib/format.js";
import { attachMask, parseNup } from "./lib/nup.js";

const form = document.getElementById("busca");
const input = document.getElementById("nup");
const result = document.getElementById("resultado");
const emptyState = result.firstElementChild ? result.firstElementChild.cloneNode(true) : null;
let inFlight = null;

attachMask(input);

function heading(text, id = "resultado-titulo") {
  return h("h2", { id, tabindex: "-1" }, text);
}

function showEmpty() {
  inFlight?.abort();
  setState("empty");
  input.value = "";
  setFieldError(input, "");
  fill(result, emptyState ? emptyState.cloneNode(true) : null);
}

function showInvalid(detail, { moveFocus = true } = {}) {
  inFlight?.abort();
  setState("invalid");
  setFieldError(input, detail);
  fill(
    result,
    h(
      "section",
      { class: "estado", "aria-labelledby": "resultado-titulo" },
      message("danger", heading("Número de processo inválido"), h("p", {}, "Corrija o número no campo acima e consulte de novo.")),
    ),
  );
  announce(`Número de processo inválido. ${detail}`);
  if (moveFocus) input.focus();
}

function showLoading(nup) {
  setState("loading");
  fill(
    result,
    h(
      "section",
      { class: "esqueleto", "aria-busy": "true", "aria-label": `Consultando o processo ${nup.masked}` },
      h("div", { class: "barra titulo" }),
      h("div", { class: "barra" }),
      h("div", { class: "barra curta" }),
      h("div", { class: "barra" }),
      h("div", { class: "barra curta" }),
    ),
  );
  announce(`Consultando o processo ${nup.masked}…`);
}

function showNotFound(nup) {
  setState("not-found");
  const title = heading("Processo não encontrado");
  fill(
    result,
    h(
      "section",
      { class: "estado", "aria-labelledby": "resultado-titulo" },
      message(
        "warning",
        title,
        h("p", {}, `Não há processo público com o número ${nup.masked}.`),
        h(
          "ul",
          {},
          h("li", {}, "Confira o número: ele está no alto dos documentos do processo."),
          h("li", {}, "Processos sigilosos não são publicados."),
          h("li", {}, "Um processo autuado há pouco pode levar alguns minutos para aparecer."),
        ),
      ),
    ),
  );
  announce("Processo não encontrado.");
  focus(title);
}

function showUnavailable(nup) {
  setState("unavailable");
  const title = heading("Serviço indisponível");
  const retry = h("button", { class: "br-button secondary", type: "button", id: "tentar-novamente" }, "Tentar novamente");
  retry.addEventListener("click", () => lookup(nup));
  fill(
    result,
    h(
      "section",
      { class: "estado", "aria-labelledby": "resultado-titulo" },
      message(
        "danger",
        title,
        h("p", {}, "Não foi possível consultar o processo agora. Tente novamente em instantes."),
        retry,
      ),
    ),
  );
  announce("Serviço indisponível.");
  focus(title);
}

function field(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function timeline(data) {
  const names = data.operacoes || {};
  const items = (data.andamentos || []).map((a) =>
    h(
      "li",
      {},
      h("p", { class: "quando" }, h("time", { datetime: a.data }, dateTime(a.data))),
      h("p", { class: "operacao" }, names[a.operacao] || `Operação ${a.operacao}`),
      h("p", { class: "unidade" }, `Unidade: ${a.unidade}`),
    ),
  );
  return items.length
    ? h("ol", { class: "linha-do-tempo", "aria-label": "Andamentos, do mais recente ao mais antigo" }, items)
    : h("p", {}, "Nenhum andamento publicado.");
}

function documents(list) {
  if (!list || !list.length) return h("p", {}, "Nenhum documento publicado.");
  return h(
    "div",
    { class: "tabela", role: "region", "aria-label": "Tabela de documentos", tabindex: "0" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Espécie"), h("th", { scope: "col" }, "Número"), h("th", { scope: "col" }, "Data"))),
      h(
        "tbody",
        {},
        list.map((d) => h("tr", {}, h("td", {}, d.especie), h("td", {}, d.numero || "—"), h("td", {}, date(d.data)))),
      ),
    ),
  );
}

function followForm(nup) {
  const box = h("section", { class: "br-card acompanhar", "aria-labelledby": "acompanhar-titulo" });
  const email = h("input", {
    id: "email",
    name: "email",
    type: "email",
    autocomplete: "email",
    spellcheck: "false",
    maxlength: "254",
    "aria-describedby": "email-ajuda",
  });
  const button = h("button", { class: "br-button primary", type: "submit", id: "acompanhar" }, "Acompanhar");
  const followForm = h(
    "form",
    { novalidate: true, id: "form-acompanhar" },
    h(
      "div",
      { class: "br-input", id: "email-campo" },
      h("label", { for: "email" }, "E-mail"),
      email,
      h("p", { class: "ajuda", id: "email-ajuda" }, "Usado só para os avisos deste processo. Cada aviso traz um link para cancelar."),
      h("p", { class: "feedback danger", id: "email-erro", hidden: true }),
    ),
    button,
  );
  const content = h(
    "div",
    { class: "card-content" },
    h("h3", { id: "acompanhar-titulo" }, "Acompanhar por e-mail"),
    h("p", {}, "Receba um e-mail a cada nova movimentação deste processo."),
    followForm,
  );
  box.append(content);

  followForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const address = email.value.trim();
    if (!address || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
      setFieldError(email, address ? "Informe um e-mail válido, como nome@exemplo.com.br." : "Informe o e-mail.");
      email.focus();
      return;
    }
    setFieldError(email, "");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    announce("Enviando o pedido…");
    const answer = await request("/publico/acompanhamentos", { method: "POST", body: { nup: nup.digits, email: address } });
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (answer.ok) {
      const title = h("h3", { id: "pedido-titulo", tabindex: "-1" }, "Pedido recebido");
      const protocol = answer.headers.get("X-Correlation-Id");
      fill(
        content,
        message(
          "success",
          title,
          h(
            "p",
            {},
            `Enviamos um e-mail de confirmação para ${address}. Abra o link da mensagem para confirmar; sem a confirmação, nenhum aviso será enviado.`,
          ),
          h(
            "dl",
            { class: "referencia" },
            field("Processo nº", nup.masked),
            protocol ? field("Protocolo do pedido", h("span", { class: "mono", id: "protocolo" }, protocol)) : null,
          ),
          h("p", { class: "ajuda" }, "O link de confirmação vale por 24 horas. Não recebeu? Confira a caixa de spam."),
        ),
      );
      announce("Pedido recebido.");
      focus(title);
      return;
    }
    let text;
    if (answer.status === 400) {
      const problems = answer.problem.erros.filter((e) => e.campo === "email").map((e) => e.mensagem);
      text = problems.length ? `${answer.problem.detail} ${problems.join("; ")}`.trim() : answer.problem.detail;
    } else if (answer.status === 429 && answer.problem.slug === "limite-atingido") {
      text = answer.problem.detail;
    } else if (answer.status === 404) {
      text = "Este processo não está mais na base pública.";
    } else {
      text = "Serviço indisponível: não foi possível enviar o pedido agora. Tente novamente em instantes.";
    }
    setFieldError(email, text || "Não foi possível enviar o pedido.");
    announce(text);
    email.focus();
  });
  return box;
}

function showResult(nup, data) {
  setState("result");
  const masked = data.nup || nup.masked;
  const title = heading(`Processo ${masked}`);
  const restricted = data.nivelAcesso === 2;
  const orgao = data.orgao ? `${data.orgao.sigla} — ${data.orgao.nome}` : "";
  const details = h("dl", { class: "dados" }, field("Órgão", orgao));
  if (!restricted) {
    if (data.tipo) details.append(...field("Tipo", data.tipo));
    if (data.especificacao) details.append(...field("Especificação", data.especificacao));
    if (data.dataAutuacao) details.append(...field("Data de autuação", date(data.dataAutuacao)));
    const people = (data.interessados || []).map((i) => h("li", {}, i.documento ? `${i.nome} (${i.documento})` : i.nome));
    if (people.length) details.append(...field("Interessados", h("ul", { class: "interessados" }, people)));
  }
  fill(
    result,
    h(
      "article",
      { class: "processo", "aria-labelledby": "resultado-titulo" },
      title,
      restricted ? message("info", h("p", { class: "message-title" }, "Processo restrito: só as movimentações são públicas.")) : null,
      details,
      h("section", { "aria-labelledby": "andamentos-titulo" }, h("h3", { id: "andamentos-titulo" }, "Andamentos"), timeline(data)),
      restricted
        ? null
        : h("section", { "aria-labelledby": "documentos-titulo" }, h("h3", { id: "documentos-titulo" }, "Documentos"), documents(data.documentos)),
      data.atualizadoEm ? h("p", { class: "atualizado" }, `Atualizado em ${dateTime(data.atualizadoEm)}.`) : null,
      followForm(nup),
    ),
  );
  announce(`Processo ${masked} encontrado.`);
  focus(title);
}

async function lookup(nup) {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  setFieldError(input, "");
  showLoading(nup);
  let answer;
  try {
    answer = await request(`/publico/processos/${nup.digits}`, { signal: controller.signal });
  } catch {
    return; // superseded by a newer search or navigation
  }
  if (inFlight !== controller) return;
  inFlight = null;
  if (answer.ok) showResult(nup, answer.data);
  else if (answer.status === 404) showNotFound(nup);
  else if (answer.status === 400 && !unavailable(answer)) showInvalid(answer.problem.detail || "Confira o número.");
  else showUnavailable(nup);
}

/** Renders what the address says: ?nup=... runs the lookup; no nup shows the empty search. */
function route({ moveFocus = true } = {}) {
  const { nup: text } = query();
  if (text === undefined) {
    showEmpty();
    return;
  }
  const nup = parseNup(text);
  if (nup.error) {
    input.value = text;
    showInvalid(nup.detail, { moveFocus });
    return;
  }
  input.value = nup.masked;
  lookup(nup);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const nup = parseNup(input.value);
  if (nup.error) {
    showInvalid(nup.detail);
    return;
  }
  input.value = nup.masked;
  const target = `?nup=${nup.digits}`;
  if (window.location.search !== target) history.pushState({ nup: nup.digits }, "", target);
  lookup(nup);
});

window.addEventListener("popstate", () => route());
route({ moveFocus: false });

// For the browser tests: import(this module's URL).parseNup checks the page's own validation.
export { parseNup };
