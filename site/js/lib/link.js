// The landing pages of the e-mail links (confirm, cancel). Opening the page changes nothing (mail
// scanners prefetch links); the button POSTs the token to the API.
import { request } from "./api.js";
import { announce, fill, focus, h, message, query, setState } from "./dom.js";
import { parseNup } from "./nup.js";

function processLink(nupText) {
  const nup = parseNup(nupText || "");
  if (nup.error) return nupText ? h("p", {}, `Processo nº ${nupText}`) : null;
  return h("p", {}, "Processo nº ", h("a", { href: `/?nup=${nup.digits}`, id: "link-processo" }, nup.masked));
}

const again = () =>
  h("p", {}, h("a", { href: "/" }, "Consultar um processo"), " para pedir o acompanhamento de novo.");

/**
 * action: "confirmacao" or "cancelamento"; done: the title once it worked; errors: {slugOrStatus: [title, text]}.
 */
export function linkPage({ action, doneTitle, busyText, errors }) {
  const title = document.getElementById("titulo");
  const panel = document.getElementById("painel");
  const button = document.getElementById("acao");
  const { id, token } = query();

  function show(state, heading, kind, ...body) {
    setState(state);
    title.textContent = heading;
    fill(panel, message(kind, null, ...body));
    announce(heading);
    focus(title);
  }

  if (!id || !token) {
    show(
      "incomplete",
      "Link incompleto",
      "danger",
      h("p", {}, "O endereço aberto não traz todos os dados do link. Copie o endereço inteiro do e-mail, incluindo a parte depois de “?”, e abra-o de novo."),
    );
    return;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    setState("loading");
    announce(busyText);
    const answer = await request(
      `/publico/acompanhamentos/${encodeURIComponent(id)}/${action}?token=${encodeURIComponent(token)}`,
      { method: "POST", body: { token } },
    );
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (answer.ok) {
      show("done", doneTitle, "success", h("p", {}, answer.data?.mensagem || ""), processLink(answer.data?.nup));
      return;
    }
    const known = errors[answer.problem.slug] || errors[answer.status];
    if (known) {
      show(known[0], known[1], "danger", h("p", {}, known[2]), known[3] ? again() : null);
      return;
    }
    if (answer.status === 400) {
      show("incomplete", "Link incompleto", "danger", h("p", {}, answer.problem.detail || "Copie o endereço inteiro do e-mail."));
      return;
    }
    setState("unavailable");
    title.textContent = "Serviço indisponível";
    fill(panel, message("danger", null, h("p", {}, "Não foi possível concluir agora. Tente novamente em instantes.")), button);
    button.textContent = "Tentar novamente";
    announce("Serviço indisponível. Tente novamente.");
    button.focus();
  });
}
