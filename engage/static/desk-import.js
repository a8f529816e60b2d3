// The import's progress page, kept current without reloading. Without this script the page
// shows the counts at the time it was served and a Refresh link.
(function () {
  "use strict";
  var panel = document.getElementById("import-job");
  if (!panel || !window.fetch) return;
  var url = panel.getAttribute("data-poll");
  var number = function (n) { return n.toLocaleString("en"); };
  var set = function (id, text) { document.getElementById(id).textContent = text; };
  var words = {
    queued: "Waiting for a worker to start the import…",
    running: "Importing…",
    done: "The import is done.",
    failed: "The import stopped. Refresh the page for the reason."
  };
  var poll = function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        var bar = document.getElementById("import-progress");
        bar.max = counts.total || 1;
        bar.value = counts.total ? counts.processed : (counts.finished ? 1 : 0);
        set("import-checked", number(counts.processed));
        set("import-created", number(counts.created));
        set("import-updated", number(counts.updated));
        set("import-rejected", number(counts.rejected));
        if (document.getElementById("import-status").textContent !== words[counts.status]) {
          set("import-status", words[counts.status]);
        }
        if (counts.finished) {
          document.getElementById("import-refresh").hidden = true;
          document.getElementById("import-download").hidden = !counts.rejected;
        } else {
          window.setTimeout(poll, 1500);
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  };
  if (!panel.querySelector("#import-refresh").hidden) window.setTimeout(poll, 1000);
})();
