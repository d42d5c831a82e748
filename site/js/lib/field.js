// A DS input's error state: the message under the field, aria-invalid, and aria-describedby.

export function setFieldError(input, text) {
  const box = input.closest(".br-input");
  const error = document.getElementById(`${input.id}-erro`);
  const help = `${input.id}-ajuda`;
  if (text) {
    error.textContent = text;
    error.hidden = false;
    box.classList.add("danger");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", `${input.id}-erro ${help}`);
  } else {
    error.textContent = "";
    error.hidden = true;
    box.classList.remove("danger");
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", help);
  }
}
