/*!
 * Nimbus support chat widget — plain JavaScript, no dependencies, no build step.
 *
 * Embed with one tag:
 *   <script src="https://HOST/static/widget.js" data-gateway="https://HOST"
 *           data-title="Nimbus Support" async></script>
 *
 * Protocol: docs/websocket-protocol.md. Embedding and styling: docs/widget.md.
 *
 * Security rule for this file: text from the server or the user is only ever put
 * into the page with textContent / createTextNode, never as HTML, and button
 * payloads are opaque strings that are sent back, never evaluated.
 */
(function () {
  "use strict";

  if (window.__nimbusChatLoaded) {
    return; // the tag was included twice: keep the first widget
  }
  window.__nimbusChatLoaded = true;

  // ---------------------------------------------------------------- constants
  var MAX_CHARS = 4000;
  var PING_INTERVAL_MS = 25000;
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var HISTORY_LIMIT = 200; // messages kept in localStorage for instant display after a reload
  var OUTBOX_LIMIT = 50;
  var RATE_LIMIT_RETRY_MS = 10000;
  var KEY_CONVERSATION = "nimbus-chat:conversation";
  var KEY_SECRET = "nimbus-chat:secret"; // proves this browser started the conversation (sent only in hello)
  var KEY_CURSOR = "nimbus-chat:cursor";
  var KEY_OUTBOX = "nimbus-chat:outbox";
  var KEY_HISTORY = "nimbus-chat:history";
  var SENDERS = { customer: true, bot: true, agent: true, system: true };

  // ------------------------------------------------------------ configuration
  var script = document.currentScript;
  if (!script || !script.src) {
    var candidates = document.querySelectorAll('script[src*="widget.js"]');
    script = candidates.length ? candidates[candidates.length - 1] : null;
  }
  var scriptSrc = script && script.src ? script.src : window.location.href;
  var dataset = (script && script.dataset) || {};

  function gatewayBase(raw) {
    var url;
    try {
      url = new URL(raw || new URL(scriptSrc, window.location.href).origin, scriptSrc);
    } catch (e) {
      url = new URL(window.location.href);
    }
    var path = url.pathname.replace(/\/+$/, "");
    return { protocol: url.protocol, host: url.host, path: path };
  }

  var gw = gatewayBase(dataset.gateway);
  var httpProtocol = gw.protocol === "wss:" ? "https:" : gw.protocol === "ws:" ? "http:" : gw.protocol;
  var wsProtocol = httpProtocol === "https:" ? "wss:" : "ws:";
  var HTTP_BASE = httpProtocol + "//" + gw.host + gw.path;
  var WS_URL = wsProtocol + "//" + gw.host + gw.path + "/ws";
  var TITLE = (dataset.title || "").trim() || "Support";
  var CUSTOMER_TOKEN = dataset.customerToken || null;
  var OPEN_BY_DEFAULT = dataset.open === "true" || window.location.hash === "#chat";

  // ------------------------------------------------------------------ storage
  // localStorage may be missing or throw (privacy modes, sandboxed iframes, full quota):
  // fall back to memory so the widget still works for the life of the page.
  var memoryStore = {};
  function storeGet(key) {
    try {
      var value = window.localStorage.getItem(key);
      return value === null ? null : value;
    } catch (e) {
      return Object.prototype.hasOwnProperty.call(memoryStore, key) ? memoryStore[key] : null;
    }
  }
  function storeSet(key, value) {
    memoryStore[key] = value;
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* memory fallback keeps it for this page */
    }
  }
  function storeRemove(key) {
    delete memoryStore[key];
    try {
      window.localStorage.removeItem(key);
    } catch (e) {
      /* ignore */
    }
  }
  function readJson(key, fallback) {
    var raw = storeGet(key);
    if (raw === null) return fallback;
    try {
      return JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }

  function isCursor(value) {
    return typeof value === "number" && isFinite(value) && Math.floor(value) === value && value >= 0;
  }

  function uuid4() {
    var c = window.crypto || window.msCrypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (e) {
        /* insecure context: fall through */
      }
    }
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = [];
    for (var j = 0; j < 16; j++) hex.push((bytes[j] + 0x100).toString(16).slice(1));
    return (
      hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" + hex.slice(6, 8).join("") + "-" +
      hex.slice(8, 10).join("") + "-" + hex.slice(10, 16).join("")
    );
  }

  // ------------------------------------------------------------------- state
  var conversationId = null;
  var maxCursor = null; // highest cursor rendered in this page
  var rendered = {}; // cursor → { el, msg }
  var pendingEls = {}; // client_id → element of a message not yet echoed
  var buttonsCursor = null; // the one message whose buttons are shown
  var buttonsBox = null;
  var unread = 0;
  var seenAtLoad = null; // highest cursor the customer had seen before this page load
  var isOpen = false;
  var started = false; // a connection has been wanted at least once

  var ws = null;
  var ready = false; // welcome received on the current socket
  var attempt = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var connectingTimer = null;
  var rateLimitTimer = null;
  var lastFrameAt = 0;
  var lastPingAt = 0;
  var sawPong = false; // the server answers our pings, so silence after a ping means a dead link

  // --------------------------------------------------------------------- DOM
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, name)) continue;
        var value = attrs[name];
        if (value === null || value === undefined || value === false) continue;
        if (name === "className") node.className = value;
        else if (name === "text") node.textContent = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    if (children) {
      for (var i = 0; i < children.length; i++) {
        if (children[i]) node.appendChild(children[i]);
      }
    }
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  function icon(pathData) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }
  var ICON_CHAT =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.5 3.6A.9.9 0 0 1 3 20.9V6a2 2 0 0 1 1-2zm3 5.25a1.25 1.25 0 1 0 0 2.5 " +
    "1.25 1.25 0 0 0 0-2.5zm5 0a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 0 0 0-2.5zm5 0a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 0 0 0-2.5z";
  var ICON_CLOSE =
    "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";

  var root = el("div", { className: "nc-root", "data-nimbus-chat": "" });
  root.style.display = "none"; // shown once widget.css has loaded (or failed to), to avoid a flash of unstyled content

  var badge = el("span", { className: "nc-badge", "aria-hidden": "true", hidden: true });
  var launcher = el("button", {
    id: "nimbus-chat-launcher",
    className: "nc-launcher",
    type: "button",
    "aria-label": "Open chat",
    "aria-controls": "nimbus-chat",
    "aria-expanded": "false",
  }, [icon(ICON_CHAT), badge]);

  var titleId = "nimbus-chat-title";
  var closeButton = el("button", { className: "nc-close", type: "button", "aria-label": "Close chat" }, [icon(ICON_CLOSE)]);
  var header = el("div", { className: "nc-header" }, [
    el("h2", { id: titleId, className: "nc-title", text: TITLE }),
    closeButton,
  ]);
  var status = el("div", { id: "nimbus-chat-status", className: "nc-status", role: "status", hidden: true });
  var log = el("div", {
    id: "nimbus-chat-log",
    className: "nc-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
  });
  var typing = el("div", {
    id: "nimbus-chat-typing",
    className: "nc-typing",
    role: "img",
    "aria-label": "Support is typing",
    hidden: true,
  }, [el("span", { className: "nc-dot" }), el("span", { className: "nc-dot" }), el("span", { className: "nc-dot" })]);
  var scroller = el("div", { className: "nc-scroll" }, [log, typing]);
  var input = el("textarea", {
    id: "nimbus-chat-input",
    className: "nc-input",
    rows: "1",
    maxlength: String(MAX_CHARS),
    "aria-label": "Message",
    placeholder: "Type your message…",
    autocomplete: "off",
  });
  var sendButton = el("button", { id: "nimbus-chat-send", className: "nc-send", type: "submit", text: "Send" });
  var hint = el("div", { id: "nimbus-chat-hint", className: "nc-hint", "aria-live": "polite", hidden: true });
  var form = el("form", { className: "nc-composer", novalidate: true }, [input, sendButton]);
  // Follow-up by email: if an agent answers after the customer left, the answer is mailed to the
  // address they give here, with their consent (docs/notifications.md, "follow_up" frames).
  var followToggle = el("button", {
    id: "nimbus-chat-follow-up-toggle",
    className: "nc-follow-up-toggle",
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "nimbus-chat-follow-up-form",
    text: "Email me the answer if I leave",
  });
  var followEmail = el("input", {
    id: "nimbus-chat-follow-up-email",
    className: "nc-follow-up-email",
    type: "email",
    maxlength: "320",
    autocomplete: "email",
    "aria-label": "Your email address",
    placeholder: "you@example.com",
  });
  var followConsent = el("input", { id: "nimbus-chat-follow-up-consent", type: "checkbox" });
  var followConsentLabel = el("label", { className: "nc-follow-up-consent", for: "nimbus-chat-follow-up-consent" }, [
    followConsent,
    document.createTextNode(" I agree to get a support agent's answer to this chat by email."),
  ]);
  var followSave = el("button", { className: "nc-follow-up-save", type: "submit", text: "Save" });
  var followForm = el("form", { id: "nimbus-chat-follow-up-form", className: "nc-follow-up-form", novalidate: true, hidden: true }, [
    followEmail,
    followConsentLabel,
    followSave,
  ]);
  var followNote = el("div", { id: "nimbus-chat-follow-up-note", className: "nc-follow-up-note", "aria-live": "polite", hidden: true });
  var followStop = el("button", { className: "nc-follow-up-toggle", type: "button", text: "Stop", hidden: true });
  var followUp = el("div", { className: "nc-follow-up", hidden: true }, [followToggle, followForm, followNote, followStop]);
  var panel = el("div", {
    id: "nimbus-chat",
    className: "nc-panel",
    role: "dialog",
    "aria-labelledby": titleId,
    hidden: true,
  }, [header, status, scroller, form, followUp, hint]);
  root.appendChild(panel);
  root.appendChild(launcher);

  // ------------------------------------------------------------- rendering
  function senderLabel(sender) {
    if (sender === "customer") return "You";
    if (sender === "agent") return "Support agent";
    if (sender === "system") return "Notice";
    return TITLE;
  }

  function formatTime(iso) {
    if (typeof iso !== "string" || !iso) return null;
    var date = new Date(iso);
    if (isNaN(date.getTime())) return null;
    try {
      return date.toLocaleString();
    } catch (e) {
      return date.toISOString();
    }
  }

  // Web addresses in the bot's messages (help-center articles) become links; built with DOM
  // calls, never innerHTML, and only for http(s) addresses.
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;
  function fillText(node, text, linkify) {
    if (!linkify) {
      node.textContent = text; // never innerHTML
      return;
    }
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var url = match[0].replace(/[).,;:!?]+$/, "");
      if (match.index > last) node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      node.appendChild(link);
      last = match.index + url.length;
      URL_PATTERN.lastIndex = last;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  function buildMessage(sender, text, createdAt) {
    var textNode = el("div", { className: "nc-text" });
    fillText(textNode, String(text == null ? "" : text), sender === "bot");
    var bubble = el("div", { className: "nc-bubble" }, [
      el("span", { className: "nc-sr", text: senderLabel(sender) + ": " }),
      textNode,
    ]);
    var time = formatTime(createdAt);
    if (time) bubble.title = time;
    var children = [];
    if (sender === "agent") children.push(el("div", { className: "nc-meta", "aria-hidden": "true", text: "Support agent" }));
    children.push(bubble);
    return el("div", { className: "nc-msg nc-" + sender, "data-sender": sender }, children);
  }

  function isNearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }
  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  // Keep confirmed messages in cursor order, and pending ones (no cursor yet) after them.
  function placeByCursor(node, cursor) {
    var child = log.firstChild;
    while (child) {
      if (child !== node && child.classList && child.classList.contains("nc-msg")) {
        if (child.classList.contains("nc-pending")) break;
        var other = parseInt(child.getAttribute("data-cursor"), 10);
        if (!isNaN(other) && other > cursor) break;
      }
      child = child.nextSibling;
    }
    if (child) {
      if (node.nextSibling !== child || node.parentNode !== log) log.insertBefore(node, child);
    } else if (node.parentNode !== log || node !== log.lastChild) {
      log.appendChild(node);
    }
  }

  function inCursorOrder(node, cursor) {
    // Is node already where placeByCursor would put it? (Avoids moving nodes, which
    // some screen readers announce again.)
    var prev = node.previousSibling;
    while (prev && !(prev.classList && prev.classList.contains("nc-msg"))) prev = prev.previousSibling;
    var next = node.nextSibling;
    while (next && !(next.classList && next.classList.contains("nc-msg"))) next = next.nextSibling;
    var prevCursor = prev ? parseInt(prev.getAttribute("data-cursor"), 10) : NaN;
    var nextPending = next && next.classList.contains("nc-pending");
    var nextCursor = next && !nextPending ? parseInt(next.getAttribute("data-cursor"), 10) : NaN;
    if (prev && (prev.classList.contains("nc-pending") || isNaN(prevCursor) || prevCursor > cursor)) return false;
    if (next && !nextPending && (isNaN(nextCursor) || nextCursor < cursor)) return false;
    return true;
  }

  function customerSpokeAfter(cursor) {
    for (var id in pendingEls) {
      if (Object.prototype.hasOwnProperty.call(pendingEls, id)) return true;
    }
    for (var key in rendered) {
      if (!Object.prototype.hasOwnProperty.call(rendered, key)) continue;
      var entry = rendered[key];
      if (entry.msg.sender === "customer" && entry.msg.cursor > cursor) return true;
    }
    return false;
  }

  function disableButtons() {
    if (!buttonsBox) return;
    var buttons = buttonsBox.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  function showButtonsFor(msg, node) {
    if (buttonsCursor !== null && msg.cursor < buttonsCursor) return; // an older message: its buttons are stale
    if (buttonsBox && buttonsBox.parentNode) buttonsBox.parentNode.removeChild(buttonsBox);
    buttonsCursor = msg.cursor;
    buttonsBox = el("div", { className: "nc-buttons", role: "group", "aria-label": "Suggested replies" });
    var disabled = customerSpokeAfter(msg.cursor);
    msg.buttons.forEach(function (b) {
      var button = el("button", { className: "nc-button", type: "button", text: b.title });
      button.disabled = disabled;
      button.addEventListener("click", function () {
        if (button.disabled) return;
        disableButtons();
        button.classList.add("nc-chosen");
        submit(b.title, b.payload, true);
      });
      buttonsBox.appendChild(button);
    });
    node.appendChild(buttonsBox);
  }

  function addNotice(text, kind) {
    var stick = isNearBottom();
    var notice = el("div", { className: "nc-notice" + (kind ? " nc-notice-" + kind : ""), "data-code": kind || null });
    notice.textContent = text;
    log.appendChild(notice);
    if (stick || isOpen) scrollToBottom();
    return notice;
  }

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  function setTyping(on) {
    var stick = isNearBottom();
    typing.hidden = !on;
    if (on && stick) scrollToBottom();
  }

  function setUnread(count) {
    unread = count;
    badge.textContent = count > 9 ? "9+" : String(count);
    badge.hidden = count === 0;
  }

  // --------------------------------------------------------------- messages
  function normalizeMessage(frame) {
    if (!frame || !isCursor(frame.cursor)) return null;
    var sender = SENDERS[frame.sender] ? frame.sender : "bot";
    var text = typeof frame.text === "string" ? frame.text : "";
    var buttons = [];
    if (Array.isArray(frame.buttons)) {
      frame.buttons.forEach(function (b) {
        if (b && typeof b.title === "string" && b.title.trim()) {
          buttons.push({ title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title });
        }
      });
    }
    var msg = { cursor: frame.cursor, sender: sender, text: text, buttons: buttons };
    if (typeof frame.client_id === "string" && frame.client_id) msg.client_id = frame.client_id;
    if (typeof frame.created_at === "string") msg.created_at = frame.created_at;
    return msg;
  }

  // Render one stored message; returns false if its cursor was already shown.
  function renderMessage(msg, live) {
    var pendingEl = msg.client_id ? pendingEls[msg.client_id] : null;
    if (rendered[msg.cursor]) {
      // Seen already (a re-sent message confirmed again, or a replay overlap).
      if (pendingEl && pendingEl !== rendered[msg.cursor].el && pendingEl.parentNode) {
        pendingEl.parentNode.removeChild(pendingEl);
      }
      if (msg.client_id) delete pendingEls[msg.client_id];
      return false;
    }
    var stick = isNearBottom() || msg.sender === "customer";
    var node;
    if (pendingEl) {
      node = pendingEl;
      delete pendingEls[msg.client_id];
      node.classList.remove("nc-pending");
      node.classList.remove("nc-failed");
      var state = node.querySelector(".nc-state");
      if (state) state.parentNode.removeChild(state);
      node.setAttribute("data-cursor", String(msg.cursor));
      var bubble = node.querySelector(".nc-bubble");
      var time = formatTime(msg.created_at);
      if (bubble && time) bubble.title = time;
      if (!inCursorOrder(node, msg.cursor)) placeByCursor(node, msg.cursor);
    } else {
      node = buildMessage(msg.sender, msg.text, msg.created_at);
      node.setAttribute("data-cursor", String(msg.cursor));
      placeByCursor(node, msg.cursor);
    }
    rendered[msg.cursor] = { el: node, msg: msg };
    if (maxCursor === null || msg.cursor > maxCursor) maxCursor = msg.cursor;

    if (msg.sender === "customer" && buttonsCursor !== null && msg.cursor > buttonsCursor) disableButtons();
    if ((msg.sender === "bot" || msg.sender === "agent") && msg.buttons.length) showButtonsFor(msg, node);
    if (live) {
      if (msg.sender === "bot" || msg.sender === "agent") setTyping(false);
      if (!isOpen && msg.sender !== "customer" && (seenAtLoad === null || msg.cursor > seenAtLoad)) {
        setUnread(unread + 1);
      }
    }
    if (stick) scrollToBottom();
    return true;
  }

  function renderPending(item) {
    if (pendingEls[item.client_id]) return pendingEls[item.client_id];
    var node = buildMessage("customer", item.text, null);
    node.classList.add("nc-pending");
    node.setAttribute("data-client-id", item.client_id);
    node.appendChild(el("div", { className: "nc-state", "aria-hidden": "true", text: "Sending…" }));
    log.appendChild(node);
    pendingEls[item.client_id] = node;
    return node;
  }

  // ---------------------------------------------------------------- history
  var historySaveScheduled = false;
  function scheduleHistorySave() {
    if (historySaveScheduled) return;
    historySaveScheduled = true;
    setTimeout(function () {
      historySaveScheduled = false;
      saveHistory();
    }, 0);
  }

  function saveHistory() {
    if (!conversationId) return;
    var byCursor = {};
    // Merge with what another tab of the same site may have stored meanwhile.
    var stored = readJson(KEY_HISTORY, null);
    if (stored && stored.conversation_id === conversationId && Array.isArray(stored.messages)) {
      stored.messages.forEach(function (m) {
        if (m && isCursor(m.cursor)) byCursor[m.cursor] = m;
      });
    }
    for (var key in rendered) {
      if (Object.prototype.hasOwnProperty.call(rendered, key)) byCursor[key] = rendered[key].msg;
    }
    var messages = Object.keys(byCursor)
      .map(function (k) { return byCursor[k]; })
      .sort(function (a, b) { return a.cursor - b.cursor; });
    if (messages.length > HISTORY_LIMIT) messages = messages.slice(messages.length - HISTORY_LIMIT);
    storeSet(KEY_HISTORY, JSON.stringify({ conversation_id: conversationId, messages: messages }));
    var top = messages.length ? messages[messages.length - 1].cursor : null;
    if (top !== null) storeSet(KEY_CURSOR, String(top));
  }

  function loadHistory() {
    var stored = readJson(KEY_HISTORY, null);
    if (!stored || stored.conversation_id !== conversationId || !Array.isArray(stored.messages)) return;
    stored.messages.forEach(function (m) {
      var msg = normalizeMessage(m);
      if (msg) renderMessage(msg, false);
    });
  }

  function forgetConversation() {
    // The server answered with another conversation (ours expired or was unknown to it):
    // what is on screen belongs to the old one.
    log.textContent = "";
    rendered = {};
    maxCursor = null;
    buttonsCursor = null;
    buttonsBox = null;
    storeRemove(KEY_HISTORY);
    storeRemove(KEY_CURSOR);
    followAddress = ""; // an address is kept per conversation: the new one has none
    onFollowUp(false);
    for (var id in pendingEls) {
      if (Object.prototype.hasOwnProperty.call(pendingEls, id)) log.appendChild(pendingEls[id]);
    }
  }

  // ----------------------------------------------------------------- outbox
  function readOutbox() {
    var items = readJson(KEY_OUTBOX, []);
    if (!Array.isArray(items)) return [];
    return items.filter(function (i) {
      return i && typeof i.client_id === "string" && typeof i.text === "string";
    });
  }
  function writeOutbox(items) {
    if (items.length) storeSet(KEY_OUTBOX, JSON.stringify(items));
    else storeRemove(KEY_OUTBOX);
  }
  function outboxRemove(clientId) {
    var items = readOutbox();
    var kept = items.filter(function (i) { return i.client_id !== clientId; });
    if (kept.length !== items.length) writeOutbox(kept);
  }

  function messageFrame(item) {
    var frame = { type: "message", text: item.text, client_id: item.client_id };
    if (typeof item.payload === "string") frame.payload = item.payload;
    // The browser's language routes a handoff to an agent who speaks it (docs/routing.md).
    if (typeof navigator.language === "string" && navigator.language) frame.language = navigator.language;
    return frame;
  }

  function flushOutbox() {
    if (!ready) return;
    readOutbox().forEach(function (item) {
      if (!pendingEls[item.client_id]) renderPending(item); // queued by another tab
      sendFrame(messageFrame(item));
    });
  }

  function submit(text, payload, fromButton) {
    if (typeof text !== "string") return false;
    var clean = fromButton ? text : text.replace(/^\s+|\s+$/g, "");
    if (!clean.replace(/\s+/g, "")) return false;
    if (clean.length > MAX_CHARS) {
      addNotice("Your message is too long (the limit is " + MAX_CHARS + " characters). Please shorten it.", "too_long");
      return false;
    }
    var item = { client_id: uuid4(), text: clean };
    if (typeof payload === "string") item.payload = payload;
    var items = readOutbox();
    if (items.length >= OUTBOX_LIMIT) {
      addNotice("Too many messages are waiting to be sent. Please wait until you are reconnected.", "outbox_full");
      return false;
    }
    items.push(item);
    writeOutbox(items);
    renderPending(item);
    disableButtons();
    scrollToBottom();
    ensureConnected();
    if (ready) sendFrame(messageFrame(item));
    return true;
  }

  function markFailed(clientId, reason) {
    var node = pendingEls[clientId];
    outboxRemove(clientId);
    if (!node) return;
    delete pendingEls[clientId]; // no longer waiting: it stays where it is, in time order
    node.classList.remove("nc-pending");
    node.classList.add("nc-failed");
    var state = node.querySelector(".nc-state");
    if (state) state.textContent = reason || "Not sent";
  }

  // ------------------------------------------------------------- connection
  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  function ensureConnected() {
    started = true;
    if (!ws && !reconnectTimer) connect();
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) return;
    var sock;
    try {
      sock = new WebSocket(WS_URL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    ready = false;
    sawPong = false;
    if (attempt === 0 && !connectingTimer) {
      connectingTimer = setTimeout(function () {
        connectingTimer = null;
        if (!ready && status.hidden) setStatus("Connecting…");
      }, 1500);
    }
    sock.onopen = function () {
      if (ws !== sock) return;
      lastFrameAt = Date.now();
      var hello = { type: "hello", conversation_id: conversationId, after: maxCursor };
      var secret = conversationId ? storeGet(KEY_SECRET) : null;
      if (secret) hello.resume_secret = secret;
      if (CUSTOMER_TOKEN) hello.customer_token = CUSTOMER_TOKEN;
      sendFrame(hello);
      startPing(sock);
    };
    sock.onmessage = function (event) {
      if (ws !== sock) return;
      lastFrameAt = Date.now();
      handleFrame(event.data);
    };
    sock.onclose = function () {
      if (ws === sock) lost();
    };
    sock.onerror = function () {
      /* a close event follows */
    };
  }

  function lost() {
    var sock = ws;
    ws = null;
    ready = false;
    stopPing();
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try {
        sock.close();
      } catch (e) {
        /* ignore */
      }
    }
    setTyping(false);
    setStatus("Reconnecting…");
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, attempt));
    attempt += 1;
    var delay = Math.min(BACKOFF_MAX_MS, Math.round(base * (0.75 + Math.random() * 0.5)));
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  function startPing(sock) {
    stopPing();
    lastPingAt = 0;
    pingTimer = setInterval(function () {
      if (ws !== sock) return stopPing();
      // Nothing at all since the previous ping (one interval ago, or more in a throttled
      // background tab): the link is dead although the browser has not noticed.
      if (sawPong && lastPingAt && lastFrameAt < lastPingAt) {
        lost();
        return;
      }
      lastPingAt = Date.now();
      sendFrame({ type: "ping" });
    }, PING_INTERVAL_MS);
  }
  function stopPing() {
    clearInterval(pingTimer);
    pingTimer = null;
  }

  function handleFrame(raw) {
    var frame;
    try {
      frame = JSON.parse(raw);
    } catch (e) {
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    try {
      switch (frame.type) {
        case "welcome":
          onWelcome(frame);
          break;
        case "message":
          onMessage(frame);
          break;
        case "typing":
          setTyping(frame.on === true);
          break;
        case "follow_up":
          onFollowUp(frame.saved === true);
          break;
        case "error":
          onError(frame);
          break;
        case "ping":
          sendFrame({ type: "pong" });
          break;
        case "pong":
          sawPong = true;
          break;
        default:
          break; // unknown frame types are ignored (forward compatible)
      }
    } catch (e) {
      if (window.console && console.error) console.error("nimbus-chat: cannot handle frame", e);
    }
  }

  function onWelcome(frame) {
    if (typeof frame.conversation_id !== "string" || !frame.conversation_id) return;
    if (conversationId && frame.conversation_id !== conversationId) forgetConversation();
    conversationId = frame.conversation_id;
    storeSet(KEY_CONVERSATION, conversationId);
    if (typeof frame.resume_secret === "string" && frame.resume_secret) storeSet(KEY_SECRET, frame.resume_secret);
    ready = true;
    attempt = 0;
    clearTimeout(connectingTimer);
    connectingTimer = null;
    setStatus("");
    followUp.hidden = false;
    flushOutbox();
  }

  // ---------------------------------------------------------- follow-up by email
  var followAddress = ""; // the address last sent, shown back once the server kept it

  function setFollowNote(text) {
    followNote.textContent = text || "";
    followNote.hidden = !text;
  }

  function onFollowUp(saved) {
    if (saved) {
      followForm.hidden = true;
      followToggle.hidden = true;
      followToggle.setAttribute("aria-expanded", "false");
      followStop.hidden = false;
      setFollowNote("We'll email " + followAddress + " if an agent answers after you've left.");
    } else if (followAddress) {
      setFollowNote("That email address doesn't look right.");
    } else {
      followStop.hidden = true;
      followToggle.hidden = false;
      setFollowNote("");
    }
  }

  followToggle.addEventListener("click", function () {
    followForm.hidden = !followForm.hidden;
    followToggle.setAttribute("aria-expanded", followForm.hidden ? "false" : "true");
    if (!followForm.hidden) followEmail.focus();
  });
  followForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var address = followEmail.value.trim();
    if (!address) {
      setFollowNote("Type your email address first.");
      return;
    }
    if (!followConsent.checked) {
      setFollowNote("Tick the box to agree first.");
      return;
    }
    followAddress = address;
    if (!sendFrame({ type: "follow_up", email: address, consent: true })) setFollowNote("Not connected — try again in a moment.");
  });
  followStop.addEventListener("click", function () {
    followAddress = "";
    if (sendFrame({ type: "follow_up", consent: false })) setFollowNote("");
  });

  function onMessage(frame) {
    var msg = normalizeMessage(frame);
    if (!msg) return;
    if (msg.sender === "customer" && msg.client_id) outboxRemove(msg.client_id);
    if (renderMessage(msg, true)) {
      storeSet(KEY_CURSOR, String(maxCursor));
      scheduleHistorySave();
    }
  }

  function onError(frame) {
    var text = typeof frame.message === "string" && frame.message ? frame.message : "Something went wrong.";
    var code = typeof frame.code === "string" ? frame.code : "error";
    addNotice(text, code);
    if (code === "rate_limited") {
      scheduleRateLimitRetry(); // the refused message stays in the outbox and is sent again later
    } else if (typeof frame.client_id === "string" && pendingEls[frame.client_id]) {
      markFailed(frame.client_id, "Not sent"); // refused for good (e.g. too_long): stop re-sending it
    }
  }

  function scheduleRateLimitRetry() {
    if (rateLimitTimer) return;
    rateLimitTimer = setTimeout(function () {
      rateLimitTimer = null;
      flushOutbox(); // the server ignores client_ids it already stored
    }, RATE_LIMIT_RETRY_MS);
  }

  // ------------------------------------------------------------- open/close
  function open(options) {
    if (isOpen) return;
    var focus = !(options && options.focus === false);
    isOpen = true;
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    root.classList.add("nc-is-open");
    setUnread(0);
    ensureConnected();
    scrollToBottom();
    if (!focus) return;
    try {
      input.focus({ preventScroll: true });
    } catch (e) {
      input.focus();
    }
  }

  function close() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    root.classList.remove("nc-is-open");
    launcher.focus();
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
    var length = input.value.length;
    if (length > MAX_CHARS - 500) {
      hint.textContent = length + " / " + MAX_CHARS + " characters";
      hint.classList.toggle("nc-hint-over", length >= MAX_CHARS);
      hint.hidden = false;
    } else if (!hint.hidden) {
      hint.hidden = true;
      hint.textContent = "";
    }
  }

  launcher.addEventListener("click", function () {
    open();
  });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = input.value;
    if (submit(value, undefined, false)) {
      input.value = "";
      autoGrow();
    }
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  input.addEventListener("input", autoGrow);
  // Any link to "#chat" on the host page opens the panel, even when the hash is already #chat.
  document.addEventListener("click", function (event) {
    var target = event.target;
    var link = target && target.closest ? target.closest('a[href="#chat"]') : null;
    if (link && !root.contains(link)) open();
  });
  window.addEventListener("hashchange", function () {
    if (window.location.hash === "#chat") open();
  });
  window.addEventListener("online", function () {
    if (started && !ws) {
      attempt = 0;
      connect();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && started && !ws) {
      attempt = 0;
      connect();
    }
  });

  // Forget the conversation (e.g. when the host site's user logs out).
  function reset() {
    storeRemove(KEY_CONVERSATION);
    storeRemove(KEY_SECRET);
    storeRemove(KEY_CURSOR);
    storeRemove(KEY_OUTBOX);
    storeRemove(KEY_HISTORY);
    conversationId = null;
    pendingEls = {};
    forgetConversation();
    setUnread(0);
    if (ws) {
      var sock = ws;
      ws = null;
      ready = false;
      stopPing();
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try {
        sock.close();
      } catch (e) {
        /* ignore */
      }
    }
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    attempt = 0;
    setStatus("");
    if (isOpen) connect();
    else started = false;
  }

  window.NimbusChat = {
    open: function () {
      open();
    },
    close: close,
    reset: reset,
  };

  // ------------------------------------------------------------------ start
  function start() {
    var storedConversation = storeGet(KEY_CONVERSATION);
    conversationId = storedConversation && /^[A-Za-z0-9_.:\-]{1,128}$/.test(storedConversation) ? storedConversation : null;
    if (conversationId) loadHistory();
    var confirmed = {};
    for (var key in rendered) {
      if (Object.prototype.hasOwnProperty.call(rendered, key) && rendered[key].msg.client_id) {
        confirmed[rendered[key].msg.client_id] = true;
      }
    }
    var outbox = readOutbox().filter(function (item) {
      return !confirmed[item.client_id]; // already echoed (e.g. seen by another tab)
    });
    writeOutbox(outbox);
    outbox.forEach(renderPending);
    if (outbox.length) disableButtons();
    var seen = parseInt(storeGet(KEY_CURSOR) || "", 10);
    seenAtLoad = conversationId && !isNaN(seen) ? seen : null;

    var stylesheet = el("link", { rel: "stylesheet", href: HTTP_BASE + "/static/widget.css" });
    var shown = false;
    function show() {
      if (shown) return;
      shown = true;
      root.style.display = "";
      if (isOpen) scrollToBottom();
    }
    stylesheet.addEventListener("load", show);
    stylesheet.addEventListener("error", show);
    setTimeout(show, 3000);
    (document.head || document.documentElement).appendChild(stylesheet);
    document.body.appendChild(root);

    // Connect straight away only if there is a conversation to resume or something to send;
    // otherwise wait until the customer opens the panel (no empty conversations per page view).
    if (conversationId || outbox.length) ensureConnected();
    if (OPEN_BY_DEFAULT) open({ focus: false });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
