// Forms sent back with mistakes: move focus to the error summary, so a screen reader reads it
// and the next Tab goes to the first link. Without this script the page still opens at the
// form: the reply form's action names the summary as its anchor, the others are at the top.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();
  // A link in the summary puts the cursor in its field, not only the field in view.
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    field.scrollIntoView({ block: "center" });
    field.focus();
  });
})();
