// shipbot sandbox page. Plain JS, no build step, nothing from the internet.
//
// The server renders messages and modals to escaped HTML; this script only places it,
// keeps the view live with a long poll on GET /api/state?since=<version>, and POSTs what
// the person does (commands, clicks, form submissions) to the sandbox's /api routes,
// which sign them as Slack does and forward them to the bot.
"use strict";

const app = {
  user: null,
  channel: null,
  home: false,
  version: null,
  controller: null,
  shown: { channels: null, messages: null, modalKey: null },
};

const $ = (id) => document.getElementById(id);

function notice(text, isError) {
  const box = $("notice");
  box.textContent = text || "";
  box.classList.toggle("error", Boolean(isError));
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data;
  try {
    data = await response.json();
  } catch (_) {
    data = { ok: false, error: `HTTP ${response.status}` };
  }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

// --- live state ---------------------------------------------------------------------------

function refreshNow() {
  app.version = null;
  if (app.controller) app.controller.abort();
}

async function pollForever() {
  for (;;) {
    const controller = new AbortController();
    app.controller = controller;
    const wanted = { user: app.user, channel: app.channel, home: app.home };
    const params = new URLSearchParams({ user: app.user });
    if (app.channel) params.set("channel", app.channel);
    if (app.home) params.set("home", "1");
    if (app.version !== null) params.set("since", String(app.version));
    try {
      const response = await fetch(`/api/state?${params}`, { signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const state = await response.json();
      $("connection").classList.remove("offline");
      if (wanted.user === app.user && wanted.channel === app.channel && wanted.home === app.home) {
        render(state);
      }
    } catch (error) {
      if (error.name === "AbortError") continue;
      $("connection").classList.add("offline");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function render(state) {
  app.version = state.version;
  app.channel = state.channel;
  renderChannels(state.channels);
  if (app.home) renderHome(state.home);
  else renderMessages(state.messages);
  renderModal(state.modal);
  $("composer").hidden = app.home;
  $("home-link").classList.toggle("active", app.home);
  // What is on screen now, for people and tests alike (e.g. after switching user).
  document.body.dataset.shownUser = state.user;
  document.body.dataset.shownChannel = app.home ? "home" : state.channel || "";
}

function renderChannels(entries) {
  const key = JSON.stringify([entries, app.channel, app.home]);
  if (key === app.shown.channels) return;
  app.shown.channels = key;
  const lists = { channel: $("channels"), private: $("channels"), dm: $("dms") };
  $("channels").replaceChildren();
  $("dms").replaceChildren();
  for (const entry of entries) {
    const link = document.createElement("a");
    link.href = "#";
    link.dataset.channel = entry.id;
    link.textContent = (entry.kind === "dm" ? "" : entry.kind === "private" ? "🔒 " : "# ") + entry.label;
    if (entry.id === app.channel && !app.home) {
      link.classList.add("active");
      $("channel-name").textContent = (entry.kind === "dm" ? "" : "#") + entry.label;
      $("channel-topic").textContent = entry.topic || "";
    }
    if (!entry.member && entry.kind !== "dm") link.classList.add("not-member");
    const item = document.createElement("li");
    item.appendChild(link);
    lists[entry.kind].appendChild(item);
  }
}

function renderMessages(messages) {
  const html = messages.join("");
  if (html === app.shown.messages) return;
  app.shown.messages = html;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  // Server-built HTML: every piece of message text in it is escaped (bot/sandbox/web/mrkdwn.py).
  box.innerHTML = html || '<div class="empty">No messages yet.</div>';
  for (const time of box.querySelectorAll("time[data-ts]")) {
    time.textContent = new Date(parseFloat(time.dataset.ts) * 1000).toLocaleTimeString();
  }
  // Every message a person can see offers the app's message shortcuts.
  for (const message of box.querySelectorAll(".messages > .msg:not(.ephemeral)")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "msg-shortcut";
    button.dataset.shortcut = "add_to_timeline";
    button.textContent = "Add to incident timeline";
    message.querySelector(".meta").appendChild(button);
  }
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderHome(home) {
  const html = home ? home.html : '<div class="empty">Opening shipbot\'s Home…</div>';
  if (`home:${html}` === app.shown.messages) return;
  app.shown.messages = `home:${html}`;
  $("channel-name").textContent = "shipbot · Home";
  $("channel-topic").textContent = "";
  $("messages").innerHTML = html; // server-built, escaped
}

function renderModal(modal) {
  const key = modal ? `${modal.id}:${modal.hash}` : "";
  if (key === app.shown.modalKey) return;
  app.shown.modalKey = key;
  const overlay = $("overlay");
  if (!modal) {
    overlay.replaceChildren();
    overlay.hidden = true;
    return;
  }
  overlay.innerHTML = modal.html; // server-built, escaped
  overlay.hidden = false;
  const first = overlay.querySelector("input, textarea, select");
  if (first) first.focus();
}

// --- what the person does -----------------------------------------------------------------

function switchTo({ user, channel, home }) {
  if (user !== undefined) app.user = user;
  if (channel !== undefined) app.channel = channel;
  app.home = home !== undefined ? home : channel !== undefined ? false : app.home;
  app.shown = { channels: null, messages: null, modalKey: null }; // redraw everything
  notice("");
  refreshNow();
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-text");
  const text = input.value.trim();
  if (!text) return;
  input.disabled = true;
  notice(text.startsWith("/") ? `Sending ${text.split(" ")[0]}…` : "");
  try {
    await post("/api/command", { user: app.user, channel: app.channel, text });
    input.value = "";
    notice("");
  } catch (error) {
    notice(error.message, true);
  } finally {
    input.disabled = false;
    input.focus();
  }
}

async function openHome() {
  switchTo({ home: true });
  try {
    await post("/api/home", { user: app.user });
  } catch (error) {
    notice(error.message, true);
  }
}

async function runShortcut(button) {
  const message = button.closest(".msg");
  const body = { user: app.user, callback_id: button.dataset.shortcut };
  if (message) {
    body.channel = app.channel;
    body.ts = message.dataset.ts;
  }
  button.disabled = true;
  try {
    await post("/api/shortcut", body);
  } catch (error) {
    notice(error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function click(button) {
  if (button.closest(".home-view")) {
    const body = { user: app.user, path: button.dataset.path, action_id: button.dataset.actionId };
    button.disabled = true;
    try {
      await post("/api/home/click", body);
    } catch (error) {
      notice(error.message, true);
    } finally {
      button.disabled = false;
    }
    return;
  }
  const modal = button.closest(".modal");
  const message = button.closest(".msg");
  const body = { user: app.user, path: button.dataset.path, action_id: button.dataset.actionId };
  if (modal) {
    body.view_id = modal.dataset.viewId;
  } else if (message) {
    body.channel = app.channel;
    body.ts = message.dataset.ts;
    body.ephemeral = message.dataset.ephemeral === "1";
  }
  button.disabled = true;
  try {
    await post("/api/click", body);
  } catch (error) {
    notice(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function formValues(form) {
  const values = {};
  for (const field of form.querySelectorAll("[name]")) {
    if (field.multiple) {
      values[field.name] = Array.from(field.selectedOptions, (option) => option.value);
    } else {
      values[field.name] = field.value;
    }
  }
  return values;
}

async function submitModal(form) {
  for (const box of form.querySelectorAll(".field-error")) box.textContent = "";
  form.querySelector(".modal-error").textContent = "";
  const submit = form.querySelector(".modal-submit");
  if (submit) submit.disabled = true;
  try {
    const answer = await post("/api/view/submit", {
      user: app.user,
      view_id: form.dataset.viewId,
      values: formValues(form),
    });
    for (const [blockId, message] of Object.entries(answer.errors || {})) {
      const box = Array.from(form.querySelectorAll(".field-error")).find(
        (element) => element.dataset.errorFor === blockId,
      );
      (box || form.querySelector(".modal-error")).textContent = message;
    }
  } catch (error) {
    form.querySelector(".modal-error").textContent = error.message;
  } finally {
    if (submit) submit.disabled = false;
  }
}

async function closeModal(form) {
  try {
    await post("/api/view/close", { user: app.user, view_id: form.dataset.viewId });
  } catch (error) {
    notice(error.message, true);
  }
}

async function sendAlert(status) {
  try {
    const answer = await post("/api/alert", { status });
    notice(answer.ok ? `Alert ${status}: the bot answered ${answer.answer}` : `HTTP ${answer.status}: ${answer.answer}`, !answer.ok);
  } catch (error) {
    notice(error.message, true);
  }
}

function onClick(event) {
  if (event.target.closest("a[data-home]")) {
    event.preventDefault();
    openHome();
    return;
  }
  const shortcut = event.target.closest("[data-shortcut]");
  if (shortcut) {
    event.preventDefault();
    runShortcut(shortcut);
    return;
  }
  const channelLink = event.target.closest("a[data-channel]");
  if (channelLink) {
    event.preventDefault();
    switchTo({ channel: channelLink.dataset.channel });
    return;
  }
  const button = event.target.closest("[data-action-id]");
  if (button) {
    if (button.tagName !== "A") event.preventDefault();
    click(button);
    return;
  }
  const close = event.target.closest(".modal-close");
  if (close) closeModal(close.closest(".modal"));
}

async function start() {
  const workspace = await (await fetch("/api/workspace")).json();
  const picker = $("user");
  for (const user of workspace.users) {
    const option = document.createElement("option");
    option.value = user.id;
    option.textContent = user.name === user.label ? user.name : `${user.name} (${user.label})`;
    picker.appendChild(option);
  }
  app.user = workspace.users.length ? workspace.users[0].id : null;
  picker.addEventListener("change", () => {
    switchTo({ user: picker.value });
    if (app.home) openHome(); // Slack sends app_home_opened for the new person's Home
  });
  $("bot-url").textContent = workspace.bot_url;
  $("alert-curl").textContent = workspace.alert_curl || "(the config has no alertmanager source)";
  $("alert-tools").hidden = !workspace.alerts;
  $("alert-fire").addEventListener("click", () => sendAlert("firing"));
  $("alert-resolve").addEventListener("click", () => sendAlert("resolved"));
  $("help-toggle").addEventListener("click", () => {
    const help = $("help");
    help.hidden = !help.hidden;
    $("help-toggle").setAttribute("aria-expanded", String(!help.hidden));
  });
  $("composer").addEventListener("submit", send);
  document.addEventListener("click", onClick);
  $("overlay").addEventListener("submit", (event) => {
    event.preventDefault();
    submitModal(event.target);
  });
  pollForever();
}

document.addEventListener("DOMContentLoaded", start);
