// Thotis booking widget embed: <script src="https://SIDECAR/embed.js" defer></script> and
// <div data-thotis-mentor="MENTOR_ID" data-name="…" data-email="…" data-language="fr"
//      data-time-zone="Europe/Paris"></div>. Creates the iframe, sizes it from the widget's
// thotis:widget.resize messages, and re-emits every thotis:* message as a DOM CustomEvent on
// that element (e.g. element.addEventListener("thotis:booking.created", e => e.detail.uid)).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var origin = new URL(script.src).origin;
  var PREFILL = { name: "name", email: "email", language: "language", timeZone: "timeZone" };

  function mount(element) {
    if (element.getAttribute("data-thotis-mounted")) { return; }
    element.setAttribute("data-thotis-mounted", "1");
    var params = new URLSearchParams();
    Object.keys(PREFILL).forEach(function (key) {
      var value = element.dataset[key];
      if (value) { params.set(PREFILL[key], value); }
    });
    var iframe = document.createElement("iframe");
    iframe.src = origin + "/widget/" + encodeURIComponent(element.dataset.thotisMentor) + "?" + params.toString();
    iframe.title = element.dataset.title || "Thotis";
    iframe.style.width = "100%";
    iframe.style.border = "0";
    iframe.style.minHeight = "480px";
    iframe.setAttribute("loading", "lazy");
    element.appendChild(iframe);
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== iframe.contentWindow) { return; }
      var message = event.data;
      if (!message || typeof message.type !== "string" || message.type.indexOf("thotis:") !== 0) { return; }
      if (message.type === "thotis:widget.resize" && typeof message.height === "number") {
        iframe.style.height = Math.ceil(message.height) + "px";
      }
      element.dispatchEvent(new CustomEvent(message.type, { detail: message, bubbles: true }));
    });
  }

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-thotis-mentor]"), mount);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", mountAll); } else { mountAll(); }
})();
