// her2cds: progressive enhancement only (the forms work without it). No inline scripts (CSP: script-src 'self').
(function () {
  "use strict";
  var form = document.getElementById("case-form");
  if (!form) { return; }

  // show the IHC cell inputs that fit each specimen's procedure (cluster cells for a gastric biopsy, % otherwise)
  function adapt(block) {
    var proc = block.querySelector("select[name$='-procedure']");
    var value = proc ? proc.value : "";
    block.querySelectorAll("[data-show-procedures]").forEach(function (el) {
      var list = el.getAttribute("data-show-procedures").split(" ");
      el.hidden = value !== "" && list.indexOf(value) < 0;
    });
    block.querySelectorAll("[data-hide-procedures]").forEach(function (el) {
      var list = el.getAttribute("data-hide-procedures").split(" ").filter(Boolean);
      el.hidden = value !== "" && list.indexOf(value) >= 0;
    });
  }
  form.querySelectorAll("fieldset.specimen").forEach(function (block) {
    adapt(block);
    var proc = block.querySelector("select[name$='-procedure']");
    if (proc) { proc.addEventListener("change", function () { adapt(block); }); }
  });

  // a changed tumor type re-renders the form for its guideline (same as the "Update form" button)
  var tumor = document.getElementById("tumor-oncotree_code");
  var refresh = document.getElementById("refresh");
  if (tumor && refresh) {
    tumor.addEventListener("change", function () { refresh.click(); });
  }

  // live checks: errors in place, ISH ratio and group, the headline, as the clinician types
  var timer = null;
  var previewUrl = form.getAttribute("data-preview");
  function showErrors(errors) {
    form.querySelectorAll("[data-field]").forEach(function (box) {
      var name = box.getAttribute("data-field");
      var slot = document.getElementById(name + "-error");
      var message = errors[name] || "";
      if (slot) { slot.textContent = message; }
      if (box.classList.contains("field")) {
        box.classList.toggle("has-error", message !== "");
        var input = box.querySelector("input, select, textarea");
        if (input) {
          if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
        }
      }
    });
  }
  function showPreview(data) {
    form.querySelectorAll("output.preview").forEach(function (out) { out.textContent = ""; });
    (data.specimens || []).forEach(function (s) {
      var out = document.getElementById("specimens-" + s.index + "-ish-preview");
      if (!out || s.ratio === null || s.ratio === undefined) { return; }
      var text = "Ratio " + Number(s.ratio).toFixed(2);
      if (s.group) { text += ", ISH group " + s.group; }
      if (s.ish_status) { text += ": " + s.ish_status; }
      out.textContent = text;
    });
    var live = document.getElementById("live-result");
    if (live) {
      var count = Object.keys(data.errors || {}).length;
      live.textContent = count ? count + " field(s) to check" : (data.headline ? "Preview: " + data.headline : "");
    }
  }
  function check() {
    var body = new URLSearchParams(new FormData(form));
    body.set("action", "preview");
    fetch(previewUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { showErrors(data.errors || {}); showPreview(data); } })
      .catch(function () { /* the server-side checks on save still apply */ });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 350); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(check, 150); });
})();
