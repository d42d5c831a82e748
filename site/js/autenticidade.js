// Autenticidade de documento: código verificador + CRC -> signatures, hash, the process when public.
import { apiBase, request } from "./lib/api.js";
import { announce, fill, focus, h, message, query, setState } from "./lib/dom.js";
import { setFieldError } from "./lib/field.js";
import { dateTime } from "./lib/format.js";
import { parseNup } from "./lib/nup.js";

const form = document.getElementById("verificacao");
const codigo = document.getElementById("codigo");
const crc = document.getElementById("crc");
const result = document.getElementById("resultado");
let inFlight = null;

const CODE = /^[0-9]{10}$/;
const CRC = /^[0-9A-Fa-f]{8}$/;

function heading(text) {
  return h("h2", { id: "resultado-titulo", tabindex: "-1" }, text);
}

function field(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function check(values, { moveFocus = true } = {}) {
  const bad = [];
  setFieldError(codigo, CODE.test(values.codigo) ? "" : "Informe os 10 dígitos do código verificador.");
  if (!CODE.test(values.codigo)) bad.push(codigo);
  setFieldError(crc, CRC.test(values.crc) ? "" : "Informe os 8 caracteres do código CRC (0 a 9 e A a F).");
  if (!CRC.test(values.crc)) bad.push(crc);
  if (bad.length) {
    setState("invalid");
    fill(result);
    announce("Confira os códigos informados.");
    if (moveFocus) bad[0].focus();
  }
  return !bad.length;
}

function showState(state, kind, title, ...body) {
  setState(state);
  const titleEl = heading(title);
  fill(result, h("section", { class: "estado", "aria-labelledby": "resultado-titulo" }, message(kind, titleEl, ...body)));
  announce(title);
  focus(titleEl);
  return titleEl;
}

function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(String(value), window.location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** "Abrir o conteúdo": `conteudo` is the API path that answers a short-lived download address
 * ({url, nomeArquivo, ...}); asked on click, since the address expires in minutes. A full URL is a link. */
function contentControl(conteudo) {
  if (typeof conteudo !== "string" || !conteudo) return null;
  if (!conteudo.startsWith("/")) {
    const href = safeUrl(conteudo);
    return href ? h("p", {}, h("a", { class: "br-button secondary", href, id: "abrir-conteudo", rel: "noopener noreferrer" }, "Abrir o conteúdo")) : null;
  }
  const button = h("button", { class: "br-button secondary", type: "button", id: "abrir-conteudo" }, "Abrir o conteúdo");
  const status = h("p", { class: "feedback danger", id: "conteudo-erro", hidden: true });
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    status.hidden = true;
    announce("Buscando o conteúdo…");
    const answer = await request(conteudo);
    button.disabled = false;
    button.removeAttribute("aria-busy");
    const url = answer.ok ? safeUrl(answer.data?.url) : null;
    if (url) {
      window.location.assign(url);
      return;
    }
    status.textContent =
      answer.status === 404 || answer.status === 410
        ? answer.problem.detail || "O conteúdo deste documento não está disponível."
        : "Serviço indisponível: não foi possível abrir o conteúdo agora. Tente novamente em instantes.";
    status.hidden = false;
    announce(status.textContent);
  });
  return h("div", { class: "conteudo" }, button, status);
}

function showDocument(data) {
  setState("result");
  const cancelled = Boolean(data.cancelado);
  const title = heading(cancelled ? "Documento cancelado" : "Documento autêntico");
  const summary = cancelled
    ? message(
        "warning",
        title,
        h(
          "p",
          {},
          "As assinaturas conferem, mas o documento foi cancelado",
          data.canceladoEm ? ` em ${dateTime(data.canceladoEm)}` : "",
          " e não tem mais validade.",
        ),
      )
    : message("success", title, h("p", {}, "As assinaturas conferem com o documento registrado na plataforma."));

  const details = h("dl", { class: "dados" }, field("Código verificador", data.codigoVerificador), field("Código CRC", data.crc));
  if (data.acesso === "publico") {
    const nup = parseNup(data.processo || "");
    if (data.processo) {
      details.append(...field("Processo", nup.error ? data.processo : h("a", { href: `/?nup=${nup.digits}`, id: "link-processo" }, nup.masked)));
    }
    if (data.documento) {
      details.append(...field("Espécie", data.documento.especie?.nome || ""));
      if (data.documento.numero) details.append(...field("Número", data.documento.numero));
    }
  }
  const signatures = (data.assinaturas || []).map((s) =>
    h(
      "li",
      { class: "br-card assinatura" },
      h(
        "div",
        { class: "card-content" },
        h("p", { class: "signatario" }, s.signatario),
        h("dl", { class: "dados compacto" }, field("Cargo", s.cargo), field("Órgão", s.orgaoNome || s.orgao), field("Unidade", s.unidadeNome || s.unidade), field("Assinado em", dateTime(s.assinadoEm))),
      ),
    ),
  );
  fill(
    result,
    h(
      "article",
      { class: "documento", "aria-labelledby": "resultado-titulo" },
      summary,
      data.acesso === "publico"
        ? null
        : h("p", { class: "aviso-restrito" }, "O documento ou o processo é de acesso restrito: só as assinaturas e o resumo do conteúdo são públicos."),
      details,
      h(
        "section",
        { "aria-labelledby": "assinaturas-titulo" },
        h("h3", { id: "assinaturas-titulo" }, "Assinaturas"),
        signatures.length ? h("ul", { class: "assinaturas" }, signatures) : h("p", {}, "Nenhuma assinatura."),
      ),
      h(
        "section",
        { "aria-labelledby": "hash-titulo" },
        h("h3", { id: "hash-titulo" }, "SHA-256 do conteúdo"),
        h("p", {}, h("code", { class: "hash", id: "sha256" }, data.conteudoSha256)),
        h("p", { class: "ajuda" }, "Compare com o resultado de sha256sum de uma cópia do arquivo: se forem iguais, o conteúdo é o mesmo que foi assinado."),
        contentControl(data.conteudo),
      ),
      data.chaves ? h("p", { class: "ajuda" }, h("a", { href: String(data.chaves).startsWith("/") ? apiBase() + data.chaves : data.chaves }, "Chaves públicas que conferem os carimbos das assinaturas")) : null,
    ),
  );
  announce(title.textContent);
  focus(title);
}

async function verify(values) {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  setState("loading");
  fill(result, h("section", { class: "esqueleto", "aria-busy": "true", "aria-label": "Verificando o documento" }, h("div", { class: "barra titulo" }), h("div", { class: "barra" }), h("div", { class: "barra curta" })));
  announce("Verificando o documento…");
  let answer;
  try {
    const q = new URLSearchParams({ codigo: values.codigo, crc: values.crc });
    answer = await request(`/publico/documentos/autenticidade?${q}`, { signal: controller.signal });
  } catch {
    return;
  }
  if (inFlight !== controller) return;
  inFlight = null;
  if (answer.ok) {
    showDocument(answer.data);
  } else if (answer.status === 404) {
    showState("not-found", "warning", "Documento não encontrado", h("p", {}, "Documento não encontrado: confira os códigos. Eles estão no rodapé do documento, junto das assinaturas."));
  } else if (answer.status === 400) {
    showState("invalid", "danger", "Códigos inválidos", h("p", {}, answer.problem.detail || "Confira os códigos informados."));
  } else {
    const retry = h("button", { class: "br-button secondary", type: "button", id: "tentar-novamente" }, "Tentar novamente");
    retry.addEventListener("click", () => verify(values));
    showState("unavailable", "danger", "Serviço indisponível", h("p", {}, "Não foi possível verificar o documento agora. Tente novamente em instantes."), retry);
  }
}

function route({ moveFocus = true } = {}) {
  const params = query();
  if (params.codigo === undefined && params.crc === undefined) {
    inFlight?.abort();
    codigo.value = "";
    crc.value = "";
    setFieldError(codigo, "");
    setFieldError(crc, "");
    setState("empty");
    fill(result);
    return;
  }
  const values = { codigo: (params.codigo || "").trim(), crc: (params.crc || "").trim().toUpperCase() };
  codigo.value = values.codigo;
  crc.value = values.crc;
  if (check(values, { moveFocus })) verify(values);
}

codigo.addEventListener("input", () => {
  const digits = codigo.value.replace(/\D/g, "");
  if (digits !== codigo.value) codigo.value = digits;
});
crc.addEventListener("input", () => {
  const upper = crc.value.toUpperCase().replace(/\s/g, "");
  if (upper !== crc.value) crc.value = upper;
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const values = { codigo: codigo.value.trim(), crc: crc.value.trim().toUpperCase() };
  if (!check(values)) return;
  const target = `?${new URLSearchParams(values)}`;
  if (window.location.search !== target) history.pushState(values, "", target);
  verify(values);
});

window.addEventListener("popstate", () => route());
route({ moveFocus: false });
