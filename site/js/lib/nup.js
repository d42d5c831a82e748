// NUP (Número Único de Protocolo): parsing, validation and the input mask.
// Mirrors chalicelib/domain/nup.py exactly (same forms, same check digits, same messages), so the
// browser refuses what the API would refuse and never calls it for a number that cannot exist.

// Python's re "\s" (str patterns), spelled out: JS's \s differs (it has U+FEFF, lacks U+001C-U+001F, U+0085).
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SEPARATORS = new RegExp(`[${SPACE}./-]`, "g");
const DIGITS = /^[0-9]*$/;
const MAX_INPUT = 64;
const FORMS_HINT = "NNNNN.SSSSSS/AAAA-DD";

/** One mod-11 check digit: weights 2, 3, ... from the rightmost digit; 10 -> 0, 11 -> 1. */
function mod11Digit(digits) {
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    total += Number(digits[digits.length - 1 - i]) * (i + 2);
  }
  return (11 - (total % 11)) % 10;
}

/** Both check digits of a 17-digit NUP from its first 15 digits. */
export function checkDigits17(first15) {
  const dv1 = mod11Digit(first15);
  return `${dv1}${mod11Digit(first15 + dv1)}`;
}

/** Check digits of the old 21-digit form: 98 - (int(first19 + "00") mod 97), two digits. */
export function checkDigits21(first19) {
  let rest = 0;
  for (const d of `${first19}00`) rest = (rest * 10 + Number(d)) % 97;
  return String(98 - rest).padStart(2, "0");
}

function mask(digits) {
  if (digits.length === 17) {
    return `${digits.slice(0, 5)}.${digits.slice(5, 11)}/${digits.slice(11, 15)}-${digits.slice(15)}`;
  }
  if (digits.length === 21) {
    return `${digits.slice(0, 7)}.${digits.slice(7, 15)}/${digits.slice(15, 19)}-${digits.slice(19)}`;
  }
  return `${digits.slice(0, 5)}.${digits.slice(5, 11)}/${digits.slice(11)}`;
}

const wrongCheckDigits = (digits) => ({
  error: "check-digits",
  detail: `O NUP ${mask(digits)} é inválido: os dígitos verificadores não conferem.`,
});

/**
 * Reads a protocol number in any accepted form (17, 13 or 21 digits), with or without punctuation.
 * Returns {digits, masked, form} ("17", "13" or "21"), or {error, detail} where error is one of
 * "too-long", "empty", "not-digits", "check-digits", "range", "length" and detail is the pt-BR text
 * the API would answer.
 */
export function parseNup(text) {
  const value = String(text ?? "");
  if (value.length > MAX_INPUT) return { error: "too-long", detail: "O NUP informado é longo demais." };
  const digits = value.replace(SEPARATORS, "");
  if (!digits) return { error: "empty", detail: "Informe o NUP." };
  if (!DIGITS.test(digits)) {
    return {
      error: "not-digits",
      detail: "O NUP informado é inválido: use apenas dígitos, com ou sem pontuação.",
    };
  }
  if (digits.length === 17) {
    if (digits.slice(15) !== checkDigits17(digits.slice(0, 15))) return wrongCheckDigits(digits);
    if (Number(digits.slice(5, 11)) === 0 || Number(digits.slice(11, 15)) < 1000) {
      return {
        error: "range",
        detail: `O NUP ${mask(digits)} é inválido: sequencial ou ano fora do intervalo permitido.`,
      };
    }
    return { digits, masked: mask(digits), form: "17" };
  }
  if (digits.length === 21) {
    if (digits.slice(19) !== checkDigits21(digits.slice(0, 19))) return wrongCheckDigits(digits);
    return { digits, masked: mask(digits), form: "21" };
  }
  if (digits.length === 13) return { digits, masked: mask(digits), form: "13" };
  const hint = digits.length === 15 ? " Faltam os 2 dígitos verificadores?" : "";
  return {
    error: "length",
    detail: `O NUP informado tem ${digits.length} dígitos; o NUP tem 17 dígitos, no formato ${FORMS_HINT}.${hint}`,
  };
}

/** The mask as the person types: 17-digit layout up to 17 digits (13 digits fall out as the old
 * NNNNN.NNNNNN/AA form), the old 21-digit layout from 18 to 21 digits, bare digits beyond. */
export function maskPartial(digits) {
  const layout = digits.length > 17 ? [7, 8, 4, 2] : [5, 6, 4, 2];
  if (digits.length > 21) return digits;
  const marks = [".", "/", "-"];
  let out = "";
  let at = 0;
  layout.forEach((size, i) => {
    const part = digits.slice(at, at + size);
    at += size;
    if (!part) return;
    if (i > 0) out += marks[i - 1];
    out += part;
  });
  return out;
}

/** Applies the mask to an <input> on every edit, keeping the caret after the same digit. */
export function attachMask(input) {
  input.addEventListener("input", () => {
    const value = input.value;
    if (!/^[0-9\s./-]*$/.test(value)) return; // letters: leave it, validation will say why
    const caret = input.selectionStart ?? value.length;
    const digitsBefore = value.slice(0, caret).replace(/\D/g, "").length;
    const masked = maskPartial(value.replace(/\D/g, ""));
    if (masked === value) return;
    input.value = masked;
    let pos = 0;
    let seen = 0;
    while (pos < masked.length && seen < digitsBefore) {
      if (/\d/.test(masked[pos])) seen++;
      pos++;
    }
    if (document.activeElement === input) input.setSelectionRange(pos, pos);
  });
}
