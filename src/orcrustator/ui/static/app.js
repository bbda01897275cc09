/* orc-rust-ator dashboard: live run updates and confirmations. No dependencies, no inline code
   (the pages run under a `script-src 'self'` Content-Security-Policy). */
(function () {
  "use strict";

  // A region with data-poll="<url>" is replaced by the HTML fragment at that URL every
  // data-interval ms. The server leaves data-poll off once the run has finished, which ends
  // the polling.
  function poll(region) {
    var url = region.getAttribute("data-poll");
    var every = parseInt(region.getAttribute("data-interval"), 10) || 1500;
    var failures = 0;

    function schedule() {
      window.setTimeout(tick, failures ? Math.min(every * (failures + 1), 15000) : every);
    }

    function tick() {
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (response.redirected || response.status === 401 || response.status === 403) {
            window.location.reload(); // the session ended: the page itself sends us to log in
            return null;
          }
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          if (html === null) { return; }
          failures = 0;
          var template = document.createElement("template");
          template.innerHTML = html.trim();
          var fresh = template.content.firstElementChild;
          if (!fresh) { schedule(); return; }
          var oldLogs = region.querySelector(".logs");
          var atBottom = !oldLogs || oldLogs.scrollTop + oldLogs.clientHeight >= oldLogs.scrollHeight - 4;
          region.replaceWith(fresh);
          region = fresh;
          var newLogs = region.querySelector(".logs");
          if (newLogs && atBottom) { newLogs.scrollTop = newLogs.scrollHeight; }
          if (region.hasAttribute("data-poll")) { schedule(); }
          else { document.dispatchEvent(new CustomEvent("orc:run-finished")); }
        })
        .catch(function () { failures += 1; schedule(); });
    }

    schedule();
  }

  function start() {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll(".logs").forEach(function (logs) { logs.scrollTop = logs.scrollHeight; });
  }

  // <form data-confirm="question"> asks before it submits.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
