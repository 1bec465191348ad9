// The query page: a YASGUI editor bound to this server's endpoint, plus the example questions.
(function () {
  "use strict";
  var endpoint = JSON.parse(document.getElementById("endpoint").textContent);
  var examples = JSON.parse(document.getElementById("example-data").textContent);
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: false,
    // A per-endpoint key keeps one server's saved tabs from leaking into another's.
    persistenceId: "medkg-" + endpoint,
    // New tabs open on the first example question instead of YASGUI's generic query.
    yasqe: examples.length ? { value: examples[0] } : {}
  });
  window.medkgYasgui = yasgui;

  function runExample(index) {
    var tab = yasgui.getTab();
    tab.setQuery(examples[index]);
    tab.query();
  }

  // The editor keeps Tab for indenting and YASQE's Esc leaves it; its input field has no name.
  // Naming it and pointing at the visible key hint tells keyboard and screen-reader users the
  // way out, which would otherwise be a trap.
  function describeEditors() {
    var fields = document.querySelectorAll("#yasgui .CodeMirror textarea");
    Array.prototype.forEach.call(fields, function (field) {
      field.setAttribute("aria-label", "SPARQL query");
      field.setAttribute("aria-describedby", "editor-keys");
    });
  }
  describeEditors();
  // a new or reopened tab draws its editor after the event
  ["tabAdd", "tabSelect"].forEach(function (event) {
    yasgui.on(event, function () { setTimeout(describeEditors, 0); });
  });

  var buttons = document.querySelectorAll("button.example");
  Array.prototype.forEach.call(buttons, function (button, index) {
    button.addEventListener("click", function () { runExample(index); });
  });
})();
