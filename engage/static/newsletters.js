// The editor's newsletter screens, made a little quicker with a script. Everything here also
// works without it: blocks are appended by the server, the progress page has a Refresh link.
(function () {
  "use strict";

  // --- Compose: insert a block at the cursor, jump to an error's line, live audience count.
  var compose = document.getElementById("compose");
  if (compose) {
    var body = compose.querySelector("textarea[name=body]");
    var select = compose.querySelector("select[name=block]");
    var insert = document.getElementById("insert-block");
    var status = document.createElement("p");
    status.className = "nl-help";
    status.setAttribute("role", "status");
    if (insert) insert.parentNode.appendChild(status);

    var format = function () {
      var checked = compose.querySelector("input[name=body_format]:checked");
      return checked ? checked.value : "markdown";
    };

    var insertAtCursor = function (text) {
      var start = body.selectionStart, end = body.selectionEnd, value = body.value;
      var before = value.slice(0, start), after = value.slice(end);
      // Keep blocks apart from the text around them by a blank line.
      var lead = before === "" || /\n\n$/.test(before) ? "" : (/\n$/.test(before) ? "\n" : "\n\n");
      var tail = after === "" || /^\n/.test(after) ? "" : "\n";
      body.value = before + lead + text + tail + after;
      var caret = (before + lead + text).length;
      body.focus();
      body.setSelectionRange(caret, caret);
    };

    if (insert && select && body) {
      insert.addEventListener("click", function (event) {
        event.preventDefault();
        var url = compose.dataset.blockUrl.replace("KEY", encodeURIComponent(select.value)) +
          "?format=" + encodeURIComponent(format());
        status.textContent = "Inserting…";
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) { return response.json(); })
          .then(function (data) {
            if (data.snippet) {
              insertAtCursor(data.snippet);
              status.textContent = "Inserted at the cursor.";
            } else {
              status.textContent = data.error || "Nothing to insert.";
            }
          })
          .catch(function () {
            // The server can still do it: submit the form as if there were no script.
            status.textContent = "";
            var action = document.createElement("input");
            action.type = "hidden"; action.name = "action"; action.value = "insert";
            compose.appendChild(action);
            compose.noValidate = true;
            compose.submit();
          });
      });
    }

    // "Line 4" links in the list of problems select that line in the body.
    compose.addEventListener("click", function (event) {
      var link = event.target.closest("a.nl-line");
      if (!link || !body) return;
      event.preventDefault();
      var line = parseInt(link.dataset.line, 10), lines = body.value.split("\n");
      var start = 0;
      for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
      var end = start + (lines[line - 1] || "").length;
      body.focus();
      body.setSelectionRange(start, end);
      // Scroll the selected line into view: roughly, by line height.
      var height = parseFloat(getComputedStyle(body).lineHeight) || 20;
      body.scrollTop = Math.max(0, (line - 3) * height);
    });

    var count = document.getElementById("audience-count");
    if (count) {
      compose.addEventListener("change", function (event) {
        if (event.target.name !== "topics") return;
        var params = new URLSearchParams();
        compose.querySelectorAll("input[name=topics]:checked").forEach(function (box) {
          params.append("topics", box.value);
        });
        fetch(compose.dataset.audienceUrl + "?" + params.toString(), { credentials: "same-origin" })
          .then(function (response) { return response.json(); })
          .then(function (data) { count.textContent = String(data.count); })
          .catch(function () { /* the count is refreshed when the form is next shown */ });
      });
    }
  }

  // --- Progress: poll the JSON endpoint while sending, update the bar and the figures.
  var panel = document.getElementById("progress");
  if (panel && panel.dataset.progressUrl) {
    var active = ["scheduled", "sending", "paused"];
    if (active.indexOf(panel.dataset.status) === -1) return;
    var bar = document.getElementById("nl-progress-bar");
    var figure = function (name) { return panel.querySelector("[data-figure='" + name + "']"); };
    var set = function (name, value) { var el = figure(name); if (el) el.textContent = value; };
    var duration = function (seconds) {
      if (seconds === null || seconds === undefined) return "unknown";
      if (seconds < 60) return "less than a minute";
      var minutes = Math.round(seconds / 60);
      if (minutes < 90) return "about " + minutes + " minute" + (minutes === 1 ? "" : "s");
      return "about " + Math.round(minutes / 6) / 10 + " hours";
    };
    var poll = function () {
      fetch(panel.dataset.progressUrl, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (bar) {  // no bar while starting: the page reloads once sending starts
            bar.max = data.total || 1;
            bar.value = data.done;
            bar.textContent = data.percent + "%";
          }
          ["done", "total", "percent", "sent", "failed", "pending", "skipped"].forEach(function (name) {
            if (data[name] !== undefined) set(name, data[name]);
          });
          set("rate", (data.rate_per_second || 0).toFixed(1));
          set("eta", duration(data.eta_seconds));
          if (data.status !== panel.dataset.status) {
            // Paused, resumed, finished or cancelled: the page shows the buttons and totals
            // that fit the new state.
            window.location.reload();
            return;
          }
          window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 1000);
  }
})();
