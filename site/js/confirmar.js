// /confirmar.html?id=&token=: the link of the confirmation e-mail.
import { linkPage } from "./lib/link.js";

linkPage({
  action: "confirmacao",
  doneTitle: "Acompanhamento confirmado",
  busyText: "Confirmando…",
  errors: {
    "link-ja-usado": ["used", "Este link já foi usado", "O acompanhamento já foi confirmado com este link. Nada mais é preciso: os avisos chegam a cada nova movimentação."],
    "link-expirado": ["expired", "Este link expirou", "O link de confirmação vale por 24 horas. Peça o acompanhamento de novo na página do processo: enviaremos um novo e-mail de confirmação.", true],
    404: ["invalid", "Link inválido", "Este link não corresponde a nenhum pedido de acompanhamento. Confira se o endereço foi copiado por inteiro do e-mail.", true],
  },
});
