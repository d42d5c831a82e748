// /cancelar.html?id=&token=: the unsubscribe link of the notices (people; mail clients POST the API directly).
import { linkPage } from "./lib/link.js";

linkPage({
  action: "cancelamento",
  doneTitle: "Acompanhamento cancelado",
  busyText: "Cancelando…",
  errors: {
    404: ["invalid", "Link inválido", "Este link não corresponde a nenhum acompanhamento. Confira se o endereço foi copiado por inteiro do e-mail."],
  },
});
