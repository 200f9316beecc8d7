// Progressive enhancement only: every page works without it.
(function () {
  "use strict";
  // A form being sent: its button says so (and a second click does not send it twice).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-busy")) return;
    if (form.getAttribute("data-sent") === "1") { event.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
    var button = event.submitter || form.querySelector("button[type=submit]");
    if (button) button.setAttribute("aria-busy", "true");
  });
  // The registration waits for the ERP: ask every 1.5 s, show the page anew when the answer is there.
  var status = document.querySelector("[data-poll]");
  if (status) {
    var url = status.getAttribute("data-poll");
    var shown = status.getAttribute("data-status");
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (body.status && body.status !== shown) { window.location.reload(); } else { setTimeout(tick, 1500); }
        })
        .catch(function () { setTimeout(tick, 3000); });
    };
    setTimeout(tick, 1500);
  }
})();
