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

  var buttons = document.querySelectorAll("button.example");
  Array.prototype.forEach.call(buttons, function (button, index) {
    button.addEventListener("click", function () { runExample(index); });
  });
})();
