// Omnihub agent view: live updates, timeline paging, composer. No dependencies, no build.
// Everything shown comes from server-rendered (autoescaped) HTML; this script never
// builds markup from message content.
"use strict";

(function () {
  const body = document.body;
  const csrf = body.dataset.csrf || "";
  const pageKind = body.dataset.page || "";

  function post(url, data) {
    const form = data instanceof FormData ? data : new FormData();
    if (!(data instanceof FormData)) {
      for (const [k, v] of Object.entries(data || {})) form.append(k, v);
    }
    const withFiles = Array.from(form.values()).some((v) => v instanceof File && v.size > 0);
    return fetch(url, {
      method: "POST",
      body: withFiles ? form : new URLSearchParams(Array.from(form).filter(([, v]) => typeof v === "string")),
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (r.status === 401) { location.href = "/agent/login?next=" + encodeURIComponent(location.pathname); }
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.json();
  }

  function fromHTML(html) {
    const t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  }

  // -- texts: translated by the server (hub.agent.i18n), in data-strings on <body> ------
  let STRINGS = {};
  try {
    STRINGS = JSON.parse(document.body.dataset.strings || "{}");
  } catch (e) {}
  function tr(key, vars) {
    return (STRINGS[key] || key).replace(/%\((\w+)\)s/g, (_, k) => (vars && vars[k] != null ? String(vars[k]) : ""));
  }

  // -- live socket ---------------------------------------------------------------
  const handlers = [];
  const status = document.getElementById("live-status");
  let delay = 500;
  let socket = null;

  // Frames to the server (typing); dropped while disconnected.
  function sendLive(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function setLive(state) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = tr(state);
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/agent/live");
    let opened = false;
    socket = ws;
    ws.onopen = function () {
      opened = true;
      delay = 500;
      setLive("live");
      handlers.forEach((h) => h({ topic: "resync", reason: "connected" }));
    };
    ws.onmessage = function (m) {
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      if (msg.topic === "operations.alert") { showAlert(msg); return; }
      handlers.forEach((h) => h(msg));
    };
    ws.onclose = function () {
      if (socket === ws) socket = null;
      setLive("offline");
      if (!opened) delay = Math.min(delay * 2, 15000);
      setTimeout(connect, delay);
    };
  }

  // -- inbox -----------------------------------------------------------------------
  function inbox() {
    const rows = document.getElementById("inbox-rows");
    const total = document.getElementById("unread-total");
    const filters = document.getElementById("filters");
    filters.addEventListener("change", () => filters.requestSubmit());
    let timer = null;
    let issued = 0;
    let shown = 0;
    // Refreshes can overlap; a slower, older answer never replaces a newer one.
    async function refresh() {
      const ticket = ++issued;
      const r = await fetch("/agent/fragments/inbox?" + (body.dataset.query || ""), { credentials: "same-origin" });
      if (r.status === 401) { location.reload(); return; }
      if (!r.ok) return;
      const html = await r.text();
      if (ticket < shown) return;
      shown = ticket;
      rows.innerHTML = html;
      const unread = rows.querySelectorAll("tr.unread").length;
      total.textContent = unread ? String(unread) : "";
      document.title = (unread ? "(" + unread + ") " : "") + tr("inbox") + " · Omnihub";
      rows.dispatchEvent(new CustomEvent("inbox:refreshed"));
    }
    handlers.push(function (msg) {
      if (["conversation.updated", "event.created", "customer.updated", "resync"].includes(msg.topic)) {
        clearTimeout(timer);
        timer = setTimeout(refresh, 150);
      }
    });
  }

  // -- conversation ------------------------------------------------------------------
  function conversation() {
    const convId = body.dataset.conversation;
    let customerId = body.dataset.customer;
    const list = document.getElementById("timeline");
    const scroller = document.getElementById("timeline-scroll");
    const older = document.getElementById("load-older");

    function lastSeq() {
      const items = list.querySelectorAll("li.ev");
      return items.length ? Number(items[items.length - 1].dataset.seq) : 0;
    }

    // Each fetch of timeline pieces takes a ticket when it is asked for. Answers can
    // arrive out of order (an event changes twice in quick succession); every change
    // is announced on the live socket and asked for again, so a piece is only ever
    // replaced by an answer asked for later than the one it came from.
    let issued = 0;
    const placedBy = new Map();
    // Opened at a search hit with later history left out: events after the gap are
    // not placed (the "later messages" link goes to them), updates of shown ones are.
    const gapAfter = document.getElementById("later") ? lastSeq() : null;

    function place(node, ticket) {
      const seq = Number(node.dataset.seq);
      if ((placedBy.get(node.id) || 0) > ticket) return;
      placedBy.set(node.id, ticket);
      const existing = document.getElementById(node.id);
      if (existing) { existing.replaceWith(node); return; }
      if (gapAfter !== null && seq > gapAfter) return;
      const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
      let after = null;
      for (const li of list.querySelectorAll("li.ev")) {
        if (Number(li.dataset.seq) > seq) { after = li; break; }
      }
      list.insertBefore(node, after);
      if (atBottom || !after) scroller.scrollTop = scroller.scrollHeight;
    }

    function insert(html, ticket) {
      const frag = fromHTML(html);
      Array.from(frag.children).forEach((node) => place(node, ticket));
      list.dispatchEvent(new CustomEvent("timeline:answered", { detail: { ticket } }));
    }

    let readTimer = null;
    function markRead() {
      clearTimeout(readTimer);
      readTimer = setTimeout(() => {
        if (document.visibilityState === "visible") post("/agent/conversations/" + convId + "/read", { seq: String(lastSeq()) });
      }, 300);
    }

    async function showEvent(eventId) {
      const ticket = ++issued;
      const data = await getJSON("/agent/fragments/events/" + eventId + "?conversation=" + convId);
      if (data.customer_id !== customerId) return;
      insert(data.html, ticket);
      markRead();
    }

    async function resync() {
      const ticket = ++issued;
      const data = await getJSON("/agent/fragments/customers/" + customerId + "/events?conversation=" + convId);
      insert(data.html, ticket);
    }

    async function loadOlder() {
      const cursor = older.dataset.cursor;
      if (!cursor || older.dataset.busy) return;
      older.dataset.busy = "1";
      try {
        const data = await getJSON("/agent/fragments/customers/" + customerId + "/events?direction=older&conversation=" + convId + "&cursor=" + encodeURIComponent(cursor));
        const before = scroller.scrollHeight;
        list.insertBefore(fromHTML(data.html), list.firstChild);
        scroller.scrollTop += scroller.scrollHeight - before;
        older.dataset.cursor = data.older || "";
        older.hidden = !data.older;
      } finally {
        delete older.dataset.busy;
      }
    }

    older.addEventListener("click", loadOlder);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) loadOlder();
      }, { root: scroller }).observe(older);
    }
    scroller.scrollTop = scroller.scrollHeight;
    // A search hit opens the timeline at its event (#ev-…): show it, marked.
    const target = location.hash.startsWith("#ev-") ? document.getElementById(location.hash.slice(1)) : null;
    if (target) {
      target.classList.add("found");
      target.scrollIntoView({ block: "center" });
    }

    handlers.push(function (msg) {
      if (msg.topic === "resync") { resync(); return; }
      if ((msg.topic === "event.created" || msg.topic === "event.updated") && msg.event_id) {
        if (msg.customer_id === customerId || document.getElementById("ev-" + msg.event_id)) showEvent(msg.event_id);
      }
    });

    // Email quoted history: fetched the first time it is opened.
    list.addEventListener("toggle", async function (ev) {
      const d = ev.target;
      if (!(d instanceof HTMLDetailsElement) || !d.open || d.dataset.loaded) return;
      d.dataset.loaded = "1";
      const r = await fetch(d.dataset.src, { credentials: "same-origin" });
      d.querySelector("pre").textContent = r.ok ? await r.text() : tr("quotedFailed");
    }, true);

    composer(convId, showEvent);
    collision(convId);
  }

  // -- who else is here: other agents viewing or typing in this conversation --------
  // Announced on connect and every 20 s; an agent not heard from for 50 s (viewing) or
  // 8 s (typing) is dropped. Seeing someone new, this page announces itself at once,
  // so the newcomer learns about it too.
  function collision(convId) {
    const me = body.dataset.me || "";
    const box = document.getElementById("collision");
    const others = new Map();
    function announce(viewing) { sendLive({ type: "viewing", conversation_id: convId, viewing: viewing }); }
    function render() {
      const now = Date.now();
      const viewing = [], typing = [];
      for (const [id, o] of others) {
        if (o.until < now) { others.delete(id); continue; }
        if (o.typingUntil > now) typing.push(o.name); else viewing.push(o.name);
      }
      const parts = [];
      if (typing.length) parts.push(tr("othersTyping", { names: typing.join(", ") }));
      if (viewing.length) parts.push(tr("othersViewing", { names: viewing.join(", ") }));
      box.textContent = parts.join(" · ");
      box.hidden = parts.length === 0;
    }
    handlers.push(function (msg) {
      if (msg.topic === "resync" && msg.reason === "connected") { announce(true); return; }
      if (msg.conversation_id !== convId || !msg.agent || msg.agent === me) return;
      if (msg.topic === "conversation.viewing") {
        if (!msg.active) { others.delete(msg.agent); render(); return; }
        const known = others.get(msg.agent);
        others.set(msg.agent, { name: msg.name || "?", until: Date.now() + 50000, typingUntil: known ? known.typingUntil : 0 });
        if (!known) announce(true);
      } else if (msg.topic === "conversation.typing") {
        if (!msg.active && !others.has(msg.agent)) return; // stopped typing after leaving
        const o = others.get(msg.agent) || { name: msg.name || "?", until: 0, typingUntil: 0 };
        o.until = Math.max(o.until, Date.now() + 50000);
        o.typingUntil = msg.active ? Date.now() + 8000 : 0;
        others.set(msg.agent, o);
      } else return;
      render();
    });
    setInterval(() => { announce(true); render(); }, 20000);
    window.addEventListener("pagehide", () => announce(false));
  }

  // -- composer --------------------------------------------------------------------
  const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXT = "^{}\\[~]|€\f";

  function smsSegments(text) {
    let units = 0, gsm = true;
    for (const ch of text) {
      if (GSM.includes(ch)) units += 1;
      else if (GSM_EXT.includes(ch)) units += 2;
      else { gsm = false; break; }
    }
    if (!gsm) {
      units = text.length; // UTF-16 code units
      return { encoding: "UCS-2", units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
    }
    return { encoding: "GSM-7", units, segments: units <= 160 ? 1 : Math.ceil(units / 153) };
  }

  function composer(convId, showEvent) {
    const form = document.getElementById("composer");
    const channel = document.getElementById("channel");
    const text = document.getElementById("reply-text");
    const canned = document.getElementById("canned-pick");
    const constraints = document.getElementById("constraints");
    const placeholders = document.getElementById("placeholders");
    const escape = document.getElementById("escape");
    const error = document.getElementById("composer-error");
    const send = document.getElementById("send");
    const files = document.getElementById("reply-files");
    const sendAllowed = !send.disabled;
    // The macro last inserted (filled by the server): it cannot be sent while a
    // {{placeholder}} or [[personal slot]] is left, or while it is still there word for word.
    let macroText = "", macroHints = [];
    const SLOT = /\[\[([^\[\]]{1,200})\]\]/g;
    const flat = (s) => s.replace(/\s+/g, " ").trim();

    // Typing: announced on the first keystroke and on a channel switch (repeated every
    // 5 s while typing goes on), withdrawn after a pause, on send, and when the text is cleared.
    let typingOn = null, typingTimer = null, typingSent = 0;
    function typing(active) {
      clearTimeout(typingTimer);
      const on = active && text.value.trim() !== "" ? channel.value : null;
      if (on !== typingOn || (on && Date.now() - typingSent > 5000)) {
        if (typingOn && typingOn !== on) sendLive({ type: "typing", conversation_id: convId, channel: typingOn, typing: false });
        if (on) sendLive({ type: "typing", conversation_id: convId, channel: on, typing: true });
        typingOn = on;
        typingSent = Date.now();
      }
      if (on) typingTimer = setTimeout(() => typing(false), 4000);
    }
    handlers.push((msg) => { if (msg.topic === "resync" && msg.reason === "connected") typingOn = null; });

    function newKey() {
      form.elements.idempotency_key.value = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    }
    newKey();

    function remaining() {
      return Array.from(text.value.matchAll(/\{\{\s*([^{}]{1,60}?)\s*\}\}/g), (m) => m[1]);
    }

    function update() {
      const opt = channel.selectedOptions[0];
      const parts = [];
      let blocked = false;
      if (opt) {
        const label = opt.textContent.split(" — ")[0];
        const limit = Number(opt.dataset.limit || 0);
        const needs = opt.dataset.needs;
        if (opt.value === "sms") {
          const s = smsSegments(text.value);
          parts.push(tr(s.segments === 1 ? "smsOne" : "smsMany", s));
        } else if (limit) {
          parts.push(tr("count", { label: label, n: text.value.length, limit: limit }));
        }
        if (limit && text.value.length > limit) { parts.push(tr("tooLong", { label: label })); blocked = true; }
        if (needs) {
          parts.push(tr(opt.dataset.closes ? "windowClosedAt" : "windowClosed", { label: label, at: opt.dataset.closes, needs: needs }));
        }
        const most = Number(opt.dataset.files || 0);
        const chosen = files ? Array.from(files.files) : [];
        if (!most && chosen.length) { parts.push(tr("noFiles", { label: label })); blocked = true; }
        else if (most > 1) {
          const mb = Math.floor(most / (1024 * 1024));
          parts.push(tr("filesUpTo", { label: label, mb: mb }));
          for (const f of chosen.filter((f) => f.size > most)) {
            parts.push(tr("fileTooBig", { name: f.name, label: label, mb: mb }));
            blocked = true;
          }
        }
        escape.hidden = !needs;
        escape.querySelectorAll("[data-for]").forEach((el) => {
          const on = el.dataset.for === needs;
          el.hidden = !on;
          if (el.tagName === "INPUT" || el.tagName === "SELECT") el.disabled = !on;
        });
        templatePreview();
      }
      constraints.textContent = parts.join(" · ");
      const fromMacro = form.elements.macro.value !== "";
      const missing = fromMacro ? remaining() : [];
      const personal = fromMacro && (SLOT.test(text.value) || macroHints.some((h) => h && text.value.includes(h)));
      SLOT.lastIndex = 0;
      const verbatim = fromMacro && !missing.length && !personal && flat(text.value).includes(flat(macroText));
      placeholders.textContent = missing.length ? tr("fillIn", { fields: missing.join(", ") })
        : personal ? tr("macroPersonal") : verbatim ? tr("macroVerbatim") : "";
      if (sendAllowed) send.disabled = blocked || missing.length > 0 || personal || verbatim;
    }

    // Tone coach: the server checks the draft after a pause in typing; flags are advice
    // (built with textContent), and "Use this" swaps the flagged sentence for the rewrite.
    const tone = document.getElementById("tone");
    const toneFlags = document.getElementById("tone-flags");
    let toneTimer = null, toneAsked = 0;
    function showTone(draft, flags) {
      toneFlags.replaceChildren();
      for (const f of flags) {
        const li = document.createElement("li");
        li.dataset.rule = f.rule;
        const q = document.createElement("q");
        q.textContent = f.phrase;
        const why = document.createElement("span");
        why.textContent = " — " + f.reason + " ";
        const hint = document.createElement("span");
        hint.className = "rewrite";
        hint.textContent = tr("toneTry") + " “" + f.rewrite + "”";
        li.append(q, why, hint);
        if (f.fixed !== null) {
          const use = document.createElement("button");
          use.type = "button";
          use.className = "link";
          use.textContent = tr("toneUse");
          use.addEventListener("click", () => {
            if (text.value !== draft) return;
            text.value = f.fixed;
            update();
            checkTone();
            text.focus();
          });
          li.append(" ", use);
        }
        toneFlags.append(li);
      }
      tone.hidden = flags.length === 0;
    }
    async function checkTone() {
      clearTimeout(toneTimer);
      const draft = text.value;
      const ticket = ++toneAsked;
      if (!draft.trim()) { showTone(draft, []); return; }
      try {
        const r = await post("/agent/conversations/" + convId + "/tone", { text: draft });
        if (!r.ok) return;
        const answer = await r.json();
        if (ticket === toneAsked && answer.text === text.value) showTone(draft, answer.flags);
      } catch (e) { /* advice only: a failed check shows nothing */ }
    }
    function toneSoon() { clearTimeout(toneTimer); toneTimer = setTimeout(checkTone, 350); }

    // WhatsApp templates: one field per {{n}}, and the filled text previewed.
    const picker = document.querySelector("select#escape-template");
    const params = document.getElementById("template-params");
    const preview = document.getElementById("template-preview");
    function templatePreview() {
      if (!picker || !params || !preview) return;
      const opt = picker.selectedOptions[0];
      const n = opt ? Number(opt.dataset.params || 0) : 0;
      while (params.children.length > n) params.lastChild.remove();
      while (params.children.length < n) {
        const i = params.children.length + 1;
        const input = document.createElement("input");
        input.name = "template_param";
        input.setAttribute("aria-label", "{{" + i + "}}");
        input.placeholder = "{{" + i + "}}";
        input.addEventListener("input", templatePreview);
        params.appendChild(input);
      }
      const values = Array.from(params.children, (el) => el.value);
      const text = opt && opt.dataset.text ? opt.dataset.text : "";
      preview.textContent = text.replace(/\{\{\s*(\d+)\s*\}\}/g, (m, k) => values[k - 1] || m);
      preview.hidden = picker.hidden || !text;
      params.hidden = picker.hidden;
    }
    if (picker) picker.addEventListener("change", templatePreview);
    channel.addEventListener("change", () => { update(); if (typingOn) typing(true); });
    if (files) {
      files.addEventListener("change", update);
      text.addEventListener("dragover", (ev) => { if (ev.dataTransfer && ev.dataTransfer.types.includes("Files")) ev.preventDefault(); });
      text.addEventListener("drop", function (ev) {
        if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
        ev.preventDefault();
        const all = new DataTransfer();
        for (const f of Array.from(files.files).concat(Array.from(ev.dataTransfer.files))) all.items.add(f);
        files.files = all.files;
        update();
      });
    }
    text.addEventListener("input", () => { update(); typing(true); toneSoon(); });
    text.addEventListener("blur", () => typing(false));
    canned.addEventListener("change", function () {
      const opt = canned.selectedOptions[0];
      if (!opt || !opt.dataset.text) return;
      const filled = opt.dataset.text;
      const at = text.value ? text.value.length + 1 : 0;
      text.value = text.value ? text.value + "\n" + filled : filled;
      form.elements.macro.value = opt.value;
      macroText = filled;
      macroHints = Array.from(filled.matchAll(SLOT), (m) => m[1].trim());
      canned.value = "";
      text.focus();
      const slot = text.value.indexOf("[[", at);
      const hole = text.value.indexOf("{{", at);
      const first = slot >= 0 && (hole < 0 || slot < hole) ? slot : hole;
      if (first >= 0) text.setSelectionRange(first, text.value.indexOf(first === slot ? "]]" : "}}", first) + 2);
      update();
      toneSoon();
    });

    async function submit(url) {
      error.hidden = true;
      const data = new FormData(form);
      const r = await post(url, data);
      let answer = {};
      try { answer = await r.json(); } catch (e) { /* not JSON */ }
      if (!r.ok) {
        error.textContent = answer.error || tr("sendFailed", { status: r.status });
        error.hidden = false;
        return;
      }
      if (form.elements.follow_up && form.elements.follow_up.checked) {
        location.reload(); // the side panel lists the new promise
        return;
      }
      text.value = "";
      if (files) files.value = "";
      typing(false);
      showTone("", []);
      form.elements.macro.value = "";
      macroText = "";
      macroHints = [];
      newKey();
      update();
      if (answer.event) showEvent(answer.event.id);
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const note = ev.submitter && ev.submitter.id === "add-note";
      submit(note ? "/agent/conversations/" + convId + "/notes" : form.action);
    });

    text.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        if (!send.disabled) form.requestSubmit(send);
      }
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.altKey && (ev.key === "c" || ev.key === "C" || ev.code === "KeyC")) {
        ev.preventDefault();
        const enabled = Array.from(channel.options).filter((o) => !o.disabled);
        if (!enabled.length) return;
        const at = enabled.indexOf(channel.selectedOptions[0]);
        channel.value = enabled[(at + 1) % enabled.length].value;
        update();
        channel.focus();
      }
    });
    update();
  }

  // Operations alerts for this agent (an SLA warning, an escalation): text only.
  const ALERT_LABELS = { mention: "alertMention", transfer: "alertTransfer", sla_assign: "alertAssigned", sla_warning: "alertSla", promise_reminder: "alertPromise" };
  function showAlert(msg) {
    let box = document.getElementById("alerts");
    if (!box) {
      box = document.createElement("div");
      box.id = "alerts";
      box.className = "alerts";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    const reason = (msg.alert && msg.alert.reason) || "";
    const item = document.createElement("a");
    item.className = "alert";
    item.href = "/agent/conversations/" + encodeURIComponent(msg.conversation_id || "");
    const label = tr(ALERT_LABELS[reason] || (reason.startsWith("escalation") ? "alertEscalation" : "alert"));
    item.textContent = label + ": " + ((msg.alert && msg.alert.text) || "");
    box.prepend(item);
    while (box.children.length > 5) box.lastChild.remove();
  }

  // SLA countdowns (operations): the server renders each badge with its due time;
  // this keeps the wall-clock countdown current between refreshes.

  function span(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    if (seconds < 60) return seconds + "s";
    let minutes = Math.floor(seconds / 60);
    const days = Math.floor(minutes / 1440);
    minutes -= days * 1440;
    const hours = Math.floor(minutes / 60);
    minutes -= hours * 60;
    if (days) return days + "d " + hours + "h";
    return hours ? hours + "h " + String(minutes).padStart(2, "0") + "m" : minutes + "m";
  }
  function tickSla() {
    for (const el of document.querySelectorAll(".sla[data-due]")) {
      const due = Date.parse(el.dataset.due || "");
      const clock = el.dataset.sla || "";
      if (!due || !clock) continue;
      const left = (due - Date.now()) / 1000;
      const vars = { clock: tr("sla_" + clock), left: span(left) };
      el.textContent = left < 0 ? tr("slaOverdue", vars) : tr("slaDue", vars);
      if (left < 0) { el.classList.remove("sla-ok", "sla-warning"); el.classList.add("sla-breached"); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector(".sla[data-due]") || pageKind === "inbox") setInterval(tickSla, 30000);
    if (pageKind === "inbox") inbox();
    if (pageKind === "conversation") conversation();
    if (pageKind === "inbox" || pageKind === "conversation") connect();
  });
})();
