// Live preview of a Markdown description. The server renders and sanitizes it (the same
// nh3 allow-list the storefront uses); this script only sends the text and shows the
// answer. Markup: <div data-markdown-preview-for="TEXTAREA_ID" data-preview-url="...">.
(function () {
  "use strict";
  var DELAY_MS = 400;

  document.querySelectorAll("[data-markdown-preview-for]").forEach(function (preview) {
    var textarea = document.getElementById(preview.getAttribute("data-markdown-preview-for"));
    var url = preview.getAttribute("data-preview-url");
    if (!textarea || !url) return;
    var tokenInput = textarea.form && textarea.form.querySelector("input[name='csrf_token']");
    var status = preview.parentNode.querySelector("[data-preview-status]");
    var timer = null;
    var sent = 0;
    var shown = 0;

    function showError(message) {
      var note = document.createElement("p");
      note.className = "text-danger small mb-2";
      note.setAttribute("role", "alert");
      note.textContent = message || preview.getAttribute("data-error-label") || "";
      var old = preview.querySelector("[data-preview-error]");
      if (old) old.remove();
      note.setAttribute("data-preview-error", "");
      preview.insertBefore(note, preview.firstChild);
    }

    function render() {
      var number = ++sent;
      var token = tokenInput ? tokenInput.value : "";
      var body = new FormData();
      body.append("text", textarea.value);
      if (token) body.append("csrf_token", token);
      if (status) status.hidden = false;
      fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: token ? { "X-CSRFToken": token, "Accept": "application/json" } : { "Accept": "application/json" }
      })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (result) {
          if (number < shown) return; // an older answer arriving after a newer one
          shown = number;
          if (result.ok) {
            preview.innerHTML = result.data.html; // sanitized by the server
          } else {
            showError(result.data && result.data.error);
          }
        })
        .catch(function () { showError(); })
        .finally(function () {
          if (number === sent && status) status.hidden = true;
        });
    }

    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(render, DELAY_MS);
    });
  });
})();
