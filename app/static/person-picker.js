// Person pickers: an <input data-person-lookup="/people/lookup" list="..."> gets its <datalist>
// filled with matching colleagues ("Full Name (username)") as one types. The server reads the
// username in the last brackets, or a bare username; without this script a typed username works.
(function () {
  "use strict";
  if (window.meezanPersonPicker) return; // the macro may include this file more than once
  window.meezanPersonPicker = true;

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-person-lookup");
    var timer = null;
    var asked = "";
    input.addEventListener("input", function () {
      var text = input.value.trim();
      if (text.length < 2 || text === asked || /\)\s*$/.test(text)) return;
      clearTimeout(timer);
      timer = setTimeout(function () {
        asked = text;
        fetch(url + "?q=" + encodeURIComponent(text), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(function (people) {
            if (input.value.trim() !== text) return; // typed on meanwhile
            list.replaceChildren.apply(list, people.map(function (person) {
              var option = document.createElement("option");
              option.value = person.label;
              return option;
            }));
          })
          .catch(function () { /* suggestions are a convenience: typing still works */ });
      }, 150);
    });
  }

  function start() {
    document.querySelectorAll("input[data-person-lookup]").forEach(attach);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
