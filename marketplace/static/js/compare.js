// The compare tray: checkboxes on solution cards collect up to four solutions (kept in
// localStorage across pages) and link to /compare?s=...&s=..., a shareable address.
// Without JavaScript every card shows a plain "Compare" link instead.
(function () {
  "use strict";
  var KEY = "marketplace.compare";
  document.documentElement.classList.add("js-compare");

  function load() {
    try {
      var items = JSON.parse(window.localStorage.getItem(KEY) || "[]");
      return Array.isArray(items) ? items.filter(function (item) { return item && typeof item.slug === "string"; }) : [];
    } catch (error) {
      return [];
    }
  }

  function save(items) {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(items));
    } catch (error) { /* private mode: the tray still works on this page */ }
  }

  // The compare page itself says what is being compared now.
  var current = document.querySelector("[data-compare-current]");
  if (current) {
    save(Array.prototype.map.call(current.querySelectorAll("[data-compare-slug-current]"), function (span) {
      return { slug: span.getAttribute("data-compare-slug-current"), name: span.getAttribute("data-compare-name") };
    }));
  }

  var tray = document.getElementById("compare-tray");
  if (!tray) return;
  var max = parseInt(tray.getAttribute("data-max"), 10) || 4;
  var list = tray.querySelector("[data-compare-list]");
  var message = tray.querySelector("[data-compare-message]");
  var go = tray.querySelector("[data-compare-go]");
  var count = tray.querySelector("[data-compare-count]");
  var items = load().slice(0, max);

  function compareUrl() {
    var query = new URLSearchParams();
    items.forEach(function (item) { query.append("s", item.slug); });
    return tray.getAttribute("data-compare-url") + "?" + query.toString();
  }

  function render() {
    var chosen = {};
    items.forEach(function (item) { chosen[item.slug] = true; });
    document.querySelectorAll("input[data-compare-slug]").forEach(function (box) {
      box.checked = !!chosen[box.getAttribute("data-compare-slug")];
    });
    list.replaceChildren.apply(list, items.map(function (item) {
      var entry = document.createElement("li");
      entry.className = "list-inline-item compare-tray-item";
      entry.textContent = item.name || item.slug;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn-close btn-close-white btn-sm ms-1";
      remove.setAttribute("aria-label", tray.getAttribute("data-remove-label") + " " + (item.name || item.slug));
      remove.setAttribute("data-compare-drop", item.slug);
      entry.appendChild(remove);
      return entry;
    }));
    count.textContent = String(items.length);
    go.href = compareUrl();
    go.classList.toggle("disabled", items.length < 2);
    tray.hidden = items.length === 0;
    document.body.classList.toggle("has-compare-tray", items.length > 0);
  }

  function drop(slug) {
    items = items.filter(function (item) { return item.slug !== slug; });
    message.textContent = "";
    save(items);
    render();
  }

  document.addEventListener("change", function (event) {
    var box = event.target.closest("input[data-compare-slug]");
    if (!box) return;
    var slug = box.getAttribute("data-compare-slug");
    if (!box.checked) {
      drop(slug);
      return;
    }
    if (items.length >= max) {
      box.checked = false;
      message.textContent = tray.getAttribute("data-full-message");
      return;
    }
    items.push({ slug: slug, name: box.getAttribute("data-compare-name") });
    save(items);
    render();
  });

  tray.addEventListener("click", function (event) {
    var button = event.target.closest("[data-compare-drop]");
    if (button) drop(button.getAttribute("data-compare-drop"));
    if (event.target.closest("[data-compare-clear]")) {
      items = [];
      message.textContent = "";
      save(items);
      render();
    }
  });

  // Another tab changed the selection.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY) {
      items = load().slice(0, max);
      render();
    }
  });

  render();
})();
