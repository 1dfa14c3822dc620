// The dispatcher's incident card (issue 16): a click on an incident (or an inbox entry, or
// the "#" box) opens it in the side panel with the routing suggestion, the departments'
// parts, the next actions, a dispatch-to-department dialog, a whistle dialog (网格吹哨),
// photos (thumbnails and upload), and the likely duplicates with a merge button. Also the
// department filter of the map and the inbox. Everything goes through the public API.
// The loop's later steps (issue 16 items 10-11): the timeline of events (重办 reopens
// marked), the call-back dialog (回访), the departments' time requests (延期申请) with
// approve/refuse, and a merge into a recently closed case that reopens it; the buttons show
// only to the roles the API lets act (dispatchers, and admins).
(function () {
  "use strict";
  const {esc, getJson, postJson, upload, localTime, installInbox} = window.gridgis;
  const $ = (id) => document.getElementById(id);
  const ACTION_LABELS = {accept: "受理 accept", dispatch: "分拨 dispatch", handle: "处置 handle",
    feedback: "反馈 feedback", verify: "核查 verify", close: "结案 close", return: "退回 return",
    escalate: "上报 escalate"};
  const STATE_LABELS = {summoned: "待报到 waiting", acknowledged: "已报到 acknowledged",
    fed_back: "已反馈 fed back"};
  const EVENT_LABELS = {report: "上报 reported", accept: "受理 accepted",
    dispatch: "分拨 dispatched", handle: "处置 handling", feedback: "反馈 fed back",
    verify: "核查 verified", close: "结案 closed", return: "退回 returned",
    escalate: "上报上级 escalated", whistle: "吹哨 whistle", acknowledge: "报到 acknowledged",
    merge: "合并 merged", callback: "回访 call-back", reopen: "重办 reopened",
    extension: "延期申请 extension asked", pause: "暂停申请 pause asked",
    deadline: "时限变更 deadline"};
  const REQUEST_LABELS = {requested: "待审批 pending", approved: "已批准 approved",
    refused: "已驳回 refused"};
  const UNIT_LABELS = {hours: "小时 h", working_days: "工作日 working days"};
  const CALLBACK_STATUSES = ["feedback", "verified"];   // 回访 comes before closing
  // the step a photo belongs to, from the status it was taken in (attachments' steps)
  const STEP_OF_STATUS = {reported: "report", accepted: "accept", dispatched: "dispatch",
    handling: "handle", feedback: "feedback", verified: "verify"};
  let departments = [];
  let current = null;   // the incident feature shown in the panel
  let role = null;      // the signed-in account's role (config.role)

  function mayDecide() {   // call-back, time decisions, reopening merges: the API's rule
    return role === "dispatcher" || role === "admin";
  }

  function rows(pairs) {
    return "<table>" + pairs.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`)
      .join("") + "</table>";
  }

  function deptName(code) {
    const d = departments.find((x) => x.code === code);
    return d ? `${d.name} (${d.code})` : code;
  }

  function summonsHtml(list) {
    if (!list || !list.length) return "";
    return "<h3>部门 Departments</h3><table class='summons'>" + list.map((s) =>
      `<tr data-dept="${esc(s.department_code)}" class="state-${esc(s.state)}` +
      `${s.overdue ? " overdue" : ""}"><td>${esc(deptName(s.department_code))}</td>` +
      `<td>${esc(STATE_LABELS[s.state] || s.state)}${s.overdue ? ` <b class="late">超期 ${
        esc(s.overdue)}</b>` : ""}</td><td class="due" title="办结时限 handle by">` +
      `${esc(localTime(s.handle_due_at))}</td></tr>`).join("") + "</table>";
  }

  function actionsHtml(p) {
    const open = p.status !== "closed";
    const buttons = (p.allowed || []).map((a) =>
      `<button type="button" data-action="${esc(a)}">${esc(ACTION_LABELS[a] || a)}</button>`);
    if (open) buttons.push("<button type='button' id='inc-whistle-open'>吹哨 whistle</button>");
    if (mayDecide() && CALLBACK_STATUSES.includes(p.status)) {
      buttons.push("<button type='button' id='inc-callback-open'>回访 call-back</button>");
    }
    return `<div class="actions" id="inc-actions">${buttons.join(" ")}</div>` +
      "<p class='error' id='inc-error'></p>";
  }

  async function photosHtml(id) {
    const list = await getJson(`/incidents/${id}/attachments`).catch(() => ({attachments: []}));
    const items = list.attachments || [];
    return "<h3>照片 Photos</h3><div class='photos' id='inc-photos'>" + (items.length
      ? items.map((a) => `<a href="/attachments/${a.id}" target="_blank" rel="noopener">` +
        `<img class="thumb" data-id="${a.id}" alt="${esc(a.step || "photo")}" ` +
        `title="${esc(a.step || "")}" src="/attachments/${a.id}/thumbnail"></a>`).join("")
      : "<span class='none'>—</span>") + "</div>" +
      "<form id='inc-upload' class='upload'><input type='file' id='inc-file' " +
      "accept='image/jpeg,image/png,image/webp,image/heic'> <button type='submit'>" +
      "上传 upload</button></form>";
  }

  async function duplicatesHtml(p) {
    if (p.status === "closed") return "";
    const out = await getJson(`/incidents/${p.id}/duplicates`).catch(() => ({duplicates: []}));
    const list = out.duplicates || [];
    return "<h3>疑似重复 Likely duplicates</h3><ul class='dups' id='inc-dups'>" + (list.length
      ? list.map((d) => d.reopen ? closedDuplicateHtml(p, d) :
        `<li data-id="${d.id}">#${d.id} · ${Math.round(d.distance_m)} m` +
        `${d.status ? " · " + esc(d.status) : ""} <button type="button" data-merge="${d.id}">` +
        `并入本件 merge into #${p.id}</button></li>`).join("")
      : "<li class='none'>无 none</li>") + "</ul>";
  }

  // A case closed within the reopen window: this report merges into it and reopens it (重办)
  function closedDuplicateHtml(p, d) {
    return `<li data-id="${d.id}" class="closed-dup">#${d.id} · ${Math.round(d.distance_m)} m` +
      ` · 已办结 closed ${esc(localTime(d.closed_at))}` + (mayDecide()
      ? ` <button type="button" data-reopen="${d.id}">并入该件并重办 merge #${p.id} into ` +
        `#${d.id}, reopen</button>` : "") + "</li>";
  }

  function timelineHtml(events) {
    if (!events || !events.length) return "";
    return "<h3>经过 Timeline</h3><ol class='timeline' id='inc-timeline'>" + events.map((e) =>
      `<li class="ev-${esc(e.action)}" data-action="${esc(e.action)}"><small>${esc(localTime(
        e.at))}</small> <b>${esc(EVENT_LABELS[e.action] || e.action)}</b>` +
      (e.department_code ? ` · ${esc(deptName(e.department_code))}` : "") +
      (e.actor ? ` · ${esc(e.actor)}` : "") +
      (e.note ? `<br><span class="note">${esc(e.note)}</span>` : "") + "</li>").join("") +
      "</ol>";
  }

  function requestText(x) {
    return x.kind === "pause" ? "暂停 pause"
      : `延期 +${x.amount} ${UNIT_LABELS[x.unit] || x.unit}`;
  }

  function requestButtons(x) {
    if (!mayDecide()) return "";
    if (x.status === "requested") {
      return ` <button type="button" data-decide="${x.id}" data-approve="1">批准 approve` +
        `</button> <button type="button" data-decide="${x.id}" data-approve="0">驳回 refuse` +
        "</button>";
    }
    return x.kind === "pause" && x.status === "approved" && !x.resumed_at
      ? ` <button type="button" data-resume="${x.id}">恢复计时 resume</button>` : "";
  }

  // the departments' requests for more time (延期申请) or a pause, decided by the level above
  async function requestsHtml(id) {
    const out = await getJson(`/incidents/${id}/extensions`).catch(() => ({extensions: []}));
    const list = out.extensions || [];
    if (!list.length) return "";
    return "<h3>延期申请 Time requests</h3><ul class='requests' id='inc-requests'>" +
      list.map((x) => `<li data-id="${x.id}" class="req-${esc(x.status)}">` +
        `${esc(deptName(x.department_code))} · ${esc(requestText(x))} · ${esc(x.reason)}` +
        ` · <b>${esc(REQUEST_LABELS[x.status] || x.status)}</b>${requestButtons(x)}</li>`)
        .join("") + "</ul>";
  }

  async function open(id) {
    const panel = $("panel");
    panel.hidden = false;
    for (const key of ["gridCode", "worker", "ready"]) delete panel.dataset[key];  // map.js's
    panel.dataset.incidentId = String(id);
    $("panel-code").textContent = `事件 Incident #${id}`;
    const body = $("panel-body");
    body.textContent = "…";
    try {
      current = await getJson(`/incidents/${id}`);
      const p = current.properties;
      p.summons = (await getJson(`/incidents/${id}/summons`)).summons;
      // {code, name} of the routing rule that applies, or null
      const suggested = p.suggested_department ? p.suggested_department.code : null;
      let html = rows([["状态 Status", esc(p.status)],
        ["类别 Category", esc([p.category, p.subcategory].filter(Boolean).join(" / "))],
        ["描述 Description", esc(p.description || "—")], ["网格 Grid", esc(p.grid_code || "—")],
        ["上报 Reported", esc(localTime(p.reported_at))],
        ["建议部门 Suggested", `<span id="inc-suggested">${esc(suggested ? deptName(suggested)
          : "—")}</span>`],
        ["承办部门 Department", `<span id="inc-department">${esc(p.department_code
          ? deptName(p.department_code) : "—")}</span>`],
        ["超期 Overdue", p.overdue ? `<b class="late">${esc(p.overdue)}</b>` : "否 no"]]);
      html += summonsHtml(p.summons) + await requestsHtml(id) + actionsHtml(p);
      body.innerHTML = html + await photosHtml(id) + await duplicatesHtml(p) +
        timelineHtml(p.events);
      body.dataset.status = p.status;
      body.dataset.version = String(p.version);
    } catch (error) {
      body.innerHTML = `<p class="error">${esc(error.message)}</p>`;
    }
  }

  function showError(error) {
    const box = $("inc-error");
    if (box) box.textContent = error.message || String(error);
  }

  async function act(action, extra) {
    const p = current.properties;
    await postJson(`/incidents/${p.id}/transitions`, {action, version: p.version, ...extra});
    await open(p.id);
  }

  function departmentOptions(select, suggested) {
    select.innerHTML = "<option value=''>本网格人员 grid staff</option>" + departments.map((d) =>
      `<option value="${esc(d.code)}"${d.code === suggested ? " selected" : ""}>` +
      `${esc(d.name)} (${esc(d.code)})${d.code === suggested ? " ★" : ""}</option>`).join("");
  }

  function openDispatch() {
    const p = current.properties;
    departmentOptions($("dispatch-department"),
                      p.suggested_department ? p.suggested_department.code : null);
    $("dispatch-note").value = "";
    $("dispatch-error").textContent = "";
    $("dispatch-dialog").showModal();
  }

  function openWhistle() {
    const taken = new Set((current.properties.summons || []).map((s) => s.department_code));
    $("whistle-departments").innerHTML = departments.map((d) =>
      `<label><input type="checkbox" value="${esc(d.code)}"${taken.has(d.code)
        ? " disabled" : ""}> ${esc(d.name)} (${esc(d.code)})</label>`).join("");
    $("whistle-note").value = "";
    $("whistle-error").textContent = "";
    $("whistle-dialog").showModal();
  }

  // this (new) report merges into a recently closed case, which reopens (重办): show it
  async function mergeAndReopen(closedId) {
    const p = current.properties;
    await postJson(`/incidents/${p.id}/merge`, {into: closedId, version: p.version});
    await open(closedId);
  }

  async function decide(requestId, approve) {
    await postJson(`/extensions/${requestId}/decision`, {approve});
    await open(current.properties.id);
  }

  function openCallback() {
    $("callback-form").reset();
    $("callback-error").textContent = "";
    $("callback-dialog").showModal();
  }

  async function mergeInto(duplicateId) {
    const other = await getJson(`/incidents/${duplicateId}`);
    await postJson(`/incidents/${duplicateId}/merge`, {into: current.properties.id,
      version: other.properties.version});
    await open(current.properties.id);
  }

  function wirePanel() {
    $("panel-body").addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button || !current) return;
      try {
        if (button.dataset.action === "dispatch") openDispatch();
        else if (button.dataset.action) await act(button.dataset.action);
        else if (button.id === "inc-whistle-open") openWhistle();
        else if (button.dataset.merge) await mergeInto(Number(button.dataset.merge));
        else if (button.id === "inc-callback-open") openCallback();
        else if (button.dataset.reopen) await mergeAndReopen(Number(button.dataset.reopen));
        else if (button.dataset.decide) {
          await decide(Number(button.dataset.decide), button.dataset.approve === "1");
        } else if (button.dataset.resume) {
          await postJson(`/extensions/${button.dataset.resume}/resume`);
          await open(current.properties.id);
        }
      } catch (error) {
        showError(error);
      }
    });
    $("panel-body").addEventListener("submit", async (event) => {
      if (event.target.id !== "inc-upload") return;
      event.preventDefault();
      const file = $("inc-file").files[0];
      if (!file) return;
      try {
        await upload(current.properties.id, file, STEP_OF_STATUS[current.properties.status]);
        await open(current.properties.id);
      } catch (error) {
        showError(error);
      }
    });
  }

  function wireDialogs() {
    $("dispatch-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const code = $("dispatch-department").value;
      const note = $("dispatch-note").value.trim();
      try {
        await act("dispatch", {...(code ? {department_code: code} : {}),
                               ...(note ? {note} : {})});
        $("dispatch-dialog").close();
      } catch (error) {
        $("dispatch-error").textContent = error.message;
      }
    });
    $("whistle-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const codes = [...document.querySelectorAll("#whistle-departments input:checked")]
        .map((box) => box.value);
      const note = $("whistle-note").value.trim();
      try {
        await postJson(`/incidents/${current.properties.id}/whistle`,
                       {departments: codes, ...(note ? {note} : {})});
        $("whistle-dialog").close();
        await open(current.properties.id);
      } catch (error) {
        $("whistle-error").textContent = error.message;
      }
    });
    $("callback-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const solved = document.querySelector("#callback-form input[name=solved]:checked");
      const satisfaction = $("callback-satisfaction").value;
      const note = $("callback-note").value.trim();
      try {
        await postJson(`/incidents/${current.properties.id}/callback`, {
          solved: solved.value === "yes",
          ...(satisfaction ? {satisfaction: Number(satisfaction)} : {}),
          ...(note ? {note} : {})});
        $("callback-dialog").close();
        await open(current.properties.id);
      } catch (error) {
        $("callback-error").textContent = error.message;
      }
    });
    for (const id of ["dispatch", "whistle", "callback"]) {
      $(`${id}-cancel`).addEventListener("click", () => $(`${id}-dialog`).close());
    }
  }

  // The department filter: the incidents dispatched to or summoned the department
  // (GET /incidents?department=, GeoJSON) drawn as their own layer at every zoom, in place
  // of the incident tiles (which are clusters below zoom 14).
  const DEPT_PAINT = {"circle-radius": 7, "circle-color": ["match", ["get", "status"],
    "reported", "#e67e22", "accepted", "#f1c40f", "dispatched", "#3498db", "handling", "#9b59b6",
    "feedback", "#1abc9c", "verified", "#16a085", "closed", "#27ae60", "#555"],
    "circle-stroke-color": "#1f3b57", "circle-stroke-width": 2};

  function showTiles(map, visible) {
    for (const id of ["incidents", "incident-clusters"]) {
      map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
    }
    if (map.getLayer("dept-incidents")) {
      map.setLayoutProperty("dept-incidents", "visibility", visible ? "none" : "visible");
    }
  }

  async function applyDepartment(map) {
    const code = $("f-department").value;
    const info = $("f-department-count");
    if (!code) {
      showTiles(map, true);
      info.textContent = "";
      return;
    }
    const out = await getJson(`/incidents?department=${encodeURIComponent(code)}&limit=1000`);
    const data = {type: "FeatureCollection", features: out.features};
    if (map.getSource("dept-incidents")) map.getSource("dept-incidents").setData(data);
    else {
      map.addSource("dept-incidents", {type: "geojson", data});
      map.addLayer({id: "dept-incidents", type: "circle", source: "dept-incidents",
                    paint: DEPT_PAINT});
      map.on("click", "dept-incidents", (event) => open(event.features[0].id));
    }
    showTiles(map, false);
    info.textContent = out.numberMatched > out.features.length
      ? `${out.features.length}/${out.numberMatched}` : `${out.numberMatched}`;
  }

  async function install(map, config) {
    role = config.role;
    departments = (await getJson("/departments").catch(() => ({departments: []})))
      .departments || [];
    $("f-department").insertAdjacentHTML("beforeend", departments.map((d) =>
      `<option value="${esc(d.code)}">${esc(d.name)}</option>`).join(""));
    $("f-department").addEventListener("change", () => applyDepartment(map).catch(() => null));
    wirePanel();
    wireDialogs();
    $("find-incident").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = Number($("find-id").value);
      if (id > 0) open(id);
    });
    map.on("click", "incidents", (event) => open(event.features[0].id));
    installInbox({button: $("inbox-button"), count: $("inbox-count"), list: $("inbox-list"),
                  onOpen: open, pollSeconds: config.pollSeconds});
    return {open, refreshDepartment: () => applyDepartment(map)};
  }

  window.gridgisIncidents = {install, open};
})();
