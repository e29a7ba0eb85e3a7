// Keyboard shortcuts for labelling (the page works without them):
// 1-9 choose an option in the active field (radio: choose and move on; checkbox: toggle),
// ArrowDown/ArrowUp change the active field, Enter submits, J/K go to the next/previous
// item. Keys typed into the note box stay in the note box.
(function () {
  "use strict";
  const form = document.getElementById("label-form");
  const fields = form ? Array.from(form.querySelectorAll("fieldset.field")) : [];
  let active = 0;

  function activate(index) {
    if (!fields.length) return;
    active = Math.max(0, Math.min(index, fields.length - 1));
    fields.forEach((f, i) => f.classList.toggle("active", i === active));
  }

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && !["radio", "checkbox"].includes(target.type)));
  }

  function nextChoiceField(from) {
    for (let i = from + 1; i < fields.length; i++) {
      if (fields[i].dataset.kind !== "text") return i;
    }
    return from;
  }

  fields.forEach((field, index) => {
    field.addEventListener("focusin", () => activate(index));
    field.addEventListener("click", () => activate(index));
  });
  const firstChoice = fields.findIndex((f) => f.dataset.kind !== "text");
  activate(firstChoice >= 0 ? firstChoice : 0);

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key;
    if (form && /^[1-9]$/.test(key) && fields.length) {
      const field = fields[active];
      const inputs = field.querySelectorAll("input");
      const input = inputs[Number(key) - 1];
      if (!input) return;
      event.preventDefault();
      if (input.type === "checkbox") {
        input.checked = !input.checked;
      } else {
        input.checked = true;
        activate(nextChoiceField(active));
      }
    } else if (form && (key === "ArrowDown" || key === "ArrowUp")) {
      event.preventDefault();
      activate(active + (key === "ArrowDown" ? 1 : -1));
      const focusable = fields[active].querySelector("input, textarea");
      if (focusable && fields[active].dataset.kind === "text") focusable.focus();
    } else if (form && key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
    } else if (key === "j" || key === "J") {
      const next = document.getElementById("nav-next");
      if (next) { event.preventDefault(); window.location.assign(next.href); }
    } else if (key === "k" || key === "K") {
      const prev = document.getElementById("nav-prev");
      if (prev) { event.preventDefault(); window.location.assign(prev.href); }
    }
  });
  document.body.dataset.keys = "ready";
})();
