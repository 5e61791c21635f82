/* The door visit on a phone (pages /visits/mobile and /visits/{id}/mobile).
 *
 * Progressive enhancement: every form also works without this script.
 * - The phone's position (navigator.geolocation) fills the check-in and check-out forms.
 * - Every field is kept in localStorage as it is typed ("arrears.visit.<id>.draft.<form>"),
 *   so a reload or a lost connection loses nothing.
 * - The record and the check-out are queued in localStorage ("arrears.visit.<id>.queue")
 *   with a client_ref and sent with Accept: application/json; without a connection they stay
 *   queued ("saved on this phone, not yet sent") and are re-sent on the 'online' event, on
 *   load and every 20 seconds. The server answers a re-sent client_ref with the stored result.
 */
(function () {
  "use strict";

  var PREFIX = "arrears.visit.";
  var RETRY_MS = 20000;
  var root = document.getElementById("visit");
  var visitId = root ? root.dataset.visitId : null;
  var position = null; // {lat, lon, acc}
  var flushing = false;

  function msg(name) {
    return (root && root.dataset["msg" + name]) || "";
  }

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) {
      return values[k] === undefined ? "" : String(values[k]);
    });
  }

  function store(key, value) {
    try {
      if (value === null) {
        localStorage.removeItem(key);
      } else {
        localStorage.setItem(key, JSON.stringify(value));
      }
    } catch (e) {
      /* storage full or disabled: the form still posts normally */
    }
  }

  function load(key, fallback) {
    try {
      var raw = localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }

  function csrf() {
    var el = document.querySelector("input[name=csrf_token]");
    return el ? el.value : "";
  }

  /* ---------------------------------------------------------------- status line */

  function status(text, state) {
    var el = document.getElementById("sync-status");
    if (!el) {
      return;
    }
    el.hidden = !text;
    el.textContent = text;
    el.dataset.state = state || "";
  }

  function showErrors(errors, prefix) {
    var box = document.getElementById("js-errors");
    if (!box) {
      return;
    }
    box.textContent = "";
    if (!errors || !errors.length) {
      box.hidden = true;
      return;
    }
    var ul = document.createElement("ul");
    errors.forEach(function (e) {
      var li = document.createElement("li");
      li.dataset.field = e.field || "";
      li.textContent = (prefix ? prefix + " " : "") + (e.field ? e.field + ": " : "") + e.reason;
      ul.appendChild(li);
    });
    box.appendChild(ul);
    box.hidden = false;
  }

  /* ---------------------------------------------------------------- drafts */

  var SKIP = { csrf_token: 1, client_ref: 1, latitude: 1, longitude: 1 };

  function draftKey(form) {
    return PREFIX + visitId + ".draft." + form.dataset.kind;
  }

  function saveDraft(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.name] || el.type === "file" || el.type === "submit") {
        return;
      }
      if (el.type === "radio") {
        if (el.checked) {
          values[el.name] = el.value;
        } else if (!(el.name in values)) {
          values[el.name] = values[el.name] || "";
        }
      } else if (el.type === "checkbox") {
        values[el.name] = el.checked ? "on" : "";
      } else {
        values[el.name] = el.value;
      }
    });
    store(draftKey(form), values);
  }

  function restoreDraft(form) {
    var values = load(draftKey(form), null);
    if (!values) {
      return false;
    }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in values) || SKIP[el.name] || el.type === "file") {
        return;
      }
      if (el.type === "radio") {
        el.checked = el.value === values[el.name];
      } else if (el.type === "checkbox") {
        el.checked = values[el.name] === "on";
      } else {
        el.value = values[el.name];
      }
    });
    return true;
  }

  /* ---------------------------------------------------------------- position */

  function metres(lat1, lon1, lat2, lon2) {
    var r = 6371008.8, rad = Math.PI / 180;
    var dp = (lat2 - lat1) * rad, dl = (lon2 - lon1) * rad;
    var h = Math.pow(Math.sin(dp / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dl / 2), 2);
    return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function showPosition() {
    var el = document.getElementById("geo-status");
    if (!el || !root) {
      return;
    }
    var radius = Number(root.dataset.radius || "200");
    if (!position) {
      el.textContent = msg("NoPosition");
      el.dataset.far = "1";
      return;
    }
    var lat = parseFloat(root.dataset.lat), lon = parseFloat(root.dataset.lon);
    if (isNaN(lat) || isNaN(lon)) {
      el.textContent = "";
      return;
    }
    var d = Math.round(metres(position.lat, position.lon, lat, lon));
    var text = fill(msg("Position"), { m: d, acc: Math.round(position.acc || 0) });
    if (d > radius) {
      text += " " + fill(msg("Far"), { r: radius });
    }
    el.textContent = text;
    el.dataset.far = d > radius ? "1" : "";
    el.dataset.distance = String(d);
  }

  function setPositionFields() {
    document.querySelectorAll("form[data-kind=start], form[data-kind=end]").forEach(function (f) {
      if (position) {
        f.elements.latitude.value = position.lat.toFixed(7);
        f.elements.longitude.value = position.lon.toFixed(7);
      }
    });
  }

  function watchPosition() {
    if (!document.querySelector("form[data-kind=start], form[data-kind=end]")) {
      return;
    }
    if (!navigator.geolocation) {
      showPosition();
      return;
    }
    var el = document.getElementById("geo-status");
    if (el) {
      el.textContent = msg("Locating");
    }
    navigator.geolocation.watchPosition(
      function (p) {
        position = { lat: p.coords.latitude, lon: p.coords.longitude, acc: p.coords.accuracy };
        setPositionFields();
        showPosition();
      },
      function () {
        showPosition();
      },
      { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 }
    );
  }

  function positionSoon(ms) {
    return new Promise(function (resolve) {
      if (position || !navigator.geolocation) {
        resolve();
        return;
      }
      var done = false;
      setTimeout(function () {
        if (!done) {
          done = true;
          resolve();
        }
      }, ms);
      navigator.geolocation.getCurrentPosition(
        function (p) {
          position = { lat: p.coords.latitude, lon: p.coords.longitude, acc: p.coords.accuracy };
          setPositionFields();
          showPosition();
          if (!done) {
            done = true;
            resolve();
          }
        },
        function () {
          if (!done) {
            done = true;
            resolve();
          }
        },
        { enableHighAccuracy: true, maximumAge: 30000, timeout: ms }
      );
    });
  }

  /* ---------------------------------------------------------------- the queue */

  function queueKeys() {
    var keys = [];
    for (var i = 0; i < localStorage.length; i++) {
      var k = localStorage.key(i);
      if (k && k.indexOf(PREFIX) === 0 && k.slice(-6) === ".queue") {
        keys.push(k);
      }
    }
    return keys;
  }

  function pending() {
    return queueKeys().reduce(function (n, k) {
      return n + load(k, []).length;
    }, 0);
  }

  function enqueue(entry) {
    var key = PREFIX + entry.visit + ".queue";
    // A newer save of the same form replaces the one still waiting: the record is sent whole.
    var queue = load(key, []).filter(function (e) {
      return e.kind !== entry.kind;
    });
    queue.push(entry);
    store(key, queue);
  }

  function post(entry) {
    var body = new URLSearchParams();
    entry.fields.forEach(function (kv) {
      body.append(kv[0], kv[0] === "csrf_token" ? csrf() || kv[1] : kv[1]);
    });
    return fetch(entry.url, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      redirect: "manual",
    });
  }

  function flush() {
    if (flushing || !pending()) {
      return Promise.resolve();
    }
    flushing = true;
    status(msg("Sending"), "sending");
    var reload = false;
    var stopped = false;
    var keys = queueKeys();

    function next(ki) {
      if (ki >= keys.length || stopped) {
        return Promise.resolve();
      }
      var key = keys[ki];
      var queue = load(key, []);
      if (!queue.length) {
        store(key, null);
        return next(ki + 1);
      }
      var entry = queue[0];
      return post(entry).then(
        function (r) {
          if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) {
            stopped = true;
            status(msg("Login"), "login");
            return null;
          }
          if (r.status >= 500) {
            stopped = true;
            status(msg("Queued"), "queued");
            return null;
          }
          return r.json().then(
            function (data) {
              var rest = load(key, []).filter(function (e) {
                return e.ref !== entry.ref;
              });
              store(key, rest.length ? rest : null);
              if (r.ok) {
                var draft = PREFIX + entry.visit + ".draft." + entry.kind;
                if (JSON.stringify(load(draft, null)) === JSON.stringify(entry.draft || null)) {
                  store(draft, null); // sent as typed; anything typed since stays kept
                }
                if (entry.kind === "end" && String(entry.visit) === String(visitId)) {
                  reload = true;
                }
                if (data && data.flagged) {
                  var flagged = document.getElementById("note-flagged");
                  if (!flagged) {
                    reload = true;
                  }
                }
                if (data && data.promise_id && !document.getElementById("promise-made")) {
                  reload = true;
                }
                showErrors([]);
              } else {
                stopped = true;
                if (data && data.errors) {
                  showErrors(data.errors, msg("Rejected"));
                } else if (data && data.conflict) {
                  showErrors([{ field: "", reason: data.conflict }], msg("Rejected"));
                }
              }
              return next(ki);
            },
            function () {
              stopped = true;
              status(msg("Queued"), "queued");
            }
          );
        },
        function () {
          stopped = true; // no connection: keep everything queued
          status(msg("Queued"), "queued");
        }
      );
    }

    return next(0).then(function () {
      flushing = false;
      if (!pending()) {
        status(msg("Sent"), "sent");
        if (reload) {
          window.location.reload();
        }
      } else if (!stopped) {
        status(msg("Queued"), "queued");
      }
    });
  }

  /* ---------------------------------------------------------------- forms */

  function fieldsOf(form) {
    var out = [];
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") {
        out.push([name, value]);
      }
    });
    return out;
  }

  function onSubmit(event) {
    var form = event.target;
    var kind = form.dataset.kind;
    if (kind === "evidence") {
      if (navigator.onLine === false) {
        event.preventDefault();
        showErrors([{ field: "", reason: msg("Offline") }]);
      }
      return; // a file is posted normally
    }
    event.preventDefault();
    saveDraft(form);
    if (kind === "start") {
      if (navigator.onLine === false) {
        showErrors([{ field: "", reason: msg("NeedsOnline") }]);
        return;
      }
      positionSoon(8000).then(function () {
        setPositionFields();
        form.submit(); // online only: the gate decides now; the page shows its answer
      });
      return;
    }
    var send = kind === "end" ? positionSoon(8000) : Promise.resolve();
    send.then(function () {
      setPositionFields();
      var ref = uuid();
      if (form.elements.client_ref) {
        form.elements.client_ref.value = ref;
      }
      enqueue({
        visit: visitId,
        kind: kind,
        url: form.action,
        ref: ref,
        fields: fieldsOf(form),
        draft: load(draftKey(form), null),
        queued_at: new Date().toISOString(),
      });
      status(msg("Queued"), "queued");
      flush();
    });
  }

  function init() {
    var restored = false;
    document.querySelectorAll("form.mobile-form").forEach(function (form) {
      if (form.dataset.kind !== "evidence") {
        restored = restoreDraft(form) || restored;
        form.addEventListener("input", function () {
          saveDraft(form);
        });
        form.addEventListener("change", function () {
          saveDraft(form);
        });
      }
      form.addEventListener("submit", onSubmit);
    });
    if (root && root.dataset.status !== "planned") {
      store(PREFIX + visitId + ".draft.start", null); // started: the check-in is stored
    }
    if (root && root.dataset.status === "done") {
      store(PREFIX + visitId + ".draft.end", null);
    }
    if (pending()) {
      status(msg("Queued"), "queued");
    } else if (restored) {
      status(msg("Draft"), "draft");
    }
    watchPosition();
    window.addEventListener("online", flush);
    setInterval(function () {
      if (pending()) {
        flush();
      }
    }, RETRY_MS);
    flush();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
