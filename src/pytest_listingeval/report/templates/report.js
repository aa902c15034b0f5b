(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var cases = Array.prototype.slice.call(document.querySelectorAll(".case"));
  var count = document.getElementById("filter-count");
  function list(el, name) {
    try { return JSON.parse(el.getAttribute(name) || "[]"); } catch (e) { return []; }
  }
  function apply() {
    var onlyMismatch = form.elements.mismatch.checked;
    var onlyFlip = form.elements.flip.checked;
    var field = form.elements.field.value;
    var tag = form.elements.tag.value;
    var shown = 0;
    cases.forEach(function (el) {
      var show = (!onlyMismatch || el.getAttribute("data-mismatch") === "1") &&
        (!onlyFlip || el.getAttribute("data-flip") !== "") &&
        (!field || list(el, "data-fields").indexOf(field) >= 0) &&
        (!tag || list(el, "data-tags").indexOf(tag) >= 0);
      el.hidden = !show;
      if (show) { shown += 1; }
    });
    count.textContent = "showing " + shown + " of " + cases.length + " cases";
  }
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  form.hidden = false;
  apply();
  document.body.setAttribute("data-filters-ready", "1");
})();
