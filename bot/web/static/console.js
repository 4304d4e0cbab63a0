/*!
 * Nimbus agent console — plain JavaScript, no dependencies, no build step.
 *
 * Served at /console by the gateway; talks to the agent API (docs/api.md) with the agent's
 * own token, which is kept in sessionStorage for this tab only and never put in a URL. The
 * token alone says who is signed in (GET api/v1/agents/me); no agent id is ever sent as the
 * acting agent (a transfer names the agent it goes to, never the sender).
 * The queue, the offers made to this agent, the escalations and the open handoff are polled
 * every 2 s. While the agent is online or away, a heartbeat goes out every 20 s (the gateway
 * takes a console agent offline after 90 s without one and re-routes what was offered).
 *
 * Internal notes are for agents only: they are rendered in their own panel, never in the
 * customer's transcript.
 *
 * Security rule for this file: text from the server or the agent is only ever put into the
 * page with textContent / createTextNode, never as HTML.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- constants
  var POLL_MS = 2000;
  var HEARTBEAT_MS = 20000;
  var REFRESH_EVERY_POLLS = 5; // the header's load and the transfer picker's agents: every 10 s
  var MAX_CHARS = 4000;
  var MAX_TAGS = 10;
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
  var QUEUES = ["orders", "returns", "billing", "hardware", "setup", "subscriptions", "general"];
  var QUEUE_LABELS = {
    orders: "Orders",
    returns: "Returns",
    billing: "Billing",
    hardware: "Hardware",
    setup: "Setup",
    subscriptions: "Subscriptions",
    general: "General",
  };
  var CHANNELS = { web: "Web chat", telegram: "Telegram", slack: "Slack", api: "API", direct: "API" };
  var STAGES = { "new": "New", agent: "Offered to an agent", team: "Offered to the team", escalated: "Escalated" };
  var PRESENCE = { online: "Online", away: "Away", offline: "Offline" };
  var NOTE_KINDS = { note: "Internal note", transfer: "Transfer", offer: "Offer" };
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
    not_offered: "This handoff is no longer offered to you.",
    offered_to_another: "This handoff is offered to another agent right now.",
    agent_unavailable: "That agent is offline or cannot take more handoffs right now.",
    unknown_agent: "No such agent.",
    unknown_queue: "No such queue.",
    unfilled_placeholders: "This canned reply needs details the handoff does not have.",
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

  function has(object, key) {
    return Object.prototype.hasOwnProperty.call(object, key);
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
  var presenceSelect = $("ac-presence");
  var loadText = $("ac-load");
  var statusError = $("ac-status-error");
  var offersBox = $("ac-offers");
  var offersList = $("ac-offers-list");
  var offersError = $("ac-offers-error");
  var queueFilter = $("ac-queue-filter");
  var escalationsList = $("ac-escalations-list");
  var escalationsStatus = $("ac-escalations-status");
  var escalationsCount = $("ac-escalations-count");
  var deadInbox = $("ac-dead-inbox");
  var deadOutbox = $("ac-dead-outbox");
  var deadStatus = $("ac-dead-status");
  var searchForm = $("ac-search-form");
  var searchSubmit = $("ac-search-submit");
  var searchStatus = $("ac-search-status");
  var searchError = $("ac-search-error");
  var searchResults = $("ac-search-results");
  var detailFlags = $("ac-detail-flags");
  var cannedSelect = $("ac-canned-select");
  var cannedSend = $("ac-canned-send");
  var cannedInsert = $("ac-canned-insert");
  var cannedPreview = $("ac-canned-preview");
  var transferForm = $("ac-transfer-form");
  var transferTo = $("ac-transfer-to");
  var transferAgents = $("ac-transfer-agents");
  var transferQueues = $("ac-transfer-queues");
  var transferNote = $("ac-transfer-note");
  var transferSubmit = $("ac-transfer-submit");
  var tagsList = $("ac-tags");
  var tagsForm = $("ac-tags-form");
  var tagsInput = $("ac-tags-input");
  var tagsSave = $("ac-tags-save");
  var notesList = $("ac-notes");
  var noteForm = $("ac-note-form");
  var noteInput = $("ac-note-input");
  var noteAdd = $("ac-note-add");
  var customerView = $("ac-customer-view");
  var TABS = {
    queue: { tab: $("ac-tab-queue"), panel: $("ac-panel-queue") },
    escalations: { tab: $("ac-tab-escalations"), panel: $("ac-panel-escalations") },
    "dead-letters": { tab: $("ac-tab-dead-letters"), panel: $("ac-panel-dead-letters") },
    search: { tab: $("ac-tab-search"), panel: $("ac-panel-search") },
  };
  var TAB_ORDER = ["queue", "escalations", "dead-letters", "search"];

  // ------------------------------------------------------------------- state
  var token = null;
  var agentId = null; // who the token belongs to, from GET api/v1/agents/me
  var agentName = null;
  var queueTimer = null;
  var detailTimer = null;
  var heartbeatTimer = null;
  var queueItems = {}; // handoff id → <li>
  var escalationItems = {}; // handoff id → <li> of the escalations list
  var offerItems = {}; // handoff id → <li> of the offers banner
  var selectedId = null;
  var selected = null; // the last detail answer of the selected handoff
  var packetShown = null; // JSON of the packet currently rendered
  var renderedCursors = {}; // cursor → true, for the open transcript
  var busy = false; // an action (claim, send, resolve, hand back, transfer, tags, note) is in flight
  var detailSeq = 0; // detail requests sent; an older answer never overwrites a newer one
  var detailShownSeq = 0;
  var queueSeq = 0; // queue polls sent; a change of filter makes an older answer stale
  var pollCount = 0;
  var presenceBusy = false;
  var offerBusy = false;
  var activeTab = "queue";
  var agentsById = {}; // GET api/v1/agents: id → agent, for the transfer picker and names
  var transferShown = null; // the picker's options as a string: rebuilt only when they change
  var canned = []; // GET api/v1/canned-replies?handoff_id= of the selected handoff
  var cannedKey = null; // "<id>|<holder>" the canned replies were loaded for
  var notesShown = null; // JSON of the notes currently rendered
  var tagsShown = null; // JSON of the tags currently rendered
  var tagsDirty = false; // the agent is editing the tags: polls leave the field alone
  var customerShown = null; // JSON of the customer view currently rendered

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

  function errorCode(result) {
    var error = result && result.data && result.data.error;
    return error && typeof error.code === "string" ? error.code : null;
  }

  function errorText(result) {
    var error = result.data && result.data.error;
    if (error && ERRORS[error.code]) return ERRORS[error.code];
    if (error && typeof error.message === "string" && error.message) return error.message;
    return "The gateway answered with status " + result.status + ".";
  }

  function ok(result) {
    return result.status >= 200 && result.status < 300 && result.data && typeof result.data === "object";
  }

  // ------------------------------------------------------------- formatting
  function reasonLabel(reason) {
    return REASONS[reason] || String(reason || "Unknown reason");
  }

  function queueLabel(queue) {
    return QUEUE_LABELS[queue] || String(queue || "No queue");
  }

  function channelLabel(channel) {
    return CHANNELS[channel] || String(channel || "Unknown channel");
  }

  function agentLabel(id) {
    if (!id) return "";
    var agent = agentsById[id];
    return agent && agent.name ? agent.name + " (" + id + ")" : String(id);
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

  function formatDate(iso) {
    var date = parseTime(iso);
    if (!date) return typeof iso === "string" ? iso : "";
    try {
      return date.toLocaleDateString();
    } catch (e) {
      return date.toISOString().slice(0, 10);
    }
  }

  function formatWait(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds) || seconds < 0) return "";
    if (seconds < 60) return "under a minute";
    if (seconds < 3600) return "about " + Math.round(seconds / 60) + " min";
    return "about " + Math.round(seconds / 360) / 10 + " h";
  }

  function holderText(handoff) {
    if (handoff.status === "claimed") {
      return handoff.agent_id === agentId ? "Claimed by you" : "Claimed by " + (handoff.agent_id || "another agent");
    }
    return STATUSES[handoff.status] || String(handoff.status);
  }

  function tagsOf(handoff) {
    if (!handoff || !Array.isArray(handoff.tags)) return [];
    return handoff.tags.filter(function (tag) {
      return typeof tag === "string" && tag;
    });
  }

  // Queue, language, channel and tags of a handoff, as one muted line.
  function metaText(handoff) {
    var parts = [];
    if (handoff.queue) parts.push(queueLabel(handoff.queue));
    if (handoff.language) parts.push(String(handoff.language).toUpperCase());
    if (handoff.channel) parts.push(channelLabel(handoff.channel));
    return parts.join(" · ");
  }

  function placeText(handoff) {
    if (handoff.status !== "open") return "";
    var parts = [];
    if (typeof handoff.position === "number") parts.push("Position " + handoff.position + " in " + queueLabel(handoff.queue));
    var wait = formatWait(handoff.wait_estimate_s);
    if (wait) parts.push("wait " + wait);
    return parts.join(" · ");
  }

  // ------------------------------------------------------------- sign in/out
  function showSignin(message) {
    stopPolling();
    token = null;
    agentId = null;
    agentName = null;
    me = null;
    agentsById = {};
    transferShown = null;
    desk.hidden = true;
    who.hidden = true;
    offersBox.hidden = true;
    show(statusError, "");
    renderOffers([]);
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

  function startDesk(answer) {
    agentId = String(answer.id);
    agentName = typeof answer.name === "string" && answer.name ? answer.name : agentId;
    signin.hidden = true;
    desk.hidden = false;
    who.hidden = false;
    whoText.textContent = "Signed in as " + agentName;
    whoText.title = agentId;
    show(signinError, "");
    pollCount = 0;
    renderMe(answer);
    if (isPresent()) heartbeat(); // this tab is alive from now on
    loadAgents();
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
    // Signing out takes the agent offline (best effort): nobody is offered handoffs in a closed console.
    if (token && isPresent()) api("PUT", "api/v1/agents/me/presence", { status: "offline" }).catch(function () {});
    storeRemove(KEY_TOKEN);
    selectHandoff(null);
    showSignin("");
  });

  function stopPolling() {
    if (queueTimer) window.clearTimeout(queueTimer);
    if (detailTimer) window.clearTimeout(detailTimer);
    if (heartbeatTimer) window.clearInterval(heartbeatTimer);
    queueTimer = null;
    detailTimer = null;
    heartbeatTimer = null;
  }

  // ------------------------------------------------------- presence and load
  var me = null; // the last answer of agents/me, the presence change or the heartbeat

  function isPresent() {
    return !!me && (me.presence === "online" || me.presence === "away");
  }

  // ``answer``: agents/me's shape. The gateway takes a silent console offline (and Slack may change
  // the presence too): when that happens without the agent choosing it here, say so.
  function renderMe(answer, chosen) {
    if (!answer || typeof answer !== "object") return;
    var wasPresent = isPresent();
    me = answer;
    if (wasPresent && answer.presence === "offline" && !chosen) {
      show(statusError, "You are offline now, so no handoffs are offered to you. Choose Online to receive them again.");
    } else if (answer.presence !== "offline" && statusError.textContent.indexOf("You are offline") === 0) {
      show(statusError, "");
    }
    var presence = PRESENCE[answer.presence] ? answer.presence : "offline";
    if (!presenceBusy) presenceSelect.value = presence;
    presenceSelect.setAttribute("data-presence", presence);
    var capacity = typeof answer.capacity === "number" ? answer.capacity : null;
    var load = typeof answer.load === "number" ? answer.load : null;
    if (load !== null && capacity !== null) {
      loadText.textContent = load + " of " + capacity;
      loadText.title = "You hold " + load + " of at most " + capacity + " handoffs";
      loadText.setAttribute("data-full", load >= capacity ? "true" : "false");
    } else {
      loadText.textContent = "";
    }
    // Heartbeats while online or away; none while offline.
    if (isPresent() && !heartbeatTimer && token) {
      heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
    } else if (!isPresent() && heartbeatTimer) {
      window.clearInterval(heartbeatTimer);
      heartbeatTimer = null;
    }
  }

  function heartbeat() {
    if (!token || !isPresent()) return;
    api("POST", "api/v1/agents/me/heartbeat").then(
      function (result) {
        if (!token) return;
        if (isRefused(result)) tokenRejected(result);
        else if (result.status === 200) renderMe(result.data);
      },
      function () {
        /* the next heartbeat tries again */
      }
    );
  }

  function refreshMe() {
    if (!token) return;
    api("GET", "api/v1/agents/me").then(
      function (result) {
        if (!token) return;
        if (isRefused(result)) tokenRejected(result);
        else if (result.status === 200) renderMe(result.data);
      },
      function () {}
    );
  }

  // A background tab's timers are slowed down: beat at once when the agent comes back to it.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && isPresent()) heartbeat();
  });

  presenceSelect.addEventListener("change", function () {
    if (!token) return;
    var wanted = presenceSelect.value;
    presenceBusy = true;
    presenceSelect.disabled = true;
    show(statusError, "");
    api("PUT", "api/v1/agents/me/presence", { status: wanted })
      .then(
        function (result) {
          if (!token) return;
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          presenceBusy = false;
          if (result.status === 200) {
            renderMe(result.data, true);
            if (isPresent()) heartbeat();
          } else {
            show(statusError, "Could not change your presence: " + errorText(result));
            renderMe(me, true);
          }
        },
        function () {
          presenceBusy = false;
          show(statusError, "Cannot reach the gateway; your presence is unchanged.");
          renderMe(me, true);
        }
      )
      .then(function () {
        presenceBusy = false;
        presenceSelect.disabled = false;
      });
  });

  // -------------------------------------------------------------------- tabs
  function selectTab(name) {
    if (!TABS[name]) return;
    activeTab = name;
    TAB_ORDER.forEach(function (key) {
      var on = key === name;
      TABS[key].tab.setAttribute("aria-selected", on ? "true" : "false");
      TABS[key].tab.tabIndex = on ? 0 : -1;
      TABS[key].panel.hidden = !on;
    });
    if (name === "dead-letters") loadDeadLetters();
    if (name === "escalations") pollEscalations();
  }

  TAB_ORDER.forEach(function (name, index) {
    var tab = TABS[name].tab;
    tab.addEventListener("click", function () {
      selectTab(name);
    });
    tab.addEventListener("keydown", function (event) {
      var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      event.preventDefault();
      var next = TAB_ORDER[(index + step + TAB_ORDER.length) % TAB_ORDER.length];
      selectTab(next);
      TABS[next].tab.focus();
    });
  });

  // ------------------------------------------------------------------- queue
  QUEUES.forEach(function (queue) {
    queueFilter.appendChild(el("option", { value: queue, text: queueLabel(queue) }));
  });

  queueFilter.addEventListener("change", function () {
    queueStatus.textContent = "Loading…";
    pollQueue();
  });

  function pollQueue() {
    if (queueTimer) window.clearTimeout(queueTimer);
    queueTimer = null;
    if (!token) return;
    pollCount += 1;
    if (pollCount % REFRESH_EVERY_POLLS === 0) {
      refreshMe();
      loadAgents();
    }
    pollOffers();
    pollEscalations();
    if (activeTab === "dead-letters" && pollCount % REFRESH_EVERY_POLLS === 0) loadDeadLetters();
    var seq = ++queueSeq;
    var filter = queueFilter.value ? "&queue=" + encodeURIComponent(queueFilter.value) : "";
    Promise.all([api("GET", "api/v1/handoffs?status=open" + filter), api("GET", "api/v1/handoffs?status=claimed" + filter)])
      .then(
        function (results) {
          if (seq !== queueSeq || !token) return;
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
          if (seq === queueSeq) queueStatus.textContent = UNREACHABLE;
        }
      )
      .then(function () {
        if (token && !queueTimer && seq === queueSeq) queueTimer = window.setTimeout(pollQueue, POLL_MS);
      });
  }

  function queueItem(handoff) {
    var button = el("button", { type: "button", className: "ac-item" }, [
      el("span", { className: "ac-item-top" }, [
        el("span", { className: "ac-badge" }),
        el("span", { className: "ac-badge ac-badge-escalated", text: "Escalated", hidden: true }),
        el("span", { className: "ac-reason" }),
        el("span", { className: "ac-age" }),
      ]),
      el("span", { className: "ac-summary" }),
      el("span", { className: "ac-meta" }),
      el("span", { className: "ac-place" }),
      el("span", { className: "ac-item-tags" }),
      el("span", { className: "ac-holder" }),
    ]);
    button.addEventListener("click", function () {
      selectHandoff(handoff.id);
    });
    return el("li", { "data-handoff": handoff.id }, [button]);
  }

  function setLine(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  function fillQueueItem(li, handoff) {
    var button = li.firstChild;
    var badge = button.querySelector(".ac-badge");
    badge.textContent = STATUSES[handoff.status] || String(handoff.status);
    badge.className = "ac-badge ac-badge-" + (handoff.status === "open" ? "open" : "claimed");
    button.querySelector(".ac-badge-escalated").hidden = !handoff.escalated;
    button.querySelector(".ac-reason").textContent = reasonLabel(handoff.reason);
    var age = button.querySelector(".ac-age");
    age.textContent = formatAge(handoff.created_at);
    age.title = formatTime(handoff.created_at);
    button.querySelector(".ac-summary").textContent = handoff.summary || "No summary.";
    setLine(button.querySelector(".ac-meta"), metaText(handoff));
    setLine(button.querySelector(".ac-place"), placeText(handoff));
    var tags = tagsOf(handoff);
    setLine(button.querySelector(".ac-item-tags"), tags.length ? "Tags: " + tags.join(", ") : "");
    var holder = "#" + handoff.id + " · " + holderText(handoff);
    if (handoff.stage === "agent" && handoff.offered_to && handoff.status === "open") {
      holder += handoff.offered_to === agentId ? " · offered to you" : " · offered to " + agentLabel(handoff.offered_to);
    }
    button.querySelector(".ac-holder").textContent = holder;
    if (handoff.id === selectedId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }

  // Renders handoffs into a list, reusing each handoff's <li> (a focused button keeps its focus).
  function renderList(list, items, handoffs) {
    var keep = {};
    for (var i = 0; i < handoffs.length; i++) {
      var handoff = handoffs[i];
      if (!handoff || handoff.id === undefined) continue;
      keep[handoff.id] = true;
      var li = items[handoff.id];
      if (!li) {
        li = queueItem(handoff);
        items[handoff.id] = li;
      }
      fillQueueItem(li, handoff);
      // Move a node only when it is out of place: moving a focused button would blur it.
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    }
    for (var id in items) {
      if (has(items, id) && !keep[id]) {
        list.removeChild(items[id]);
        delete items[id];
      }
    }
  }

  function renderQueue(open, claimed) {
    var ordered = open.concat(claimed); // open first, then claimed; each oldest first
    renderList(queueList, queueItems, ordered);
    var where = queueFilter.value ? " in " + queueLabel(queueFilter.value) : "";
    queueStatus.textContent = ordered.length
      ? open.length + " open, " + claimed.length + " claimed" + where
      : "No handoffs waiting" + where + ".";
    updateTitle(open.length);
  }

  var openCount = 0;
  function updateTitle(open) {
    if (typeof open === "number") openCount = open;
    var offers = Object.keys(offerItems).length;
    var prefix = offers ? "(" + offers + " offered) " : openCount ? "(" + openCount + ") " : "";
    document.title = prefix + "Agent console — Nimbus Support";
  }

  // ------------------------------------------------------------------ offers
  function pollOffers() {
    api("GET", "api/v1/offers").then(
      function (result) {
        if (!token) return;
        if (isRefused(result)) {
          tokenRejected(result);
          return;
        }
        if (result.status === 200 && result.data && Array.isArray(result.data.offers)) renderOffers(result.data.offers);
      },
      function () {}
    );
  }

  function offerItem(handoff) {
    var id = handoff.id;
    var accept = el("button", { type: "button", className: "ac-primary", id: "ac-offer-accept-" + id, text: "Accept" });
    var decline = el("button", { type: "button", id: "ac-offer-decline-" + id, text: "Decline" });
    accept.addEventListener("click", function () {
      respondToOffer(id, "claim");
    });
    decline.addEventListener("click", function () {
      respondToOffer(id, "decline");
    });
    return el("li", { className: "ac-offer", "data-offer": id }, [
      el("div", { className: "ac-offer-text" }, [
        el("strong", { className: "ac-offer-title" }),
        el("span", { className: "ac-offer-summary" }),
        el("span", { className: "ac-offer-meta" }),
      ]),
      el("div", { className: "ac-offer-actions" }, [accept, decline]),
    ]);
  }

  function renderOffers(offers) {
    var keep = {};
    offers.forEach(function (handoff, index) {
      if (!handoff || handoff.id === undefined) return;
      keep[handoff.id] = true;
      var li = offerItems[handoff.id];
      if (!li) {
        li = offerItem(handoff);
        offerItems[handoff.id] = li;
      }
      li.querySelector(".ac-offer-title").textContent = "#" + handoff.id + " · " + reasonLabel(handoff.reason);
      li.querySelector(".ac-offer-summary").textContent = handoff.summary || "No summary.";
      var meta = metaText(handoff);
      var age = formatAge(handoff.created_at);
      li.querySelector(".ac-offer-meta").textContent = meta + (age ? (meta ? " · " : "") + "waiting " + age : "");
      if (offersList.children[index] !== li) offersList.insertBefore(li, offersList.children[index] || null);
    });
    for (var id in offerItems) {
      if (has(offerItems, id) && !keep[id]) {
        offersList.removeChild(offerItems[id]);
        delete offerItems[id];
      }
    }
    offersBox.hidden = !token || !offersList.children.length;
    if (offersBox.hidden) show(offersError, "");
    updateTitle();
  }

  function respondToOffer(id, verb) {
    if (offerBusy || !token) return;
    offerBusy = true;
    show(offersError, "");
    var li = offerItems[id];
    var buttons = li ? li.querySelectorAll("button") : [];
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    api("POST", "api/v1/handoffs/" + encodeURIComponent(id) + "/" + verb, {})
      .then(
        function (result) {
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          if (ok(result)) {
            if (offerItems[id]) {
              offersList.removeChild(offerItems[id]);
              delete offerItems[id];
            }
            if (verb === "claim") {
              selectHandoff(id);
              notice.textContent = "You accepted this handoff. Your replies reach the customer on their channel.";
              replyInput.disabled = false;
              replyInput.focus();
            }
            refreshMe();
          } else {
            show(offersError, "#" + id + ": " + errorText(result));
          }
        },
        function () {
          show(offersError, "Cannot reach the gateway. Nothing was changed; try again.");
        }
      )
      .then(function () {
        offerBusy = false;
        var still = offerItems[id];
        var again = still ? still.querySelectorAll("button") : [];
        for (var j = 0; j < again.length; j++) again[j].disabled = false;
        offersBox.hidden = !token || !offersList.children.length;
        updateTitle();
        if (token) {
          pollOffers();
          pollQueue();
        }
      });
  }

  // ------------------------------------------------------------- escalations
  function pollEscalations() {
    api("GET", "api/v1/escalations").then(
      function (result) {
        if (!token) return;
        if (isRefused(result)) {
          tokenRejected(result);
          return;
        }
        if (result.status !== 200 || !result.data || !Array.isArray(result.data.handoffs)) {
          escalationsStatus.textContent = "Could not load the escalations: " + errorText(result);
          return;
        }
        var handoffs = result.data.handoffs;
        renderList(escalationsList, escalationItems, handoffs);
        escalationsStatus.textContent = handoffs.length
          ? handoffs.length + " escalated handoff" + (handoffs.length === 1 ? "" : "s") + " waiting"
          : "No escalated handoffs waiting.";
        escalationsCount.textContent = String(handoffs.length);
        escalationsCount.hidden = !handoffs.length;
      },
      function () {
        escalationsStatus.textContent = UNREACHABLE;
      }
    );
  }

  // ------------------------------------------------------------ dead letters
  function deadCard(kind, item) {
    var retry = el("button", { type: "button", id: "ac-dead-retry-" + kind + "-" + item.id, text: "Retry" });
    retry.addEventListener("click", function () {
      retryDeadLetter(kind, item.id, retry);
    });
    var what = kind === "inbox" ? "Message" : "Reply";
    var attempts = typeof item.attempts === "number" ? item.attempts + " attempt" + (item.attempts === 1 ? "" : "s") : "";
    var meta = [channelLabel(item.platform), "conversation " + String(item.conversation_id || "unknown"), attempts]
      .filter(Boolean)
      .join(" · ");
    return el("li", { className: "ac-card ac-dead", "data-dead": kind + "-" + item.id }, [
      el("div", { className: "ac-card-top" }, [el("strong", { text: what + " " + item.id }), retry]),
      el("div", { className: "ac-muted ac-small", text: meta }),
      el("div", { className: "ac-dead-error", text: item.error ? String(item.error) : "No error recorded." }),
    ]);
  }

  function renderDeadList(list, kind, items) {
    clear(list);
    if (!items.length) {
      list.appendChild(el("li", { className: "ac-muted ac-empty", text: "None." }));
      return;
    }
    items.forEach(function (item) {
      if (item && item.id !== undefined) list.appendChild(deadCard(kind, item));
    });
  }

  function loadDeadLetters() {
    if (!token) return;
    api("GET", "api/v1/dead-letters").then(
      function (result) {
        if (!token) return;
        if (isRefused(result)) {
          tokenRejected(result);
          return;
        }
        if (result.status !== 200 || !result.data) {
          deadStatus.textContent = "Could not load the dead letters: " + errorText(result);
          return;
        }
        var inbox = Array.isArray(result.data.inbox) ? result.data.inbox : [];
        var outbox = Array.isArray(result.data.outbox) ? result.data.outbox : [];
        // Rebuild only when something changed, so that a Retry button keeps its focus.
        var shown = JSON.stringify([inbox, outbox]);
        if (shown !== deadStatus.getAttribute("data-shown")) {
          deadStatus.setAttribute("data-shown", shown);
          renderDeadList(deadInbox, "inbox", inbox);
          renderDeadList(deadOutbox, "outbox", outbox);
        }
        if (!deadStatus.getAttribute("data-retried")) {
          deadStatus.textContent = inbox.length + outbox.length
            ? inbox.length + " message" + (inbox.length === 1 ? "" : "s") + " and " + outbox.length + " repl" +
              (outbox.length === 1 ? "y" : "ies") + " given up"
            : "No dead letters.";
        }
      },
      function () {
        deadStatus.textContent = UNREACHABLE;
      }
    );
  }

  function retryDeadLetter(kind, id, button) {
    button.disabled = true;
    api("POST", "api/v1/dead-letters/" + kind + "/" + encodeURIComponent(id) + "/retry", {})
      .then(
        function (result) {
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          deadStatus.setAttribute("data-retried", "1");
          deadStatus.textContent = ok(result)
            ? (kind === "inbox" ? "Message " : "Reply ") + id + " is being retried."
            : "Could not retry " + id + ": " + (errorCode(result) === "not_found" ? "it is no longer a dead letter." : errorText(result));
        },
        function () {
          deadStatus.textContent = "Cannot reach the gateway. Nothing was changed; try again.";
        }
      )
      .then(function () {
        button.disabled = false;
        loadDeadLetters();
        window.setTimeout(function () {
          deadStatus.removeAttribute("data-retried");
        }, 6000);
      });
  }

  // ------------------------------------------------------------------ search
  var SEARCH_FIELDS = {
    customer: $("ac-search-customer"),
    order: $("ac-search-order"),
    channel: $("ac-search-channel"),
    since: $("ac-search-since"),
    until: $("ac-search-until"),
    text: $("ac-search-text"),
  };

  searchForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!token) return;
    var query = [];
    for (var name in SEARCH_FIELDS) {
      if (!has(SEARCH_FIELDS, name)) continue;
      var value = SEARCH_FIELDS[name].value.trim();
      if (value) query.push(name + "=" + encodeURIComponent(value));
    }
    show(searchError, "");
    if (!query.length) {
      show(searchError, "Fill in at least one field.");
      return;
    }
    searchSubmit.disabled = true;
    searchStatus.textContent = "Searching…";
    api("GET", "api/v1/conversations?" + query.join("&"))
      .then(
        function (result) {
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          if (result.status !== 200 || !result.data || !Array.isArray(result.data.conversations)) {
            searchStatus.textContent = "";
            show(searchError, errorText(result));
            return;
          }
          renderSearch(result.data.conversations);
        },
        function () {
          searchStatus.textContent = "";
          show(searchError, "Cannot reach the gateway.");
        }
      )
      .then(function () {
        searchSubmit.disabled = false;
      });
  });

  function renderSearch(conversations) {
    clear(searchResults);
    searchStatus.textContent = conversations.length
      ? conversations.length + " conversation" + (conversations.length === 1 ? "" : "s") + " found"
      : "No conversations match.";
    conversations.forEach(function (conversation) {
      if (!conversation || typeof conversation !== "object") return;
      var person = conversation.customer_name
        ? conversation.customer_name + (conversation.customer_id ? " (" + conversation.customer_id + ")" : "")
        : conversation.customer_id ? "Customer " + conversation.customer_id : "Anonymous customer";
      var when = [formatTime(conversation.started_at), formatTime(conversation.last_at)].filter(Boolean).join(" – ");
      var handoffs = el("div", { className: "ac-row ac-search-handoffs" });
      var ids = Array.isArray(conversation.handoff_ids) ? conversation.handoff_ids : [];
      if (!ids.length) handoffs.appendChild(el("span", { className: "ac-muted ac-small", text: "No handoff" }));
      ids.forEach(function (handoffId) {
        var open = el("button", { type: "button", className: "ac-link", id: "ac-search-handoff-" + handoffId, text: "Handoff #" + handoffId });
        open.addEventListener("click", function () {
          selectHandoff(handoffId);
        });
        handoffs.appendChild(open);
      });
      searchResults.appendChild(
        el("li", { className: "ac-card ac-search-result", "data-conversation": conversation.id }, [
          el("div", { className: "ac-card-top" }, [
            el("strong", { text: person }),
            el("span", { className: "ac-muted ac-small", text: channelLabel(conversation.channel) }),
          ]),
          el("div", { className: "ac-muted ac-small", text: "Conversation " + String(conversation.id) + (when ? " · " + when : "") }),
          conversation.snippet ? el("q", { className: "ac-snippet", text: String(conversation.snippet) }) : null,
          handoffs,
        ])
      );
    });
  }

  // ------------------------------------------------------------------ detail
  function selectHandoff(id) {
    if (detailTimer) window.clearTimeout(detailTimer);
    detailTimer = null;
    selectedId = id;
    selected = null;
    packetShown = null;
    notesShown = null;
    tagsShown = null;
    tagsDirty = false;
    customerShown = null;
    canned = [];
    cannedKey = null;
    renderedCursors = {};
    clear(transcript);
    clear(packetList);
    clear(notesList);
    clear(tagsList);
    clear(customerView);
    detailFlags.textContent = "";
    tagsInput.value = "";
    noteInput.value = "";
    transferNote.value = "";
    transferTo.value = "";
    renderCanned();
    show(errorBox, "");
    notice.textContent = "";
    replyInput.value = "";
    [queueItems, escalationItems].forEach(function (items) {
      for (var key in items) {
        if (!has(items, key)) continue;
        var button = items[key].firstChild;
        if (String(id) === key) button.setAttribute("aria-current", "true");
        else button.removeAttribute("aria-current");
      }
    });
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
    var unresolved = !!selected && selected.status !== "resolved";
    claimButton.disabled = busy || !selected || selected.status !== "open";
    resolveButton.disabled = busy || !mine;
    handbackButton.disabled = busy || !mine;
    replyInput.disabled = !mine;
    sendButton.disabled = busy || !mine;
    cannedSelect.disabled = !mine || !canned.length;
    cannedSend.disabled = busy || !mine || !cannedSelect.value;
    cannedInsert.disabled = !mine || !cannedSelect.value;
    transferTo.disabled = !mine;
    transferNote.disabled = !mine;
    transferSubmit.disabled = busy || !mine || !transferTo.value;
    tagsInput.disabled = !unresolved;
    tagsSave.disabled = busy || !unresolved;
    noteInput.disabled = !unresolved;
    noteAdd.disabled = busy || !unresolved;
  }

  function renderDetail(handoff) {
    selected = handoff;
    var state = holderText(handoff);
    if (handoff.status === "open") state += " · waiting " + formatAge(handoff.created_at);
    detailState.textContent = state;
    detailState.className = "ac-state ac-state-" + (isMine(handoff) ? "mine" : String(handoff.status));
    renderFlags(handoff);
    var packet = handoff.packet && typeof handoff.packet === "object" ? handoff.packet : {};
    var packetJson = JSON.stringify(packet) + "|" + handoff.reason;
    if (packetJson !== packetShown) {
      packetShown = packetJson;
      renderPacket(handoff, packet);
    }
    renderMessages(Array.isArray(handoff.messages) ? handoff.messages : []);
    renderNotes(Array.isArray(handoff.notes) ? handoff.notes : []);
    renderTags(tagsOf(handoff));
    var customerJson = JSON.stringify(handoff.customer_view === undefined ? null : handoff.customer_view);
    if (customerJson !== customerShown) {
      customerShown = customerJson;
      renderCustomerView(handoff.customer_view, handoff.conversation_id);
    }
    // Canned replies are filled from the handoff: load them once per handoff and holder.
    var key = handoff.id + "|" + (handoff.agent_id || "");
    if (isMine(handoff) && key !== cannedKey) loadCanned(handoff.id, key);
    else if (!isMine(handoff) && cannedKey !== null) {
      canned = []; // no longer theirs (transferred, resolved): no canned replies to send
      cannedKey = null;
      renderCanned();
    }
    updateActions();
  }

  function renderFlags(handoff) {
    clear(detailFlags);
    var flags = [];
    if (handoff.escalated) flags.push(["Escalated", "ac-badge ac-badge-escalated"]);
    if (handoff.queue) flags.push(["Queue: " + queueLabel(handoff.queue), "ac-chip"]);
    if (handoff.language) flags.push(["Language: " + String(handoff.language).toUpperCase(), "ac-chip"]);
    if (handoff.channel) flags.push(["Channel: " + channelLabel(handoff.channel), "ac-chip"]);
    if (handoff.stage && handoff.status === "open" && !(handoff.stage === "escalated" && handoff.escalated)) {
      flags.push([STAGES[handoff.stage] || String(handoff.stage), "ac-chip"]);
    }
    if (handoff.status === "open" && handoff.offered_to) {
      flags.push([handoff.offered_to === agentId ? "Offered to you" : "Offered to " + agentLabel(handoff.offered_to), "ac-chip"]);
    }
    var place = placeText(handoff);
    if (place) flags.push([place, "ac-chip"]);
    flags.forEach(function (flag) {
      detailFlags.appendChild(el("span", { className: flag[1], text: flag[0] }));
    });
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
      if (!has(slots, name)) continue;
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

  // ------------------------------------------------------------------- notes
  function renderNotes(notes) {
    var json = JSON.stringify(notes);
    if (json === notesShown) return;
    notesShown = json;
    clear(notesList);
    if (!notes.length) {
      notesList.appendChild(el("li", { className: "ac-muted ac-empty", text: "No internal notes yet." }));
      return;
    }
    notes.forEach(function (note) {
      if (!note || typeof note !== "object") return;
      var kind = NOTE_KINDS[note.kind] ? note.kind : "note";
      var time = el("time", { className: "ac-time", datetime: note.created_at || null, text: formatTime(note.created_at) });
      notesList.appendChild(
        el("li", { className: "ac-note ac-note-" + kind, "data-note": note.id, "data-kind": kind }, [
          el("div", { className: "ac-msg-meta" }, [
            el("span", { className: "ac-note-kind", text: NOTE_KINDS[kind] }),
            el("span", { className: "ac-note-author", text: note.agent_id ? agentLabel(note.agent_id) : "" }),
            time,
          ]),
          el("p", { className: "ac-text", text: typeof note.text === "string" ? note.text : "" }),
        ])
      );
    });
    notesList.scrollTop = notesList.scrollHeight;
  }

  noteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = noteInput.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      show(errorBox, "The note is too long.");
      return;
    }
    act("POST", "notes", { text: text }, function () {
      noteInput.value = "";
      notice.textContent = "Note added. Only agents see it.";
    });
  });

  // -------------------------------------------------------------------- tags
  function parseTags(text) {
    var seen = {};
    var tags = [];
    text.split(/[\s,;]+/).forEach(function (word) {
      var tag = word.trim().toLowerCase().replace(/^#/, "");
      if (tag && !seen[tag]) {
        seen[tag] = true;
        tags.push(tag);
      }
    });
    return tags;
  }

  function renderTags(tags) {
    var json = JSON.stringify(tags);
    if (json === tagsShown) return;
    tagsShown = json;
    clear(tagsList);
    if (!tags.length) tagsList.appendChild(el("li", { className: "ac-muted ac-empty", text: "No tags." }));
    tags.forEach(function (tag) {
      tagsList.appendChild(el("li", { className: "ac-chip ac-tag", text: tag }));
    });
    if (!tagsDirty) tagsInput.value = tags.join(", ");
  }

  tagsInput.addEventListener("input", function () {
    tagsDirty = true;
  });

  tagsForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var tags = parseTags(tagsInput.value);
    if (tags.length > MAX_TAGS) {
      show(errorBox, "At most " + MAX_TAGS + " tags.");
      return;
    }
    act("PUT", "tags", { tags: tags }, function (data) {
      tagsDirty = false;
      tagsShown = null;
      renderTags(data && Array.isArray(data.tags) ? data.tags : tags);
      notice.textContent = "Tags saved.";
    });
  });

  // ---------------------------------------------------------- canned replies
  function loadCanned(id, key) {
    cannedKey = key;
    api("GET", "api/v1/canned-replies?handoff_id=" + encodeURIComponent(id)).then(
      function (result) {
        if (id !== selectedId || !token) return;
        if (isRefused(result)) {
          tokenRejected(result);
          return;
        }
        if (result.status !== 200 || !result.data || !Array.isArray(result.data.replies)) {
          cannedKey = null; // try again with the next poll
          return;
        }
        canned = result.data.replies.filter(function (reply) {
          return reply && reply.id !== undefined;
        });
        renderCanned();
        updateActions();
      },
      function () {
        cannedKey = null;
      }
    );
  }

  function cannedById(id) {
    for (var i = 0; i < canned.length; i++) if (String(canned[i].id) === id) return canned[i];
    return null;
  }

  function missingOf(reply) {
    return reply && Array.isArray(reply.missing) ? reply.missing : [];
  }

  function renderCanned() {
    var chosen = cannedSelect.value;
    while (cannedSelect.options.length > 1) cannedSelect.remove(1);
    canned.forEach(function (reply) {
      var title = String(reply.title || reply.id) + (missingOf(reply).length ? " (needs details)" : "");
      cannedSelect.appendChild(el("option", { value: String(reply.id), text: title }));
    });
    cannedSelect.value = cannedById(chosen) ? chosen : "";
    renderCannedPreview();
  }

  function renderCannedPreview() {
    var reply = cannedById(cannedSelect.value);
    if (!reply) {
      show(cannedPreview, "");
      return;
    }
    var missing = missingOf(reply);
    show(cannedPreview, String(reply.text || "") + (missing.length ? "\n\nMissing: " + missing.join(", ") : ""));
  }

  cannedSelect.addEventListener("change", function () {
    renderCannedPreview();
    updateActions();
  });

  function insertCanned(reply, why) {
    replyInput.value = String(reply.text || "");
    replyInput.focus();
    var missing = missingOf(reply);
    notice.textContent = why || (missing.length ? "Complete the reply (" + missing.join(", ") + "), then send it." : "Edit the reply, then send it.");
  }

  cannedInsert.addEventListener("click", function () {
    var reply = cannedById(cannedSelect.value);
    if (reply) insertCanned(reply);
  });

  cannedSend.addEventListener("click", function () {
    var reply = cannedById(cannedSelect.value);
    if (!reply) return;
    act(
      "POST",
      "messages",
      { canned_reply: String(reply.id) },
      function (message) {
        cannedSelect.value = "";
        renderCannedPreview();
        notice.textContent = "";
        renderMessages([message]);
        transcript.scrollTop = transcript.scrollHeight;
      },
      function (result) {
        if (errorCode(result) !== "unfilled_placeholders") return false;
        var missing = missingOf(reply);
        insertCanned(
          reply,
          "This canned reply needs details the handoff does not have" +
            (missing.length ? " (" + missing.join(", ") + ")" : "") + ": complete it in the reply box, then send it."
        );
        return true;
      }
    );
  });

  // ---------------------------------------------------------------- transfer
  function loadAgents() {
    if (!token) return;
    api("GET", "api/v1/agents").then(
      function (result) {
        if (!token) return;
        if (isRefused(result)) {
          tokenRejected(result);
          return;
        }
        if (result.status !== 200 || !result.data || !Array.isArray(result.data.agents)) return;
        agentsById = {};
        result.data.agents.forEach(function (agent) {
          if (agent && agent.id) agentsById[agent.id] = agent;
        });
        renderTransferOptions(result.data.agents);
      },
      function () {}
    );
  }

  function agentAvailable(agent) {
    var full = typeof agent.capacity === "number" && typeof agent.load === "number" && agent.load >= agent.capacity;
    return agent.presence !== "offline" && !full;
  }

  function renderTransferOptions(list) {
    var others = list.filter(function (agent) {
      return agent && agent.id && agent.id !== agentId;
    });
    var shown = JSON.stringify(others);
    if (shown === transferShown) return;
    transferShown = shown;
    var chosen = transferTo.value;
    clear(transferAgents);
    others.forEach(function (agent) {
      var load = typeof agent.load === "number" && typeof agent.capacity === "number" ? agent.load + " of " + agent.capacity : "";
      var presence = PRESENCE[agent.presence] || String(agent.presence || "unknown");
      var skills = Array.isArray(agent.skills) && agent.skills.length ? " · " + agent.skills.join(", ") : "";
      var text = (agent.name || agent.id) + " (" + agent.id + ") — " + presence + (load ? ", " + load : "") + skills;
      transferAgents.appendChild(
        el("option", { value: "agent:" + agent.id, text: text, disabled: !agentAvailable(agent), "data-presence": agent.presence })
      );
    });
    if (!transferQueues.children.length) {
      QUEUES.forEach(function (queue) {
        transferQueues.appendChild(el("option", { value: "queue:" + queue, text: queueLabel(queue) + " queue" }));
      });
    }
    var option = chosen ? transferTo.querySelector('option[value="' + chosen.replace(/["\\]/g, "") + '"]') : null;
    transferTo.value = option && !option.disabled ? chosen : "";
    updateActions();
  }

  transferTo.addEventListener("change", updateActions);

  transferForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var target = transferTo.value;
    if (!target) return;
    var colon = target.indexOf(":");
    var kind = target.slice(0, colon);
    var value = target.slice(colon + 1);
    var body = kind === "agent" ? { agent_id: value } : { queue: value };
    var note = transferNote.value.trim();
    if (note) body.note = note;
    var label = kind === "agent" ? agentLabel(value) : queueLabel(value) + " queue";
    act("POST", "transfer", body, function () {
      transferNote.value = "";
      transferTo.value = "";
      replyInput.value = "";
      notice.textContent = "Transferred to " + label + ".";
      refreshMe();
      loadAgents();
    });
  });

  // ----------------------------------------------------------- customer view
  function viewSection(title, items, describe) {
    var section = el("div", { className: "ac-cv-section" }, [el("h4", { text: title })]);
    if (!items.length) {
      section.appendChild(el("p", { className: "ac-muted ac-small", text: "None." }));
      return section;
    }
    var list = el("ul", { className: "ac-cv-list" });
    items.forEach(function (item) {
      if (item && typeof item === "object") list.appendChild(describe(item));
    });
    section.appendChild(list);
    return section;
  }

  function arrayOf(value) {
    return Array.isArray(value) ? value : [];
  }

  function renderCustomerView(view, conversationId) {
    clear(customerView);
    if (!view || typeof view !== "object") {
      customerView.appendChild(
        el("p", { className: "ac-muted", text: "Anonymous customer: not verified, so no history from other channels." })
      );
      return;
    }
    var customer = view.customer && typeof view.customer === "object" ? view.customer : {};
    customerView.appendChild(
      el("p", { className: "ac-cv-name" }, [
        el("strong", { text: String(customer.name || "Customer") }),
        el("span", { className: "ac-muted", text: customer.id ? " · " + customer.id : "" }),
      ])
    );
    customerView.appendChild(
      viewSection("Conversations on every channel", arrayOf(view.conversations), function (c) {
        var when = formatTime(c.last_at || c.started_at);
        var outcome = c.outcome === "bot" ? "the bot alone" : c.outcome ? String(c.outcome).replace(/_/g, " ") : "no outcome";
        if (c.open) outcome += " (open)";
        var current = c.id === conversationId;
        return el("li", { className: "ac-cv-item" + (current ? " ac-cv-current" : ""), "data-conversation": c.id }, [
          el("span", { className: "ac-cv-main", text: channelLabel(c.channel) + " · " + outcome + (current ? " · this conversation" : "") }),
          el("span", { className: "ac-muted ac-small", text: (when ? when + " · " : "") + String(c.id) }),
        ]);
      })
    );
    customerView.appendChild(
      viewSection("Open requests", arrayOf(view.open_requests), function (r) {
        var what = [r.reason ? reasonLabel(r.reason) : "Request", r.queue ? queueLabel(r.queue) : "", r.status ? String(r.status) : ""]
          .filter(Boolean)
          .join(" · ");
        return el("li", { className: "ac-cv-item" }, [
          el("span", { className: "ac-cv-main", text: "#" + r.id + " " + what }),
          el("span", { className: "ac-muted ac-small", text: formatTime(r.created_at) }),
        ]);
      })
    );
    customerView.appendChild(
      viewSection("Orders", arrayOf(view.orders), function (o) {
        return el("li", { className: "ac-cv-item" }, [
          el("span", { className: "ac-cv-main", text: String(o.number) + " · " + String(o.status || "unknown").replace(/_/g, " ") }),
          el("span", { className: "ac-muted ac-small", text: o.placed_at ? "placed " + formatDate(o.placed_at) : "" }),
        ]);
      })
    );
    customerView.appendChild(
      viewSection("Devices", arrayOf(view.devices), function (d) {
        return el("li", { className: "ac-cv-item" }, [
          el("span", { className: "ac-cv-main", text: String(d.product || "Device") + " · " + String(d.serial || "") }),
          el("span", {
            className: "ac-muted ac-small",
            text: d.warranty_until ? "warranty until " + formatDate(d.warranty_until) : "no warranty recorded",
          }),
        ]);
      })
    );
  }

  // ----------------------------------------------------------------- actions
  // POST (or PUT) api/v1/handoffs/{id}/{verb}; onError may handle a refusal and return true.
  function act(method, verb, body, onSuccess, onError) {
    var id = selectedId;
    if (id === null || busy) return;
    busy = true;
    updateActions();
    show(errorBox, "");
    var payload = {}; // the token says who acts: no agent id of the sender is sent
    for (var key in body) {
      if (has(body, key)) payload[key] = body[key];
    }
    api(method, "api/v1/handoffs/" + encodeURIComponent(id) + "/" + verb, payload)
      .then(
        function (result) {
          if (isRefused(result)) {
            tokenRejected(result);
            return;
          }
          if (id !== selectedId) return;
          if (result.status >= 200 && result.status < 300) onSuccess(result.data);
          else if (!(onError && onError(result))) show(errorBox, errorText(result));
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
    act("POST", "claim", {}, function () {
      notice.textContent = "You claimed this handoff. Your replies reach the customer on their channel.";
      replyInput.disabled = false;
      replyInput.focus();
      refreshMe();
    });
  });

  resolveButton.addEventListener("click", function () {
    act("POST", "resolve", {}, function () {
      notice.textContent = "Resolved. The bot has the conversation back and asks the customer for a rating.";
      refreshMe();
    });
  });

  handbackButton.addEventListener("click", function () {
    act("POST", "hand-back", {}, function () {
      notice.textContent = "Handed back. The bot resumes where the conversation stopped.";
      refreshMe();
    });
  });

  function sendReply() {
    var text = replyInput.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      show(errorBox, ERRORS.text_too_long);
      return;
    }
    act("POST", "messages", { text: text }, function (message) {
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
