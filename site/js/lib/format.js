// Dates as people in Brazil read them, in Brasília time whatever the device's zone.

const ZONE = "America/Sao_Paulo";
const DAY = new Intl.DateTimeFormat("pt-BR", { timeZone: ZONE, day: "2-digit", month: "2-digit", year: "numeric" });
const TIME = new Intl.DateTimeFormat("pt-BR", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/** "2026-11-27T12:15:00Z" -> "27/11/2026 às 09:15" (Brasília). Unparseable input is returned as is. */
export function dateTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso ?? "");
  return `${DAY.format(at)} às ${TIME.format(at)}`;
}

/** A calendar date "2026-02-02" -> "02/02/2026" (no time zone: it is a date, not an instant). */
export function date(isoDate) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(isoDate ?? ""));
  return m ? `${m[3]}/${m[2]}/${m[1]}` : String(isoDate ?? "");
}
