/*!
 * Nimbus agent console — plain JavaScript, no dependencies, no build step.
 *
 * Served at /console by the gateway; talks to the agent API (docs/api.md) with the agent's
 * own token, which is kept in sessionStorage for this tab only and never put in a URL. The
 * token alone says who is signed in (GET api/v1/agents/me); no agent id is ever sent.
 * The queue and the open handoff are polled every 2 s.
 *
 * Security rule for this file: text from the server or the agent is only ever put into the
 * page with textContent / createTextNode, never as HTML.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- constants
  var POLL_MS = 2000;
  var MAX_CHARS = 4000;
  var KEY_TOKEN = "nimbus-console:token";
  var REASONS = {
    customer_request: "Customer asked for a person",
    frustration: "Customer seemed frustrated",
    low_confidence: "The bot did not understand",
    diagnostics_exhausted: "Troubleshooting ran out of steps",
    form_failed: "Customer could not complete a form",
    complaint: "Customer wants to make a complaint",
    order_change: "Customer wants to change an order's items",
  };
  var STATUSES = { open: "Open", claimed: "Claimed", resolved: "Resolved" };
  var SENDERS = { customer: "Customer", bot: "Bot", agent: "Agent", system: "Notice" };
  var ERRORS = {
    unauthorized: "The agent token was not accepted. Sign in again.",
    token_revoked: "Your agent token was revoked. Ask for a new one and sign in again.",
    agent_inactive: "Your agent account is not active.",
    agent_mismatch: "The console sent another agent's id. Sign out and in again.",
    already_claimed: "Another agent has claimed this handoff.",
    already_resolved: "This handoff is already resolved.",
    not_yours: "Another agent holds this handoff.",
    not_claimed: "Claim the handoff first.",
    not_found: "This handoff no longer exists.",
    text_too_long: "The reply is too long.",
    invalid_text: "The reply is empty.",
  };
  var UNREACHABLE = "Cannot reach the gateway. Retrying…";

  var storeGet = window.NimbusAgentStore.get; // agent-store.js, shared with the other agent page
  var storeSet = window.NimbusAgentStore.set;
  var storeRemove = window.NimbusAgentStore.remove;

  // --------------------------------------------------------------------- DOM
  function $(id) {
    return document.getElementById(id);
  }

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

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function show(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  var signin = $("ac-signin");
  var signinForm = $("ac-signin-form");
  var tokenInput = $("ac-token");
  var signinButton = $("ac-signin-button");
  var signinError = $("ac-signin-error");
  var who = $("ac-who");
  var whoText = $("ac-who-text");
  var signoutButton = $("ac-signout");
  var desk = $("ac-desk");
  var queueList = $("ac-queue-list");
  var queueStatus = $("ac-queue-status");
  var detailTitle = $("ac-detail-title");
  var detailEmpty = $("ac-detail-empty");
  var detailBody = $("ac-detail-body");
  var detailState = $("ac-detail-state");
  var claimButton = $("ac-claim");
  var resolveButton = $("ac-resolve");
  var handbackButton = $("ac-handback");
  var notice = $("ac-notice");
  var errorBox = $("ac-error");
  var packetList = $("ac-packet");
  var transcript = $("ac-transcript");
  var replyForm = $("ac-reply-form");
  var replyInput = $("ac-reply");
  var sendButton = $("ac-send");

  // ------------------------------------------------------------------- state
  var token = null;
  var agentId = null; // who the token belongs to, from GET api/v1/agents/me
  var agentName = null;
  var queueTimer = null;
  var detailTimer = null;
  var queueItems = {}; // handoff id → <li>
  var selectedId = null;
  var selected = null; // the last detail answer of the selected handoff
  var packetShown = null; // JSON of the packet currently rendered
  var renderedCursors = {}; // cursor → true, for the open transcript
  var busy = false; // an action (claim, send, resolve, hand back) is in flight
  var detailSeq = 0; // detail requests sent; an older answer never overwrites a newer one
  var detailShownSeq = 0;

  // --------------------------------------------------------------------- API
  function api(method, path, body) {
    var init = {
      method: method,
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    // Paths are relative, so the console also works behind a proxy under a prefix.
    return window.fetch(path, init).then(function (resp) {
      return resp.json().then(
        function (data) {
          return { status: resp.status, data: data };
        },
        function () {
          return { status: resp.status, data: null };
        }
      );
    });
  }

  function errorText(result) {
    var error = result.data && result.data.error;
    if (error && ERRORS[error.code]) return ERRORS[error.code];
    if (error && typeof error.message === "string" && error.message) return error.message;
    return "The gateway answered with status " + result.status + ".";
  }

  // ------------------------------------------------------------- formatting
  function reasonLabel(reason) {
    return REASONS[reason] || String(reason || "Unknown reason");
  }

  function parseTime(iso) {
    if (typeof iso !== "string" || !iso) return null;
    var date = new Date(iso);
    return isNaN(date.getTime()) ? null : date;
  }

  function formatAge(iso) {
    var date = parseTime(iso);
    if (!date) return "";
    var seconds = Math.max(0, Math.floor((Date.now() - date.getTime()) / 1000));
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h";
    return Math.floor(seconds / 86400) + " d";
  }

  function formatTime(iso) {
    var date = parseTime(iso);
    if (!date) return "";
    try {
      return date.toLocaleString();
    } catch (e) {
      return date.toISOString();
    }
  }

  function holderText(handoff) {
    if (handoff.status === "claimed") {
      return handoff.agent_id === agentId ? "Claimed by you" : "Claimed by " + (handoff.agent_id || "another agent");
    }
    return STATUSES[handoff.status] || String(handoff.status);
  }

  // ------------------------------------------------------------- sign in/out
  function showSignin(message) {
    stopPolling();
    token = null;
    agentId = null;
    agentName = null;
    desk.hidden = true;
    who.hidden = true;
    signin.hidden = false;
    tokenInput.value = "";
    show(signinError, message);
    tokenInput.focus();
  }

  // A 401 or 403 while working: the token was revoked or the agent deactivated; sign in again.
  function tokenRejected(result) {
    storeRemove(KEY_TOKEN);
    selectHandoff(null);
    showSignin(result ? errorText(result) : ERRORS.unauthorized);
  }

  function isRefused(result) {
    return result.status === 401 || (result.status === 403 && result.data && result.data.error &&
      result.data.error.code === "agent_inactive");
  }

  function startDesk(me) {
    agentId = String(me.id);
    agentName = typeof me.name === "string" && me.name ? me.name : agentId;
    signin.hidden = true;
    desk.hidden = false;
    who.hidden = false;
    whoText.textContent = "Signed in as " + agentName;
    whoText.title = agentId;
    show(signinError, "");
    pollQueue();
  }

  // The token alone says who signs in: the gateway answers with the agent it belongs to.
  function signIn(candidate, fromStorage) {
    token = candidate;
    signinButton.disabled = true;
    return api("GET", "api/v1/agents/me")
      .then(
        function (result) {
          if (result.status === 200 && result.data && result.data.id) {
            storeSet(KEY_TOKEN, candidate);
            tokenInput.value = "";
            startDesk(result.data);
            return;
          }
          storeRemove(KEY_TOKEN);
          var message = result.status === 401 && !fromStorage && result.data && result.data.error &&
            result.data.error.code === "unauthorized" ? "The agent token was not accepted." : errorText(result);
          showSignin(message);
        },
        function () {
          token = null;
          show(signinError, "Cannot reach the gateway.");
        }
      )
      .then(function () {
        signinButton.disabled = false;
      });
  }

  signinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var entered = tokenInput.value.trim();
    if (!entered) {
      show(signinError, "Enter your agent token.");
      return;
    }
    signIn(entered, false);
  });

  signoutButton.addEventListener("click", function () {
    storeRemove(KEY_TOKEN);
    selectHandoff(null);
    showSignin("");
  });

  function stopPolling() {
    if (queueTimer) window.clearTimeout(queueTimer);
    if (detailTimer) window.clearTimeout(detailTimer);
    queueTimer = null;
    detailTimer = null;
  }

  // ------------------------------------------------------------------- queue
  function pollQueue() {
    if (queueTimer) window.clearTimeout(queueTimer);
    queueTimer = null;
    if (!token) return;
    Promise.all([api("GET", "api/v1/handoffs?status=open"), api("GET", "api/v1/handoffs?status=claimed")])
      .then(
        function (results) {
          if (isRefused(results[0]) || isRefused(results[1])) {
            tokenRejected(isRefused(results[0]) ? results[0] : results[1]);
            return;
          }
          if (results[0].status !== 200 || results[1].status !== 200) {
            queueStatus.textContent = "Could not load the queue: " + errorText(results[0].status !== 200 ? results[0] : results[1]);
            return;
          }
          renderQueue(results[0].data.handoffs || [], results[1].data.handoffs || []);
        },
        function () {
          queueStatus.textContent = UNREACHABLE;
        }
      )
      .then(function () {
        if (token && !queueTimer) queueTimer = window.setTimeout(pollQueue, POLL_MS);
      });
  }

  function queueItem(handoff) {
    var button = el("button", { type: "button", className: "ac-item" }, [
      el("span", { className: "ac-item-top" }, [
        el("span", { className: "ac-badge" }),
        el("span", { className: "ac-reason" }),
        el("span", { className: "ac-age" }),
      ]),
      el("span", { className: "ac-summary" }),
      el("span", { className: "ac-holder" }),
    ]);
    button.addEventListener("click", function () {
      selectHandoff(handoff.id);
    });
    return el("li", { "data-handoff": handoff.id }, [button]);
  }

  function fillQueueItem(li, handoff) {
    var button = li.firstChild;
    var badge = button.querySelector(".ac-badge");
    badge.textContent = STATUSES[handoff.status] || String(handoff.status);
    badge.className = "ac-badge ac-badge-" + (handoff.status === "open" ? "open" : "claimed");
    button.querySelector(".ac-reason").textContent = reasonLabel(handoff.reason);
    var age = button.querySelector(".ac-age");
    age.textContent = formatAge(handoff.created_at);
    age.title = formatTime(handoff.created_at);
    button.querySelector(".ac-summary").textContent = handoff.summary || "No summary.";
    button.querySelector(".ac-holder").textContent = "#" + handoff.id + " · " + holderText(handoff);
    if (handoff.id === selectedId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }

  function renderQueue(open, claimed) {
    var ordered = open.concat(claimed); // open first, then claimed; each oldest first
    var keep = {};
    for (var i = 0; i < ordered.length; i++) {
      var handoff = ordered[i];
      keep[handoff.id] = true;
      var li = queueItems[handoff.id];
      if (!li) {
        li = queueItem(handoff);
        queueItems[handoff.id] = li;
      }
      fillQueueItem(li, handoff);
      // Move a node only when it is out of place: moving a focused button would blur it.
      if (queueList.children[i] !== li) queueList.insertBefore(li, queueList.children[i] || null);
    }
    for (var id in queueItems) {
      if (Object.prototype.hasOwnProperty.call(queueItems, id) && !keep[id]) {
        queueList.removeChild(queueItems[id]);
        delete queueItems[id];
      }
    }
    queueStatus.textContent = ordered.length
      ? open.length + " open, " + claimed.length + " claimed"
      : "No handoffs waiting.";
    document.title = (open.length ? "(" + open.length + ") " : "") + "Agent console — Nimbus Support";
  }

  // ------------------------------------------------------------------ detail
  function selectHandoff(id) {
    if (detailTimer) window.clearTimeout(detailTimer);
    detailTimer = null;
    selectedId = id;
    selected = null;
    packetShown = null;
    renderedCursors = {};
    clear(transcript);
    clear(packetList);
    show(errorBox, "");
    notice.textContent = "";
    replyInput.value = "";
    for (var key in queueItems) {
      if (!Object.prototype.hasOwnProperty.call(queueItems, key)) continue;
      var button = queueItems[key].firstChild;
      if (String(id) === key) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    detailBody.hidden = id === null;
    detailEmpty.hidden = id !== null;
    detailTitle.textContent = id === null ? "Handoff" : "Handoff #" + id;
    detailState.textContent = id === null ? "" : "Loading…";
    updateActions();
    if (id !== null) pollDetail();
  }

  function pollDetail() {
    if (detailTimer) window.clearTimeout(detailTimer);
    detailTimer = null;
    var id = selectedId;
    if (!token || id === null) return Promise.resolve();
    var seq = ++detailSeq;
    return api("GET", "api/v1/handoffs/" + encodeURIComponent(id))
      .then(
        function (result) {
          if (id !== selectedId || seq < detailShownSeq) return;
          detailShownSeq = seq;
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          if (result.status !== 200) {
            show(errorBox, errorText(result));
            return;
          }
          renderDetail(result.data);
        },
        function () {
          if (id === selectedId) notice.textContent = UNREACHABLE;
        }
      )
      .then(function () {
        if (token && id === selectedId && !detailTimer) detailTimer = window.setTimeout(pollDetail, POLL_MS);
      });
  }

  function isMine(handoff) {
    return !!handoff && handoff.status === "claimed" && handoff.agent_id === agentId;
  }

  function updateActions() {
    var mine = isMine(selected);
    claimButton.disabled = busy || !selected || selected.status !== "open";
    resolveButton.disabled = busy || !mine;
    handbackButton.disabled = busy || !mine;
    replyInput.disabled = !mine;
    sendButton.disabled = busy || !mine;
  }

  function renderDetail(handoff) {
    selected = handoff;
    var state = holderText(handoff);
    if (handoff.status === "open") state += " · waiting " + formatAge(handoff.created_at);
    detailState.textContent = state;
    detailState.className = "ac-state ac-state-" + (isMine(handoff) ? "mine" : String(handoff.status));
    var packet = handoff.packet && typeof handoff.packet === "object" ? handoff.packet : {};
    var packetJson = JSON.stringify(packet) + "|" + handoff.reason;
    if (packetJson !== packetShown) {
      packetShown = packetJson;
      renderPacket(handoff, packet);
    }
    renderMessages(Array.isArray(handoff.messages) ? handoff.messages : []);
    updateActions();
  }

  function field(term, value) {
    packetList.appendChild(el("dt", { text: term }));
    var dd = el("dd");
    if (typeof value === "string") dd.textContent = value;
    else dd.appendChild(value);
    packetList.appendChild(dd);
  }

  function describeCustomer(customer) {
    if (!customer || typeof customer !== "object") return "Not verified";
    var parts = [customer.id ? "Customer " + customer.id : "Verified customer"];
    var summary = customer.summary && typeof customer.summary === "object" ? customer.summary : null;
    if (summary) {
      if (typeof summary.orders === "number") parts.push(summary.orders + " order" + (summary.orders === 1 ? "" : "s"));
      if (summary.latest_order && summary.latest_order.number) {
        parts.push("latest " + summary.latest_order.number + " (" + (summary.latest_order.status || "unknown") + ")");
      }
      if (typeof summary.devices === "number") parts.push(summary.devices + " device" + (summary.devices === 1 ? "" : "s"));
      if (summary.plan) parts.push("plan " + summary.plan);
    }
    return parts.join(" · ");
  }

  function troubleshootingNode(troubleshooting) {
    if (!troubleshooting || typeof troubleshooting !== "object") return el("span", { text: "None" });
    var title = troubleshooting.guide_title || troubleshooting.guide || "Guide";
    var path = Array.isArray(troubleshooting.path) ? troubleshooting.path : [];
    var steps = el("ol", { className: "ac-path", "aria-label": "Steps taken" });
    path.forEach(function (hop) {
      if (!hop || typeof hop !== "object") return;
      steps.appendChild(
        el("li", null, [
          el("span", { className: "ac-step", text: String(hop.step) }),
          document.createTextNode(": "),
          el("span", { className: "ac-answer", text: String(hop.answer) }),
        ])
      );
    });
    var box = el("div", null, [el("div", { className: "ac-guide", text: String(title) })]);
    if (path.length) box.appendChild(steps);
    else box.appendChild(el("div", { className: "ac-muted", text: "No steps taken." }));
    return box;
  }

  function intentsNode(intents) {
    if (!Array.isArray(intents) || !intents.length) return el("span", { text: "None recorded" });
    var list = el("ol", { className: "ac-intents" });
    intents.forEach(function (item) {
      if (!item || typeof item !== "object") return;
      var ranking = Array.isArray(item.ranking) ? item.ranking : [];
      var ranked = ranking
        .map(function (r) {
          var confidence = typeof r.confidence === "number" ? " " + Math.round(r.confidence * 100) + "%" : "";
          return String(r.intent) + confidence;
        })
        .join(", ");
      list.appendChild(
        el("li", null, [
          el("q", { text: String(item.text || "") }),
          el("span", { className: "ac-ranking", text: ranked ? " → " + ranked : "" }),
        ])
      );
    });
    return list;
  }

  function slotsNode(slots) {
    var list = el("ul", { className: "ac-slots" });
    for (var name in slots) {
      if (!Object.prototype.hasOwnProperty.call(slots, name)) continue;
      var value = slots[name];
      list.appendChild(el("li", { text: name + ": " + (typeof value === "string" ? value : JSON.stringify(value)) }));
    }
    return list;
  }

  function renderPacket(handoff, packet) {
    clear(packetList);
    var reason = packet.reason || handoff.reason;
    field("Reason", reasonLabel(reason));
    field("Summary", String(packet.summary || handoff.summary || "No summary."));
    field("Customer", describeCustomer(packet.customer));
    field("Channel", String(packet.channel || "Not recorded"));
    field("Troubleshooting path", troubleshootingNode(packet.troubleshooting));
    field("Recent intents", intentsNode(packet.intents));
    if (packet.slots && typeof packet.slots === "object" && Object.keys(packet.slots).length) {
      field("Known details", slotsNode(packet.slots));
    }
    field("Opened", formatTime(handoff.created_at) || "Unknown");
  }

  function renderMessages(messages) {
    var stick = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 60;
    var added = false;
    messages.forEach(function (message) {
      if (!message || typeof message.cursor !== "number" || renderedCursors[message.cursor]) return;
      renderedCursors[message.cursor] = true;
      var sender = SENDERS[message.sender] ? message.sender : "bot";
      var text = el("p", { className: "ac-text" });
      text.textContent = typeof message.text === "string" ? message.text : ""; // never innerHTML
      var time = el("time", { className: "ac-time", datetime: message.created_at || null });
      time.textContent = formatTime(message.created_at);
      transcript.appendChild(
        el("li", { className: "ac-msg ac-" + sender, "data-sender": sender, "data-cursor": message.cursor }, [
          el("div", { className: "ac-msg-meta" }, [el("span", { className: "ac-sender", text: SENDERS[sender] }), time]),
          text,
        ])
      );
      added = true;
    });
    if (added && stick) transcript.scrollTop = transcript.scrollHeight;
    if (!transcript.firstChild) {
      transcript.appendChild(el("li", { className: "ac-muted ac-empty", text: "No messages yet." }));
    } else if (added) {
      var empty = transcript.querySelector(".ac-empty");
      if (empty) transcript.removeChild(empty);
    }
  }

  // ----------------------------------------------------------------- actions
  function act(verb, body, onSuccess) {
    var id = selectedId;
    if (id === null || busy) return;
    busy = true;
    updateActions();
    show(errorBox, "");
    var payload = {}; // the token says who acts: no agent id is sent
    for (var key in body) {
      if (Object.prototype.hasOwnProperty.call(body, key)) payload[key] = body[key];
    }
    api("POST", "api/v1/handoffs/" + encodeURIComponent(id) + "/" + verb, payload)
      .then(
        function (result) {
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          if (id !== selectedId) return;
          if (result.status >= 200 && result.status < 300) onSuccess(result.data);
          else show(errorBox, errorText(result));
        },
        function () {
          if (id === selectedId) show(errorBox, "Cannot reach the gateway. Nothing was changed; try again.");
        }
      )
      .then(function () {
        busy = false;
        updateActions();
        if (token) {
          pollQueue();
          return pollDetail();
        }
      });
  }

  claimButton.addEventListener("click", function () {
    act("claim", {}, function () {
      notice.textContent = "You claimed this handoff. Your replies reach the customer on their channel.";
      replyInput.disabled = false;
      replyInput.focus();
    });
  });

  resolveButton.addEventListener("click", function () {
    act("resolve", {}, function () {
      notice.textContent = "Resolved. The bot has the conversation back and asks the customer for a rating.";
    });
  });

  handbackButton.addEventListener("click", function () {
    act("hand-back", {}, function () {
      notice.textContent = "Handed back. The bot resumes where the conversation stopped.";
    });
  });

  function sendReply() {
    var text = replyInput.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      show(errorBox, ERRORS.text_too_long);
      return;
    }
    act("messages", { text: text }, function (message) {
      replyInput.value = "";
      notice.textContent = "";
      renderMessages([message]);
      transcript.scrollTop = transcript.scrollHeight;
    });
  }

  replyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    sendReply();
  });

  replyInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      event.preventDefault();
      sendReply();
    }
  });

  // ------------------------------------------------------------------- start
  storeRemove("nimbus-console:agent"); // written by older versions, which took the agent id from a field
  var stored = storeGet(KEY_TOKEN);
  if (stored) signIn(stored, true);
  else showSignin("");
})();
