// A department's own queue (issue 16, 部门报到): what waits for us to report in, what we are
// handling, what is overdue; acknowledge (报到) and feedback with photos, from GET /queue and
// POST /incidents/{id}/transitions and /attachments. The inbox polls /notifications.
// A part reopened (重办) is marked; an open part may ask for more time or a pause
// (延期申请, POST /incidents/{id}/extensions) which the level above decides on its map.
(function () {
  "use strict";
  const {esc, getJson, postJson, upload, localTime, installInbox} = window.gridgis;
  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("config").textContent);
  const STATE_LABELS = {summoned: "待报到 waiting", acknowledged: "处置中 handling",
    fed_back: "已反馈 fed back"};
  const KIND_LABELS = {dispatch: "分拨 dispatched", whistle: "吹哨 whistled"};
  const REQUEST_LABELS = {requested: "待审批 pending", approved: "已批准 approved",
    refused: "已驳回 refused"};
  let items = [];

  async function photos(id) {
    const list = await getJson(`/incidents/${id}/attachments`).catch(() => ({attachments: []}));
    return (list.attachments || []).map((a) => `<a href="/attachments/${a.id}" target="_blank"` +
      ` rel="noopener"><img class="thumb" data-id="${a.id}" alt="${esc(a.step || "photo")}"` +
      ` title="${esc(a.step || "")}" src="/attachments/${a.id}/thumbnail"></a>`).join("");
  }

  // our requests for more time on this case, and the form to ask (open parts only)
  async function requests(item) {
    const out = await getJson(`/incidents/${item.incident_id}/extensions`)
      .catch(() => ({extensions: []}));
    const mine = (out.extensions || []).filter((x) => x.department_code === config.department);
    const list = mine.map((x) => `<li data-id="${x.id}" class="req-${esc(x.status)}">` +
      `${x.kind === "pause" ? "暂停 pause" : `延期 +${esc(x.amount)} ${esc(x.unit === "hours"
        ? "小时 h" : "工作日 working days")}`} · ${esc(x.reason)} · <b>${esc(
        REQUEST_LABELS[x.status] || x.status)}</b>` + (x.kind === "pause" &&
        x.status === "approved" && !x.resumed_at ? ` <button type="button" data-resume=` +
        `"${x.id}">恢复计时 resume</button>` : "") + "</li>").join("");
    const ask = item.state === "fed_back" ? "" :
      `<details class="more-time"><summary>延期申请 ask for more time</summary>` +
      `<form class="extend" data-id="${item.incident_id}"><div class="row">` +
      `<select class="kind"><option value="extension">延期 extension</option>` +
      `<option value="pause">暂停 pause</option></select> <label>小时 hours <input ` +
      `class="hours" type="number" min="1" max="365" step="1" value="24"></label></div>` +
      `<input class="reason" required maxlength="4000" placeholder="理由 reason">` +
      `<button type="submit" class="do-extend">提交申请 request</button></form></details>`;
    return (list ? `<ul class="requests">${list}</ul>` : "") + ask;
  }

  async function requestTime(formEl) {
    const id = Number(formEl.dataset.id);
    const error = formEl.closest(".card").querySelector(".error");
    const button = formEl.querySelector("button[type=submit]");
    const kind = formEl.querySelector(".kind").value;
    const hours = Number(formEl.querySelector(".hours").value);
    if (button.disabled) return;
    button.disabled = true;
    try {
      await postJson(`/incidents/${id}/extensions`, {kind,
        reason: formEl.querySelector(".reason").value.trim(),
        ...(kind === "extension" ? {amount: hours, unit: "hours"} : {})});
      await load();
    } catch (err) {
      error.textContent = err.message;
      button.disabled = false;
    }
  }

  function form(item) {
    if (item.state === "summoned") {
      return `<form class="ack" data-id="${item.incident_id}"><div class="row">` +
        `<input class="note" placeholder="说明 note (optional)" maxlength="4000">` +
        `<button type="submit" class="do-ack">报到 acknowledge</button></div></form>`;
    }
    if (item.state === "acknowledged") {
      return `<form class="feedback" data-id="${item.incident_id}">` +
        `<textarea class="note" rows="2" maxlength="4000" placeholder="处置情况 what was done"` +
        `></textarea><div class="row"><input type="file" class="photo" ` +
        `accept="image/jpeg,image/png,image/webp,image/heic"> ` +
        `<button type="submit" class="do-feedback">反馈 feed back</button></div></form>`;
    }
    return "";
  }

  async function card(item) {
    const late = item.overdue ? ` <span class="late">超期 overdue: ${esc(item.overdue)}</span>` : "";
    return `<article class="card state-${esc(item.state)}${item.overdue ? " overdue" : ""}" ` +
      `data-id="${item.incident_id}"><h3><span>#${item.incident_id} ` +
      `${esc([item.category, item.subcategory].filter(Boolean).join(" / "))}</span>` +
      `<span>${item.reopened ? `<b class="reopened">重办 reopened${item.reopened > 1
        ? " ×" + item.reopened : ""}</b> ` : ""}${esc(STATE_LABELS[item.state] || item.state)}` +
      `</span></h3>` +
      `<div>${esc(item.description || "")}</div>` +
      `<div class="meta">${esc(KIND_LABELS[item.kind] || item.kind)} · ${esc(localTime(
        item.summoned_at))} · 网格 ${esc(item.grid_code || "—")}${item.note ? " · " +
        esc(item.note) : ""}</div>` +
      `<div class="meta">报到时限 acknowledge by ${esc(localTime(item.ack_due_at))} · ` +
      `办结时限 handle by ${esc(localTime(item.handle_due_at))}${late}</div>` +
      `<div class="photos">${await photos(item.incident_id)}</div>${form(item)}` +
      await requests(item) +
      `<p class="error"></p></article>`;
  }

  async function cards(list) {
    return list.length ? (await Promise.all(list.map(card))).join("")
      : "<p class='none'>无 none</p>";
  }

  let loads = 0;   // only the newest of overlapping reloads draws the lists

  async function load() {
    const mine = ++loads;
    try {
      const out = await getJson(`/queue${$("show-done").checked ? "?done=true" : ""}`);
      if (mine !== loads) return;
      items = out.items;
      $("n-waiting").textContent = out.waiting;
      $("n-handling").textContent = out.handling;
      $("n-overdue").textContent = out.overdue;
      const open = items.filter((i) => i.state !== "fed_back");
      const sections = {"list-overdue": open.filter((i) => i.overdue),
        "list-waiting": open.filter((i) => !i.overdue && i.state === "summoned"),
        "list-handling": open.filter((i) => !i.overdue && i.state === "acknowledged"),
        "list-done": items.filter((i) => i.state === "fed_back")};
      const html = {};
      for (const [id, list] of Object.entries(sections)) html[id] = await cards(list);
      if (mine !== loads) return;
      for (const [id, text] of Object.entries(html)) $(id).innerHTML = text;
      $("done-section").hidden = !$("show-done").checked;
      $("queue-error").textContent = "";
      document.body.dataset.loaded = String(Date.now());
    } catch (error) {
      $("queue-error").textContent = error.message;
    }
  }

  async function submit(event) {
    event.preventDefault();
    const formEl = event.target;
    if (formEl.classList.contains("extend")) return requestTime(formEl);
    const id = Number(formEl.dataset.id);
    const item = items.find((i) => i.incident_id === id);
    const note = formEl.querySelector(".note").value.trim();
    const error = formEl.closest(".card").querySelector(".error");
    const button = formEl.querySelector("button[type=submit]");
    if (button.disabled) return;   // one submission at a time
    button.disabled = true;
    try {
      const action = formEl.classList.contains("ack") ? "acknowledge" : "feedback";
      const file = formEl.querySelector(".photo")?.files[0];
      if (file) await upload(id, file, "feedback");  // the photo first: a refused one stops here
      // the version may have moved since the queue was read (a photo does not move it)
      const fresh = await getJson(`/incidents/${id}`);
      await postJson(`/incidents/${id}/transitions`, {action, version: fresh.properties.version
        ?? item.version, ...(note ? {note} : {})});
      await load();
    } catch (err) {
      error.textContent = err.message;
      button.disabled = false;
    }
  }

  async function showName() {
    // the department's name beside its code (GET /departments: a department sees its own)
    const out = await getJson("/departments").catch(() => ({departments: []}));
    const mine = (out.departments || []).find((d) => d.code === config.department);
    if (mine) $("dept-name").textContent = `${mine.name} (${mine.code})`;
  }

  document.querySelector("main").addEventListener("submit", submit);
  document.querySelector("main").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-resume]");
    if (!button) return;
    try {
      await postJson(`/extensions/${button.dataset.resume}/resume`);
      await load();
    } catch (err) {
      button.closest(".card").querySelector(".error").textContent = err.message;
    }
  });
  showName();
  $("show-done").addEventListener("change", load);
  // a new summons or dispatch arrives as a notification: reload the queue then
  installInbox({button: $("inbox-button"), count: $("inbox-count"), list: $("inbox-list"),
    pollSeconds: config.pollSeconds, onNew: load, onOpen: (id) => {
      const target = document.querySelector(`.card[data-id="${id}"]`);
      if (target) target.scrollIntoView({block: "center"});
    }});
  load();
})();
