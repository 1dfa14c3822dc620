// Shared by the dispatcher map and the department page: fetch helpers (same-origin cookie,
// JSON errors shown as the server's detail), escaping, and the inbox (/notifications) with
// its unread count, kept live by server-sent events (/notifications/stream, with the
// session cookie) and polled only while the stream is down. Plain script, no CDN.
(function () {
  "use strict";

  function esc(value) {
    return String(value ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;",
      ">": "&gt;", '"': "&quot;"}[c]));
  }

  async function problem(response, url) {
    let detail = `${url}: ${response.status}`;
    try {
      const body = await response.json();
      if (body.detail) detail = `${response.status}: ${typeof body.detail === "string"
        ? body.detail : JSON.stringify(body.detail)}`;
    } catch (ignored) { /* not JSON: keep the status */ }
    return new Error(detail);
  }

  async function getJson(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) throw await problem(response, url);
    return response.json();
  }

  async function postJson(url, body) {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
    if (!response.ok) throw await problem(response, url);
    return response.json();
  }

  async function upload(incidentId, file, step) {
    // multipart "file" and "step", as POST /incidents/{id}/attachments takes them
    const form = new FormData();
    form.append("file", file);
    if (step) form.append("step", step);
    const url = `/incidents/${incidentId}/attachments`;
    const response = await fetch(url, {method: "POST", credentials: "same-origin", body: form});
    if (!response.ok) throw await problem(response, url);
    return response.json();
  }

  function localTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString("zh-CN", {hour12: false});
  }

  const KIND_LABELS = {dispatched: "分拨 dispatched", summoned: "吹哨 summoned",
    acknowledged: "报到 acknowledged", fed_back: "反馈 fed back", overdue: "超期 overdue",
    supervision: "督办 supervision", merged: "合并 merged", deadline: "时限 deadline",
    reopened: "重办 reopened"};

  // The inbox: a button with the unread count and a drop-down list; onOpen(incidentId)
  // is called when an entry naming an incident is clicked, onNew() when a notification
  // newer than the last one seen arrives (not on the first load). New notifications come
  // over an EventSource; the poll every pollSeconds runs only while that stream is not
  // open (refused, e.g. 503 when the server has too many, or broken), so the page is never
  // worse than before. button.dataset.live says which is in use ("stream" or "poll").
  function installInbox({button, count, list, onOpen, onNew, pollSeconds}) {
    let last = {unread: 0, notifications: []};
    let newest = null;
    let streaming = false;

    function render() {
      count.textContent = String(last.unread);
      count.classList.toggle("zero", last.unread === 0);
      list.innerHTML = last.notifications.length ? last.notifications.map((n) =>
        `<li class="note ${n.read_at ? "read" : "unread"} kind-${esc(n.kind)}" data-id="${n.id}"` +
        ` data-incident="${n.incident_id ?? ""}"><b>${esc(KIND_LABELS[n.kind] || n.kind)}</b>` +
        (n.incident_id ? ` #${n.incident_id}` : "") +
        (n.department_code ? ` · ${esc(n.department_code)}` : "") +
        `<br><small>${esc(localTime(n.created_at))}</small> ${esc(n.message || "")}</li>`)
        .join("") : "<li class='empty'>没有通知 No notifications</li>";
    }

    async function refresh() {
      try {
        last = await getJson("/notifications?limit=50");
        render();
        const top = last.notifications.length ? last.notifications[0].id : 0;
        if (newest !== null && top !== newest && onNew) onNew();
        newest = top;
      } catch (error) {
        count.textContent = "!";
      }
      return last;
    }

    button.addEventListener("click", () => { list.hidden = !list.hidden; });
    list.addEventListener("click", async (event) => {
      const item = event.target.closest("li.note");
      if (!item) return;
      if (item.classList.contains("unread")) {
        await postJson(`/notifications/${item.dataset.id}/read`).catch(() => null);
        await refresh();
      }
      if (item.dataset.incident && onOpen) {
        list.hidden = true;   // out of the way of what it opens
        onOpen(Number(item.dataset.incident));
      }
    });
    // a stream event carries the unread count and only the new notifications
    function merge(news) {
      const seen = new Set(news.notifications.map((n) => n.id));
      last = {unread: news.unread, notifications: news.notifications.concat(
        last.notifications.filter((n) => !seen.has(n.id))).slice(0, 50)};
      render();
      const top = last.notifications.length ? last.notifications[0].id : 0;
      if (newest !== null && top !== newest && onNew) onNew();
      newest = top;
    }

    function listen() {
      if (!window.EventSource) return;
      const source = new EventSource("/notifications/stream");
      source.addEventListener("open", () => {
        streaming = true;
        button.dataset.live = "stream";
        refresh();  // what came while the stream was down
      });
      source.addEventListener("inbox", (event) => merge(JSON.parse(event.data)));
      function fallBack(retry) {
        streaming = false;
        button.dataset.live = "poll";
        if (retry) setTimeout(listen, 30000);
      }
      source.addEventListener("end", () => {  // the session is over: the polls will say so
        source.close();
        fallBack(true);
      });
      // EventSource retries a dropped stream itself; a refused one (401, 503) it gives up
      source.addEventListener("error", () => fallBack(source.readyState === EventSource.CLOSED));
    }

    button.dataset.live = "poll";
    refresh();
    listen();
    setInterval(() => { if (!streaming) refresh(); }, (pollSeconds || 5) * 1000);
    return {refresh, last: () => last};
  }

  window.gridgis = {esc, getJson, postJson, upload, localTime, installInbox};
})();
