// The offline queue (IndexedDB through idb): every write the app makes is queued first and
// sent in order when the phone is online. Each item gets its Idempotency-Key once, when it
// is queued, so a retried send never creates a second record. A 409 (the incident moved
// on) or another refusal stays in the queue, marked, until the worker dismisses it: it is
// shown, never lost. Photos are kept as Blobs. An item may name an earlier one (`ref`):
// "{ref}" in its URL becomes the id the server gave that one (a photo of a new report).
import {openDB} from "/static/vendor/idb.js";

const dbp = openDB("gridgis-field", 1, {
  upgrade(db) {
    db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
    db.createObjectStore("sent", {keyPath: "seq"});
    db.createObjectStore("kv");
  },
});
const listeners = new Set();
let flushing = null;

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function onChange(fn) { listeners.add(fn); }
async function changed() { const items = await list(); listeners.forEach((fn) => fn(items)); }

export async function kvGet(key) { return (await dbp).get("kv", key); }
export async function kvSet(key, value) { return (await dbp).put("kv", value, key); }

// item: {kind, label, method, url, json?, form?: [[name, value|Blob, filename?]], ref?}
export async function enqueue(item) {
  const row = {...item, key: uuid(), state: "waiting", queuedAt: new Date().toISOString()};
  row.seq = await (await dbp).add("queue", row);
  await changed();
  return row;
}

export async function list() { return (await dbp).getAll("queue"); }
export async function sent() { return (await dbp).getAll("sent"); }

export async function dismiss(seq) {
  await (await dbp).delete("queue", seq);
  await changed();
}

async function resolveUrl(item) {
  if (item.ref === undefined) return item.url;
  const first = await (await dbp).get("sent", item.ref);
  if (!first || !first.result || first.result.id === undefined) return null;
  return item.url.replace("{ref}", String(first.result.id));
}

function body(item) {
  if (item.json !== undefined) return JSON.stringify(item.json);
  const form = new FormData();
  for (const [name, value, filename] of item.form || []) {
    if (value instanceof Blob) form.append(name, value, filename || "photo.jpg");
    else form.append(name, value);
  }
  return form;
}

async function send(item, url) {
  const headers = {"Idempotency-Key": item.key};
  if (item.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {method: item.method, headers, body: body(item),
                                     credentials: "same-origin"});
  const result = await response.json().catch(() => ({}));
  return {status: response.status, result};
}

// One item: true to go on with the next, false to stop (offline, server trouble, login).
async function sendOne(db, item) {
  const url = await resolveUrl(item);
  if (url === null) {
    item.state = "failed";
    item.error = `#${item.ref} was not stored`;
    await db.put("queue", item);
    return true;
  }
  let answer;
  try {
    answer = await send(item, url);
  } catch (err) {  // no connection: keep it, try again later
    return false;
  }
  const {status, result} = answer;
  if (status >= 200 && status < 300) {
    const tx = db.transaction(["queue", "sent"], "readwrite");
    await tx.objectStore("sent").put({...item, url, status, result,
                                      sentAt: new Date().toISOString()});
    await tx.objectStore("queue").delete(item.seq);
    await tx.done;
    return true;
  }
  if (status === 401 || status === 429 || status >= 500) return false;
  item.state = status === 409 ? "conflict" : "failed";
  item.status = status;
  item.error = result.detail || result.title || `HTTP ${status}`;
  await db.put("queue", item);
  return true;
}

async function flushAll() {
  const db = await dbp;
  const report = {sent: 0, kept: 0};
  let shown = Date.now();
  for (const item of await db.getAll("queue")) {  // in the order they were queued
    if (item.state !== "waiting") { report.kept += 1; continue; }
    const before = (await db.count("sent"));
    if (!(await sendOne(db, item))) break;
    report.sent += (await db.count("sent")) - before;
    if (Date.now() - shown > 500) { shown = Date.now(); await changed(); }  // not per item
  }
  await changed();
  return report;
}

// Send what is waiting, in order; one flush at a time.
export function flush() {
  if (!navigator.onLine) return Promise.resolve({sent: 0, offline: true});
  if (!flushing) flushing = flushAll().finally(() => { flushing = null; });
  return flushing;
}

// Send every item already sent once more, with the same key and body: what happens when
// the phone lost the server's answers and retries. The server must answer as the first
// time and store nothing new.
export async function replaySent() {
  const db = await dbp;
  const out = [];
  for (const item of await db.getAll("sent")) {
    const {status, result} = await send(item, item.url);
    out.push({seq: item.seq, status, same: JSON.stringify(result) === JSON.stringify(item.result)});
  }
  return out;
}

export async function clearAll() {
  const db = await dbp;
  await Promise.all(["queue", "sent", "kv"].map((s) => db.clear(s)));
  await changed();
}
