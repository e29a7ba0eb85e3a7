// Keyboard shortcuts for labelling (the page works without them):
// 1-9 choose an option in the active field (radio: choose and move on to the very next
// field; checkbox: toggle), ArrowDown/ArrowUp change the active field, Enter submits,
// J/K go to the next/previous item. The active field holds the focus (the fieldset
// itself, never the note box inside it: there digits and Enter would type text), so
// keys go to the field that is highlighted. Tab enters the note box, Escape leaves it;
// keys typed there stay there. After a refused submit the marked field is active.
(function () {
  "use strict";
  const form = document.getElementById("label-form");
  const fields = form ? Array.from(form.querySelectorAll("fieldset.field")) : [];
  let active = 0;

  function activate(index, focus) {
    if (!fields.length) return;
    active = Math.max(0, Math.min(index, fields.length - 1));
    fields.forEach((f, i) => f.classList.toggle("active", i === active));
    if (focus) fields[active].focus();
  }

  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && !["radio", "checkbox"].includes(target.type)));
  }

  fields.forEach((field, index) => {
    field.addEventListener("focusin", () => activate(index, false));
  });
  const invalid = fields.findIndex((f) => f.classList.contains("invalid"));
  const firstChoice = fields.findIndex((f) => f.dataset.kind !== "text");
  if (invalid >= 0) activate(invalid, true);
  else activate(firstChoice >= 0 ? firstChoice : 0, false);

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && typing(event.target)) {
      const field = event.target.closest("fieldset.field");
      if (field) field.focus(); else event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key;
    if (form && /^[1-9]$/.test(key) && fields.length) {
      const input = fields[active].querySelectorAll("input")[Number(key) - 1];
      if (!input) return;
      event.preventDefault();
      if (input.type === "checkbox") {
        input.checked = !input.checked;
      } else {
        input.checked = true;
        activate(active + 1, true);
      }
    } else if (form && (key === "ArrowDown" || key === "ArrowUp")) {
      event.preventDefault();
      activate(active + (key === "ArrowDown" ? 1 : -1), true);
    } else if (form && key === "Enter") {
      // a focused button, link or disclosure keeps its own Enter (skip, flag, reveal)
      if (event.target.closest && event.target.closest("button, a, summary")) return;
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
