/*! Omnihub chat widget: one file, no build step, no framework. Apache-2.0.
 * Embed: <script src="https://HUB/widget.js" data-site="default" async></script>
 * data-*: site, hub (base URL; default: where this file came from), title, color,
 *         position ("right" | "left"), open ("true"), lang (en, de, fr, es, pt; default:
 *         the browser's language, else en).
 * API: Omnihub.identify({user_id, email, name, user_hash, email_hash}), .open(), .close(), .reset().
 */
(function () {
  "use strict";
  var pre = window.Omnihub;
  if (pre && pre.loaded) return;

  // -- one table of strings (add a language: STRINGS.xx = {...}; every key of en) --
  var STRINGS = {
    en: {
      title: "Chat with us",
      open: "Open chat",
      close: "Close chat",
      unread: "{n} unread",
      placeholder: "Type your message…",
      send: "Send",
      attach: "Attach a file",
      online: "We usually reply in a few minutes",
      offline: "We're away right now. Leave your email and we'll follow up there.",
      email: "Your email",
      emailSave: "Email me",
      emailThanks: "Thanks! We'll follow up by email.",
      typing: "{name} is typing…",
      agent: "Support",
      read: "Read",
      sending: "Sending…",
      failed: "Not sent. Select to retry.",
      reconnecting: "Reconnecting…",
      unreachable: "We can't reach the chat right now. We'll keep trying and send your message when we're back.",
      waiting: "Waiting for connection…",
      refused: "Chat isn't available on this page, so your message was not sent. It is still in the box below.",
      announce: "New message from {name}: {text}",
      fileError: "That file could not be sent: {reason}",
      via: "by {channel}",
      channels: { email: "email", sms: "text", voice: "phone", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram" },
      rate: "Rate our help",
      stars: "{n} of 5 stars",
      rateComment: "Anything to add? (optional)",
      rateSend: "Send rating",
      rateThanks: "Thank you for your rating!",
    },
    de: {
      title: "Chatten Sie mit uns",
      open: "Chat öffnen",
      close: "Chat schließen",
      unread: "{n} ungelesen",
      placeholder: "Ihre Nachricht…",
      send: "Senden",
      attach: "Datei anhängen",
      online: "Wir antworten meist innerhalb weniger Minuten",
      offline: "Wir sind gerade nicht da. Hinterlassen Sie Ihre E-Mail-Adresse, dann melden wir uns dort.",
      email: "Ihre E-Mail-Adresse",
      emailSave: "Per E-Mail antworten",
      emailThanks: "Danke! Wir melden uns per E-Mail.",
      typing: "{name} schreibt…",
      agent: "Support",
      read: "Gelesen",
      sending: "Wird gesendet…",
      failed: "Nicht gesendet. Zum Wiederholen auswählen.",
      reconnecting: "Verbindung wird wiederhergestellt…",
      unreachable: "Der Chat ist gerade nicht erreichbar. Wir versuchen es weiter und senden Ihre Nachricht, sobald wir wieder da sind.",
      waiting: "Warten auf Verbindung…",
      refused: "Der Chat ist auf dieser Seite nicht verfügbar, Ihre Nachricht wurde nicht gesendet. Sie steht noch im Eingabefeld.",
      announce: "Neue Nachricht von {name}: {text}",
      fileError: "Die Datei konnte nicht gesendet werden: {reason}",
      via: "per {channel}",
      channels: { email: "E-Mail", sms: "SMS", voice: "Telefon", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram" },
      rate: "Bewerten Sie unsere Hilfe",
      stars: "{n} von 5 Sternen",
      rateComment: "Möchten Sie etwas ergänzen? (optional)",
      rateSend: "Bewertung senden",
      rateThanks: "Danke für Ihre Bewertung!",
    },
    fr: {
      title: "Discutons",
      open: "Ouvrir le chat",
      close: "Fermer le chat",
      unread: "{n} non lus",
      placeholder: "Écrivez votre message…",
      send: "Envoyer",
      attach: "Joindre un fichier",
      online: "Nous répondons généralement en quelques minutes",
      offline: "Nous sommes absents pour le moment. Laissez votre e-mail et nous vous répondrons par e-mail.",
      email: "Votre e-mail",
      emailSave: "Me répondre par e-mail",
      emailThanks: "Merci ! Nous vous répondrons par e-mail.",
      typing: "{name} écrit…",
      agent: "Assistance",
      read: "Lu",
      sending: "Envoi…",
      failed: "Non envoyé. Sélectionnez pour réessayer.",
      reconnecting: "Reconnexion…",
      unreachable: "Le chat est injoignable pour le moment. Nous réessayons et enverrons votre message dès son retour.",
      waiting: "En attente de connexion…",
      refused: "Le chat n'est pas disponible sur cette page : votre message n'a pas été envoyé. Il est toujours dans la zone de saisie.",
      announce: "Nouveau message de {name} : {text}",
      fileError: "Ce fichier n'a pas pu être envoyé : {reason}",
      via: "par {channel}",
      channels: { email: "e-mail", sms: "SMS", voice: "téléphone", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram" },
      rate: "Évaluez notre aide",
      stars: "{n} étoiles sur 5",
      rateComment: "Un commentaire ? (facultatif)",
      rateSend: "Envoyer la note",
      rateThanks: "Merci pour votre note !",
    },
    es: {
      title: "Chatea con nosotros",
      open: "Abrir el chat",
      close: "Cerrar el chat",
      unread: "{n} sin leer",
      placeholder: "Escribe tu mensaje…",
      send: "Enviar",
      attach: "Adjuntar un archivo",
      online: "Solemos responder en pocos minutos",
      offline: "Ahora no estamos. Déjanos tu correo y te responderemos por ahí.",
      email: "Tu correo electrónico",
      emailSave: "Respondedme por correo",
      emailThanks: "¡Gracias! Te responderemos por correo.",
      typing: "{name} está escribiendo…",
      agent: "Soporte",
      read: "Leído",
      sending: "Enviando…",
      failed: "No enviado. Selecciona para reintentar.",
      reconnecting: "Reconectando…",
      unreachable: "Ahora no podemos conectar con el chat. Seguiremos intentándolo y enviaremos tu mensaje en cuanto vuelva.",
      waiting: "Esperando conexión…",
      refused: "El chat no está disponible en esta página, así que tu mensaje no se envió. Sigue en el cuadro de texto.",
      announce: "Nuevo mensaje de {name}: {text}",
      fileError: "No se pudo enviar el archivo: {reason}",
      via: "por {channel}",
      channels: { email: "correo", sms: "SMS", voice: "teléfono", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram" },
      rate: "Valore nuestra ayuda",
      stars: "{n} de 5 estrellas",
      rateComment: "¿Algo que añadir? (opcional)",
      rateSend: "Enviar valoración",
      rateThanks: "¡Gracias por su valoración!",
    },
    pt: {
      title: "Fale connosco",
      open: "Abrir o chat",
      close: "Fechar o chat",
      unread: "{n} por ler",
      placeholder: "Escreva a sua mensagem…",
      send: "Enviar",
      attach: "Anexar um ficheiro",
      online: "Costumamos responder em poucos minutos",
      offline: "Não estamos disponíveis agora. Deixe o seu e-mail e respondemos por lá.",
      email: "O seu e-mail",
      emailSave: "Responder por e-mail",
      emailThanks: "Obrigado! Vamos responder por e-mail.",
      typing: "{name} está a escrever…",
      agent: "Apoio",
      read: "Lida",
      sending: "A enviar…",
      failed: "Não enviada. Selecione para tentar de novo.",
      reconnecting: "A restabelecer a ligação…",
      unreachable: "Não conseguimos chegar ao chat agora. Continuamos a tentar e enviamos a sua mensagem assim que voltar.",
      waiting: "À espera de ligação…",
      refused: "O chat não está disponível nesta página, por isso a sua mensagem não foi enviada. Continua na caixa de texto.",
      announce: "Nova mensagem de {name}: {text}",
      fileError: "Não foi possível enviar o ficheiro: {reason}",
      via: "por {channel}",
      channels: { email: "e-mail", sms: "SMS", voice: "telefone", whatsapp: "WhatsApp", messenger: "Messenger", instagram: "Instagram", telegram: "Telegram" },
      rate: "Avalie a nossa ajuda",
      stars: "{n} de 5 estrelas",
      rateComment: "Algo a acrescentar? (opcional)",
      rateSend: "Enviar avaliação",
      rateThanks: "Obrigado pela sua avaliação!",
    },
  };

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var ds = (script && script.dataset) || {};
  var base = (ds.hub || new URL(script ? script.src : "/", location.href).origin).replace(/\/$/, "");
  var site = ds.site || "default";
  // data-lang, else the browser's languages; "pt-BR" uses "pt".
  function pick(tags) {
    for (var i = 0; i < tags.length; i++) {
      var tag = String(tags[i] || "").toLowerCase();
      if (STRINGS[tag]) return tag;
      if (STRINGS[tag.split("-")[0]]) return tag.split("-")[0];
    }
    return "en";
  }
  var LANG = pick(ds.lang ? [ds.lang] : navigator.languages || [navigator.language]);
  var T = STRINGS[LANG];
  var color = /^#[0-9a-f]{3,8}$/i.test(ds.color || "") ? ds.color : "#2f6fed";
  var KEY = "omnihub:" + site + ":token";

  function t(key, vars) {
    return (T[key] || STRINGS.en[key] || key).replace(/\{(\w+)\}/g, function (_, k) {
      return vars && vars[k] != null ? String(vars[k]) : "";
    });
  }
  function store(key, value) {
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch (e) {}
  }
  function load(key) {
    try {
      return localStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function uid() {
    var a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return "c" + Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // Text as text: URLs become links (http/https only), everything else a text node.
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  function rich(parent, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text))) {
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", null, m[0]);
      a.href = m[0];
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      parent.appendChild(a);
      last = m.index + m[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  var CSS =
    ":host{all:initial}*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}" +
    ".launch{position:fixed;bottom:20px;SIDE:20px;width:56px;height:56px;border-radius:50%;border:0;background:C;color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    ".launch svg{width:26px;height:26px;fill:currentColor}" +
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#d64545;color:#fff;font-size:12px;line-height:20px;text-align:center}" +
    ".badge[hidden],[hidden]{display:none!important}" +
    ".panel{position:fixed;bottom:88px;SIDE:20px;width:360px;height:min(560px,calc(100vh - 110px));display:flex;flex-direction:column;background:#fff;color:#1f2933;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;z-index:2147483000}" +
    "header{background:C;color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}" +
    "header h2{flex:1;margin:0;font-size:16px;font-weight:600}header p{margin:2px 0 0;font-size:12px;opacity:.85}" +
    ".x{background:none;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px;border-radius:6px}" +
    ".log{flex:1;overflow-y:auto;margin:0;padding:12px;list-style:none;display:flex;flex-direction:column;gap:6px;background:#f5f7fa}" +
    ".msg{max-width:80%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".in{align-self:flex-end;background:C;color:#fff;border-bottom-right-radius:4px}.in a{color:#fff}" +
    ".out{align-self:flex-start;background:#fff;border:1px solid #d9e2ec;border-bottom-left-radius:4px}" +
    ".who{display:block;font-size:11px;color:#52606d;margin-bottom:2px}" +
    ".via{display:block;font-size:11px;font-style:italic;color:#52606d;margin-bottom:2px}" +
    ".msg img{display:block;max-width:100%;max-height:200px;border-radius:8px;margin-top:4px}" +
    ".meta{align-self:flex-end;font-size:11px;color:#7b8794;margin-top:-3px}.fail{color:#d64545;cursor:pointer}" +
    ".note{padding:8px 14px;font-size:12px;color:#52606d;background:#fffbea;border-top:1px solid #f7d070}" +
    ".away{padding:10px 14px;background:#f0f4f8;border-top:1px solid #d9e2ec}.away p{margin:0 0 6px}" +
    ".away form{display:flex;gap:6px}.away input{flex:1;padding:7px;border:1px solid #bcccdc;border-radius:6px}" +
    "form.c{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #d9e2ec}" +
    "textarea{flex:1;resize:none;max-height:120px;padding:8px;border:1px solid #bcccdc;border-radius:8px}" +
    ".b{border:0;border-radius:8px;background:C;color:#fff;padding:8px 12px;cursor:pointer}.a{background:#e4e7eb;color:#1f2933}" +
    "button:focus-visible,textarea:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #f7c948;outline-offset:1px}" +
    ".rate{display:flex;flex-direction:column;gap:6px;margin-top:6px;white-space:normal}.stars{display:flex;gap:2px}" +
    ".star{background:none;border:0;font-size:22px;line-height:1;color:#bcccdc;cursor:pointer;padding:2px}.star.on{color:#f0b429}" +
    ".rate textarea{flex:none;min-height:48px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "@media (max-width:480px){.panel{inset:0;width:auto;height:auto;border-radius:0}.launch{bottom:14px;SIDE:14px}}";

  var host = el("div");
  host.id = "omnihub-widget";
  var root = host.attachShadow({ mode: "open" });
  var side = ds.position === "left" ? "left" : "right";
  var style = el("style");
  style.textContent = CSS.replace(/SIDE/g, side).replace(/\bC\b/g, color);
  root.appendChild(style);

  var launch = el("button", "launch");
  launch.type = "button";
  launch.setAttribute("aria-expanded", "false");
  launch.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  var badge = el("span", "badge");
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launch.appendChild(badge);

  var panel = el("div", "panel");
  panel.lang = LANG;
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", ds.title || t("title"));
  var header = el("header");
  var heading = el("div");
  heading.style.flex = "1";
  heading.appendChild(el("h2", null, ds.title || t("title")));
  var status = el("p", null, t("online"));
  heading.appendChild(status);
  var closeBtn = el("button", "x", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", t("close"));
  header.appendChild(heading);
  header.appendChild(closeBtn);

  var log = el("ol", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-label", ds.title || t("title"));
  log.tabIndex = 0;
  var live = el("div", "sr");
  live.setAttribute("aria-live", "polite");
  var note = el("div", "note");
  note.hidden = true;
  note.setAttribute("role", "status");

  var away = el("div", "away");
  away.hidden = true;
  var awayText = el("p", null, t("offline"));
  var emailForm = el("form");
  var emailInput = el("input");
  emailInput.type = "email";
  emailInput.required = true;
  emailInput.placeholder = "you@example.com";
  emailInput.setAttribute("aria-label", t("email"));
  var emailBtn = el("button", "b", t("emailSave"));
  emailForm.appendChild(emailInput);
  emailForm.appendChild(emailBtn);
  away.appendChild(awayText);
  away.appendChild(emailForm);

  var form = el("form", "c");
  var input = el("textarea");
  input.rows = 1;
  input.placeholder = t("placeholder");
  input.setAttribute("aria-label", t("placeholder"));
  input.maxLength = 5000;
  var file = el("input");
  file.type = "file";
  file.hidden = true;
  file.accept = "image/*,application/pdf,text/plain";
  var attach = el("button", "b a", "+");
  attach.type = "button";
  attach.setAttribute("aria-label", t("attach"));
  var sendBtn = el("button", "b", t("send"));
  form.appendChild(attach);
  form.appendChild(file);
  form.appendChild(input);
  form.appendChild(sendBtn);

  [header, log, note, away, form, live].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel);
  root.appendChild(launch);

  // -- state -------------------------------------------------------------------
  var ws = null, cursor = null, opened = false, unread = 0, online = true, retry = 0, refused = false;
  var items = {}; // event id or client id -> <li>
  var pending = []; // frames waiting for an ack: {id, text, attachments}
  var identity = null, identified = false, typingSent = false, typingTimer = 0, agentTimer = 0;
  var readUpTo = null, readSeq = 0, visitor = null, pingTimer = 0, identifySent = false;

  function setBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launch.setAttribute("aria-label", t("open") + (unread ? " (" + t("unread", { n: unread }) + ")" : ""));
  }
  function setOpen(value) {
    opened = value;
    panel.hidden = !value;
    launch.setAttribute("aria-expanded", String(value));
    if (value) {
      unread = 0;
      setBadge();
      log.scrollTop = log.scrollHeight;
      input.focus();
    }
  }
  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }
  function bubble(ev) {
    var li = el("li", "msg " + (ev.direction === "in" ? "in" : "out"));
    if (ev.id) li.dataset.id = ev.id;
    if (ev.seq) li.dataset.seq = ev.seq;
    if (ev.direction === "out") li.appendChild(el("span", "who", ev.author || t("agent")));
    if (ev.channel && ev.channel !== "chat") {
      var names = T.channels || STRINGS.en.channels;
      li.appendChild(el("span", "via", t("via", { channel: names[ev.channel] || ev.channel })));
    }
    if (ev.text) rich(li, ev.text);
    (ev.attachments || []).forEach(function (a) {
      var href = base + a.url;
      if (a.image) {
        var img = el("img");
        img.src = href;
        img.alt = a.name;
        li.appendChild(img);
      } else {
        var link = el("a", null, a.name);
        link.href = href;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        li.appendChild(el("br"));
        li.appendChild(link);
      }
    });
    if (ev.survey && ev.survey.url) li.appendChild(rating(ev.survey));
    if (ev.at) li.title = new Date(ev.at).toLocaleString();
    return li;
  }
  // A survey after a resolved chat: stars, an optional comment, one POST with its signed URL.
  function rating(survey) {
    var box = el("div", "rate");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", t("rate"));
    var stars = el("div", "stars"), chosen = 0, buttons = [];
    var comment = el("textarea"), go = el("button", "b", t("rateSend"));
    comment.placeholder = t("rateComment");
    comment.setAttribute("aria-label", t("rateComment"));
    comment.maxLength = 1000;
    comment.hidden = go.hidden = true;
    go.type = "button";
    for (var n = 1; n <= 5; n++) {
      (function (n) {
        var b = el("button", "star", "★");
        b.type = "button";
        b.setAttribute("aria-label", t("stars", { n: n }));
        b.setAttribute("aria-pressed", "false");
        b.onclick = function () {
          chosen = n;
          buttons.forEach(function (x, i) {
            x.classList.toggle("on", i < n);
            x.setAttribute("aria-pressed", String(i === n - 1));
          });
          comment.hidden = go.hidden = false;
        };
        buttons.push(b);
        stars.appendChild(b);
      })(n);
    }
    go.onclick = function () {
      if (!chosen) return;
      go.disabled = true;
      fetch(base + survey.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ score: chosen, comment: comment.value.trim() || null }),
      })
        .then(function (r) {
          if (!r.ok) throw new Error(String(r.status));
          box.replaceWith(el("span", "via", t("rateThanks")));
        })
        .catch(function () { go.disabled = false; });
    };
    box.appendChild(stars);
    box.appendChild(comment);
    box.appendChild(go);
    return box;
  }
  function place(li, seq) {
    var nodes = log.querySelectorAll("li[data-seq]");
    for (var i = nodes.length - 1; i >= 0; i--) {
      if (+nodes[i].dataset.seq < seq) {
        log.insertBefore(li, nodes[i].nextSibling);
        return;
      }
    }
    log.insertBefore(li, log.firstChild);
  }
  function show(ev, isNew) {
    if (items[ev.id]) return;
    var stick = atBottom();
    var li = bubble(ev);
    var mine = ev.client_id && items[ev.client_id];
    if (mine) {
      var meta = mine.nextSibling;
      if (meta && meta.classList.contains("meta")) meta.remove();
      mine.replaceWith(li);
      delete items[ev.client_id];
    } else {
      place(li, ev.seq || 0);
    }
    items[ev.id] = li;
    if (ev.direction === "out") {
      hideTyping();
      if (isNew) {
        live.textContent = t("announce", { name: ev.author || t("agent"), text: ev.text || "" });
        if (!opened || document.hidden) {
          unread++;
          setBadge();
        }
      }
    }
    if (stick || ev.direction === "in") log.scrollTop = log.scrollHeight;
    markRead();
  }
  function markRead() {
    var old = log.querySelector(".readmark");
    if (old) old.remove();
    var upto = readUpTo && items[readUpTo] ? +items[readUpTo].dataset.seq : readSeq, target = null;
    if (!upto) return;
    log.querySelectorAll("li.in[data-seq]").forEach(function (li) {
      if (+li.dataset.seq <= upto) target = li;
    });
    if (target) {
      var m = el("li", "meta readmark", t("read"));
      target.after(m);
    }
  }
  function pendingBubble(p) {
    var li = bubble({ direction: "in", text: p.text });
    li.dataset.client = p.id;
    items[p.id] = li;
    log.appendChild(li);
    var meta = el("li", "meta", t(ws && ws.ready ? "sending" : "waiting"));
    li.after(meta);
    log.scrollTop = log.scrollHeight;
  }
  function failed(id, why) {
    var li = items[id];
    if (!li || !li.nextSibling) return;
    var meta = li.nextSibling;
    meta.className = "meta fail";
    meta.textContent = why || t("failed");
    meta.tabIndex = 0;
    meta.setAttribute("role", "button");
    meta.onclick = meta.onkeydown = function (e) {
      if (e.type === "keydown" && e.key !== "Enter") return;
      meta.className = "meta";
      meta.textContent = t("sending");
      flush();
    };
    pending.forEach(function (p) { if (p.id === id) p.held = true; });
  }
  function hideTyping() {
    clearTimeout(agentTimer);
    if (note.dataset.kind === "typing") note.hidden = true;
  }
  function setNote(kind, text) {
    note.dataset.kind = kind;
    note.textContent = text;
    note.hidden = !text;
  }
  function setOnline(value) {
    online = value;
    status.textContent = value ? t("online") : "";
    away.hidden = value || away.dataset.done === "1";
  }

  // -- connection ----------------------------------------------------------------
  function send(frame) {
    if (ws && ws.readyState === 1 && ws.ready) {
      ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }
  function flush() {
    pending.forEach(function (p) {
      p.held = false;
      send({ type: "message", id: p.id, text: p.text, attachments: p.attachments });
    });
  }
  // Where the visitor is, for the agent (no query string or fragment: they may hold secrets).
  function bare(u) {
    try {
      var p = new URL(u);
      return p.origin + p.pathname;
    } catch (e) {
      return null;
    }
  }
  function page() {
    var tz = null;
    try {
      tz = Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (e) {}
    return { url: bare(location.href), title: document.title.slice(0, 300) || null,
             referrer: document.referrer ? bare(document.referrer) : null,
             lang: navigator.language || null, tz: tz };
  }
  function connect() {
    var url = base.replace(/^http/, "ws") + "/connectors/chat/ws?site=" + encodeURIComponent(site);
    var sock = new WebSocket(url);
    ws = sock;
    sock.onopen = function () {
      sock.send(JSON.stringify({ type: "hello", token: load(KEY), cursor: cursor, page: page() }));
    };
    sock.onmessage = function (m) {
      var f;
      try {
        f = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      handle(sock, f);
    };
    sock.onclose = function (e) {
      if (ws !== sock) return;
      ws = null;
      clearInterval(pingTimer);
      if (e.code === 1008) return refuse(); // not allowed here: do not hammer the server
      setNote("conn", t(retry < 3 ? "reconnecting" : "unreachable")); // after three failed tries
      log.querySelectorAll("li.meta:not(.fail):not(.readmark)").forEach(function (m) {
        m.textContent = t("waiting");
      });
      var delay = Math.min(8000, 400 * Math.pow(2, retry++)) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }
  // The hub refused this page: say so, and give unsent text back to the customer.
  function refuse() {
    refused = true;
    var texts = pending.map(function (p) { return p.text; }).filter(Boolean);
    pending.forEach(function (p) {
      var li = items[p.id];
      if (li) {
        if (li.nextSibling && li.nextSibling.classList.contains("meta")) li.nextSibling.remove();
        li.remove();
        delete items[p.id];
      }
    });
    pending = [];
    if (texts.length) input.value = texts.join("\n") + (input.value ? "\n" + input.value : "");
    setNote("conn", t("refused"));
  }
  function handle(sock, f) {
    switch (f.type) {
      case "welcome":
        if (visitor && visitor !== f.visitor) reset(false);
        visitor = f.visitor;
        store(KEY, f.token);
        setOnline(f.online);
        identified = f.identified;
        break;
      case "events":
        if (f.reset) {
          Object.keys(items).forEach(function (k) { if (!items[k].dataset.client) { items[k].remove(); delete items[k]; } });
        }
        f.events.forEach(function (ev) { show(ev, !f.reset); });
        if (f.cursor) cursor = f.cursor;
        if (!sock.ready) {
          sock.ready = true;
          retry = 0;
          if (note.dataset.kind === "conn") setNote("", "");
          pingTimer = setInterval(function () { send({ type: "ping" }); }, 25000);
          if (identity && !identifySent) identifySent = send(identity);
          flush();
        }
        break;
      case "event":
        show(f.event, true);
        cursor = f.cursor;
        break;
      case "ack":
        pending = pending.filter(function (p) { return p.id !== f.id; });
        if (f.event) show(f.event, false);
        break;
      case "identified":
        identified = true;
        break;
      case "typing":
        if (f.typing) {
          setNote("typing", t("typing", { name: f.name || t("agent") }));
          clearTimeout(agentTimer);
          agentTimer = setTimeout(hideTyping, 8000);
        } else hideTyping();
        break;
      case "read":
        readUpTo = f.up_to;
        readSeq = f.seq || 0;
        markRead();
        break;
      case "presence":
        setOnline(f.online);
        break;
      case "error":
        if (f.id && items[f.id]) failed(f.id);
        else if (f.code === "identify_refused" && window.console) console.warn("Omnihub: " + f.message);
        break;
    }
  }
  function reset(reconnect) {
    log.textContent = "";
    items = {};
    cursor = null;
    readUpTo = null;
    readSeq = 0;
    if (reconnect) {
      store(KEY, null);
      visitor = null;
      identity = null;
      identifySent = false;
      if (ws) {
        var old = ws;
        ws = null;
        old.close();
      }
      connect();
    }
  }

  // -- UI events ---------------------------------------------------------------
  launch.onclick = function () { setOpen(!opened); };
  closeBtn.onclick = function () {
    setOpen(false);
    launch.focus();
  };
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") closeBtn.onclick();
  });
  function submit(text, attachments) {
    var p = { id: uid(), text: text, attachments: attachments || [] };
    pending.push(p);
    pendingBubble(p);
    send({ type: "message", id: p.id, text: p.text, attachments: p.attachments });
  }
  form.onsubmit = function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (refused) return setNote("conn", t("refused")); // the draft stays in the box
    input.value = "";
    typingSent = false;
    submit(text);
  };
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.onsubmit(e);
    }
  });
  input.addEventListener("input", function () {
    if (!typingSent && input.value) typingSent = send({ type: "typing", typing: true });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () {
      if (typingSent) send({ type: "typing", typing: false });
      typingSent = false;
    }, 3000);
  });
  attach.onclick = function () { file.click(); };
  file.onchange = function () {
    var f = file.files && file.files[0];
    file.value = "";
    if (!f) return;
    var body = new FormData();
    body.append("token", load(KEY) || "");
    body.append("file", f);
    fetch(base + "/connectors/chat/uploads?site=" + encodeURIComponent(site), { method: "POST", body: body })
      .then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error(j.error || r.status);
          submit("", [j.ref]);
        });
      })
      .catch(function (err) { setNote("file", t("fileError", { reason: err.message })); });
  };
  emailForm.onsubmit = function (e) {
    e.preventDefault();
    if (send({ type: "offline_email", id: uid(), email: emailInput.value.trim() })) {
      away.dataset.done = "1";
      away.hidden = true;
      setNote("email", t("emailThanks"));
    }
  };
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && opened) {
      unread = 0;
      setBadge();
    }
  });
  window.addEventListener("online", function () {
    if (!ws) connect();
  });

  var api = {
    loaded: true,
    identify: function (user) {
      identity = { type: "identify", user_id: user.user_id, email: user.email, name: user.name, user_hash: user.user_hash, email_hash: user.email_hash };
      identifySent = send(identity);
    },
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    reset: function () { reset(true); },
  };
  window.Omnihub = api;

  function start() {
    document.body.appendChild(host);
    setBadge();
    connect();
    if (ds.open === "true") setOpen(true);
    ((pre && pre.q) || []).forEach(function (call) {
      if (api[call[0]]) api[call[0]].apply(api, call[1] || []);
    });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
