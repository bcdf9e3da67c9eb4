// The Thotis booking widget: slots by day in the visitor's time zone, booking, postMessage to the
// parent page (only to the configured Thotis origins). Loaded from /static, never inline (CSP).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("widget-data").textContent);
  var S = data.strings;
  var API = "/api/v2";
  var ZONES = ["Europe/Paris", "Europe/Brussels", "Europe/Zurich", "Europe/London", "America/Montreal",
    "America/New_York", "Africa/Casablanca", "Africa/Dakar", "Africa/Abidjan", "Indian/Reunion", "UTC"];
  var selected = null;
  var slots = [];
  var zoneSelect = document.getElementById("time-zone");
  var slotsBox = document.getElementById("slots");
  var form = document.getElementById("booking-form");
  var errorBox = document.getElementById("booking-error");

  function post(type, detail) {
    if (window.parent === window) { return; }
    var message = Object.assign({ type: type }, detail || {});
    data.origins.forEach(function (origin) { window.parent.postMessage(message, origin); });
  }

  function visitorZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; }
  }

  function fillZones() {
    var first = data.timeZone || visitorZone();
    var zones = [first].concat(ZONES.filter(function (z) { return z !== first; }));
    zones.forEach(function (zone) {
      var option = document.createElement("option");
      option.value = zone;
      option.textContent = zone.replace(/_/g, " ");
      zoneSelect.appendChild(option);
    });
  }

  function format(iso, options) {
    return new Intl.DateTimeFormat(data.locale, Object.assign({ timeZone: zoneSelect.value }, options))
      .format(new Date(iso));
  }

  function render() {
    slotsBox.textContent = "";
    if (!slots.length) {
      var none = document.createElement("p");
      none.textContent = S.no_slots;
      slotsBox.appendChild(none);
      return;
    }
    var days = [];
    var byDay = {};
    slots.forEach(function (slot) {
      var day = format(slot.start, { weekday: "long", day: "numeric", month: "long" });
      if (!byDay[day]) { byDay[day] = []; days.push(day); }
      byDay[day].push(slot);
    });
    days.slice(0, 7).forEach(function (day) {
      var group = document.createElement("div");
      group.className = "day";
      group.setAttribute("role", "group");
      var title = document.createElement("h3");
      title.textContent = day;
      title.id = "day-" + days.indexOf(day);
      group.setAttribute("aria-labelledby", title.id);
      group.appendChild(title);
      byDay[day].forEach(function (slot) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "slot";
        button.textContent = format(slot.start, { hour: "2-digit", minute: "2-digit" });
        button.setAttribute("aria-pressed", selected && selected.start === slot.start ? "true" : "false");
        button.addEventListener("click", function () { choose(slot); });
        group.appendChild(button);
      });
      slotsBox.appendChild(group);
    });
    resize();
  }

  function choose(slot) {
    selected = slot;
    document.getElementById("chosen-slot").textContent = S.chosen.replace("{when}",
      format(slot.start, { dateStyle: "full", timeStyle: "short" }));
    render();
    document.getElementById("student-name").focus();
  }

  function load() {
    return fetch(API + "/students/" + encodeURIComponent(data.mentorId) + "/availability?timeZone=UTC", {
      headers: { Authorization: "Bearer " + data.token }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw (body.error && body.error.code) || "error.generic"; }
        slots = body.data;
        render();
      });
    }).catch(function (code) {
      slotsBox.textContent = S["error." + code] || S["error.generic"];
      post("thotis:booking.error", { code: typeof code === "string" ? code : "NETWORK" });
    });
  }

  function field(id) { return document.getElementById(id); }

  function showError(code) {
    errorBox.textContent = S["error." + code] || S["error.generic"];
    errorBox.hidden = false;
    post("thotis:booking.error", { code: code });
    resize();
  }

  function ics(booking) {
    var stamp = function (iso) { return iso.replace(/[-:]/g, "").replace(/\.\d+/, "").replace("+0000", "Z"); };
    var utc = function (iso) { return stamp(new Date(iso).toISOString()); };
    var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Thotis//Widget//EN", "METHOD:PUBLISH", "BEGIN:VEVENT",
      "UID:" + booking.uid + "@thotis", "DTSTAMP:" + utc(new Date().toISOString()), "DTSTART:" + utc(booking.start),
      "DTEND:" + utc(booking.end), "SUMMARY:Thotis", "LOCATION:" + (booking.meetUrl || ""),
      "DESCRIPTION:" + (booking.meetUrl || ""), "END:VEVENT", "END:VCALENDAR"];
    return URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/calendar" }));
  }

  function submit(event) {
    event.preventDefault();
    errorBox.hidden = true;
    if (!selected) { showError("CHOOSE_SLOT"); errorBox.textContent = S.choose_slot; return; }
    var minor = field("minor").checked;
    var student = {
      name: field("student-name").value.trim(),
      email: field("student-email").value.trim(),
      timeZone: zoneSelect.value,
      language: data.locale,
      question: field("question").value.trim() || undefined,
      isMinor: minor
    };
    if (minor) {
      student.parentEmail = field("parent-email").value.trim();
      student.parentalConsent = field("parental-consent").checked;
    }
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = S.booking;
    fetch(API + "/bookings", {
      method: "POST",
      headers: { Authorization: "Bearer " + data.token, "Content-Type": "application/json" },
      body: JSON.stringify({ mentorId: data.mentorId, start: selected.start, consent: field("consent").checked,
        prospectiveStudent: student })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.status !== 201) { throw (body.error && body.error.code) || "generic"; }
        var booking = body.data;
        form.hidden = true;
        document.querySelector(".slots-section").hidden = true;
        var confirmation = field("confirmation");
        field("confirmation-summary").textContent = S.summary.replace("{when}",
          format(booking.start, { dateStyle: "full", timeStyle: "short" }));
        field("meet-link").href = booking.meetUrl;
        field("calendar-link").href = ics(booking);
        confirmation.hidden = false;
        confirmation.focus();
        post("thotis:booking.created", { uid: booking.uid, start: booking.start, meetUrl: booking.meetUrl });
        resize();
      });
    }).catch(function (code) {
      showError(typeof code === "string" ? code : "NETWORK");
      if (code === "SLOT_UNAVAILABLE") { selected = null; load(); }
    }).then(function () {
      button.disabled = false;
      button.textContent = form.dataset.submitLabel;
    });
  }

  function resize() {
    // The body, not the document: the document is at least as tall as the iframe, so it would never shrink.
    post("thotis:widget.resize", { height: Math.ceil(document.body.getBoundingClientRect().height) });
  }

  form.dataset.submitLabel = form.querySelector("button[type=submit]").textContent;
  field("minor").addEventListener("change", function () {
    field("parent").hidden = !field("minor").checked;
    resize();
  });
  zoneSelect.addEventListener("change", render);
  form.addEventListener("submit", submit);
  if (window.ResizeObserver) { new ResizeObserver(resize).observe(document.body); }
  fillZones();
  load().then(function () { post("thotis:widget.ready", { mentorId: data.mentorId }); resize(); });
})();
