// The demo host page: shows every event the embedded widget re-emits on its element.
(function () {
  "use strict";
  var element = document.getElementById("thotis-booking");
  var list = document.getElementById("events");
  ["thotis:widget.ready", "thotis:booking.created", "thotis:booking.error"].forEach(function (type) {
    element.addEventListener(type, function (event) {
      var item = document.createElement("li");
      item.textContent = type + " " + JSON.stringify(event.detail);
      list.appendChild(item);
    });
  });
})();
