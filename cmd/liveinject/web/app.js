// liveinject's dashboard: reads /status and /history every 2 s and each channel's thumbnail
// every 5 s while the page is visible, shows each channel's recording with a link to its
// segments, and restarts a channel's ffmpeg or switches its input on request. Text from the box (names, errors, URLs) goes in with textContent only.
"use strict";

const POLL_MS = 2000;
const THUMB_MS = 5000;

const cards = new Map(); // channel name -> card elements

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
  const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function count(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(0) + "k";
  return String(n);
}

function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

// The colour of a channel's light: green running, amber holding, on a backup, waiting to
// restart, a still picture or silence on air, or a recording that cannot write, red error, the slate on air (no input works)
// or a black picture, grey stopped.
function channelLight(c) {
  if (c.state === "running" && c.holding_since) return ["amber", "holding"];
  if (c.state === "running" && c.on_air === "slate") return ["red", "slate on air"];
  // a content alarm: everything runs, and viewers see black or a still picture, or hear nothing
  const alarms = c.alarms || [];
  if (c.state === "running" && alarms.length) return [alarms.includes("black") ? "red" : "amber", alarms.join(", ")];
  if (c.state === "running" && (c.on_air || "").startsWith("backup")) return ["amber", "on " + c.on_air];
  switch (c.state) {
    // it streams on, but the program is not kept meanwhile
    case "running": return c.record && c.record.state === "error" ? ["amber", "not recording"] : ["green", "running"];
    case "starting": return ["amber", "starting"];
    case "backoff": return ["amber", "backoff"];
    case "error": return ["red", "error"];
    default: return ["grey", c.state];
  }
}

// kindOf is what a destination is: rtsp (played back by the return check), rtmp or srt (not).
function kindOf(d) {
  return d.kind || "rtsp";
}

// A destination that records is amber while its server does not play it back (unverified); one
// of a kind the return check does not play (rtmp, srt) is green when it records.
function destinationLight(d) {
  switch (d.state) {
    case "recording": return kindOf(d) === "rtsp" && verifyOf(d).state === "unverified" ? "amber" : "green";
    case "waiting": case "connecting": return "amber";
    case "stopped": return "grey";
    default: return "red"; // stalled, backoff, auth_failed
  }
}

// verifyOf is a destination's return check; an endpoint without one says nothing: off.
function verifyOf(d) {
  return d.verify && d.verify.state ? d.verify : { state: "off", cause: "", server_delay_seconds: null, since: null };
}

function delay(seconds) {
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}

// verifyText says what the return check found: the stream played back from the server; for a
// destination of a kind it does not play back, that it does not, which is no fault.
function verifyText(v, kind, now) {
  if (kind !== "rtsp" && v.state === "off") return "not played back (the return check plays RTSP only)";
  const since = v.since ? ` (for ${duration(now - Date.parse(v.since) / 1000)})` : "";
  switch (v.state) {
    case "verified":
      return "verified: the server plays it back" +
        (v.server_delay_seconds != null ? `, server delay ${delay(v.server_delay_seconds)}` : "");
    case "unverified": return `unverified: ${v.cause || "the server does not play it back"}${since}`;
    case "checking": return "checking what the server plays back" + (v.cause ? `: ${v.cause}` : "");
    default: return "playback not checked (verify off)";
  }
}

function setLight(light, colour, title) {
  light.className = "light " + colour;
  light.dataset.colour = colour;
  light.title = title;
}

function figure(label) {
  const f = el("div", "figure");
  const value = el("div", "value", "–");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 600 28");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  svg.appendChild(line);
  f.append(value, svg, el("div", "label", label));
  return { root: f, value, line };
}

// sparkline draws the samples of the last 10 minutes, right-aligned at now.
function sparkline(line, points, key, now) {
  if (!points.length) { line.setAttribute("points", ""); return; }
  const span = 600;
  const top = Math.max(1, ...points.map(p => p[key])) * 1.1;
  line.setAttribute("points", points
    .filter(p => now - p.t <= span)
    .map(p => `${(span - (now - p.t)).toFixed(1)},${(28 - (p[key] / top) * 26 - 1).toFixed(1)}`)
    .join(" "));
}

function newCard(name) {
  const card = el("article", "card");
  card.dataset.channel = name;
  const head = el("div", "card-head");
  const light = el("span", "light");
  const title = el("h3", "", name);
  const state = el("span", "state");
  head.append(light, title, state);

  // what is on air: the source, a backup (amber), the slate or the hold (red)
  const onair = el("div", "onair");
  const onairInput = el("b", "onair-input");
  const manual = el("span", "tag manual", "manual");
  const onairFor = el("span", "muted onair-for");
  onair.append(el("span", "muted", "on air "), onairInput, manual, onairFor);
  const inputs = el("p", "inputs");
  // the content alarms of the input on air, each with what to check
  const alarms = el("div", "alarms");

  // the recording on the box's disk, hidden when the channel does not record
  const rec = el("div", "rec");
  const recBadge = el("span", "rec-badge", "REC");
  const recText = el("span", "rec-text");
  const recLink = el("a", "rec-list", "segments");
  recLink.href = `/channels/${encodeURIComponent(name)}/recordings`;
  rec.append(recBadge, recText, recLink);
  rec.hidden = true;

  const picture = el("div", "picture");
  const img = el("img");
  img.alt = `current picture of ${name}`;
  img.hidden = true;
  const none = el("div", "none", "no picture yet");
  picture.append(img, none);
  img.addEventListener("load", () => { img.hidden = false; none.hidden = true; });
  img.addEventListener("error", () => { img.hidden = true; none.hidden = false; });

  const figures = el("div", "figures");
  const fps = figure("frames per second");
  const kbps = figure("kbit/s sent");
  figures.append(fps.root, kbps.root);

  const counts = el("div", "counts");
  const restarts = el("b"), stalls = el("b"), pid = el("b");
  counts.append(el("span", "", "restarts "), restarts, el("span", "", "stalls "), stalls,
    el("span", "", "ffmpeg pid "), pid);
  for (const n of counts.querySelectorAll("span")) n.className = "muted";
  restarts.className = "restarts"; stalls.className = "stalls"; pid.className = "pid";

  const cause = el("p", "cause");

  const actions = el("div", "actions");
  const button = el("button", "restart", "Restart ffmpeg");
  button.type = "button";
  const note = el("span", "note");
  const target = el("select", "switch-to");
  target.setAttribute("aria-label", `input to put on air on ${name}`);
  const switcher = el("button", "switch", "Switch");
  switcher.type = "button";
  actions.append(button, target, switcher, note);
  button.addEventListener("click", () => restart(name, button, note));
  switcher.addEventListener("click", () => switchInput(name, target.value, switcher, note));

  const dests = el("ul", "dests");
  card.append(head, onair, alarms, rec, picture, figures, counts, cause, inputs, actions, dests);
  const c = { card, light, state, img, none, fps, kbps, restarts, stalls, pid, cause, dests, note, thumbAt: 0,
    onairInput, manual, onairFor, inputs, target, alarms, rec, recBadge, recText };
  cards.set(name, c);
  return c;
}

// restart asks for confirmation with a second press within 4 s, then restarts the channel.
async function restart(name, button, note) {
  if (!button.classList.contains("confirm")) {
    button.classList.add("confirm");
    button.textContent = "Press again to restart";
    button.dataset.armed = "1";
    setTimeout(() => {
      button.classList.remove("confirm");
      button.textContent = "Restart ffmpeg";
      delete button.dataset.armed;
    }, 4000);
    return;
  }
  button.classList.remove("confirm");
  button.textContent = "Restart ffmpeg";
  delete button.dataset.armed;
  button.disabled = true;
  try {
    const r = await fetch(`/channels/${encodeURIComponent(name)}/restart`, { method: "POST" });
    note.textContent = r.ok ? `restart requested at ${new Date().toLocaleTimeString()}`
      : `restart refused: ${r.status} ${(await r.text()).trim()}`;
  } catch (e) {
    note.textContent = `restart failed: ${e}`;
  } finally {
    button.disabled = false;
  }
  poll();
}

// switchInput puts an input on air (or "auto") through POST /channels/NAME/switch.
async function switchInput(name, to, button, note) {
  button.disabled = true;
  try {
    const r = await fetch(`/channels/${encodeURIComponent(name)}/switch?to=${encodeURIComponent(to)}`, { method: "POST" });
    note.textContent = r.ok ? `switch to ${to} requested at ${new Date().toLocaleTimeString()}`
      : `switch refused: ${r.status} ${(await r.text()).trim()}`;
  } catch (e) {
    note.textContent = `switch failed: ${e}`;
  } finally {
    button.disabled = false;
  }
  poll();
}

// onAirKind is how the input on air looks: normal for the source, amber for a backup, red for
// the slate and the hold, muted before the first.
function onAirKind(onAir) {
  if (onAir === "source") return "source";
  if (onAir.startsWith("backup")) return "backup";
  if (onAir === "slate" || onAir === "hold") return "down";
  return "none";
}

// renderOnAir shows what is on air, the inputs that fail, and offers the channel's inputs.
function renderOnAir(c, ch, now) {
  const onAir = ch.on_air || "none";
  c.onairInput.textContent = onAir;
  c.onairInput.dataset.kind = onAirKind(onAir);
  c.manual.hidden = ch.mode !== "manual";
  c.manual.textContent = ch.forced && ch.forced !== onAir ? `manual: ${ch.forced}` : "manual";
  c.onairFor.textContent = ch.on_air_since ? ` for ${duration(now - Date.parse(ch.on_air_since) / 1000)}` : "";
  const inputs = ch.inputs || [];
  // the channel's line is its source's while nothing is on air
  const shown = onAir === "hold" || onAir === "none" ? "source" : onAir;
  c.inputs.textContent = inputs
    .filter(i => i.name !== shown && i.state !== "running" && i.state !== "standby")
    .map(i => `${i.name} ${i.state}` + (i.cause || i.last_cause ? `: ${i.cause || i.last_cause}` : "") +
      (i.last_cause_at ? ` (${duration(now - Date.parse(i.last_cause_at) / 1000)} ago)` : ""))
    .join(" · ");
  const names = inputs.map(i => i.name).concat("auto");
  if (c.target.dataset.names !== names.join("\n")) {
    const chosen = c.target.value;
    c.target.replaceChildren(...names.map(n => { const o = el("option", "", n); o.value = n; return o; }));
    c.target.value = names.includes(chosen) ? chosen : "auto";
    c.target.dataset.names = names.join("\n");
  }
}

// alarmWords say what each content alarm means, and what to check.
const alarmWords = {
  black: ["black picture", "check the camera: lens cap, exposure, its cable or link to the capture"],
  frozen: ["still picture", "the camera or the device upstream may hang: restart it"],
  silent: ["no sound", "check the microphone: muted, unplugged, the mixer's fader"],
};

// renderAlarms shows each content alarm of the input on air: a badge, and what to check.
function renderAlarms(c, ch) {
  const alarms = ch.alarms || [];
  const key = alarms.join(",") + "@" + ch.on_air;
  if (c.alarms.dataset.key === key) return;
  c.alarms.dataset.key = key;
  c.alarms.replaceChildren(...alarms.map(a => {
    const [word, todo] = alarmWords[a] || [a, ""];
    const row = el("div", "alarm-row");
    const badge = el("span", "alarm", `${word} on ${ch.on_air}`);
    badge.dataset.alarm = a;
    row.append(badge, el("span", "muted", todo));
    return row;
  }));
}

// renderRecord shows the channel's recording: what is on disk, or why it cannot write, in red.
function renderRecord(c, r, now) {
  c.rec.hidden = !r;
  if (!r) return;
  c.rec.dataset.state = r.state;
  c.recBadge.dataset.state = r.state;
  c.recBadge.textContent = r.state === "error" ? "REC stopped" : r.state === "waiting" ? "REC waiting" : "● REC";
  const kept = `${bytes(r.bytes_on_disk)} in ${r.segments} segment${r.segments === 1 ? "" : "s"}` +
    (r.newest ? `, newest ${duration(now - Date.parse(r.newest) / 1000)} ago` : "");
  switch (r.state) {
    case "error":
      c.recText.textContent = `not recording: ${r.cause || r.last_error || "error"} · ${kept}`;
      break;
    case "waiting":
      c.recText.textContent = `waiting for a keyframe · ${kept}`;
      break;
    default:
      c.recText.textContent = kept;
  }
  c.recText.title = r.dir + (r.last_error ? `\nlast error: ${r.last_error}` : "");
}

function causeText(c, now) {
  const parts = [];
  if (c.holding_since) {
    parts.push(`holding the last picture for ${duration(now - Date.parse(c.holding_since) / 1000)}: no frame from ffmpeg`);
  }
  if (c.state === "backoff" && c.retry_at) {
    parts.push(`restarting in ${duration(Date.parse(c.retry_at) / 1000 - now)}`);
  }
  if (c.state !== "running" && c.last_cause) parts.push(c.last_cause);
  else if (c.cause) {
    parts.push(`last ended: ${c.cause}` +
      (c.last_cause_at ? ` (${duration(now - Date.parse(c.last_cause_at) / 1000)} ago)` : ""));
  }
  return parts.join(" · ");
}

function renderDestinations(list, dests) {
  while (list.children.length > dests.length) list.lastChild.remove();
  dests.forEach((d, i) => {
    let li = list.children[i];
    if (!li) {
      li = el("li", "dest");
      const head = el("div", "dest-head");
      head.append(el("span", "light"), el("span", "kind"), el("span", "dest-url"), el("span", "state"));
      li.append(head, el("div", "verify"), el("div", "counts"), el("div", "error"));
      list.append(li);
    }
    li.dataset.url = d.url;
    const kind = kindOf(d), v = verifyOf(d), verify = li.querySelector(".verify");
    li.dataset.kind = kind;
    li.querySelector(".kind").textContent = kind;
    setLight(li.querySelector(".light"), destinationLight(d), d.state + (kind === "rtsp" ? " · " + v.state : ""));
    verify.dataset.state = v.state;
    verify.textContent = verifyText(v, kind, Date.now() / 1000);
    li.querySelector(".dest-url").textContent = d.url;
    li.querySelector(".state").textContent = d.state + (d.transport ? ` · ${d.transport}` : "") +
      (d.stalled_since ? ` · the server is not reading: ${bytes(d.bytes_waiting)} waiting, none taken for ` +
        duration(Date.now() / 1000 - Date.parse(d.stalled_since) / 1000) : "");
    // rtmp and srt destinations count frames, rtsp ones RTP packets
    const unit = kind === "rtsp" ? "packets" : "frames";
    li.querySelector(".counts").textContent =
      `sent ${count(d.packets_sent)} ${unit} (${bytes(d.bytes_sent)}) · dropped ${count(d.packets_dropped)}` +
      ` · reconnects ${d.reconnects} · queue ${d.queue_depth}`;
    li.querySelector(".error").textContent = d.last_error ? `last error` +
      (d.last_error_at ? ` (${duration(Date.now() / 1000 - Date.parse(d.last_error_at) / 1000)} ago)` : "") +
      `: ${d.last_error}` : "";
  });
}

function thumbnail(c, name, nowMs) {
  if (document.visibilityState !== "visible" || nowMs - c.thumbAt < THUMB_MS) return;
  c.thumbAt = nowMs;
  c.img.src = `/channels/${encodeURIComponent(name)}/thumbnail.jpg?t=${nowMs}`;
}

function render(status, history) {
  const nowMs = Date.now(), now = nowMs / 1000;
  document.getElementById("version").textContent =
    "version " + status.version + (status.revision ? ` (${status.revision.slice(0, 12)})` : "");
  document.getElementById("uptime").textContent = duration(status.uptime_seconds);
  document.getElementById("config-watch").textContent = "config files: " + status.config_watch;

  const errs = status.profile_errors || [];
  document.getElementById("profile-errors").hidden = errs.length === 0;
  document.getElementById("profile-error-list").replaceChildren(...errs.map(e => el("li", "", e)));

  // a webhook that fails: its receivers hear nothing; the channels are not affected
  const failing = (status.webhooks || []).filter(h => !h.up);
  document.getElementById("webhooks").hidden = failing.length === 0;
  document.getElementById("webhook-list").replaceChildren(...failing.map(h => el("li", "",
    `${h.name}: ${h.queued} queued, ${h.dropped} dropped, last error` +
    (h.last_error_at ? ` (${duration(now - Date.parse(h.last_error_at) / 1000)} ago)` : "") + `: ${h.last_error}`)));

  const root = document.getElementById("channels");
  const seen = new Set();
  for (const ch of status.channels) {
    seen.add(ch.name);
    const c = cards.get(ch.name) || newCard(ch.name);
    if (c.card.parentNode !== root) root.append(c.card);
    const [colour, word] = channelLight(ch);
    setLight(c.light, colour, word);
    c.card.dataset.state = word;
    c.state.textContent = ch.since ? `${word} for ${duration(now - Date.parse(ch.since) / 1000)}` : word;
    const points = (history && history.channels[ch.name]) || [];
    const last = points[points.length - 1];
    const fresh = last && now - last.t < 10;
    c.fps.value.textContent = fresh ? last.fps.toFixed(1) : "–";
    c.kbps.value.textContent = fresh ? Math.round(last.kbps).toLocaleString() : "–";
    sparkline(c.fps.line, points, "fps", now);
    sparkline(c.kbps.line, points, "kbps", now);
    c.restarts.textContent = Math.max(0, ch.ffmpeg_starts - 1);
    c.stalls.textContent = ch.stalls;
    c.pid.textContent = ch.ffmpeg_pid || "–";
    c.cause.textContent = causeText(ch, now);
    renderOnAir(c, ch, now);
    renderAlarms(c, ch);
    renderRecord(c, ch.record, now);
    renderDestinations(c.dests, ch.destinations);
    thumbnail(c, ch.name, nowMs);
  }
  for (const [name, c] of cards) {
    if (!seen.has(name)) { c.card.remove(); cards.delete(name); }
  }
  document.getElementById("no-channels").hidden = status.channels.length > 0;

  const relay = document.getElementById("relay");
  relay.hidden = !status.relay;
  if (status.relay) {
    document.getElementById("relay-address").textContent = status.relay.address;
    document.getElementById("relay-paths").replaceChildren(...status.relay.paths.map(p => {
      const tr = el("tr");
      tr.append(el("td", "", p.path), el("td", "", p.publishing ? "yes" : "no"),
        el("td", "", String(p.readers)), el("td", "", count(p.packets_received)));
      return tr;
    }));
  }
}

let timer = 0;

async function poll() {
  clearTimeout(timer);
  const link = document.getElementById("link");
  try {
    const [s, h] = await Promise.all([fetch("/status"), fetch("/history")]);
    if (!s.ok) throw new Error(`/status: ${s.status}`);
    render(await s.json(), h.ok ? await h.json() : null);
    link.dataset.state = "ok";
    link.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    link.dataset.state = "lost";
    link.textContent = `no answer from liveinject: ${e.message}`;
  }
  timer = setTimeout(poll, POLL_MS);
}

document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") poll(); });
poll();
