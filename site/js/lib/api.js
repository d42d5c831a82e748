// The public API, same origin by default (window.PEN_CONFIG.apiBaseUrl is "" unless a stage says
// otherwise). Every answer becomes {ok, status, data, headers} or {ok: false, status, problem}; a
// network failure or a timeout has status 0. Errors are RFC 9457 problem+json.

const PROBLEM_PREFIX = "urn:pen:problema:";
const TIMEOUT_MS = 15000;

export function apiBase() {
  const config = window.PEN_CONFIG || {};
  return String(config.apiBaseUrl || "").replace(/\/+$/, "");
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * request("/publico/processos/123", {method, body, signal}) -> result. `body` is sent as JSON.
 * problem: {slug, title, detail, erros: [{campo, mensagem}]}.
 */
export async function request(path, { method = "GET", body, signal, timeout = TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort);
  try {
    // "no-cache": the browser revalidates its copy (a 304 costs a few bytes), so a person who opens a
    // notice's link sees the movement it announces, not the page they saw a minute before.
    const init = { method, signal: controller.signal, cache: "no-cache", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(apiBase() + path, init);
    const data = await readJson(response);
    if (response.ok) return { ok: true, status: response.status, data, headers: response.headers };
    const problem = data && typeof data === "object" ? data : {};
    const type = String(problem.type || "");
    return {
      ok: false,
      status: response.status,
      headers: response.headers,
      problem: {
        slug: type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : "",
        title: String(problem.title || ""),
        detail: String(problem.detail || ""),
        erros: Array.isArray(problem.erros) ? problem.erros : [],
      },
    };
  } catch (error) {
    if (signal?.aborted) throw error; // the caller moved on: nobody wants this answer
    return { ok: false, status: 0, problem: { slug: "", title: "", detail: "", erros: [] } };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Network failure, timeout, 5xx, 429 from the gateway: worth a "Tentar novamente". */
export function unavailable(result) {
  return result.status === 0 || result.status >= 500 || (result.status === 429 && result.problem.slug !== "limite-atingido");
}
