// The sandbox page's script: sends what the person does to the server as JSON, and swaps in the parts of the
// page the server drew again (a long poll on /ui/view). All HTML comes from the server, escaped there; text
// from elsewhere only ever goes into textContent.
"use strict";

const body = document.body;
const state = {user: body.dataset.user, channel: body.dataset.channel, version: Number(body.dataset.version),
               modalKey: body.dataset.modalKey || ""};
const $ = (selector) => document.querySelector(selector);

async function post(path, data) {
  let out;
  try {
    const response = await fetch(path, {method: "POST", body: JSON.stringify({...data, user: state.user}),
                                        headers: {"Content-Type": "application/json", "X-Sandbox": "1"}});
    out = await response.json();
  } catch (err) {
    showNotice("The sandbox did not answer; is it still running?");
    return {ok: false};
  }
  refresh();  // brings what the server has to say about it, too
  return out;
}

function showNotice(text) {
  const notice = $("#notice");
  notice.replaceChildren();
  if (text) {
    const p = document.createElement("p");
    p.textContent = text;
    notice.append(p);
  }
}

function setHTML(element, html) {
  if (element.dataset.html !== html) {
    element.innerHTML = html;
    element.dataset.html = html;
  }
}

// Messages are swapped one by one: one that did not change keeps its node (and an open menu or question).
function applyMessages(html) {
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const top = box.scrollTop;
  const template = document.createElement("template");
  template.innerHTML = html;
  const old = new Map([...box.querySelectorAll(":scope > article")].map((a) => [a.dataset.ts, a]));
  const next = [...template.content.childNodes].map((node) => {
    if (node.nodeType === Node.ELEMENT_NODE && node.matches("article")) {
      const kept = old.get(node.dataset.ts);
      if (kept && kept.dataset.hash === node.dataset.hash) return kept;
    }
    return node;
  });
  box.replaceChildren(...next);
  box.scrollTop = atBottom ? box.scrollHeight : top;  // the reader stays where they were reading
}

function applyModal(key, html) {
  if (key === state.modalKey) return;
  state.modalKey = key;
  $("#modal").innerHTML = html;
  const open = Boolean(html);
  blockPage(open);
  if (open) {
    const first = $("#modal [aria-invalid=true]") || $("#modal input, #modal textarea, #modal select");
    if (first) first.focus();
  } else {
    $("#message").focus();
  }
}

// While a modal is open the rest of the page can't be used, by mouse, keyboard or screen reader.
function blockPage(blocked) {
  for (const part of document.querySelectorAll("body > header, .layout")) part.inert = blocked;
}

function apply(parts) {
  if (parts.version < state.version) return;
  state.version = parts.version;
  setHTML($("#channels"), parts.nav);
  setHTML($("#channel-head"), parts.head);
  applyMessages(parts.messages);
  applyModal(parts.modal_key, parts.modal);
  showNotice(parts.notice);
  $("#clock").textContent = parts.clock;
}

function viewURL(since) {
  const query = new URLSearchParams({channel: state.channel, user: state.user});
  if (since !== undefined) query.set("since", String(since));
  return "/ui/view?" + query;
}

async function refresh() {
  try {
    apply(await (await fetch(viewURL())).json());
  } catch (err) { /* the long poll tries again */ }
}

async function poll() {
  for (;;) {
    try {
      apply(await (await fetch(viewURL(state.version))).json());
    } catch (err) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function messageOf(element) {
  return element.closest("article[data-ts]");
}

function act(control, option) {
  const article = messageOf(control);
  post("/ui/action", {channel: state.channel, ts: article.dataset.ts, block: control.dataset.block,
                      el: control.dataset.el, action: control.dataset.action, option: option});
  if (control.dataset.url) window.open(control.dataset.url, "_blank", "noopener");
}

function closeMenus(except) {
  for (const menu of document.querySelectorAll(".more .menu:not([hidden])")) {
    if (menu !== except) {
      menu.hidden = true;
      menu.previousElementSibling.setAttribute("aria-expanded", "false");
    }
  }
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.id === "skip") {
    post("/ui/skip", {});
  } else if (target.matches("[data-act]") && messageOf(target)) {
    if (target.dataset.confirm) {
      const question = document.getElementById(target.dataset.confirm);
      question.hidden = false;
      question.querySelector("[data-confirmed]").focus();
    } else {
      act(target);
    }
  } else if (target.matches("[data-confirmed], [data-deny]")) {
    const holder = target.closest(".confirmable");
    target.closest("[role=alertdialog]").hidden = true;
    if (target.matches("[data-confirmed]")) act(holder.querySelector("[data-act]"));
  } else if (target.matches(".more > button")) {
    const menu = target.nextElementSibling;
    closeMenus(menu);
    menu.hidden = !menu.hidden;
    target.setAttribute("aria-expanded", String(!menu.hidden));
  } else if (target.matches("[data-shortcut]")) {
    closeMenus();
    post("/ui/shortcut", {channel: state.channel, ts: messageOf(target).dataset.ts,
                          callback: target.dataset.shortcut});
  } else if (target.matches("[data-close]")) {
    post("/ui/close", {view: target.closest("[data-view]").dataset.view});
  }
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.id === "acting-as") {
    window.location.assign("/?" + new URLSearchParams({channel: state.channel, user: target.value}));
  } else if (target.matches("select[data-act]") && messageOf(target) && target.value !== "") {
    act(target, Number(target.value));
    target.value = "";
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const questions = document.querySelectorAll("[role=alertdialog]:not([hidden])");
  for (const question of questions) question.hidden = true;
  closeMenus();
  const modal = $("#modal [data-view]");
  if (modal && !questions.length) modal.querySelector("[data-close]").click();  // Escape closes it, as in Slack
});

document.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  if (form.id === "composer") {
    const box = $("#message");
    const text = box.value;
    if (!text.trim()) return;
    box.value = "";
    const out = await post("/ui/send", {channel: state.channel, text: text});
    if (!out.ok && !box.value) box.value = text;
  } else if (form.matches(".modal-form")) {
    const fields = {};
    for (const control of form.querySelectorAll("[data-kind]")) {
      fields[control.dataset.block] = control.tagName === "FIELDSET"
        ? [...control.querySelectorAll("input:checked")].map((input) => input.value) : control.value;
    }
    const submit = form.querySelector("button[type=submit]");
    if (submit) submit.disabled = true;
    await post("/ui/submit", {view: form.closest("[data-view]").dataset.view, fields: fields});
    if (submit) submit.disabled = false;
  }
});

$("#message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("#composer").requestSubmit();
  }
});

$("#messages").scrollTop = $("#messages").scrollHeight;
blockPage(Boolean(state.modalKey));
if (!state.modalKey) $("#message").focus();
refresh();
poll();
