// Cloudbash: the little the pages need a script for. Every page works without it; this adds local times, the
// hold countdown, live availability and the live event log. Data from the API is only ever written as text
// (textContent), never parsed as markup.
"use strict";

(function () {
  const root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  // ----- Local times -----
  // The server renders times in the zone of the `cloudbash_tz` cookie (UTC without it). Store the browser's
  // offset for the next pages, and rewrite this page's times if they were rendered in another zone.
  const offset = -new Date().getTimezoneOffset();
  if (String(offset) !== root.dataset.tz) {
    document.cookie = "cloudbash_tz=" + offset + "; path=/; max-age=31536000; SameSite=Lax";
    const full = new Intl.DateTimeFormat("en-GB", {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    });
    const time = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
    for (const element of document.querySelectorAll("time[datetime]")) {
      const instant = new Date(element.getAttribute("datetime"));
      if (isNaN(instant)) continue;
      element.textContent = (element.dataset.format === "time" ? time : full).format(instant);
    }
    for (const note of document.querySelectorAll(".zone-note")) {
      note.textContent = "Times are in your time zone.";
    }
  }

  // ----- Problems as sentences -----
  // The same rule as the server's messages: the status decides, and the API's own wording is dropped.
  function problemMessage(status, problem) {
    const detail = (problem && typeof problem.detail === "string") ? problem.detail : "";
    if (status === 401) return "Your session has ended. Please sign in again.";
    if (status === 403) return "This is for organisers only.";
    if (status === 503) return "The shop is very busy right now; trying again in a moment.";
    if (status >= 500) return "Something went wrong on our side; trying again in a moment.";
    const reason = detail.replace(/^The command (conflicts with the current state|was refused|names something that does not exist): /, "");
    return reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : "That did not work.";
  }

  async function readProblem(response) {
    try {
      return await response.json();
    } catch (_) {
      return null;
    }
  }

  const sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds));

  // ----- The hold countdown -----
  // Counted from the seconds the server rendered and this page's own clock, so a wrong clock on the phone does
  // not matter.
  const countdowns = Array.from(document.querySelectorAll(".countdown[data-seconds-left]"));
  if (countdowns.length > 0) {
    const loaded = performance.now();
    const format = (seconds) => {
      const hours = Math.floor(seconds / 3600);
      const minutes = Math.floor(seconds / 60) % 60;
      const rest = String(seconds % 60).padStart(2, "0");
      return hours > 0 ? hours + ":" + String(minutes).padStart(2, "0") + ":" + rest : minutes + ":" + rest;
    };
    const tick = () => {
      const elapsed = Math.floor((performance.now() - loaded) / 1000);
      for (const element of countdowns) {
        const left = Math.max(0, Number(element.dataset.secondsLeft) - elapsed);
        const text = format(left);
        if (element.textContent !== text) element.textContent = text;
        if (left === 0) {
          const line = element.closest(".cart-line");
          if (line && !line.classList.contains("expired")) {
            line.classList.add("expired");
            const hold = element.closest(".hold");
            if (hold) hold.textContent = "This hold has run out: the tickets are back on sale. Reload to update your cart.";
          }
        }
      }
    };
    tick();
    setInterval(tick, 1000);
  }

  // ----- Live availability -----
  const concert = document.querySelector("[data-concert]");
  if (concert) {
    const every = Math.max(2, Number(concert.dataset.pollSeconds) || 5) * 1000;
    const purchaseMax = Number(concert.dataset.purchaseMax) || 1;
    const refresh = async () => {
      if (document.hidden) return;
      try {
        const response = await fetch("/concerts/" + encodeURIComponent(concert.dataset.concert), {
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
        if (!response.ok) return;
        const document_ = await response.json();
        for (const ticketType of document_.ticketTypes || []) {
          const row = concert.querySelector('[data-ticket-type="' + CSS.escape(String(ticketType.id)) + '"]');
          if (!row) continue;
          const available = row.querySelector("[data-available]");
          const text = ticketType.available > 0 ? ticketType.available + " left" : "Sold out";
          if (available && available.textContent !== text) available.textContent = text;
          row.classList.toggle("sold-out", ticketType.available === 0);
          const quantity = row.querySelector('input[name="quantity"]');
          const button = row.querySelector("form.buy button");
          if (quantity) quantity.max = String(Math.max(1, Math.min(purchaseMax, ticketType.available)));
          if (button) button.disabled = ticketType.available === 0;
        }
      } catch (_) {
        // Offline for a moment: the next round tries again.
      }
    };
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", refresh);
  }

  // ----- The live event log -----
  const log = document.querySelector("[data-live-log]");
  if (log) followLog(log);

  async function sessionToken() {
    const response = await fetch("/shop/session", { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) return null;
    const session = await response.json();
    return session.token || null;
  }

  // Reads the server-sent events of GET /events/live with fetch, because EventSource cannot send the bearer
  // token. Reconnects with Last-Event-ID after every end, so no event is missed or shown twice.
  async function followLog(panel) {
    const status = panel.querySelector("[data-live-status]");
    const rows = panel.querySelector("[data-live-rows]");
    const rowsMax = Number(panel.dataset.rowsMax) || 200;
    let lastEventId = null;
    let shown = 0;
    const say = (text) => { status.textContent = text; };

    for (;;) {
      let token;
      try {
        token = await sessionToken();
      } catch (_) {
        say("Not connected; trying again…");
        await sleep(2000);
        continue;
      }
      if (!token) {
        say("Your session has ended. Please sign in again to follow the log.");
        return;
      }
      const headers = { Authorization: "Bearer " + token, Accept: "text/event-stream" };
      let url = "/events/live";
      if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
      else if (panel.dataset.after) url += "?after=" + encodeURIComponent(panel.dataset.after);
      try {
        const response = await fetch(url, { headers, cache: "no-store" });
        if (!response.ok) {
          const problem = await readProblem(response);
          say(problemMessage(response.status, problem));
          if (response.status === 401 || response.status === 403) return;
          await sleep(3000);
          continue;
        }
        say(shown === 0 ? "Connected. Waiting for events…" : "Connected. " + shown + " events so far.");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = parseEvent(block);
            if (event.data === null) continue;
            if (event.id !== null) lastEventId = event.id;
            try {
              addRow(rows, JSON.parse(event.data), rowsMax);
              shown += 1;
              say("Connected. " + shown + (shown === 1 ? " event" : " events") + " so far.");
            } catch (_) {
              // A record that does not read is skipped; the next ones still show.
            }
          }
        }
        say("Reconnecting…");
      } catch (_) {
        say("Connection lost; reconnecting…");
        await sleep(1000);
      }
    }
  }

  // One server-sent event: its last `id` and its `data` lines joined; comments (keep-alives) have neither.
  function parseEvent(block) {
    const event = { id: null, data: null };
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "id") event.id = value;
      if (field === "data") event.data = event.data === null ? value : event.data + "\n" + value;
    }
    return event;
  }

  function addRow(rows, record, rowsMax) {
    const row = document.createElement("tr");
    row.className = "fresh";
    row.dataset.position = String(record.position);
    const cell = (tag, text, className) => {
      const element = document.createElement(tag);
      element.textContent = text;
      if (className) element.className = className;
      row.appendChild(element);
      return element;
    };
    const position = cell("th", String(record.position));
    position.scope = "row";
    const created = new Date(record.created);
    cell("td", isNaN(created) ? String(record.created) : created.toLocaleTimeString("en-GB"));
    cell("td", String(record.eventType), "event-type");
    cell("td", String(record.aggregateId).slice(0, 8) + " v" + record.aggregateVersion);
    const data = String(record.data);
    cell("td", data.length > 160 ? data.slice(0, 160) + "…" : data, "data");
    rows.insertBefore(row, rows.firstChild);
    while (rows.children.length > rowsMax) rows.removeChild(rows.lastChild);
  }
})();
